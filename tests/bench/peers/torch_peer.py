#!/usr/bin/python3
"""Benchmark peers in Python: PyTorch CPU and ONNX Runtime.

Part of seqc's benchmark harness (tests/bench/run-peers.sh).

  torch_peer.py torch  --layers 784:512:relu,... --batch 1,64 --threads N
      PyTorch nn.Sequential, eval(), torch.inference_mode(),
      torch.set_num_threads(N). Run with Debian's /usr/bin/python3.
  torch_peer.py export --layers ... --onnx OUT.onnx
      Exports the same network (same seed, same weights) with
      torch.onnx.export, batch as a dynamic axis, plus OUT.onnx.npz holding the
      weights for the float64 check.
  torch_peer.py ort    --onnx OUT.onnx --batch 1,64 --threads N
      ONNX Runtime's CPU execution provider, intra_op_num_threads=N,
      inter_op_num_threads=1, all graph optimisations. Run with the venv's
      python that has onnxruntime and numpy.

Timing follows `seqc bench` (compiler/driver/BenchCommand.cpp): 0.1 s of
warm-up, samples of back-to-back runs lasting at least 5 ms, 1 s in all
(3 to 200 samples) unless --repeat N; latency = sample time / runs. Each
batch prints one JSON line; rows 0 and B-1 are checked against a float64
evaluation of the same weights (max_abs_error).
"""

import argparse
import json
import math
import os
import sys
import time

ACTS = ("none", "relu", "sigmoid", "tanh")


def parse_layers(text):
    layers = []
    for spec in text.split(","):
        fields = spec.split(":")
        if len(fields) != 3 or fields[2] not in ACTS:
            sys.exit(f"peer: error: bad layer '{spec}' (want in:out:act)")
        layers.append((int(fields[0]), int(fields[1]), fields[2]))
    return layers


def time_runs(run, repeat):
    start = time.perf_counter()
    warm_runs = 0
    first = 0.0
    while True:
        t = time.perf_counter()
        run()
        if warm_runs == 0:
            first = time.perf_counter() - t
        warm_runs += 1
        if time.perf_counter() - start >= 0.1:
            break
    elapsed = time.perf_counter() - start
    estimate = max(1e-10, (elapsed - first) / (warm_runs - 1)
                   if warm_runs > 1 else first)
    runs = max(1, math.ceil(max(50e-6, 1.0 / 200) / estimate))
    samples = repeat or int(min(200, max(3, round(1.0 / (runs * estimate)))))
    per_run = []
    for _ in range(samples):
        t = time.perf_counter()
        for _ in range(runs):
            run()
        per_run.append((time.perf_counter() - t) / runs)
    per_run.sort()

    def pct(q):
        pos = q * (len(per_run) - 1)
        lo = int(math.floor(pos))
        hi = min(lo + 1, len(per_run) - 1)
        return per_run[lo] + (per_run[hi] - per_run[lo]) * (pos - lo)

    return {"median_seconds": pct(0.5), "min_seconds": per_run[0],
            "p10_seconds": pct(0.1), "p90_seconds": pct(0.9),
            "max_seconds": per_run[-1], "samples": samples,
            "runs_per_sample": runs}


def make_input(np, rows, features):
    rng = np.random.default_rng(20240229)
    return rng.uniform(-1.0, 1.0, size=(rows, features)).astype(np.float32)


def reference_rows(np, weights, acts, x):
    """float64 evaluation; weights is a list of (W[out,in], b[out])."""
    y = x.astype(np.float64)
    for (w, b), act in zip(weights, acts):
        y = y @ w.astype(np.float64).T + b.astype(np.float64)
        if act == "relu":
            y = np.maximum(y, 0.0)
        elif act == "sigmoid":
            y = 1.0 / (1.0 + np.exp(-y))
        elif act == "tanh":
            y = np.tanh(y)
    return y


def check(np, weights, acts, x, out):
    rows = [0, x.shape[0] - 1]
    want = reference_rows(np, weights, acts, x[rows])
    diff = np.abs(out[rows].astype(np.float64) - want)
    return float(np.nan_to_num(diff, nan=np.inf).max())


