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

--precision f32,bf16,int8,int8w runs every listed number format (issue 21):
seqc as `seqc bench --precision P` (a build whose CPU backend refuses the
flag shows n/a), and every peer that offers P in P (PEER_PRECISIONS; the
others show n/a): oneDNN bf16 and int8 matmul, libxsmm's bf16 kernels,
PyTorch autocast/bfloat16 and quantize_dynamic, ONNX Runtime's
quantize_dynamic. No peer offers int8w (weight-only int8). Each
reduced-precision table gives the speed-ups over seqc's and each peer's own
f32 (when f32 is in the list), an accuracy table (max |y - ref| / max |ref|
per checked row, flagged above the precision's bound) and, at 1 thread,
issue 21's targets read off the measurements.

All of them time the same way (warm-up, then 3-200 samples over ~1 s of
back-to-back runs, median per run) and check two output rows against a
float64 evaluation. The script prints a markdown table of medians and of the
throughput ratio seqc/peer (= peer median / seqc median; above 1 means seqc
is faster), and writes every raw JSON line to BUILD/bench-peers/.

Usage: tests/bench/run-peers.py [--build-dir build-bench] [--threads 1,2]
       [--nets mnist,digits] [--peers onednn,openblas,...] [--repeat N]
       [--precision f32,bf16,int8,int8w] [--seqc-backend auto|cpu|ref]
       [--markdown OUT.md]
"""

import argparse
import datetime
import json
import math
import os
import random
import re
import shutil
import struct
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
PRECISIONS = ["f32", "bf16", "int8", "int8w"]
# What each peer offers. ONNX Runtime's CPU provider has no bf16 matmul;
# weight-only int8 needs oneDNN 3.x's weight decompression and has no CPU
# kernel in PyTorch 1.13; Debian's OpenBLAS 0.3.21 is built without bf16
# (no cblas_sbgemm in the library) and has no int8 GEMM; libxsmm 1.17 has
# bf16 kernels but no int8 GEMM with dynamic quantisation.
PEER_PRECISIONS = {"onednn": {"f32", "bf16", "int8"}, "openblas": {"f32"},
                   "libxsmm": {"f32", "bf16"},
                   "pytorch": {"f32", "bf16", "int8"},
                   "onnxruntime": {"f32", "int8"}}
# The columns of a reduced-precision table: the peers that offer one.
REDUCED_PEERS = [p for p in PEERS if PEER_PRECISIONS[p] - {"f32"}]
# Flag bounds: f32 on the absolute error (as before issue 21), the reduced
# precisions on max |y - ref| / max |ref| per row (issue 21's test bounds).
F32_ABS_BOUND = 1e-3
REL_BOUNDS = {"bf16": 2e-2, "int8": 5e-2, "int8w": 5e-2}
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
    """A venv with onnxruntime, onnx (for its quantisation tools) and numpy;
    returns its python or None."""
    python = os.path.join(venv, "bin", "python")
    probe = [python, "-c", "import onnxruntime, onnx, numpy"]
    if os.path.exists(python) and subprocess.run(
            probe, capture_output=True).returncode == 0:
        return python
    host = shutil.which("python3") or "/usr/bin/python3"
    log(f"creating {venv} (onnxruntime, onnx, numpy from PyPI)")
    steps = [[host, "-m", "venv", venv],
             [python, "-m", "pip", "install", "-q", "onnxruntime", "onnx",
              "numpy"]]
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


def seqc_precisions(seqc, backend, precisions):
    """{precision: True if `seqc bench --precision P` runs}. f32 needs no
    flag. A build whose backend refuses the flag (exit code 1 and an error
    naming --precision) gets n/a cells instead of failing the whole run."""
    offered = {}
    for precision in precisions:
        if precision == "f32":
            offered[precision] = True
            continue
        probe = subprocess.run(
            [seqc, "bench", os.path.join(HERE, "lecture.nn"), "--init-seed",
             "1", "--batch", "1", "--repeat", "1", "--json", "--backend",
             backend, "--precision", precision],
            capture_output=True, text=True)
        offered[precision] = probe.returncode == 0
        if probe.returncode == 1 and "precision" in probe.stderr:
            log(f"seqc: refuses --precision {precision} "
                f"({probe.stderr.strip()}); its {precision} cells show n/a")
        elif probe.returncode != 0:
            log(f"seqc: --precision {precision} failed ({probe.returncode}): "
                f"{probe.stderr.strip()[-2000:]}; its {precision} cells "
                "show n/a")
    return offered


def read_npy(path):
    """The values of a C-order float32 or float64 .npy file (what `seqc run
    --output` writes: float64 for the reference interpreter), flat."""
    with open(path, "rb") as f:
        data = f.read()
    kind = "f" if b"'<f4'" in data[:128] else "d" if b"'<f8'" in data[:128] \
        else None
    if data[:6] != b"\x93NUMPY" or kind is None:
        raise ValueError(f"{path}: not a float32 or float64 .npy file")
    size, start = (struct.unpack("<H", data[8:10])[0], 10) if data[6] == 1 \
        else (struct.unpack("<I", data[8:12])[0], 12)
    body = data[start + size:]
    return list(struct.unpack(f"<{len(body) // struct.calcsize(kind)}{kind}",
                              body))


def seqc_run_rows(seqc, net, work_dir, flags):
    """seqc's output on the two fixed rows of work_dir/NET.rows.csv, as a list
    of rows, or None (logged) when `seqc run` fails."""
    out = os.path.join(work_dir, f"{net}{'-'.join([''] + flags[1::2])}.npy")
    cmd = [seqc, "run", os.path.join(HERE, net + ".nn"), "--init-seed", "1",
           "--input", os.path.join(work_dir, net + ".rows.csv"), "--output",
           out] + flags
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        log(f"seqc accuracy {net}: '{' '.join(cmd)}' failed:\n"
            f"{result.stderr.strip()[-2000:]}")
        return None
    try:
        values = read_npy(out)
    except (OSError, ValueError, struct.error) as error:
        log(f"seqc accuracy {net}: {error}")
        return None
    width = len(values) // 2
    return [values[:width], values[width:]]


def seqc_accuracy(seqc, net, spec, precisions, offers, backend, work_dir):
    """{precision: max over two rows of max |y - ref| / max |ref|} for
    seqc's compiled code in each reduced precision against the float64
    reference interpreter in f32 (`seqc run --backend ref`): the measure the
    peers report, which `seqc bench`'s own check (against a reference that
    may simulate the mode's rounding) need not be."""
    wanted = [p for p in precisions if p != "f32" and offers[p]]
    if not wanted:
        return {}
    rng = random.Random(20240229)
    features = int(spec.split(":")[0])
    with open(os.path.join(work_dir, net + ".rows.csv"), "w") as f:
        for _ in range(2):
            f.write(",".join(repr(rng.uniform(-1.0, 1.0))
                             for _ in range(features)) + "\n")
    want = seqc_run_rows(seqc, net, work_dir, ["--backend", "ref"])
    errors = {}
    for precision in wanted:
        got = seqc_run_rows(seqc, net, work_dir, [
            "--backend", backend, "--precision", precision])
        if want is None or got is None:
            continue
        worst = 0.0
        for y, ref in zip(got, want):
            diff = max((abs(a - b) if a == a else math.inf)
                       for a, b in zip(y, ref))
            magnitude = max(abs(b) for b in ref)
            worst = max(worst, diff / magnitude if magnitude > 0 else
                        (math.inf if diff > 0 else 0.0))
        errors[precision] = worst
    return errors


def run_all(net, spec, flops, batches, threads, args, seqc, backend, exes,
            wanted, torch_python, peer_script, ort_python, onnx_path,
            blas_set, precision, seqc_offers):
    """One round: seqc and every peer that offers \p precision on one
    network at one thread count. f32 runs without any --precision flag."""
    repeat = ["--repeat", str(args.repeat)] if args.repeat else []
    blist = ",".join(str(b) for b in batches)
    flag = [] if precision == "f32" else ["--precision", precision]
    tag = "" if precision == "f32" else f" {precision}"
    runs = {}
    seqc_batches = [b for b in batches
                    if backend != "ref" or flops * b <= REF_MAX_FLOPS]
    if seqc_batches and seqc_offers:
        runs["seqc"] = run_json(
            [seqc, "bench", os.path.join(HERE, net + ".nn"), "--init-seed",
             "1", "--backend", backend, "--json", "--threads", str(threads),
             "--batch", ",".join(str(b) for b in seqc_batches)] + repeat +
            flag, thread_env(threads), f"seqc{tag} {net} t{threads}")
    common = ["--layers", spec, "--batch", blist, "--threads",
              str(threads)] + repeat + flag

    def offers(peer):
        return precision in PEER_PRECISIONS[peer]
    for peer in ("onednn", "openblas", "libxsmm"):
        if peer not in exes or not offers(peer):
            continue
        runs[peer] = run_json([exes[peer]] + common, thread_env(threads),
                              f"{peer}{tag} {net} t{threads}")
        if peer == "openblas" and blas_set:
            runs["openblas-unset"] = run_json(
                [exes[peer]] + common, thread_env(threads, True),
                f"openblas (OPENBLAS_CORETYPE unset) {net} t{threads}")
    if "pytorch" in wanted and offers("pytorch"):
        cmd = [torch_python, peer_script, "torch"] + common
        runs["pytorch"] = run_json(cmd, thread_env(threads),
                                   f"pytorch{tag} {net} t{threads}")
        # Only PyTorch's f32 Linear runs on OpenBLAS (bf16 and quantized
        # Linear run on its oneDNN), so only f32 runs twice.
        if blas_set and precision == "f32":
            runs["pytorch-unset"] = run_json(
                cmd, thread_env(threads, True),
                f"pytorch (OPENBLAS_CORETYPE unset) {net} t{threads}")
    if ort_python and offers("onnxruntime"):
        runs["onnxruntime"] = run_json(
            [ort_python, peer_script, "ort", "--onnx", onnx_path, "--batch",
             blist, "--threads", str(threads)] + repeat + flag,
            thread_env(threads), f"onnxruntime{tag} {net} t{threads}")
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


def seqc_name(backend):
    return "seqc" if backend == "cpu" else "seqc (ref)"


def peer_record(cols, peer):
    """A peer's record in a cell, the faster BLAS setting where it ran
    twice."""
    return best_of([cols.get(peer), cols.get(peer + "-unset")])


def relative_error(record):
    """max |y - ref| / max |ref|: the peers report it per checked row;
    seqc bench reports its max |err| and the reference's max |value|."""
    if record is None:
        return None
    if "rel_error" in record:
        return record["rel_error"]
    if record.get("max_abs_error") is not None and record.get("ref_max_abs"):
        return record["max_abs_error"] / record["ref_max_abs"]
    return None


def over_bound(precision, record):
    error = relative_error(record)
    return error is not None and error > REL_BOUNDS[precision]


def fmt_ratio(numerator, denominator):
    if numerator is None or denominator is None:
        return None
    ratio = numerator["median_seconds"] / denominator["median_seconds"]
    return f"{ratio:.2f}x"


def fmt_error(error, bound):
    """A relative error, `!` above \p bound (1e300 is a JSON infinity)."""
    return ("inf" if error >= 1e300 else f"{error:.1e}") + \
        (" !" if error > bound else "")


def table_head(head):
    """A markdown table's header and separator lines."""
    return ["| " + " | ".join(head) + " |",
            "|" + "|".join("---" for _ in head) + "|"]


def table_row(row):
    return "| " + " | ".join(row) + " |"


def suite_cells(nets):
    """(network, batch) of the suite, in its order, for \p nets."""
    return [(net, batch) for net, batches in SUITE if net in nets
            for batch in batches]


def fmt_rate(record):
    """seqc's GFLOP/s and share of the peak, "-" when unknown."""
    if not record or record.get("gflops") is None:
        return "-"
    frac = record.get("peak_fraction")
    return f"{record['gflops']:.1f}" + \
        (f" ({100 * frac:.0f}%)" if frac else "")


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
    parser.add_argument("--precision", default="f32",
                        help="number formats to run, a list of "
                             + ", ".join(PRECISIONS) + " (default f32)")
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
    precisions = args.precision.split(",")
    if set(precisions) - set(PRECISIONS) or \
            len(set(precisions)) != len(precisions):
        sys.exit(f"run-peers: bad --precision '{args.precision}' (a list of "
                 f"distinct {', '.join(PRECISIONS)})")
    # f32 first: the reduced precisions' speed-ups are read against it.
    precisions.sort(key=PRECISIONS.index)
    if precisions != ["f32"] and "f32" not in precisions:
        log("f32 is not in --precision: the speed-ups over f32 show '-'")

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
    seqc_offers = seqc_precisions(seqc, backend, precisions)
    blas_set = {v: os.environ[v] for v in BLAS_VARS if v in os.environ}

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    raw_path = os.path.join(out_dir, f"results-{stamp}.jsonl")
    raw = open(raw_path, "w")
    load_before = load_average()
    started = time.time()

    # results[(precision, net, batch, threads)][column] = record
    results = {}
    blas_kernels = {}
    peer_infos = {}
    seqc_errors = {}
    for net, batches in SUITE:
        if net not in nets:
            continue
        spec = network_layers(seqc, net)
        flops = flops_per_sample(spec)
        for precision, error in seqc_accuracy(
                seqc, net, spec, precisions, seqc_offers, backend,
                os.path.join(out_dir, "onnx")).items():
            seqc_errors[(precision, net)] = error
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
                # Precisions interleave within a round, so that each mode
                # and its f32 baseline see the same machine.
                for precision in precisions:
                    runs = run_all(net, spec, flops, batches, threads, args,
                                   seqc, backend, exes, wanted, torch_python,
                                   peer_script,
                                   ort_python if have_onnx else None,
                                   onnx_path, blas_set, precision,
                                   seqc_offers[precision])
                    keep(results, runs, (precision, net, threads),
                         round_index, raw, blas_kernels, peer_infos)
            raw.flush()
    raw.close()
    minutes = (time.time() - started) / 60

    table = render(results, nets, threads_list, backend, blas_set,
                   blas_kernels, load_before, load_average(), minutes,
                   " ".join(sys.argv), raw_path, args.rounds,
                   "f32" in precisions)
    for precision in precisions:
        if precision != "f32":
            table += "\n" + render_reduced(
                precision, results, nets, threads_list, backend,
                seqc_offers[precision], wanted, peer_infos, seqc_errors)
    if precisions != ["f32"] and 1 in threads_list:
        table += "\n" + render_targets(results, nets, precisions)
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")


def keep(results, runs, where, round_index, raw, blas_kernels, peer_infos):
    """Files one round's records of \p where = (precision, net, threads):
    every one to the raw JSON lines, and into its cell the fastest median
    over the rounds."""
    precision, net, threads = where
    for column, by_batch in runs.items():
        for batch, record in by_batch.items():
            record["column"] = column
            record["net"] = net
            record["round"] = round_index
            record["precision"] = precision
            raw.write(json.dumps(record) + "\n")
            cell = results.setdefault((precision, net, batch, threads), {})
            if column not in cell or record["median_seconds"] < \
                    cell[column]["median_seconds"]:
                cell[column] = record
            if precision == "f32" and (column.startswith("openblas") or
                                       column.startswith("pytorch")):
                blas_kernels[column] = record.get("info", "")
            if precision != "f32" and column != "seqc":
                seen = peer_infos.setdefault((precision, column),
                                             {"infos": [], "variants": {}})
                if record.get("info", "") not in seen["infos"]:
                    seen["infos"].append(record.get("info", ""))
                if record.get("variant"):
                    cells = seen["variants"].setdefault(record["variant"], [])
                    label = f"{net} {batch} t{threads}"
                    if label not in cells:
                        cells.append(label)


def render(all_results, nets, threads_list, backend, blas_set, blas_kernels,
           load_before, load_after, minutes, command, raw_path, rounds,
           f32_tables):
    """The header and the f32 tables (without them when f32 was not run)."""
    seqc_title = seqc_name(backend)
    out = []
    cpu = peak = None
    for cols in all_results.values():
        if "seqc" in cols:
            cpu = cols["seqc"].get("cpu")
    results = {key[1:]: cols for key, cols in all_results.items()
               if key[0] == "f32"}
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
    for threads in threads_list if f32_tables else []:
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
        out += table_head(head)
        for net, batches in SUITE:
            if net not in nets:
                continue
            for batch in batches:
                cols = results.get((net, batch, threads), {})
                s = cols.get("seqc")
                row = [net, str(batch)]
                row.append(fmt_time(s["median_seconds"]) if s else "-")
                row.append(fmt_rate(s))
                best = None
                for peer in PEERS:
                    rec = peer_record(cols, peer)
                    if not rec:
                        row.append("-")
                        continue
                    cell = fmt_time(rec["median_seconds"])
                    if rec.get("column", "").endswith("-unset"):
                        cell += "ᵘ"
                    if s:
                        cell += f" ({rec['median_seconds'] / s['median_seconds']:.2f}x)"
                    if (rec.get("max_abs_error") or 0) > F32_ABS_BOUND:
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
                out.append(table_row(row))
    if blas_set:
        out.append("")
        out.append("ᵘ: the run with OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset "
                   "was the faster one.")
    return "\n".join(out)


def reduced_row(precision, net, batch, threads, results, columns, offered,
                seqc_error):
    """One row of a reduced-precision table; \p seqc_error is seqc's error
    against the f32 reference where measured."""
    cols = results.get((precision, net, batch, threads), {})
    f32 = results.get(("f32", net, batch, threads), {})
    s = cols.get("seqc")
    row = [net, str(batch)]
    flagged = seqc_error > REL_BOUNDS[precision] if seqc_error is not None \
        else over_bound(precision, s)
    row.append(fmt_time(s["median_seconds"]) + (" !" if flagged else "")
               if s else "n/a" if not offered else "-")
    row.append(fmt_ratio(f32.get("seqc"), s) or "-")
    row.append(fmt_rate(s))
    best = None
    for peer in columns:
        rec = peer_record(cols, peer)
        if precision not in PEER_PRECISIONS[peer]:
            row.append("n/a")
            continue
        if not rec:
            row.append("-")
            continue
        notes = [n for n in (fmt_ratio(rec, s) if s else None,
                             fmt_ratio(peer_record(f32, peer), rec))
                 if n]
        if len(notes) == 2:
            notes[1] += " its f32"
        elif notes and not s:
            notes[0] += " its f32"
        row.append(fmt_time(rec["median_seconds"]) +
                   (f" ({'; '.join(notes)})" if notes else "") +
                   (" !" if over_bound(precision, rec) else ""))
        if not best or rec["median_seconds"] < best[1]["median_seconds"]:
            best = (peer, rec)
    row.append(PEER_TITLES[best[0]] if best else "-")
    row.append((fmt_ratio(best[1], s) if best and s else None) or "-")
    return row


def describe_peer(precision, peer, seen):
    """What a peer ran in \p precision: its info strings and, for a peer
    that picks the fastest of several settings per cell, which won where."""
    if precision not in PEER_PRECISIONS[peer]:
        return f"n/a (does not offer {precision})"
    if not seen:
        return "did not run"
    text = " | ".join(seen["infos"])
    if seen["variants"]:
        text += "; the faster setting in a short trial per cell: " + \
            "; ".join(f"{variant} ({', '.join(cells)})"
                      for variant, cells in seen["variants"].items())
    return text


def render_reduced(precision, results, nets, threads_list, backend, offered,
                   wanted, peer_infos, seqc_errors):
    """The tables of one reduced precision: per thread count, times, ratios
    and speed-ups; then the accuracy of every cell."""
    columns = [p for p in REDUCED_PEERS if p in wanted]
    bound = REL_BOUNDS[precision]
    seqc_title = f"{seqc_name(backend)} {precision}"
    unit = "GOP/s" if precision == "int8" else "GFLOP/s"
    out = ["", f"## {precision}", ""]
    out.append(f"seqc: `seqc bench --precision {precision}`" +
               ("" if offered else " -- **n/a: this seqc refuses the flag "
                "(or failed with it), see the log**") + ".  ")
    for peer in columns:
        out.append(f"{PEER_TITLES[peer]}: " + describe_peer(
            precision, peer, peer_infos.get((precision, peer))) + ".  ")
    out.append(f"Cells: median latency per run; in brackets seqc's "
               f"{precision} throughput over the peer's {precision} (peer "
               "median / seqc median; > 1 = seqc faster) and the peer's "
               f"speed-up over its own f32 (`its f32`); `{seqc_title} / f32`"
               f" is seqc's speed-up over its own f32. `!` marks an output "
               f"off the float64 evaluation by more than {bound:g} of its "
               "magnitude (the accuracy table below).")
    for threads in threads_list:
        records = [cols["seqc"] for (p, n, b, t), cols in results.items()
                   if p == precision and t == threads and "seqc" in cols]
        peaks = [(r["peak_gflops"], r.get("peak_isa") or "")
                 for r in records if r.get("peak_gflops")]
        peak = max(peaks) if peaks else None
        out.append("")
        out.append(f"### {precision}, {threads} thread"
                   f"{'s' if threads > 1 else ''}" +
                   (f" (seqc's measured peak {peak[0]:.0f} {unit}"
                    f"{', ' + peak[1] if peak[1] else ''})" if peak else ""))
        out.append("")
        head = ["network", "batch", seqc_title, f"{seqc_title} / f32",
                f"seqc {unit} (% peak)"] + \
            [PEER_TITLES[p] for p in columns] + ["best peer", "seqc / best"]
        out += table_head(head)
        for net, batch in suite_cells(nets):
            out.append(table_row(reduced_row(
                precision, net, batch, threads, results, columns, offered,
                seqc_errors.get((precision, net)))))
    out.append("")
    out.append(f"### {precision} accuracy")
    out.append("")
    out.append("max |y - ref| / max |ref| over the checked rows, against a "
               "float64 evaluation of the f32 weights (the largest over the "
               f"thread counts); `!` above {bound:g}. `{seqc_title}`: "
               f"`seqc run --precision {precision}` on two fixed random rows "
               "against `seqc run --backend ref` (f32 weights, float64), the "
               "peers' measure; `seqc bench check`: `seqc bench`'s own max "
               "|err| over its reference's max |value| (rows 0, 1, "
               "B-2, B-1).")
    out.append("")
    head = ["network", "batch", seqc_title, "seqc bench check"] + \
        [PEER_TITLES[p] for p in columns]
    out += table_head(head)
    for net, batch in suite_cells(nets):
        row = [net, str(batch)]
        error = seqc_errors.get((precision, net))
        row.append(fmt_error(error, bound) if error is not None else
                   "-" if offered else "n/a")
        for column in ["seqc"] + columns:
            if column != "seqc" and \
                    precision not in PEER_PRECISIONS[column]:
                row.append("n/a")
                continue
            errors = [relative_error(peer_record(
                results.get((precision, net, batch, t), {}), column))
                for t in threads_list]
            errors = [e for e in errors if e is not None]
            row.append(fmt_error(max(errors), bound) if errors else
                       "n/a" if column == "seqc" and not offered else "-")
        out.append(table_row(row))
    return "\n".join(out)


# Issue 21's targets at 1 thread: (precision, cells, measure, goal, peers).
# Measures: "speedup" = seqc f32 time / seqc P time >= goal; "fraction" =
# seqc P time / seqc f32 time <= goal; "peers" = the fastest of `peers` in P
# over seqc in P >= goal.
LARGE_CELLS = [("mnist", 1024), ("speech", 256), ("shallow", 256)]
SMALL_CELLS = [("digits", 1), ("narrow", 1)]
TARGETS = [
    ("bf16", LARGE_CELLS, "speedup", 1.8, []),
    ("bf16", LARGE_CELLS, "peers", 1.0, ["onednn"]),
    ("int8", LARGE_CELLS, "speedup", 3.0, []),
    ("int8", LARGE_CELLS, "peers", 1.0, ["onednn", "pytorch", "onnxruntime"]),
    ("bf16", [("speech", 1)], "fraction", 0.55, []),
    ("int8", [("speech", 1)], "fraction", 0.3, []),
    ("int8w", [("speech", 1)], "fraction", 0.3, []),
] + [(p, SMALL_CELLS, "fraction", 1.0, []) for p in ("bf16", "int8", "int8w")]


def target_row(target, net, batch, results):
    """[goal, network, batch, measured, met] for one cell of a target."""
    precision, _, measure, goal, peers = target
    cols = results.get((precision, net, batch, 1), {})
    s = cols.get("seqc")
    f32 = results.get(("f32", net, batch, 1), {}).get("seqc")
    value, against = None, ""
    if measure == "speedup":
        text = f"{precision} >= {goal:.1f}x seqc f32"
        if s and f32:
            value = f32["median_seconds"] / s["median_seconds"]
    elif measure == "fraction":
        text = f"{precision} time <= {goal:g} x seqc f32's" if goal < 1 \
            else f"{precision} no slower than seqc f32"
        if s and f32:
            value = s["median_seconds"] / f32["median_seconds"]
    else:
        text = (f"{precision} >= {goal:.1f}x the best of " +
                ", ".join(f"{PEER_TITLES[p]} {precision}" for p in peers))
        best = min(((r["median_seconds"], p) for p in peers
                    for r in [peer_record(cols, p)] if r), default=None)
        if s and best:
            value = best[0] / s["median_seconds"]
            against = f" (vs {PEER_TITLES[best[1]]})"
    if value is None:
        return [text, net, str(batch), "n/a", "n/a"]
    met = value <= goal if measure == "fraction" else value >= goal
    shown = f"{value:.2f} of f32's time" if measure == "fraction" \
        else f"{value:.2f}x"
    return [text, net, str(batch), shown + against, "yes" if met else "**no**"]


def render_targets(results, nets, precisions):
    """Issue 21's targets, each read off the 1-thread tables."""
    out = ["", "## Issue 21 targets (1 thread)", ""]
    head = ["target", "network", "batch", "measured", "met"]
    out += table_head(head)
    for target in TARGETS:
        if target[0] not in precisions:
            continue
        for net, batch in target[1]:
            if net in nets:
                out.append(table_row(target_row(target, net, batch, results)))
    return "\n".join(out)


if __name__ == "__main__":
    main()
