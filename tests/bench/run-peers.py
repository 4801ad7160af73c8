#!/usr/bin/python3
"""Runs seqc and its peers side by side on the benchmark suite.

Part of seqc (tests/bench/). For every network of the suite (the .nn files
beside this script), every batch of the suite table and every thread count,
it runs in one go, one after the other on the same machine:

  seqc       `seqc bench --init-seed 1 --json` (backend cpu; ref, clearly
             labelled, while the CPU backend is not built)
  oneDNN     peers/onednn_mlp.cpp: a matmul primitive per layer, bias and
             eltwise post-op, weights reordered ahead of time
  OpenBLAS   peers/openblas_mlp.cpp: cblas_sgemm + a bias/activation loop
  libxsmm    peers/libxsmm_mlp.cpp: JIT small-GEMM kernels on 64x64 tiles
  PyTorch    peers/torch_peer.py under Debian's /usr/bin/python3
  ORT        ONNX Runtime from PyPI in a venv this script creates, on the
             model torch.onnx.export wrote

OpenBLAS and PyTorch run twice when OPENBLAS_CORETYPE or OPENBLAS_L2_SIZE is
set: as the environment has them, and with both unset; the faster counts.

All of them time the same way (warm-up, then 3-200 samples over ~1 s of
back-to-back runs, median per run) and check two output rows against a
float64 evaluation. The script prints a markdown table of medians and of the
throughput ratio seqc/peer (= peer median / seqc median; above 1 means seqc
is faster), and writes every raw JSON line to BUILD/bench-peers/.

Usage: tests/bench/run-peers.py [--build-dir build-bench] [--threads 1,2]
       [--nets mnist,digits] [--peers onednn,openblas,...] [--repeat N]
       [--seqc-backend auto|cpu|ref] [--markdown OUT.md]
"""

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# The suite: network file (tests/bench/NAME.nn) and its batches.
SUITE = [
    ("lecture", [1, 3]),
    ("digits", [1, 256]),
    ("mnist", [1, 64, 1024]),
    ("speech", [1, 256]),
    ("shallow", [256]),
    ("narrow", [1, 65536]),
]
PEERS = ["onednn", "openblas", "libxsmm", "pytorch", "onnxruntime"]
PEER_TITLES = {"onednn": "oneDNN", "openblas": "OpenBLAS",
               "libxsmm": "libxsmm", "pytorch": "PyTorch",
               "onnxruntime": "ONNX Runtime"}
# Per-run work above which the float64 interpreter (--backend ref) is not
# timed: it runs at about 1 GFLOP/s.
REF_MAX_FLOPS = 2e9
BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

# Peer programs: source, extra flags, libraries, the header that tells the
# package is installed.
CXX_PEERS = {
    "onednn": ("onednn_mlp.cpp", [], ["-ldnnl"], "dnnl.hpp",
               "libdnnl-dev"),
    "openblas": ("openblas_mlp.cpp",
                 ["-ffast-math", "-I/usr/include/x86_64-linux-gnu"],
                 ["-lopenblas"], "x86_64-linux-gnu/cblas.h",
                 "libopenblas-dev"),
    "libxsmm": ("libxsmm_mlp.cpp", ["-ffast-math"],
                ["-lxsmm", "-lopenblas", "-lpthread", "-lrt", "-ldl", "-lm"],
                "libxsmm.h", "libxsmm-dev"),
}


def log(message):
    print(f"[run-peers] {message}", file=sys.stderr, flush=True)


