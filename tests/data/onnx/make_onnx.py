#!/usr/bin/python3
"""Export the golden networks with torch.onnx.export for seqc's ONNX tests.

Run with Debian's Python, which has PyTorch (the `onnx` package is not needed):

    /usr/bin/python3 tests/data/onnx/make_onnx.py           # (re)write tests/data/onnx/torch/
    /usr/bin/python3 tests/data/onnx/make_onnx.py --check   # re-export in memory, compare

For every numerics case (tests/numerics/cases/<case>: its model.nn, weights.safetensors and
input.npy, see tests/numerics/make_goldens.py) and for the suite's small example nets (the
lecture's MyNet and the digits classifier), torch/<case>/ gets
  opset11.onnx, opset13.onnx, opset17.onnx
                torch.onnx.export of the PyTorch model (float32 parameters as seqc reads them,
                eval mode) with a dynamic batch axis;
  input.npy     float32 [batch, features] (the case's input);
  expected.npy  float64 output of the same model run by PyTorch in float64.
tests/onnx/CMakeLists.txt runs `seqc run <case>/opsetN.onnx --input input.npy` on the reference
and CPU backends and compares with expected.npy.

Exporter limits, recorded in torch/skipped.txt instead of being exported:
  - LayerNorm without elementwise_affine at opset 17: torch 1.13 writes a LayerNormalization
    with empty optional inputs and its own checker refuses it.
Where the export changes the function, the expected output follows the ONNX file:
  - Softplus(beta, threshold): ONNX's Softplus has no threshold, and the exporter drops it
    (it writes softplus(beta * x) / beta everywhere). seqc reads that as Softplus with
    PyTorch's default threshold 20, which gives the same float32 values, so the expected
    output is PyTorch's with the threshold set to 20.
"""

import argparse
import csv
import io
import json
import os
import struct
import sys
import types

try:
    import numpy as np
    import torch
except ImportError as e:  # the test that runs --check is skipped without them
    print(f"make_onnx.py: PyTorch or NumPy is not installed ({e})")
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
CASES_DIR = os.path.join(ROOT, "tests", "numerics", "cases")
OUT_DIR = os.path.join(HERE, "torch")
OPSETS = (11, 13, 17)


def load_file(path):
    """A safetensors file as {name: torch tensor} (F32, F16, BF16, F64, I64)."""
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = data[8 + n + begin:8 + n + end]
        dtype = info["dtype"]
        if dtype == "BF16":  # the high half of a float32
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            array = bits.view(np.float32)
        else:
            array = np.frombuffer(raw, dtype={"F32": "<f4", "F16": "<f2", "F64": "<f8",
                                              "I64": "<i8"}[dtype])
        out[name] = torch.from_numpy(array.copy().reshape(info["shape"]))
    return out


# make_goldens imports the `safetensors` package, which Debian's PyTorch does not come with;
# this script only reads such files, with load_file above.
if "safetensors" not in sys.modules:
    try:
        import safetensors.torch  # noqa: F401
    except ImportError:
        stub = types.ModuleType("safetensors.torch")
        stub.load_file, stub.save = load_file, None
        sys.modules["safetensors"] = types.ModuleType("safetensors")
        sys.modules["safetensors.torch"] = stub
sys.path.insert(0, os.path.join(ROOT, "tests", "numerics"))
import make_goldens  # noqa: E402  (build_module, compare, npy_bytes, write_if_changed)

nn = torch.nn


class Net:
    def __init__(self, name, src, weights, x32):
        self.name, self.src, self.weights, self.x32 = name, src, weights, x32


def numerics_nets():
    for name in sorted(os.listdir(CASES_DIR)):
        d = os.path.join(CASES_DIR, name)
        if not os.path.isfile(os.path.join(d, "model.nn")):
            continue
        src = open(os.path.join(d, "model.nn")).read()
        x = np.load(os.path.join(d, "input.npy"))
        # The cases of other ranks and dtypes test `seqc run`'s input rules
        # (tests/numerics); an ONNX model of N-d input is tests/firstcontact's.
        if x.ndim != 2 or x.dtype != np.float32:
            continue
        yield Net(name, src, os.path.join(d, "weights.safetensors"), x)


