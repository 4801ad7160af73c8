#!/usr/bin/python3
"""seqc's int8 against PyTorch's own dynamic quantisation (issue 21, item 4).

Run with Debian's Python, which has PyTorch:

    /usr/bin/python3 tests/precision/quantize_dynamic_agreement.py BUILD/seqc [--markdown]

For every numerics case with a Linear layer and a 2-D float32 input
(tests/numerics/cases/*), and for the trained digits app, it runs
  f32    PyTorch in float32 (model.nn executed as Python, weights loaded);
  torch  torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, qint8)
         with per-channel weight scales (per_channel_dynamic_qconfig), on
         the first engine of onednn, fbgemm, qnnpack this build has;
  seqc   `seqc run --backend ref --precision int8` (the simulation the
         CPU kernels are checked against), and `--backend cpu` too when
         the build's CPU backend computes int8;
and prints, per case, how far the CPU code lies from the reference of the
fused IR (`--stop-after fuse`: BatchNorm folded into the Linear before
its weights are quantised, as the compiled code does), and max |a - b| / max(1, max |f32|) for seqc vs f32,
torch vs f32 and seqc vs torch, then the largest of each.

The two schemes differ by design: seqc quantises each row of a layer's
input symmetrically (scale amax/127), PyTorch the whole batch
asymmetrically to uint8 (with reduce_range, 7 bits, on x86 engines). Both
quantise weights per output channel, symmetric. The figures say how close
the two land, not that they compute the same bits.
"""
import argparse
import ast
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def python_source(src):
    """The .nn text as Python: without seqc's `X.load_state_dict("file")`."""
    return "".join(l for l in src.splitlines(keepends=True)
                   if not (".load_state_dict(" in l and l.rstrip().endswith('")')))


def build_module(src):
    """Executes the .nn text as Python; the last nn.Module it assigns."""
    ns = {"nn": nn, "torch": torch}
    exec("from torch.nn import *", ns)
    py = python_source(src)
    exec(compile(py, "<model.nn>", "exec"), ns)
    last = None
    for node in ast.parse(py).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) \
                and isinstance(ns[node.targets[0].id], nn.Module):
            last = node.targets[0].id
    return ns[last]


DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I64": np.int64}


def load_file(path):
    """A safetensors file's tensors (Debian's Python has no safetensors)."""
    with open(path, "rb") as f:
        data = f.read()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        begin, end = t["data_offsets"]
        raw = data[8 + n + begin:8 + n + end]
        if t["dtype"] == "BF16":
            a = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.frombuffer(raw, DTYPES[t["dtype"]])
        out[name] = torch.from_numpy(a.reshape(t["shape"]).copy())
    return out


def cases():
    root = os.path.join(ROOT, "tests", "numerics", "cases")
    for name in sorted(os.listdir(root)):
        d = os.path.join(root, name)
        model, weights, inp = (os.path.join(d, f) for f in
                               ("model.nn", "weights.safetensors", "input.npy"))
        if all(os.path.exists(p) for p in (model, weights, inp)):
            yield name, model, weights, inp
    app = os.path.join(ROOT, "examples", "app")
    yield "digits_app", os.path.join(app, "digits.nn"), \
        os.path.join(app, "digits.safetensors"), None


def digits_input(tmp):
    rows = []
    with open(os.path.join(ROOT, "examples", "app", "digits_test.csv")) as f:
        for line in f:
            if line.startswith("#") or line.startswith("label"):
                continue
            rows.append([float(v) for v in line.strip().split(",")[1:]])
    path = os.path.join(tmp, "digits_input.npy")
    np.save(path, np.array(rows, dtype=np.float32))
    return path


def seqc_run(seqc, model, weights, inp, backend, tmp, extra=()):
    out = os.path.join(tmp, "out.npy")
    if os.path.exists(out):
        os.remove(out)
    r = subprocess.run([seqc, "run", model, "--weights", weights, "--input", inp,
                        "--backend", backend, "--precision", "int8", "--no-cache",
                        "--output", out, *extra], capture_output=True, text=True)
    if r.returncode != 0:
        return None, r.stderr.strip().splitlines()[0] if r.stderr else "failed"
    return np.load(out).astype(np.float64), None


