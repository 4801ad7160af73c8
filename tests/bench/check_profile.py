#!/usr/bin/env python3
"""Check `seqc bench --layers --format html|svg` (the profile as a picture).

    check_profile.py structure  SEQC MODEL.nn OUT_DIR
    check_profile.py mustfail   SEQC MODEL.nn OUT_DIR
    check_profile.py screenshot SEQC MODEL.nn OUT_DIR

structure: the page holds a row per stage the JSON lines report, their shares
add up to 1, the group bars' percentages to 100, the roofline has one point
per stage with FLOPs and time, every stage's label is on the page, nothing is
fetched from elsewhere; --format svg writes two well-formed SVG files. No
check depends on how long anything took.
mustfail: --format without --layers, without -o, -o without --format, a bad
--format and an unwritable -o fail with README's exit codes, writing nothing.
screenshot: headless Chromium renders the page to a PNG of the requested
size that is not blank and shows the bars' red.
Exits 77 (CTest's SKIP_RETURN_CODE) when Graphviz's dot, or for screenshot
Chromium, is not on PATH.
"""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
import zlib

# Short, fixed runs: the checks are about structure, not speed.
BENCH = ["--init-seed", "1", "--batch", "1,4", "--repeat", "3", "--layers"]
BAR_RED = (0xC0, 0x39, 0x2B)
WINDOW = (1000, 1400)


def escape(text):
    """As seqc's escapeHtml writes text."""
    for a, b in [("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"),
                 ('"', "&quot;"), ("'", "&#39;")]:
        text = text.replace(a, b)
    return text


def bench(seqc, model, *options):
    return subprocess.run([seqc, "bench", model] + BENCH + list(options),
                          capture_output=True, text=True, timeout=300)


def fail(message):
    print(message)
    sys.exit(1)


def stage_lines(stdout, batch):
    lines = [json.loads(line) for line in stdout.splitlines() if line]
    return [l for l in lines if "stage" in l and l["batch"] == batch]


def check_svg_file(path):
    root = ET.parse(path).getroot()
    if not root.tag.endswith("svg"):
        fail(f"{path}: the root element is {root.tag}")
    if shutil.which("xmllint"):
        lint = subprocess.run(["xmllint", "--noout", path],
                              capture_output=True, text=True)
        if lint.returncode != 0:
            fail(f"xmllint {path}: {lint.stderr}")


def structure(seqc, model, out):
    page = os.path.join(out, "profile.html")
    run = bench(seqc, model, "--json", "--format", "html", "-o", page)
    if run.returncode != 0:
        fail(f"seqc bench exited {run.returncode}: {run.stderr}")
    stages = stage_lines(run.stdout, 4)  # the page draws the largest batch
    if not stages:
        fail(f"no stage lines at batch 4:\n{run.stdout}")
    html = open(page, encoding="utf-8").read()
    rows = re.findall(r'<tr class=stage data-stage=(\d+) '
                      r'data-share="([0-9.]+)">', html)
    if [int(i) for i, _ in rows] != [s["stage"] for s in stages]:
        fail(f"stage rows {rows} do not match the JSON stages")
    total = sum(float(share) for _, share in rows)
    if abs(total - 1.0) > 1e-4:
        fail(f"the stages' shares add up to {total}, not 1")
    for s in stages:
        if escape(s["stage_label"]) not in html:
            fail(f"the page lacks stage {s['stage']}: {s['stage_label']}")
    # The picture: dot's SVG, first on the page, with a bar per group.
    graph = html[html.index("<svg"):html.index("</svg>")]
    percents = [float(p) for p in re.findall(r">(\d+\.\d) %, ", graph)]
    if not percents or abs(sum(percents) - 100) > 0.05 * len(percents):
        fail(f"the bars' percentages {percents} do not add up to 100")
    if graph.count('fill="#c0392b"') < 1:
        fail("the picture has no bar")
    roofline = html[html.index('class="roofline"'):]
    points = [int(i) for i in
              re.findall(r'<g class="stage" data-stage="(\d+)"', roofline)]
    expected = [s["stage"] for s in stages
                if s["flops_per_sample"] > 0 and s["median_seconds"] > 0]
    if points != expected:
        fail(f"roofline points {points}, expected {expected}")
    for forbidden in [r"<script", r"<link", r"@import", r"url\(",
                      r"""(src|href)\s*=\s*["']?(https?:|//)"""]:
        if re.search(forbidden, html, re.IGNORECASE):
            fail(f"the page is not self-contained: {forbidden}")
    # --format svg: the picture, and the roofline beside it.
    svg = os.path.join(out, "profile.svg")
    run = bench(seqc, model, "--format", "svg", "-o", svg)
    if run.returncode != 0:
        fail(f"seqc bench --format svg exited {run.returncode}: {run.stderr}")
    check_svg_file(svg)
    check_svg_file(os.path.join(out, "profile.roofline.svg"))
    print(f"{len(stages)} stages, {len(points)} roofline points: ok")


