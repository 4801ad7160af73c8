#!/usr/bin/python3
"""Benchmark peers in Python: PyTorch CPU and ONNX Runtime.

Part of seqc's benchmark harness (tests/bench/run-peers.py).

  torch_peer.py torch  --layers 784:512:relu,... --batch 1,64 --threads N
                       [--precision f32|bf16|int8]
      PyTorch nn.Sequential, eval(), torch.inference_mode(),
      torch.set_num_threads(N). Run with Debian's /usr/bin/python3.
      bf16: the faster (in a short trial per batch) of torch.autocast("cpu",
      bfloat16) around the f32 model and the model converted to bfloat16 with
      the input converted inside the run; the output is converted back to
      f32 in both. int8: torch.ao.quantization.quantize_dynamic(model,
      {nn.Linear}, dtype=torch.qint8) on the faster (same trial) of the
      quantized engines this build has among fbgemm, x86 and onednn.
  torch_peer.py export --layers ... --onnx OUT.onnx
      Exports the same network (same seed, same weights) with
      torch.onnx.export, batch as a dynamic axis, plus OUT.onnx.npz holding the
      weights for the float64 check.
  torch_peer.py ort    --onnx OUT.onnx --batch 1,64 --threads N
                       [--precision f32|int8]
      ONNX Runtime's CPU execution provider, intra_op_num_threads=N,
      inter_op_num_threads=1, all graph optimisations. Run with the venv's
      python that has onnxruntime, onnx and numpy. int8:
      onnxruntime.quantization.quantize_dynamic on OUT.onnx (u8 activations
      quantised per run), with the faster (short trial per batch) of QInt8 and
      QUInt8 weights, per tensor or per output channel; every Gemm must come
      out quantised.

Peers do not fake a precision they do not offer: bf16 in ONNX Runtime (its
CPU provider has no bf16 matmul) and int8w (weight-only int8) anywhere exit
with an error, and run-peers.py does not ask for them.

Timing follows `seqc bench` (compiler/driver/BenchCommand.cpp): 0.1 s of
warm-up, samples of back-to-back runs lasting at least 5 ms, 1 s in all
(3 to 200 samples) unless --repeat N; latency = sample time / runs. Each
batch prints one JSON line; rows 0 and B-1 are checked against a float64
evaluation of the same f32 weights (max_abs_error, and rel_error: the
largest over the rows of max |y - ref| / max |ref|).
"""

import argparse
import copy
import json
import math
import os
import sys
import time

ACTS = ("none", "relu", "sigmoid", "tanh")
# Samples of each candidate's short trial when a peer picks its fastest
# setting (after time_runs' 0.1 s warm-up).
TRIAL_SAMPLES = 3


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
    """(max |y - ref|, max over the rows of max |y - ref| / max |ref|) on
    rows 0 and B-1."""
    rows = [0, x.shape[0] - 1]
    want = reference_rows(np, weights, acts, x[rows])
    diff = np.nan_to_num(np.abs(out[rows].astype(np.float64) - want),
                         nan=np.inf)
    row_error = diff.max(axis=1)
    row_magnitude = np.abs(want).max(axis=1)
    relative = [e / m if m > 0 else (math.inf if e > 0 else 0.0)
                for e, m in zip(row_error, row_magnitude)]
    return float(row_error.max()), float(max(relative))


def json_error(error):
    """A finite stand-in for an infinite error, which JSON cannot spell."""
    return error if math.isfinite(error) else 1e300


def report(peer, info, precision, batch, threads, timing, errors,
           variant=None):
    """One JSON line; \p variant names the setting a trial picked."""
    line = {"peer": peer, "info": info, "precision": precision,
            "batch": batch, "threads": threads}
    if variant:
        line["variant"] = variant
    line.update(timing)
    line["max_abs_error"] = json_error(errors[0])
    line["rel_error"] = json_error(errors[1])
    print(json.dumps(line), flush=True)


def fastest(candidates):
    """The (name, run) of \p candidates whose short trial is fastest."""
    if len(candidates) == 1:
        return candidates[0]
    trial = [(time_runs(run, TRIAL_SAMPLES)["median_seconds"], i)
             for i, (_, run) in enumerate(candidates)]
    return candidates[min(trial)[1]]


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


def torch_variants(torch, model, precision):
    """[(description, forward)] for \p precision, forward(x) giving the f32
    output: the candidates of the trial."""
    if precision == "f32":
        return [("", model)]
    if precision == "bf16":
        as_bf16 = copy.deepcopy(model).to(torch.bfloat16)

        def autocast(x):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return model(x).float()
        return [("autocast", autocast),
                ("model in bfloat16",
                 lambda x: as_bf16(x.to(torch.bfloat16)).float())]
    variants = []
    for engine in ("fbgemm", "x86", "onednn"):
        if engine not in torch.backends.quantized.supported_engines:
            continue
        # The engine packs the weights (set it before quantising); the
        # packed weights then run on their own engine's kernels.
        torch.backends.quantized.engine = engine
        variants.append((f"{engine} engine",
                         torch.ao.quantization.quantize_dynamic(
                             copy.deepcopy(model), {torch.nn.Linear},
                             dtype=torch.qint8)))
    if not variants:
        sys.exit("peer: error: this PyTorch has no quantized engine among "
                 "fbgemm, x86, onednn: " +
                 str(torch.backends.quantized.supported_engines))
    return variants


