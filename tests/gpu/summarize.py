#!/usr/bin/env python3
"""Joins seqc-cuda-bench and torch_bench.py JSON lines into a Markdown table.

usage: summarize.py SEQC.jsonl TORCH.jsonl > summary.md
Ratios are peer time / seqc time (throughput mode), so > 1 means seqc is
faster. All numbers come from the same run on the same GPU.
"""
import json
import sys


def load(path):
    rows = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    rows.append(json.loads(line))
    except OSError:
        pass
    return rows


def main():
    seqc = load(sys.argv[1])
    peers = load(sys.argv[2])
    table = {}
    for r in peers:
        table[(r["impl"], r["net"], r["precision"], r["batch"])] = r
    device = seqc[0]["device"] if seqc else (peers[0]["device"] if peers else "?")
    print(f"# seqc CUDA vs PyTorch on {device}\n")
    print("Times per forward pass; `thr` = back-to-back (throughput), `lat` = "
          "launch + wait (latency). Ratios = peer thr / seqc thr.\n")
    print("| net | prec | batch | strategy | seqc thr | seqc lat | seqc GFLOP/s "
          "| eager thr | x eager | compile thr | x compile | gemm-only thr "
          "| x gemm-only |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")

    def fmt_t(s):
        if s is None:
            return "-"
        if s < 1e-3:
            return f"{s * 1e6:.1f} us"
        return f"{s * 1e3:.2f} ms"

    for r in seqc:
        key = (r["net"], r["precision"], r["batch"])
        eager = table.get(("torch_eager",) + key)
        comp = table.get(("torch_compile",) + key)
        gemm = table.get(("torch_gemm",) + key)

        def ratio(peer):
            return f"{peer['throughput_s'] / r['throughput_s']:.2f}" if peer else "-"
        print(f"| {r['net']} | {r['precision']} | {r['batch']} | {r['strategy']} "
              f"| {fmt_t(r['throughput_s'])} | {fmt_t(r['latency_s'])} "
              f"| {r['gflops']:.0f} "
              f"| {fmt_t(eager and eager['throughput_s'])} | {ratio(eager)} "
              f"| {fmt_t(comp and comp['throughput_s'])} | {ratio(comp)} "
              f"| {fmt_t(gemm and gemm['throughput_s'])} | {ratio(gemm)} |")


if __name__ == "__main__":
    main()
