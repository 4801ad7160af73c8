#!/usr/bin/env python3
"""Writes the bad weights, input and source files of the must-fail catalogue.

    python3 tests/mustfail/make_bad_files.py

Everything goes to tests/mustfail/data/ and is checked in; rerun the script
only to change the files (it is deterministic). It uses the standard library
alone so that the files can be rebuilt on any machine.

The model most weights files are made for is that of the weights_*.nn cases:

    Net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))

whose state_dict holds 0.weight [3, 2], 0.bias [3], 2.weight [1, 3] and
2.bias [1].
"""

import json
import os
import random
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")

DTYPE_SIZE = {"F32": 4, "F64": 8, "F16": 2, "BF16": 2, "I64": 8, "I32": 4}


def write(name, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(DATA, name), "wb") as f:
        f.write(data)


def f32(values):
    return struct.pack("<%df" % len(values), *values)


def raw_safetensors(header_text, data=b""):
    """A safetensors image with the given header text (not validated)."""
    header = header_text.encode("utf-8")
    return struct.pack("<Q", len(header)) + header + data


def safetensors(tensors, extra_header=None):
    """tensors: list of (name, dtype, shape, bytes) in data order."""
    header = {}
    data = b""
    for name, dtype, shape, payload in tensors:
        header[name] = {
            "dtype": dtype,
            "shape": shape,
            "data_offsets": [len(data), len(data) + len(payload)],
        }
        data += payload
    if extra_header:
        header.update(extra_header)
    text = json.dumps(header, separators=(",", ":"))
    text += " " * (-len(text) % 8)
    return raw_safetensors(text, data)


def net_tensors():
    """A correct state_dict of the weights_*.nn model, as F32."""
    return [
        ("0.weight", "F32", [3, 2], f32([0.1, -0.2, 0.3, -0.4, 0.5, -0.6])),
        ("0.bias", "F32", [3], f32([0.01, 0.02, 0.03])),
        ("2.weight", "F32", [1, 3], f32([1.0, -1.0, 0.5])),
        ("2.bias", "F32", [1], f32([0.25])),
    ]


def replace(tensors, name, **changes):
    out = []
    for t in tensors:
        if t[0] == name:
            t = (changes.get("name", t[0]), changes.get("dtype", t[1]),
                 changes.get("shape", t[2]), changes.get("payload", t[3]))
        out.append(t)
    return out


def npy(descr, shape, payload, fortran=False, version=(1, 0)):
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (
        descr, "True" if fortran else "False",
        "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")")
    total = 10 + len(header) + 1
    header += " " * (-total % 64) + "\n"
    return (b"\x93NUMPY" + bytes(version) + struct.pack("<H", len(header)) +
            header.encode("latin-1") + payload)


def make_weights():
    good = net_tensors()
    write("good.safetensors", safetensors(good))
    # Shorter than the 8-byte header length.
    write("truncated_header.safetensors", b"\x10\x00\x00")
    # A header length that points past the end of the file.
    write("header_past_end.safetensors",
          struct.pack("<Q", 4096) + b'{"0.weight":')
    # A header length larger than the format's 100 MB limit.
    write("header_too_large.safetensors",
          struct.pack("<Q", 1 << 62) + b"{}      ")
    write("empty.safetensors", b"")
    # The header is cut short: not valid JSON.
    write("invalid_json.safetensors",
          raw_safetensors('{"0.weight": {"dtype": "F32", "shape": [3, 2], '
                          '"data_offsets": [0, 24]}', b"\0" * 24))
    write("not_an_object.safetensors", raw_safetensors("[1, 2, 3]       "))
    write("invalid_utf8.safetensors",
          raw_safetensors('{"0.weight": 1}').replace(b"0.weight", b"0.w\xffight"))
    # The same key twice.
    write("duplicate_key.safetensors",
          raw_safetensors('{"0.bias": {"dtype": "F32", "shape": [3], '
                          '"data_offsets": [0, 12]}, "0.bias": {"dtype": "F32", '
                          '"shape": [3], "data_offsets": [12, 24]}}',
                          b"\0" * 24))
    write("unknown_dtype.safetensors",
          safetensors(replace(good, "0.bias", dtype="F33")))
    write("f8_dtype.safetensors",
          safetensors(replace(good, "0.bias", dtype="F8_E4M3", payload=b"\0" * 3)))
    # shape [3, 2] of F32 is 24 bytes, but the range holds 20.
    write("size_mismatch.safetensors",
          safetensors(replace(good, "0.weight", payload=b"\0" * 20)))
    write("negative_shape.safetensors",
          safetensors(replace(good, "0.bias", shape=[-3])))
    # Hand-made offsets: overlapping, with a gap, past the end, reversed.
    def offsets_file(ranges, data_len):
        header = {}
        for (name, dtype, shape, _), rng in zip(good, ranges):
            header[name] = {"dtype": dtype, "shape": shape, "data_offsets": rng}
        return raw_safetensors(json.dumps(header), b"\0" * data_len)
    write("overlapping_offsets.safetensors",
          offsets_file([[0, 24], [20, 32], [32, 44], [44, 48]], 48))
    write("gap_in_offsets.safetensors",
          offsets_file([[0, 24], [28, 40], [40, 52], [52, 56]], 56))
    write("offsets_past_end.safetensors",
          offsets_file([[0, 24], [24, 36], [36, 48], [48, 52]], 40))
    write("reversed_offsets.safetensors",
          offsets_file([[24, 0], [24, 36], [36, 48], [48, 52]], 52))
    # Well-formed files that do not match the model.
    write("missing_tensor.safetensors",
          safetensors([t for t in good if t[0] != "2.bias"]))
    write("unexpected_tensor.safetensors",
          safetensors(good + [("3.weight", "F32", [1, 1], f32([1.0]))]))
    write("misshaped_tensor.safetensors",
          safetensors(replace(good, "0.weight", shape=[2, 3])))
    write("integer_weight.safetensors",
          safetensors(replace(good, "2.weight", dtype="I32",
                              payload=struct.pack("<3i", 1, -1, 0))))
    write("metadata_not_string.safetensors",
          safetensors(good, {"__metadata__": {"format": 1}}))