def run_torch(args):
    import numpy as np
    import torch
    if args.precision not in ("f32", "bf16", "int8"):
        sys.exit(f"peer: error: pytorch does not offer --precision "
                 f"{args.precision}")
    torch.set_num_threads(args.threads)
    layers = parse_layers(args.layers)
    model = build_torch_model(torch, layers, args.seed)
    weights = linear_weights(torch, model)
    acts = [act for _, _, act in layers]
    x_all = make_input(np, max(args.batch), layers[0][0])
    info = f"PyTorch {torch.__version__}, {blas_corename()}"
    info += {"f32": "", "bf16": ", bf16",
             "int8": ", int8 quantize_dynamic"}[args.precision]
    with torch.inference_mode():
        variants = torch_variants(torch, model, args.precision)
    for batch in args.batch:
        x = torch.from_numpy(x_all[:batch].copy())
        with torch.inference_mode():
            name, run = fastest([(n, lambda f=f: f(x)) for n, f in variants])
            out = run().numpy()
            errors = check(np, weights, acts, x_all[:batch], out)
            timing = time_runs(run, args.repeat)
        report("pytorch", info, args.precision, batch, args.threads,
               timing, errors, name)


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


def ort_session(ort, path, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = \
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, sess_options=options,
                                providers=["CPUExecutionProvider"])


def ort_int8_models(path, layer_count):
    """[(description, path)]: quantize_dynamic's weight types x per channel,
    each checked to have every layer quantised."""
    import logging
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    # quantize_dynamic advises pre-processing; the exported graph is plain.
    logging.getLogger().setLevel(logging.ERROR)
    models = []
    for weight_type in (QuantType.QInt8, QuantType.QUInt8):
        for per_channel in (False, True):
            name = (f"{weight_type.name} weights "
                    f"{'per channel' if per_channel else 'per tensor'}")
            out = (f"{path}.{weight_type.name}"
                   f"{'-per-channel' if per_channel else ''}.onnx")
            # run-peers.py exports the model anew each time; a quantised
            # model newer than it is reused (one per thread count otherwise).
            if not os.path.exists(out) or \
                    os.path.getmtime(out) < os.path.getmtime(path):
                quantize_dynamic(path, out, weight_type=weight_type,
                                 per_channel=per_channel)
            ops = [node.op_type for node in onnx.load(out).graph.node]
            quantized = ops.count("MatMulInteger") + \
                ops.count("DynamicQuantizeMatMul")
            if quantized != layer_count or "Gemm" in ops or "MatMul" in ops:
                sys.exit(f"peer: error: quantize_dynamic ({name}) left "
                         f"layers unquantised: {ops}")
            models.append((name, out))
    return models


def run_ort(args):
    import numpy as np
    import onnxruntime as ort
    if args.precision not in ("f32", "int8"):
        sys.exit(f"peer: error: onnxruntime's CPU provider does not offer "
                 f"--precision {args.precision}")
    saved = np.load(args.onnx + ".npz")
    acts = [str(a) for a in saved["acts"]]
    weights = [(saved[f"w{i}"], saved[f"b{i}"]) for i in range(len(acts))]
    models = [("f32", args.onnx)] if args.precision == "f32" else \
        ort_int8_models(args.onnx, len(acts))
    sessions = [(name, ort_session(ort, path, args.threads))
                for name, path in models]
    x_all = make_input(np, max(args.batch), weights[0][0].shape[1])
    info = f"ONNX Runtime {ort.__version__} CPU"
    for batch in args.batch:
        x = np.ascontiguousarray(x_all[:batch])
        feeds = {"x": x}
        variants = [(name, lambda session=session: session.run(["y"], feeds))
                    for name, session in sessions]
        name, run = fastest(variants)
        out = run()[0]
        errors = check(np, weights, acts, x_all[:batch], out)
        timing = time_runs(run, args.repeat)
        detail = info if args.precision == "f32" else \
            f"{info}, int8 quantize_dynamic (u8 activations)"
        report("onnxruntime", detail, args.precision, batch, args.threads,
               timing, errors, name if args.precision != "f32" else None)


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
    parser.add_argument("--precision", default="f32",
                        choices=["f32", "bf16", "int8", "int8w"])
    args = parser.parse_args()
    if args.mode in ("torch", "export") and not args.layers:
        parser.error("--layers is required")
    if args.mode in ("export", "ort") and not args.onnx:
        parser.error("--onnx is required")
    {"torch": run_torch, "export": run_export, "ort": run_ort}[args.mode](args)


if __name__ == "__main__":
    main()
