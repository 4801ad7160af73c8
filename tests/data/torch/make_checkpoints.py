#!/usr/bin/python3
"""Writes the PyTorch checkpoints seqc's tests read, into tests/data/torch/.

Run with Debian's Python, which has PyTorch (1.13):

    /usr/bin/python3 tests/data/torch/make_checkpoints.py          # (re)write every file
    /usr/bin/python3 tests/data/torch/make_checkpoints.py --check  # compare with the files

The output is deterministic (seeded tensors, fixed zip timestamps), so --check finds any
file that no longer matches this script.

Good checkpoints are what `torch.save` writes. For each, NAME.expected.safetensors holds what
seqc must read from NAME.pt: the nested object flattened to dotted keys (dict keys that are
strings or ints, list and tuple indices), float tensors converted to float32 and made
contiguous, other tensors as they are, non-tensor leaves dropped. It is written with the
standard library (no safetensors package needed), keys in flattening order.

Bad checkpoints (bad_*.pt) are refused by seqc; the must-fail cases name them:
  - pickles that name os.system, eval, exec, subprocess.Popen or an unknown global: each would
    run code under pickle.load, and must never be executed;
  - a module pickled whole (torch.save(model)), a TorchScript archive, a bare pickle;
  - storages smaller than their tensors, storage sizes that lie, corrupt data (CRC);
  - lists nested 1000 deep, a string declared 2^62 bytes long;
  - a truncated archive, overlapping zip entries, deflate-compressed entries.
"""

import argparse
import collections
import io
import json
import os
import pickle
import re
import struct
import subprocess
import sys
import zipfile

try:
    import torch
except ImportError:
    print("PyTorch is not installed; run with /usr/bin/python3", file=sys.stderr)
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
ZIP_TIME = (1980, 1, 1, 0, 0, 0)

FILES = {}  # name -> bytes


def emit(name, data):
    FILES[name] = data


def saved(obj, name, **kwargs):
    """The bytes torch.save writes for obj to a file called name (the archive's folder is the
    file's base name, as torch.save names it)."""
    path = os.path.join("/tmp", f"seqc-make-checkpoints-{os.getpid()}", name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save(obj, path, **kwargs)
    with open(path, "rb") as f:
        data = f.read()
    os.remove(path)
    return data


# ---------------------------------------------------------------------------------------------
# What seqc must read: flattening and a stdlib safetensors writer
# ---------------------------------------------------------------------------------------------

DTYPE_NAMES = {
    torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL",
}


def flatten(obj, prefix=""):
    if isinstance(obj, torch.Tensor):
        yield prefix, obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                continue
            name = f"{prefix}.{key}" if prefix else str(key)
            yield from flatten(value, name)
    elif isinstance(obj, (list, tuple)):
        for index, value in enumerate(obj):
            yield from flatten(value, f"{prefix}.{index}" if prefix else str(index))


def expected_safetensors(obj):
    header, blobs, offset = {}, [], 0
    for name, tensor in flatten(obj):
        tensor = tensor.detach()
        if tensor.is_floating_point():
            tensor = tensor.to(torch.float32)
        tensor = tensor.contiguous()
        blob = tensor.numpy().tobytes()
        header[name] = {"dtype": DTYPE_NAMES[tensor.dtype], "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":"))
    text += " " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text.encode() + b"".join(blobs)


def good(name, obj, **kwargs):
    emit(name + ".pt", saved(obj, name + ".pt", **kwargs))
    emit(name + ".expected.safetensors", expected_safetensors(obj))


# ---------------------------------------------------------------------------------------------
# Good checkpoints
# ---------------------------------------------------------------------------------------------

def mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))


class Wrapped(torch.nn.Module):
    """A classifier written the usual way: the Sequential inside a module."""

    def __init__(self):
        super().__init__()
        self.layers = mlp()

    def forward(self, x):
        return self.layers(x)