def make_inputs():
    # Three features per row for a model that takes two.
    write("wrong_width.csv", "1, 2, 3\n4, 5, 6\n")
    write("ragged.csv", "1, 2\n3, 4\n5\n")
    write("not_a_number.csv", "1, 2\n3, four\n")
    write("wrong_width.npy", npy("<f4", [2, 3], f32([1, 2, 3, 4, 5, 6])))
    write("truncated.npy", npy("<f4", [3, 2], f32([1, 2, 3, 4]))[:-3])
    # [2, 3, 3]: 3 along the last dimension and 9 per sample fit no model
    # of width 2 or 8.
    write("wrong_size_3d.npy", npy("<f4", [2, 3, 3], f32(range(18))))
    write("strings.npy", npy("<U3", [1, 2], b"\0" * 24))
    # [2, 3, 2]: rows along the last dimension for a model of width 2.
    write("rows_3d.npy", npy("<f4", [2, 3, 2], f32(range(12))))
    write("complex.npy", npy("<c8", [1, 2], b"\0" * 16))
    write("bad_magic.npy", b"\x93NUMPZ\x01\x00" + b"\0" * 64)
    write("input.txt", "1, 2\n")
    write("empty.csv", "")
    write("header_only.csv", "x0, x1\n")


def make_sources():
    # 512 seeded random bytes.
    rng = random.Random(20240611)
    write("random_bytes.nn", bytes(rng.randrange(256) for _ in range(512)))
    write("empty.nn", b"")
    write("nul_byte.nn", b"Net = nn.Sequential(nn.Linear(2,\x00 3))\n")
    # A string holding a terminal escape sequence, quoted back in the message.
    write("escape_in_string.nn",
          'Net = nn.Sequential(nn.Linear(2, 3), nn.GELU(approximate="\x1b[2J"))\n')
    write("latin1.nn", b"# R\xe9seau\nNet = nn.Sequential(nn.Linear(2, 3))\n"
          b"R\xe9seau = Net\n")
    depth = 10000
    write("deep_parens.nn",
          "Net = nn.Sequential(" + "(" * depth + "nn.Linear(2, 3)" + ")" * depth + ")\n")
    write("deep_unary_minus.nn",
          "Net = nn.Sequential(nn.Linear(2, " + "-" * depth + "3))\n")
    write("deep_brackets.nn",
          "Net = nn.Sequential(nn.Linear(1, 1, weight=" + "[" * depth + "1" +
          "]" * depth + "))\n")
    write("deep_sequentials.nn",
          "Net = " + "nn.Sequential(" * 500 + "nn.Linear(2, 3)" + ")" * 500 + "\n")


def main():
    os.makedirs(DATA, exist_ok=True)
    make_weights()
    make_inputs()
    make_sources()


if __name__ == "__main__":
    main()