def report(peer, info, batch, threads, timing, error):
    line = {"peer": peer, "info": info, "batch": batch, "threads": threads}
    line.update(timing)
    line["max_abs_error"] = error
    print(json.dumps(line), flush=True)


def build_torch_model(torch, layers, seed):
    torch.manual_seed(seed)
    modules = []
    for fan_in, fan_out, act in layers:
        modules.append(torch.nn.Linear(fan_in, fan_out))
        if act == "relu":
            modules.append(torch.nn.ReLU())
        elif act == "sigmoid":
            modules.append(torch.nn.Sigmoid())
        elif act == "tanh":
            modules.append(torch.nn.Tanh())
    return torch.nn.Sequential(*modules).eval()


def linear_weights(torch, model):
    return [(m.weight.detach().numpy(), m.bias.detach().numpy())
            for m in model if isinstance(m, torch.nn.Linear)]


def blas_corename():
    """The kernel OpenBLAS picked, read from the library PyTorch loaded."""
    import ctypes
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps
                     if "blas" in line and line.split()[-1].startswith("/")}
    except OSError:
        return "unknown BLAS"
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
            fn = lib.openblas_get_corename
        except (OSError, AttributeError):
            continue
        fn.restype = ctypes.c_char_p
        return "OpenBLAS " + fn().decode()
    return "BLAS " + ",".join(sorted(os.path.basename(p) for p in paths))


def run_torch(args):
    import numpy as np
    import torch
    torch.set_num_threads(args.threads)
    layers = parse_layers(args.layers)
    model = build_torch_model(torch, layers, args.seed)
    weights = linear_weights(torch, model)
    acts = [act for _, _, act in layers]
    x_all = make_input(np, max(args.batch), layers[0][0])
    info = f"PyTorch {torch.__version__}, {blas_corename()}"
    for batch in args.batch:
        x = torch.from_numpy(x_all[:batch].copy())
        with torch.inference_mode():
            def run():
                model(x)
            out = model(x).numpy()
            error = check(np, weights, acts, x_all[:batch], out)
            timing = time_runs(run, args.repeat)
        report("pytorch", info, batch, args.threads, timing, error)


def run_export(args):
    import numpy as np
    import torch
    layers = parse_layers(args.layers)
    model = build_torch_model(torch, layers, args.seed)
    x = torch.zeros(1, layers[0][0])
    torch.onnx.export(model, (x,), args.onnx, input_names=["x"],
                      output_names=["y"], opset_version=13,
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    arrays = {}
    for i, (w, b) in enumerate(linear_weights(torch, model)):
        arrays[f"w{i}"] = w
        arrays[f"b{i}"] = b
    np.savez(args.onnx + ".npz", acts=np.array([a for _, _, a in layers]),
             **arrays)


def run_ort(args):
    import numpy as np
    import onnxruntime as ort
    saved = np.load(args.onnx + ".npz")
    acts = [str(a) for a in saved["acts"]]
    weights = [(saved[f"w{i}"], saved[f"b{i}"]) for i in range(len(acts))]
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = \
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(args.onnx, sess_options=options,
                                   providers=["CPUExecutionProvider"])
    x_all = make_input(np, max(args.batch), weights[0][0].shape[1])
    info = f"ONNX Runtime {ort.__version__} CPU"
    for batch in args.batch:
        x = np.ascontiguousarray(x_all[:batch])
        feeds = {"x": x}

        def run():
            session.run(["y"], feeds)
        out = session.run(["y"], feeds)[0]
        error = check(np, weights, acts, x_all[:batch], out)
        timing = time_runs(run, args.repeat)
        report("onnxruntime", info, batch, args.threads, timing, error)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["torch", "export", "ort"])
    parser.add_argument("--layers")
    parser.add_argument("--onnx")
    parser.add_argument("--batch", default="1",
                        type=lambda s: [int(b) for b in s.split(",")])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.mode in ("torch", "export") and not args.layers:
        parser.error("--layers is required")
    if args.mode in ("export", "ort") and not args.onnx:
        parser.error("--onnx is required")
    {"torch": run_torch, "export": run_export, "ort": run_ort}[args.mode](args)


if __name__ == "__main__":
    main()