def csv_rows(path, skip_columns=0, limit=None):
    rows = []
    with open(path) as f:
        for row in csv.reader(l for l in f if not l.startswith("#")):
            try:
                rows.append([float(v) for v in row[skip_columns:]])
            except ValueError:
                continue  # a header row
            if limit and len(rows) == limit:
                break
    return np.array(rows, dtype=np.float32)


def example_nets():
    lecture = os.path.join(ROOT, "examples", "lecture")
    yield Net("example_mynet", open(os.path.join(lecture, "mynet.nn")).read(),
              os.path.join(lecture, "mynet.safetensors"),
              csv_rows(os.path.join(lecture, "X.csv")))
    app = os.path.join(ROOT, "examples", "app")
    yield Net("example_digits", open(os.path.join(app, "digits.nn")).read(),
              os.path.join(app, "digits.safetensors"),
              csv_rows(os.path.join(app, "digits_test.csv"), skip_columns=1, limit=16))


def load_model(net, dtype):
    model = make_goldens.build_module(net.src)
    state = {k: make_goldens.seen_by_seqc(v) for k, v in load_file(net.weights).items()}
    model.load_state_dict(state)
    return model.to(dtype).eval()


def export(model, x32, opset):
    buf = io.BytesIO()
    torch.onnx.export(model, torch.from_numpy(x32), buf, opset_version=opset,
                      input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    return buf.getvalue()


def skip_reason(model, opset):
    for m in model.modules():
        if isinstance(m, nn.LayerNorm) and not m.elementwise_affine and opset >= 17:
            return "LayerNorm without elementwise_affine: torch 1.13 cannot export it at opset 17"
    return None


def expected_output(net):
    model = load_model(net, torch.float64)
    for m in model.modules():
        if isinstance(m, nn.Softplus):
            m.threshold = 20.0  # what the ONNX file means (see the module docstring)
    with torch.no_grad():
        return model(torch.from_numpy(net.x32.astype(np.float64))).numpy().astype(np.float64)


def make(net):
    """{file name: bytes} for one net, and its skipped opsets."""
    files, skipped = {}, []
    model = load_model(net, torch.float32)
    for opset in OPSETS:
        reason = skip_reason(model, opset)
        if reason:
            skipped.append(f"{net.name} opset{opset}: {reason}")
            continue
        files[f"opset{opset}.onnx"] = export(model, net.x32, opset)
    files["input.npy"] = make_goldens.npy_bytes(net.x32)
    return files, skipped


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="re-export every net in memory and compare with the files on disk")
    args = ap.parse_args()
    torch.set_num_threads(1)
    stale, all_skipped, total = [], [], 0
    nets = list(numerics_nets()) + list(example_nets())
    for net in nets:
        files, skipped = make(net)
        all_skipped += skipped
        expected = expected_output(net)
        d = os.path.join(OUT_DIR, net.name)
        exp_path = os.path.join(d, "expected.npy")
        if args.check:
            same = all(os.path.exists(os.path.join(d, n))
                       and open(os.path.join(d, n), "rb").read() == data
                       for n, data in files.items())
            same = same and make_goldens.compare(np.load(exp_path), expected, 1e-12)[0]
            if not same:
                stale.append(net.name)
            continue
        os.makedirs(d, exist_ok=True)
        for n, data in files.items():
            make_goldens.write_if_changed(os.path.join(d, n), data)
        # Keep an expected output that agrees to 1e-12 (float64 reductions vary in the
        # last bits from run to run), so reruns do not churn the files.
        if not os.path.exists(exp_path) or not make_goldens.compare(
                np.load(exp_path), expected, 1e-12)[0]:
            make_goldens.write_if_changed(exp_path, make_goldens.npy_bytes(expected))
        total += sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    skipped_text = "".join(s + "\n" for s in all_skipped)
    skipped_path = os.path.join(OUT_DIR, "skipped.txt")
    if args.check:
        if not os.path.exists(skipped_path) or open(skipped_path).read() != skipped_text:
            stale.append("skipped.txt")
        if stale:
            print("stale (rerun make_onnx.py):", " ".join(stale))
            return 1
        print(f"{len(nets)} nets up to date")
        return 0
    make_goldens.write_if_changed(skipped_path, skipped_text.encode())
    print(f"{len(nets)} nets, {len(all_skipped)} exports skipped, {total / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
