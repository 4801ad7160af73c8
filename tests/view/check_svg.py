#!/usr/bin/env python3
"""Render a model with `seqc view -o X.svg` and `-o X.html` and check both.

    check_svg.py SEQC MODEL.nn OUT_DIR LAYER... [-- SEQC_OPTION...]

Passes when seqc writes the SVG, it is well-formed XML (xml.etree, and
xmllint --noout where present), and its text holds every LAYER as written in
the model (`Linear(784, 512)`); and when the HTML page holds that SVG
inline, every LAYER in its table, and no script or reference to fetch.
Exits 77 (CTest's SKIP_RETURN_CODE) when Graphviz's dot is not on PATH, as
seqc view needs it for SVG and HTML.
"""
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET


def main():
    args = sys.argv[1:]
    options = []
    if "--" in args:
        options = args[args.index("--") + 1:]
        args = args[:args.index("--")]
    if len(args) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    seqc, model, out_dir, layers = args[0], args[1], args[2], args[3:]
    if shutil.which("dot") is None:
        print("Graphviz's dot is not on PATH: skipped")
        return 77
    os.makedirs(out_dir, exist_ok=True)
    svg = os.path.join(out_dir, os.path.basename(model).replace(".nn", ".svg"))
    if os.path.exists(svg):
        os.remove(svg)
    run = subprocess.run([seqc, "view", model, "-o", svg] + options,
                         capture_output=True, text=True)
    if run.returncode != 0:
        print(f"seqc view exited {run.returncode}: {run.stderr}")
        return 1
    root = ET.parse(svg).getroot()
    if not root.tag.endswith("svg"):
        print(f"{svg}: the root element is {root.tag}, not svg")
        return 1
    if shutil.which("xmllint"):
        lint = subprocess.run(["xmllint", "--noout", svg], capture_output=True,
                              text=True)
        if lint.returncode != 0:
            print(f"xmllint: {lint.stderr}")
            return 1
    text = "\n".join(t for t in root.itertext())
    missing = [layer for layer in layers if layer not in text]
    if missing:
        print(f"{svg} lacks the layers {missing}")
        return 1
    for shape in ["input", "output"]:
        if shape not in text:
            print(f"{svg} lacks the {shape} node")
            return 1
    print(f"{svg}: well-formed, {len(layers)} layers found")
    return check_html(seqc, model, out_dir, layers, options)


def check_html(seqc, model, out_dir, layers, options):
    """The page: one inline SVG, every layer in it and in its table, no
    script and nothing to fetch."""
    html = os.path.join(out_dir, os.path.basename(model).replace(".nn", ".html"))
    run = subprocess.run([seqc, "view", model, "-o", html] + options,
                         capture_output=True, text=True)
    if run.returncode != 0:
        print(f"seqc view -o {html} exited {run.returncode}: {run.stderr}")
        return 1
    with open(html, encoding="utf-8") as f:
        page = f.read()
    problems = []
    if page.count("<svg") != 1 or "<?xml" in page or "<!DOCTYPE svg" in page:
        problems.append("not exactly one inline <svg> element")
    for banned in ["<script", "src=", "<link", "@import", "url("]:
        if banned in page:
            problems.append(f"holds {banned}")
    table = page[page.find("<table>"):]
    for layer in layers:
        if layer not in table:
            problems.append(f"its table lacks {layer}")
    if problems:
        print(f"{html}: " + "; ".join(problems))
        return 1
    print(f"{html}: self-contained, {len(layers)} layers in its table")
    return 0


if __name__ == "__main__":
    sys.exit(main())