def build_cxx_peers(out_dir, wanted):
    """Compiles the C++ peers that are out of date. Returns {peer: path}."""
    built = {}
    common = [os.path.join(HERE, "peers", "PeerHarness.h")]
    for peer, (source, flags, libs, header, package) in CXX_PEERS.items():
        if peer not in wanted:
            continue
        if not os.path.exists(os.path.join("/usr/include", header)):
            log(f"{peer}: skipped, /usr/include/{header} missing "
                f"(apt-get install {package})")
            continue
        src = os.path.join(HERE, "peers", source)
        exe = os.path.join(out_dir, os.path.splitext(source)[0])
        newest = max(os.path.getmtime(p) for p in [src] + common)
        if not os.path.exists(exe) or os.path.getmtime(exe) < newest:
            cmd = ["g++", "-std=c++17", "-O3", "-march=native", "-fopenmp",
                   "-Wall", "-Wextra"] + flags + [src, "-o", exe] + libs
            log("building " + " ".join(cmd))
            result = subprocess.run(cmd, capture_output=True, text=True)
            if result.returncode != 0:
                log(f"{peer}: skipped, build failed:\n{result.stderr}")
                continue
        built[peer] = exe
    return built


def ensure_venv(venv):
    """A venv with onnxruntime and numpy; returns its python or None."""
    python = os.path.join(venv, "bin", "python")
    probe = [python, "-c", "import onnxruntime, numpy"]
    if os.path.exists(python) and subprocess.run(
            probe, capture_output=True).returncode == 0:
        return python
    host = shutil.which("python3") or "/usr/bin/python3"
    log(f"creating {venv} (onnxruntime, numpy from PyPI)")
    steps = [[host, "-m", "venv", venv],
             [python, "-m", "pip", "install", "-q", "onnxruntime", "numpy"]]
    for cmd in steps:
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            log(f"onnxruntime: skipped, '{' '.join(cmd)}' failed:\n"
                f"{result.stderr[-2000:]}")
            return None
    return python


def network_layers(seqc, name):
    """in:out:act,... from seqc's IR of tests/bench/NAME.nn."""
    path = os.path.join(HERE, name + ".nn")
    result = subprocess.run(
        [seqc, "ir", path, "--init-seed", "1", "--stop-after=shape-check"],
        capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"run-peers: seqc ir {path} failed:\n{result.stderr}")
    layers = []
    for line in result.stdout.splitlines():
        linear = re.search(r"= linear .*: f32\[B,(\d+)\] -> f32\[B,(\d+)\]",
                           line)
        act = re.search(r"= act .*\{fn = (\w+)\}", line)
        if linear:
            layers.append([linear.group(1), linear.group(2), "none"])
        elif act:
            if not layers or layers[-1][2] != "none" or \
                    act.group(1) not in ("relu", "sigmoid", "tanh"):
                sys.exit(f"run-peers: {name}: peers cannot run '{line}'")
            layers[-1][2] = act.group(1)
        elif re.search(r"%\d+ = ", line):
            sys.exit(f"run-peers: {name}: peers cannot run '{line}'")
    return ",".join(":".join(layer) for layer in layers)


def flops_per_sample(spec):
    return sum(2 * int(l.split(":")[0]) * int(l.split(":")[1])
               for l in spec.split(","))


def run_json(cmd, env, label, timeout=1800):
    """Runs a peer; returns its JSON lines keyed by batch."""
    log(f"{label}: {' '.join(cmd)}")
    try:
        result = subprocess.run(cmd, env=env, capture_output=True, text=True,
                                timeout=timeout)
    except subprocess.TimeoutExpired:
        log(f"{label}: timed out")
        return {}
    if result.returncode != 0:
        log(f"{label}: failed ({result.returncode}):\n{result.stderr[-3000:]}")
        return {}
    lines = {}
    for line in result.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            record = json.loads(line)
            lines[int(record["batch"])] = record
    return lines


def thread_env(threads, unset_blas=False):
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    if unset_blas:
        for var in BLAS_VARS:
            env.pop(var, None)
    return env


