#!/usr/bin/python3
"""Checks that seqc's .nn files are valid PyTorch.

For every .nn file under examples/ and tests/numerics/cases/ (or the files/directories given on
the command line, after an optional `--seqc SEQC`), removes the seqc-only lines (`Name.load_state_dict("file")` with a string
argument), executes the rest as Python with `nn = torch.nn` and the names of
`from torch.nn import *` available, and checks that the last name assigned is an
`nn.Module`. When the first layer of that model fixes the input width, the model is also run on
a small random batch in eval mode, which proves the layer widths chain as PyTorch sees them.

With `--seqc SEQC`, each valid file is also given to `SEQC ir FILE --init-seed 1
--stop-after=shape-check`, and the parameters it lists must be the model's state_dict keys with
their shapes, in PyTorch's order (num_batches_tracked aside): this is how the golden files of
constants, layer lists and comprehensions prove that they build the modules PyTorch builds.

Files that use seqc's inline parameter literals (`weight=[...]`, `bias=[...]`) are not PyTorch
and are skipped. Exit status: 0 all valid, 1 some file invalid, 77 PyTorch not importable.
"""

import ast
import os
import re
import subprocess
import sys
import traceback

try:
    import torch
except ImportError:
    print("PyTorch is not importable: skipping")
    sys.exit(77)

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEFAULT_DIRS = [os.path.join(ROOT, "examples"), os.path.join(ROOT, "tests", "numerics", "cases")]
INLINE_LITERAL = re.compile(r"\b(weight|bias)\s*=\s*\[")
SEQC_PARAM = re.compile(r'^  param @"([^"]*)" : f32\[([0-9,]*)\]$')


def is_load_line(line):
    s = line.strip()
    if ".load_state_dict(" not in s:
        return False
    try:
        body = ast.parse(s).body
    except SyntaxError:
        return False
    if len(body) != 1 or not isinstance(body[0], ast.Expr):
        return False
    call = body[0].value
    return (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and call.func.attr == "load_state_dict" and len(call.args) == 1
            and not call.keywords and isinstance(call.args[0], ast.Constant)
            and isinstance(call.args[0].value, str))


def first_width(module):
    nn = torch.nn
    if isinstance(module, nn.Sequential):
        for child in module:
            w = first_width(child)
            if w is not None:
                return w
            if not isinstance(child, (nn.Identity, nn.Dropout, nn.Flatten)) and not isinstance(
                    child, nn.Sequential):
                return None  # an activation first: the width is not fixed by the model
        return None
    if isinstance(module, nn.Linear):
        return module.in_features
    if isinstance(module, nn.BatchNorm1d):
        return module.num_features
    if isinstance(module, nn.LayerNorm):
        return module.normalized_shape[-1]
    return None


def seqc_params(seqc, path):
    """The (key, shape) list of the parameters seqc declares for the file's model."""
    run = subprocess.run([seqc, "ir", path, "--init-seed", "1", "--stop-after=shape-check"],
                         capture_output=True, text=True, timeout=60)
    if run.returncode != 0:
        return None, f"seqc failed with exit code {run.returncode}: {run.stderr.strip()}"
    params = []
    for line in run.stdout.splitlines():
        m = SEQC_PARAM.match(line)
        if m:
            params.append((m.group(1), tuple(int(d) for d in m.group(2).split(",") if d)))
    return params, None


def compare_state_dict(seqc, path, model):
    """None when seqc's parameters are the model's state_dict, else a message."""
    expected = [(k, tuple(v.shape)) for k, v in model.state_dict().items()
                if not k.endswith("num_batches_tracked")]
    actual, error = seqc_params(seqc, path)
    if error:
        return error
    if actual != expected:
        return f"seqc's parameters {actual} differ from PyTorch's state_dict {expected}"
    return None


def check_file(path, seqc=None):
    """Returns None when valid, "skip: why" when skipped, or an error message."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if INLINE_LITERAL.search(text):
        return "skip: uses inline weight=/bias= literals (a seqc extension)"
    py = "".join(l for l in text.splitlines(keepends=True) if not is_load_line(l))
    ns = {"nn": torch.nn}
    exec("from torch.nn import *", ns)
    try:
        tree = ast.parse(py, filename=path)
        exec(compile(tree, path, "exec"), ns)
    except Exception as e:
        return "".join(traceback.format_exception_only(type(e), e)).strip()
    last = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(
                node.targets[0], ast.Name):
            last = node.targets[0].id
    if last is None or not isinstance(ns.get(last), torch.nn.Module):
        return "no model: the last assignment is not an nn.Module"
    model = ns[last].eval()
    width = first_width(model)
    if width is not None:
        try:
            with torch.no_grad():
                model(torch.randn(3, width))
        except Exception as e:
            return f"model {last} does not run on a [3, {width}] input: " + "".join(
                traceback.format_exception_only(type(e), e)).strip()
    if seqc:
        return compare_state_dict(seqc, path, model)
    return None


def main(argv):
    args = argv[1:]
    seqc = None
    if args[:1] == ["--seqc"]:
        if len(args) < 2:
            print("error: --seqc needs the seqc executable")
            return 1
        seqc, args = args[1], args[2:]
    targets = args or DEFAULT_DIRS
    files = []
    for t in targets:
        if os.path.isdir(t):
            for dirpath, _, names in os.walk(t):
                files += [os.path.join(dirpath, n) for n in names if n.endswith(".nn")]
        elif os.path.isfile(t):
            files.append(t)
        else:
            print(f"error: no such file or directory: {t}")
            return 1
    files.sort()
    if not files:
        print("error: no .nn files found")
        return 1
    bad = checked = skipped = 0
    for path in files:
        rel = os.path.relpath(path, ROOT)
        result = check_file(path, seqc)
        if result is None:
            checked += 1
        elif result.startswith("skip:"):
            skipped += 1
            print(f"{rel}: {result}")
        else:
            bad += 1
            print(f"{rel}: error: not valid PyTorch: {result}")
    print(f"{checked} valid, {skipped} skipped, {bad} invalid")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