def lecture_state_dict():
    """examples/lecture/mynet.safetensors as tensors (read with the standard library)."""
    with open(os.path.join(ROOT, "examples", "lecture", "mynet.safetensors"), "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    state = collections.OrderedDict()
    for name in ["0.weight", "0.bias", "1.weight", "1.bias", "2.weight", "2.bias"]:
        entry = header[name]
        begin, end = entry["data_offsets"]
        values = struct.unpack("<%df" % ((end - begin) // 4), data[8 + length + begin:8 + length + end])
        state[name] = torch.tensor(values, dtype=torch.float32).reshape(entry["shape"])
    return state


def make_good():
    model = mlp()
    good("state_dict", model.state_dict())
    good("plain_dict", dict(model.state_dict()))
    good("parameters", model.state_dict(keep_vars=True))
    for protocol in (1, 4, 5):
        good(f"protocol{protocol}", model.state_dict(), pickle_protocol=protocol)
    good("wrapped_module", Wrapped().state_dict())

    # A training checkpoint after one Adam step: optimizer state has tensors too.
    # The step runs in float64 and its results are rounded to float32, so the
    # bytes do not depend on the CPU's BLAS kernels (in float32, an AMD and an
    # Intel core wrote different last bits).
    model.double()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(5, 4).double()).sum().backward()
    optimizer.step()
    model.float()
    for state in optimizer.state.values():
        for key, value in state.items():
            if torch.is_tensor(value) and value.dtype == torch.float64:
                state[key] = value.float()
    good("training_checkpoint", {"epoch": 3, "model": model.state_dict(),
                                 "optimizer": optimizer.state_dict(), "loss": 0.125,
                                 "note": "seqc test", "history": [0.5, 0.25]})

    torch.manual_seed(1)
    good("dtypes", collections.OrderedDict([
        ("half", torch.randn(2, 3).half()),
        ("bfloat", torch.randn(3).bfloat16()),
        ("double", torch.randn(2, 2, dtype=torch.float64) * 1e3),
        ("long", torch.arange(4)),
        ("int", torch.arange(3, dtype=torch.int32) - 1),
        ("char", torch.tensor([-3, 7], dtype=torch.int8)),
        ("byte", torch.tensor([200, 1], dtype=torch.uint8)),
        ("flag", torch.tensor([True, False, True])),
        ("scalar", torch.tensor(2.5)),
        ("empty", torch.zeros(0, 3)),
    ]))

    # Views saved as such: a transposed weight, a slice at an offset, an expanded row, a
    # step-2 slice of a half tensor.
    torch.manual_seed(2)
    base = torch.randn(4, 6)
    halves = torch.randn(10).half()
    good("views", collections.OrderedDict([
        ("transposed", base.t()),
        ("row", base[2, 1:5]),
        ("column", base[:, 3]),
        ("block", base[1:3, 2:5]),
        ("expanded", torch.randn(1, 3).expand(4, 3)),
        ("strided_half", halves[1::2]),
    ]))

    # Tied weights: one tensor object twice, and two views of one storage.
    torch.manual_seed(3)
    weight = torch.randn(3, 2)
    good("shared_storage", collections.OrderedDict([
        ("encoder.weight", weight), ("decoder.weight", weight), ("first_row", weight[0]),
        ("transposed", weight.t()),
    ]))

    # BatchNorm after a training step: running statistics and num_batches_tracked.
    torch.manual_seed(4)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(),
                              torch.nn.Linear(4, 2))
    net.train()
    net.double()  # as for the training checkpoint: float64, then rounded
    net(torch.randn(8, 3).double())
    net.float()
    good("batchnorm", net.state_dict())

    # The lecture's network, for the end-to-end test against mynet.safetensors.
    lecture = lecture_state_dict()
    good("mynet", lecture)
    good("mynet_wrapped", collections.OrderedDict(("layers." + k, v) for k, v in lecture.items()))
    good("mynet_checkpoint", {"epoch": 10, "model": lecture, "optimizer": {"state": {}}})

    # The same state_dict in a big-endian archive, written by Python's zipfile (no data
    # descriptors, no ZIP64 records), to cover both byte orders and a second zip writer.
    emit("big_endian.pt", big_endian_archive(saved(model.state_dict(), "big_endian.pt")))
    emit("big_endian.expected.safetensors", expected_safetensors(model.state_dict()))

    emit("legacy.pt", stable_storage_keys(saved({"0.weight": torch.ones(2)}, "legacy.pt",
                                                _use_new_zipfile_serialization=False)))


def stable_storage_keys(legacy):
    """The legacy format keys storages by memory address (pickled as BINUNICODE strings of
    digits); number them instead."""
    keys = {}

    def renumber(match):
        key = keys.setdefault(match.group(1), str(len(keys)).encode())
        return b"X" + struct.pack("<I", len(key)) + key
    return re.sub(rb"X.{4}(\d{5,})", renumber, legacy, flags=re.DOTALL)


def zip_of(entries, compression=zipfile.ZIP_STORED):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = compression
            archive.writestr(info, data)
    return out.getvalue()


def big_endian_archive(little):
    source = zipfile.ZipFile(io.BytesIO(little))
    entries = []
    for info in source.infolist():
        data = source.read(info)
        if "/data/" in info.filename:
            data = b"".join(data[i:i + 4][::-1] for i in range(0, len(data), 4))  # all F32
        entries.append((info.filename, data))
    entries.append(("big_endian/byteorder", b"big"))
    return zip_of(entries)


# ---------------------------------------------------------------------------------------------
# Bad checkpoints
# ---------------------------------------------------------------------------------------------

class Call:
    """Pickles as a call of func(*args): what a malicious pickle does."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def unicode(text):
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def global_op(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def rebuild(numel, size, stride, offset=0, key="0"):
    """Protocol-2 opcodes of _rebuild_tensor_v2 over FloatStorage `key` of numel elements."""
    def ints(values):
        return b"(" + b"".join(b"K" + bytes([v]) for v in values) + b"t"
    pid = (b"(" + unicode("storage") + global_op("torch", "FloatStorage") + unicode(key) +
           unicode("cpu") + b"K" + bytes([numel]) + b"tQ")
    return (global_op("torch._utils", "_rebuild_tensor_v2") + b"(" + pid + b"K" + bytes([offset]) +
            ints(size) + ints(stride) + b"\x89" + global_op("collections", "OrderedDict") +
            b")Rt" + b"R")


def archive(pickle_bytes, storages=(), folder="archive"):
    entries = [(f"{folder}/data.pkl", pickle_bytes)]
    entries += [(f"{folder}/data/{key}", data) for key, data in storages]
    entries.append((f"{folder}/version", b"3\n"))
    return zip_of(entries)


def floats(n):
    return struct.pack("<%df" % n, *range(n))


def one_tensor_dict(tensor_ops):
    return b"\x80\x02}" + unicode("0.weight") + tensor_ops + b"s."


def raw_zip(records):
    """A stored zip from (name, data, local_offset) records, each local header written at
    local_offset (None: right after the previous record), so entries may overlap."""
    body = bytearray()
    central = b""
    for name, data, at in records:
        name_bytes = name.encode()
        crc = zipfile.crc32(data) & 0xffffffff
        local = struct.pack("<IHHHHHIIIHH", 0x04034b50, 20, 0, 0, 0, 0x21, crc, len(data), len(data),
                            len(name_bytes), 0) + name_bytes
        offset = len(body) if at is None else at
        if at is None:
            body += local + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 20, 20, 0, 0, 0, 0x21, crc,
                               len(data), len(data), len(name_bytes), 0, 0, 0, 0, 0,
                               offset) + name_bytes
    end = struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, len(records), len(records), len(central),
                      len(body), 0)
    return bytes(body) + central + end


def local_record(name, data):
    name_bytes = name.encode()
    crc = zipfile.crc32(data) & 0xffffffff
    return struct.pack("<IHHHHHIIIHH", 0x04034b50, 20, 0, 0, 0, 0x21, crc, len(data), len(data),
                       len(name_bytes), 0) + name_bytes + data


def make_bad():
    def evil(name, obj, protocol=2):
        emit(name, archive(pickle.dumps({"0.weight": obj}, protocol=protocol)))

    # Each of these runs a command under pickle.load / torch.load(weights_only=False).
    evil("bad_os_system.pt", Call(os.system, "echo seqc must never run this"))
    evil("bad_builtins_eval.pt", Call(eval, "print('seqc must never run this')"), protocol=3)
    evil("bad_builtins_exec.pt", Call(exec, "print('seqc must never run this')"), protocol=3)
    evil("bad_subprocess_popen.pt", Call(subprocess.Popen, ["true"]), protocol=4)
    emit("bad_unknown_global.pt", archive(b"\x80\x02}" + unicode("0.weight") +
                                          global_op("mypackage.helpers", "Loader") + b")Rs."))

    model = mlp()
    emit("bad_pickled_module.pt", saved(model, "bad_pickled_module.pt"))
    torch.manual_seed(5)
    scripted = io.BytesIO()
    torch.jit.save(torch.jit.script(torch.nn.Sequential(torch.nn.Linear(2, 1))), scripted)
    # Without the generated code and its debug tables, which differ from run to run.
    source = zipfile.ZipFile(scripted)
    emit("bad_torchscript.pt", zip_of([(info.filename, source.read(info))
                                       for info in source.infolist()
                                       if "/code/" not in info.filename]))
    emit("bad_bare_pickle.pt", pickle.dumps({"0.weight": [1.0, 2.0]}, protocol=2))
    emit("bad_single_tensor.pt", saved(torch.ones(3), "bad_single_tensor.pt"))

    # A [3, 4] tensor over a storage of 6 floats; a storage that says 100 floats but holds 6.
    emit("bad_storage_too_small.pt",
         archive(one_tensor_dict(rebuild(6, [3, 4], [4, 1])), [("0", floats(6))]))
    emit("bad_storage_size_lies.pt",
         archive(one_tensor_dict(rebuild(100, [2, 3], [3, 1])), [("0", floats(6))]))
    # A transposed view whose strides run past the storage.
    emit("bad_view_past_storage.pt",
         archive(one_tensor_dict(rebuild(6, [3, 2], [1, 3], offset=1)), [("0", floats(6))]))

    # Lists nested 1000 deep; a string declared 2^62 bytes long.
    depth = 1000
    emit("bad_recursion_bomb.pt", archive(b"\x80\x02}" + unicode("a") + b"]" * depth +
                                          b"a" * (depth - 1) + b"s."))
    emit("bad_huge_string.pt", archive(b"\x80\x04}\x8d" + struct.pack("<Q", 1 << 62) + b"abc"))

    good_file = saved(model.state_dict(), "state_dict.pt")
    emit("bad_truncated.pt", good_file[:len(good_file) // 2])
    # Flip one byte in the first storage's data: the CRC-32 no longer matches.
    corrupt = bytearray(good_file)
    info = zipfile.ZipFile(io.BytesIO(good_file)).getinfo("state_dict/data/0")
    name_length, extra_length = struct.unpack("<HH", good_file[info.header_offset + 26:
                                                                info.header_offset + 30])
    corrupt[info.header_offset + 30 + name_length + extra_length] ^= 0x40
    emit("bad_crc.pt", bytes(corrupt))
    emit("bad_compressed.pt", zip_of([("archive/data.pkl", pickle.dumps({}, protocol=2)),
                                      ("archive/version", b"3\n" * 40)], zipfile.ZIP_DEFLATED))

    # Overlapping entries: data.pkl's data holds the whole local record of archive/version,
    # and the central directory points into it.
    pkl = pickle.dumps({}, protocol=2)
    inner = local_record("archive/version", b"3\n")
    first_header = 30 + len("archive/data.pkl")
    emit("bad_overlapping.pt", raw_zip([("archive/data.pkl", pkl + inner, None),
                                        ("archive/version", b"3\n", first_header + len(pkl))]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    make_good()
    make_bad()
    stale = []
    for name, data in sorted(FILES.items()):
        path = os.path.join(HERE, name)
        if args.check:
            try:
                with open(path, "rb") as f:
                    if f.read() != data:
                        stale.append(name)
            except FileNotFoundError:
                stale.append(name)
        else:
            with open(path, "wb") as f:
                f.write(data)
    if stale:
        print("out of date:", ", ".join(stale), file=sys.stderr)
        return 1
    print(f"{'checked' if args.check else 'wrote'} {len(FILES)} files in {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