def seqc_backend(seqc, requested):
    if requested != "auto":
        return requested
    probe = subprocess.run(
        [seqc, "bench", os.path.join(HERE, "lecture.nn"), "--init-seed", "1",
         "--batch", "1", "--repeat", "1", "--json", "--backend", "cpu"],
        capture_output=True, text=True)
    if probe.returncode == 0:
        return "cpu"
    log("seqc: the CPU backend does not run in this build "
        f"({probe.stderr.strip()}); timing the float64 REFERENCE "
        "interpreter instead, labelled 'seqc (ref)'")
    return "ref"


def run_all(net, spec, flops, batches, threads, args, seqc, backend, exes,
            wanted, torch_python, peer_script, ort_python, onnx_path,
            blas_set):
    """One round: seqc and every peer on one network at one thread count."""
    repeat = ["--repeat", str(args.repeat)] if args.repeat else []
    blist = ",".join(str(b) for b in batches)
    runs = {}
    seqc_batches = [b for b in batches
                    if backend != "ref" or flops * b <= REF_MAX_FLOPS]
    if seqc_batches:
        runs["seqc"] = run_json(
            [seqc, "bench", os.path.join(HERE, net + ".nn"), "--init-seed",
             "1", "--backend", backend, "--json", "--threads", str(threads),
             "--batch", ",".join(str(b) for b in seqc_batches)] + repeat,
            thread_env(threads), f"seqc {net} t{threads}")
    common = ["--layers", spec, "--batch", blist, "--threads",
              str(threads)] + repeat
    for peer in ("onednn", "openblas", "libxsmm"):
        if peer not in exes:
            continue
        runs[peer] = run_json([exes[peer]] + common, thread_env(threads),
                              f"{peer} {net} t{threads}")
        if peer == "openblas" and blas_set:
            runs["openblas-unset"] = run_json(
                [exes[peer]] + common, thread_env(threads, True),
                f"openblas (OPENBLAS_CORETYPE unset) {net} t{threads}")
    if "pytorch" in wanted:
        cmd = [torch_python, peer_script, "torch"] + common
        runs["pytorch"] = run_json(cmd, thread_env(threads),
                                   f"pytorch {net} t{threads}")
        if blas_set:
            runs["pytorch-unset"] = run_json(
                cmd, thread_env(threads, True),
                f"pytorch (OPENBLAS_CORETYPE unset) {net} t{threads}")
    if ort_python:
        runs["onnxruntime"] = run_json(
            [ort_python, peer_script, "ort", "--onnx", onnx_path, "--batch",
             blist, "--threads", str(threads)] + repeat,
            thread_env(threads), f"onnxruntime {net} t{threads}")
    return runs


def fmt_time(seconds):
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            value = seconds / scale
            break
    else:
        unit, value = "ns", seconds * 1e9
    digits = 1 if value >= 100 else 2 if value >= 10 else 3
    return f"{value:.{digits}f} {unit}"


def best_of(records):
    """The fastest of several records of one peer (e.g. BLAS variants)."""
    records = [r for r in records if r]
    return min(records, key=lambda r: r["median_seconds"]) if records else None