def mustfail(seqc, model, out):
    page = os.path.join(out, "never.html")
    cases = [
        (["--format", "html", "-o", page], 1, "--layers", False),
        (["--format", "html"], 1, "-o", True),
        (["--format", "html", "-o", "-"], 1, "-o", True),
        (["-o", page], 1, "--format", True),
        (["--format", "llvm", "-o", page], 1, "--format", True),
        (["--format", "html", "-o", "/nonexistent-seqc-dir/p.html"], 2,
         "/nonexistent-seqc-dir", True),
    ]
    for options, code, mentions, layers in cases:
        args = [seqc, "bench", model, "--init-seed", "1"]
        args += (["--layers"] if layers else []) + options
        run = subprocess.run(args, capture_output=True, text=True, timeout=60)
        if run.returncode != code or mentions not in run.stderr:
            fail(f"{' '.join(args)}: exit {run.returncode} (expected {code}), "
                 f"stderr should name {mentions}:\n{run.stderr}")
        if "GFLOP/s" in run.stdout:
            fail(f"{' '.join(args)} timed before failing:\n{run.stdout}")
    emit = subprocess.run([seqc, "emit", model, "--init-seed", "1",
                           "--format", "html"], capture_output=True, text=True)
    if emit.returncode != 1 or "not a CPU output format" not in emit.stderr:
        fail(f"emit --format html: exit {emit.returncode}: {emit.stderr}")
    if os.path.exists(page):
        fail(f"a failed run wrote {page}")
    print(f"{len(cases) + 1} must-fail cases: ok")


def png_pixels(path):
    """(width, height, rows of (r, g, b)) of an 8-bit RGB or RGBA PNG."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail(f"{path} is not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace:
        fail(f"{path}: unexpected PNG format {header}")
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = previous[x]
            c = previous[x - bpp] if x >= bpp else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[x] = (line[x] + pred) & 255
        rows.append([tuple(line[i:i + 3]) for i in range(0, stride, bpp)])
        previous = line
    return width, height, rows


def screenshot(seqc, model, out):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("chromium is not on PATH: skipped")
        return 77
    page = os.path.join(out, "screenshot.html")
    run = bench(seqc, model, "--format", "html", "-o", page)
    if run.returncode != 0:
        fail(f"seqc bench exited {run.returncode}: {run.stderr}")
    png = os.path.join(out, "screenshot.png")
    if os.path.exists(png):
        os.remove(png)
    shot = subprocess.run(
        [browser, "--headless", "--disable-gpu", "--no-sandbox",
         "--no-first-run", f"--user-data-dir={os.path.join(out, 'chromium')}",
         f"--screenshot={png}", f"--window-size={WINDOW[0]},{WINDOW[1]}",
         "file://" + os.path.abspath(page)],
        capture_output=True, text=True, timeout=120)
    if not os.path.exists(png):
        fail(f"chromium wrote no screenshot (exit {shot.returncode}):\n"
             f"{shot.stderr}")
    width, height, rows = png_pixels(png)
    if (width, height) != WINDOW:
        fail(f"the screenshot is {width}x{height}, not {WINDOW}")
    colours = {pixel for row in rows for pixel in row}
    white = sum(row.count((255, 255, 255)) for row in rows)
    if len(colours) < 16 or white > 0.99 * width * height:
        fail(f"the screenshot looks blank: {len(colours)} colours, "
             f"{white} of {width * height} pixels white")
    if BAR_RED not in colours:
        fail("the screenshot shows no bar")
    print(f"{width}x{height} screenshot, {len(colours)} colours: ok")
    return 0


def main():
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    mode, seqc, model, out = sys.argv[1:]
    if shutil.which("dot") is None:
        print("Graphviz's dot is not on PATH: skipped")
        return 77
    os.makedirs(out, exist_ok=True)
    if mode == "structure":
        structure(seqc, model, out)
    elif mode == "mustfail":
        mustfail(seqc, model, out)
    elif mode == "screenshot":
        return screenshot(seqc, model, out)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