def engine():
    for e in ("onednn", "fbgemm", "qnnpack"):
        if e in torch.backends.quantized.supported_engines:
            return e
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("seqc")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    eng = engine()
    if eng is None:
        print("this PyTorch has no quantized engine")
        return 2
    torch.backends.quantized.engine = eng
    qconfig = torch.ao.quantization.per_channel_dynamic_qconfig
    rows = []
    cpu_note = None
    with tempfile.TemporaryDirectory() as tmp:
        for name, model_path, weights, inp in cases():
            with open(model_path) as f:
                src = f.read()
            try:
                module = build_module(src)
            except Exception:  # a case PyTorch itself refuses: not ours
                continue
            if not any(isinstance(m, nn.Linear) for m in module.modules()):
                continue
            module.load_state_dict({k: v.float() for k, v in load_file(weights).items()})
            module.float().eval()
            if inp is None:
                inp = digits_input(tmp)
            x = np.load(inp)
            # PyTorch cannot quantise a batch holding NaN or infinities.
            if x.dtype != np.float32 or x.ndim != 2 or not np.isfinite(x).all():
                continue
            with torch.no_grad():
                f32 = module(torch.from_numpy(x)).double().numpy()
                q = torch.ao.quantization.quantize_dynamic(
                    module, {nn.Linear: qconfig}, dtype=torch.qint8)
                tq = q(torch.from_numpy(x)).double().numpy()
            ref, err = seqc_run(args.seqc, model_path, weights, inp, "ref", tmp)
            if ref is None:
                print(f"{name}: seqc --backend ref failed: {err}", file=sys.stderr)
                return 1
            cpu, cpu_err = seqc_run(args.seqc, model_path, weights, inp, "cpu", tmp)
            # The compiled code quantises the weights after BatchNorm is
            # folded into them; the reference of the fused IR does the same.
            fused, _ = seqc_run(args.seqc, model_path, weights, inp, "ref", tmp,
                                ("--stop-after", "fuse"))
            if cpu is None:
                cpu_note = cpu_err
            scale = max(1.0, float(np.nanmax(np.abs(f32))) if np.isfinite(f32).any() else 1.0)
            ref = ref.reshape(f32.shape)

            def dist(a, b):
                finite = np.isfinite(a) & np.isfinite(b)
                if not finite.any():
                    return 0.0
                return float(np.max(np.abs(a[finite] - b[finite]))) / scale
            row = {"case": name, "rows": int(x.shape[0]),
                   "seqc_vs_f32": dist(ref, f32), "torch_vs_f32": dist(tq, f32),
                   "seqc_vs_torch": dist(ref, tq)}
            if cpu is not None:
                row["cpu_vs_ref"] = dist(cpu.reshape(f32.shape), fused.reshape(f32.shape))
            rows.append(row)
    keys = ["seqc_vs_f32", "torch_vs_f32", "seqc_vs_torch"]
    if any("cpu_vs_ref" in r for r in rows):
        keys.append("cpu_vs_ref")
    if args.markdown:
        print("| case | rows | " + " | ".join(keys) + " |")
        print("|---|---|" + "---|" * len(keys))
        for r in rows:
            print(f"| {r['case']} | {r['rows']} | " +
                  " | ".join(f"{r[k]:.2e}" if k in r else "n/a" for k in keys) + " |")
    else:
        for r in rows:
            print(json.dumps(r))
    # The specials_huge_ cases feed inputs up to 1e30 beside small ones:
    # a scale per batch (PyTorch) loses the small rows, one per row
    # (seqc) keeps them. They are summed up apart from the ordinary nets.
    for label, group in (("ordinary", [r for r in rows if not r["case"].startswith("specials_")]),
                         ("specials_huge", [r for r in rows if r["case"].startswith("specials_")])):
        if not group:
            continue
        worst = {k: max(r.get(k, 0.0) for r in group) for k in keys}
        median = {k: float(np.median([r[k] for r in group if k in r])) for k in keys}
        print(f"engine {eng}, {len(group)} {label} models; largest: " +
              ", ".join(f"{k} {v:.2e}" for k, v in worst.items()) + "; median: " +
              ", ".join(f"{k} {v:.2e}" for k, v in median.items()))
    if cpu_note:
        print(f"CPU backend not compared: {cpu_note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