def load_average():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def main():
    parser = argparse.ArgumentParser(
        description="seqc against oneDNN, OpenBLAS, libxsmm, PyTorch and "
                    "ONNX Runtime on tests/bench/*.nn")
    parser.add_argument("--build-dir", default=os.path.join(REPO, "build-bench"))
    parser.add_argument("--seqc", help="seqc binary (default BUILD/seqc)")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--nets", default=",".join(n for n, _ in SUITE))
    parser.add_argument("--peers", default=",".join(PEERS))
    parser.add_argument("--repeat", type=int, default=0,
                        help="samples per batch (default: automatic, ~1 s)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure everything N times, interleaved, and "
                             "keep each cell's fastest median")
    parser.add_argument("--seqc-backend", default="auto",
                        choices=["auto", "cpu", "ref"])
    parser.add_argument("--markdown", help="also write the table here")
    args = parser.parse_args()

    build = os.path.abspath(args.build_dir)
    seqc = os.path.abspath(args.seqc or os.path.join(build, "seqc"))
    if not os.path.exists(seqc):
        sys.exit(f"run-peers: {seqc} not found; build seqc first "
                 f"(ninja -C {build} seqc)")
    out_dir = os.path.join(build, "bench-peers")
    os.makedirs(os.path.join(out_dir, "onnx"), exist_ok=True)
    threads_list = [int(t) for t in args.threads.split(",")]
    nets = [n for n in args.nets.split(",")]
    unknown = set(nets) - {n for n, _ in SUITE}
    if unknown:
        sys.exit(f"run-peers: unknown networks {sorted(unknown)}")
    wanted = set(args.peers.split(","))

    exes = build_cxx_peers(out_dir, wanted)
    torch_python = "/usr/bin/python3"
    if ({"pytorch", "onnxruntime"} & wanted) and subprocess.run(
            [torch_python, "-c", "import torch"],
            capture_output=True).returncode != 0:
        log("pytorch, onnxruntime: skipped, /usr/bin/python3 has no torch "
            "(apt-get install python3-torch)")
        wanted -= {"pytorch", "onnxruntime"}
    ort_python = ensure_venv(os.path.join(build, "venv")) \
        if "onnxruntime" in wanted else None
    peer_script = os.path.join(HERE, "peers", "torch_peer.py")
    backend = seqc_backend(seqc, args.seqc_backend)
    blas_set = {v: os.environ[v] for v in BLAS_VARS if v in os.environ}

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    raw_path = os.path.join(out_dir, f"results-{stamp}.jsonl")
    raw = open(raw_path, "w")
    load_before = load_average()
    started = time.time()

    # results[(net, batch, threads)][column] = record
    results = {}
    blas_kernels = {}
    for net, batches in SUITE:
        if net not in nets:
            continue
        spec = network_layers(seqc, net)
        flops = flops_per_sample(spec)
        onnx_path = os.path.join(out_dir, "onnx", net + ".onnx")
        have_onnx = False
        if ort_python:
            export = subprocess.run(
                [torch_python, peer_script, "export", "--layers", spec,
                 "--onnx", onnx_path], capture_output=True, text=True)
            have_onnx = export.returncode == 0
            if not have_onnx:
                log(f"onnxruntime {net}: skipped, torch.onnx.export "
                    f"failed:\n{export.stderr[-2000:]}")
        for threads in threads_list:
            for round_index in range(args.rounds):
                runs = run_all(net, spec, flops, batches, threads, args,
                               seqc, backend, exes, wanted, torch_python,
                               peer_script, ort_python if have_onnx else None,
                               onnx_path, blas_set)
                for column, by_batch in runs.items():
                    for batch, record in by_batch.items():
                        record["column"] = column
                        record["net"] = net
                        record["round"] = round_index
                        raw.write(json.dumps(record) + "\n")
                        cell = results.setdefault((net, batch, threads), {})
                        # Over rounds, a cell keeps its fastest median.
                        if column not in cell or record["median_seconds"] < \
                                cell[column]["median_seconds"]:
                            cell[column] = record
                        if column.startswith("openblas") or \
                                column.startswith("pytorch"):
                            blas_kernels[column] = record.get("info", "")
            raw.flush()
    raw.close()
    minutes = (time.time() - started) / 60

    table = render(results, nets, threads_list, backend, blas_set,
                   blas_kernels, load_before, load_average(), minutes,
                   " ".join(sys.argv), raw_path, args.rounds)
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")


