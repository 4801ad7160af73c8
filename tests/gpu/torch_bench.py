#!/usr/bin/env python3
"""PyTorch peers for seqc's CUDA benchmarks (run by device-check.sh).

For the suite networks of the performance issue (random weights, the shapes
of tests/bench/*.nn) prints one JSON object per line, measured the way
seqc-cuda-bench measures seqc: latency = mean of (forward + synchronize),
throughput = mean time per forward when queued back to back.

impl values:
  torch_eager    nn.Sequential in inference mode: cuBLAS(Lt) GEMM with the
                 bias, then a separate activation kernel per layer
  torch_compile  torch.compile(model) (Inductor, default mode)
  torch_gemm     the GEMMs alone (torch.mm, no bias, no activation): a lower
                 bound for any per-layer library approach
"""
import argparse
import json
import sys
import time

import torch
import torch.nn as nn

SUITE = {
    "lecture": ([2, 3, 2, 1], None),
    "digits": ([64, 128, 10], nn.ReLU),
    "mnist": ([784, 512, 512, 10], nn.ReLU),
    "narrow": ([64, 64, 64, 64, 64, 16], nn.ReLU),
    "speech": ([429] + [2048] * 7 + [9304], nn.Sigmoid),
    "shallow": ([429, 16384, 9304], nn.Sigmoid),
}


def build(widths, act):
    layers = []
    for i in range(1, len(widths)):
        layers.append(nn.Linear(widths[i - 1], widths[i]))
        if act is not None and i + 1 < len(widths):
            layers.append(act())
    return nn.Sequential(*layers)


def timeit(fn, target=0.2):
    fn()
    torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    once = max(time.perf_counter() - start, 1e-7)
    iters = int(min(max(target / once, 3), 20000))
    start = time.perf_counter()
    for _ in range(iters):
        fn()
        torch.cuda.synchronize()
    latency = (time.perf_counter() - start) / iters
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    torch.cuda.synchronize()
    throughput = (time.perf_counter() - start) / iters
    return latency, throughput, iters


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--compile-nets", default="narrow,mnist",
                        help="networks to also run through torch.compile")
    parser.add_argument("--nets", default=",".join(SUITE))
    parser.add_argument("--batches", default="1,65536")
    args = parser.parse_args()
    device = torch.cuda.get_device_name(0)
    batches = [int(b) for b in args.batches.split(",")]
    compile_nets = set(args.compile_nets.split(",")) if args.compile_nets else set()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    for name in args.nets.split(","):
        widths, act = SUITE[name]
        for precision, dtype in (("f32", torch.float32), ("bf16", torch.bfloat16)):
            model = build(widths, act).cuda().to(dtype).eval()
            weights = [m.weight.detach() for m in model if isinstance(m, nn.Linear)]
            compiled = None
            if name in compile_nets:
                compiled = torch.compile(model)
            for batch in batches:
                x = torch.rand(batch, widths[0], device="cuda", dtype=dtype)
                flops = 2.0 * batch * sum(
                    widths[i - 1] * widths[i] for i in range(1, len(widths)))

                def emit(impl, lat, thr, iters, extra=None):
                    record = {"impl": impl, "device": device, "net": name,
                              "precision": precision, "batch": batch,
                              "latency_s": lat, "throughput_s": thr,
                              "gflops": flops / thr * 1e-9, "iterations": iters}
                    if extra:
                        record.update(extra)
                    print(json.dumps(record), flush=True)

                with torch.inference_mode():
                    emit("torch_eager", *timeit(lambda: model(x)))

                    def gemms():
                        h = x
                        for w in weights:
                            h = torch.mm(h, w.t())
                        return h
                    emit("torch_gemm", *timeit(gemms))
                    if compiled is not None:
                        try:
                            start = time.perf_counter()
                            compiled(x)
                            torch.cuda.synchronize()
                            compile_s = time.perf_counter() - start
                            emit("torch_compile", *timeit(lambda: compiled(x)),
                                 {"compile_s": compile_s})
                        except Exception as error:  # report, keep going
                            print(f"torch.compile {name} {precision} {batch}: "
                                  f"{error}", file=sys.stderr)
                del x
            del model, compiled
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