def render(results, nets, threads_list, backend, blas_set, blas_kernels,
           load_before, load_after, minutes, command, raw_path, rounds):
    seqc_title = "seqc" if backend == "cpu" else "seqc (ref)"
    out = []
    cpu = peak = None
    for cols in results.values():
        if "seqc" in cols:
            cpu = cols["seqc"].get("cpu")
    out.append(f"Command: `{command}`  ")
    out.append(f"Host: {cpu or 'unknown CPU'}; load average {load_before} "
               f"before, {load_after} after; {minutes:.1f} min; "
               f"{datetime.datetime.now():%Y-%m-%d %H:%M}.  ")
    out.append(f"Raw results: `{raw_path}`" +
               (f"; {rounds} rounds, each cell the fastest median"
                if rounds > 1 else "") + "  ")
    if backend != "cpu":
        out.append("**seqc column: the float64 reference interpreter "
                   "(`--backend ref`), not compiled code** -- the CPU "
                   "backend did not run in this build. Networks whose run "
                   f"exceeds {REF_MAX_FLOPS / 1e9:.0f} GFLOP are not timed "
                   "with it.  ")
    if blas_set:
        out.append("OpenBLAS and PyTorch: faster of the environment's "
                   + ", ".join(f"{k}={v}" for k, v in blas_set.items())
                   + " and both unset. Kernels: "
                   + "; ".join(f"{k}: {v}" for k, v in sorted(
                       blas_kernels.items())) + ".  ")
    else:
        out.append("OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are not set in "
                   "this environment (one run each). Kernels: "
                   + "; ".join(f"{k}: {v}" for k, v in sorted(
                       blas_kernels.items())) + ".  ")
    out.append("Cells: median latency per run, and in brackets seqc's "
               "throughput over the peer's (peer median / seqc median; "
               "> 1 = seqc faster). `!` marks a peer whose output is off "
               "the float64 evaluation by more than 1e-3.")
    for threads in threads_list:
        peaks = [cols["seqc"].get("peak_gflops")
                 for (n, b, t), cols in results.items()
                 if t == threads and "seqc" in cols]
        peaks = [p for p in peaks if p]
        peak = max(peaks) if peaks else None
        out.append("")
        out.append(f"### {threads} thread{'s' if threads > 1 else ''}"
                   + (f" (measured FP32 peak {peak:.0f} GFLOP/s)"
                      if peak else ""))
        out.append("")
        head = ["network", "batch", seqc_title, "seqc GFLOP/s (% peak)"] + \
            [PEER_TITLES[p] for p in PEERS] + ["best peer", "seqc / best"]
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "|".join("---" for _ in head) + "|")
        for net, batches in SUITE:
            if net not in nets:
                continue
            for batch in batches:
                cols = results.get((net, batch, threads), {})
                s = cols.get("seqc")
                row = [net, str(batch)]
                row.append(fmt_time(s["median_seconds"]) if s else "-")
                if s and s.get("gflops") is not None:
                    frac = s.get("peak_fraction")
                    row.append(f"{s['gflops']:.1f}" +
                               (f" ({100 * frac:.0f}%)" if frac else ""))
                else:
                    row.append("-")
                best = None
                for peer in PEERS:
                    rec = best_of([cols.get(peer), cols.get(peer + "-unset")])
                    if not rec:
                        row.append("-")
                        continue
                    cell = fmt_time(rec["median_seconds"])
                    if rec.get("column", "").endswith("-unset"):
                        cell += "ᵘ"
                    if s:
                        cell += f" ({rec['median_seconds'] / s['median_seconds']:.2f}x)"
                    if (rec.get("max_abs_error") or 0) > 1e-3:
                        cell += " !"
                    row.append(cell)
                    if not best or rec["median_seconds"] < best[1]["median_seconds"]:
                        best = (peer, rec)
                if best:
                    row.append(PEER_TITLES[best[0]])
                    row.append(f"{best[1]['median_seconds'] / s['median_seconds']:.2f}x"
                               if s else "-")
                else:
                    row += ["-", "-"]
                out.append("| " + " | ".join(row) + " |")
    if blas_set:
        out.append("")
        out.append("ᵘ: the run with OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset "
                   "was the faster one.")
    return "\n".join(out)


if __name__ == "__main__":
    main()
