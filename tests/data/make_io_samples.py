#!/usr/bin/env python3
"""Writes the small sample weight and input files under tests/data/weights and
tests/data/inputs. Uses only the standard library (struct, json), so the files
are made independently of seqc's own writers; the unit tests
(SafetensorsTest, NpyTest, CsvTest) check that the valid ones load and the
bad_* ones are rejected.

  weights/mlp_2_3_2_1.safetensors    F32 Linear(2,3)-Linear(3,2)-Linear(2,1)
  weights/mixed_dtypes.safetensors   F16 weight, BF16 bias, F64 BatchNorm
                                     stats, I64 num_batches_tracked
  weights/bad_*.safetensors          size mismatch, truncated, bad JSON,
                                     overlapping offsets, unknown dtype
  inputs/x_2x2.npy, x_2x2.csv        [[1, 2], [2, 3]] as <f4 and CSV
  inputs/x_3x2_f8.npy                float64 [[1, 2], [2, 3], [10, 5]]
  inputs/x_1d.npy                    <f4 [1, -1] (read as [1, 2])
  inputs/x_fortran.npy               <f8 Fortran-order [[1, 2, 3], [4, 5, 6]]
  inputs/x_header.csv                header row, comment, blank line
  inputs/bad_*.npy, bad_*.csv        big-endian, 3-D, truncated; ragged rows,
                                     a word where a number belongs

Run from anywhere: python3 tests/data/make_io_samples.py
"""
import json
import os
import struct

ROOT = os.path.dirname(os.path.abspath(__file__))
WEIGHTS = os.path.join(ROOT, "weights")
INPUTS = os.path.join(ROOT, "inputs")


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def safetensors(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, raw bytes), in data order."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    offset = 0
    data = b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def f32(*values):
    return struct.pack("<%df" % len(values), *values)


def f64(*values):
    return struct.pack("<%dd" % len(values), *values)


def f16(*values):
    return struct.pack("<%de" % len(values), *values)


def bf16(*values):
    # Exact for values with at most 8 significant bits.
    return b"".join(struct.pack("<I", struct.unpack("<I", struct.pack("<f", v))[0])[2:]
                    for v in values)


def npy(descr, shape, raw, fortran=False, version=(1, 0)):
    shape_text = "(%d,)" % shape[0] if len(shape) == 1 else \
        "(" + ", ".join(str(d) for d in shape) + ")"
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (
        descr, "True" if fortran else "False", shape_text)
    prefix = 10 if version[0] == 1 else 12
    header += " " * ((64 - (prefix + len(header) + 1) % 64) % 64) + "\n"
    length = struct.pack("<H" if version[0] == 1 else "<I", len(header))
    return b"\x93NUMPY" + bytes(version) + length + header.encode("latin1") + raw


def main():
    os.makedirs(WEIGHTS, exist_ok=True)
    os.makedirs(INPUTS, exist_ok=True)

    mlp = [
        ("0.bias", "F32", [3], f32(0.1, -0.2, 0.3)),
        ("0.weight", "F32", [3, 2], f32(0.5, -0.5, 0.25, 0.75, -1.0, 1.0)),
        ("1.bias", "F32", [2], f32(0.0, 0.5)),
        ("1.weight", "F32", [2, 3], f32(1.0, 2.0, -1.0, 0.5, 0.5, 0.5)),
        ("2.bias", "F32", [1], f32(-0.1)),
        ("2.weight", "F32", [1, 2], f32(2.0, -3.0)),
    ]
    write(os.path.join(WEIGHTS, "mlp_2_3_2_1.safetensors"),
          safetensors(mlp, {"format": "pt"}))

    mixed = [
        ("1.running_mean", "F64", [2], f64(0.5, -0.25)),
        ("1.num_batches_tracked", "I64", [], struct.pack("<q", 12)),
        ("0.weight", "F16", [2, 2], f16(1.0, -2.0, 0.5, 0.25)),
        ("0.bias", "BF16", [2], bf16(1.0, -1.5)),
    ]
    write(os.path.join(WEIGHTS, "mixed_dtypes.safetensors"), safetensors(mixed))

    # bad: F32[3, 2] in 20 bytes.
    write(os.path.join(WEIGHTS, "bad_size_mismatch.safetensors"),
          safetensors([("0.weight", "F32", [3, 2], f32(1, 2, 3, 4, 5))]))
    # bad: the last 4 bytes are missing.
    write(os.path.join(WEIGHTS, "bad_truncated.safetensors"),
          safetensors(mlp)[:-4])
    # bad: header is not JSON.
    text = b"{\"0.weight\": {dtype: F32}}"
    write(os.path.join(WEIGHTS, "bad_json.safetensors"),
          struct.pack("<Q", len(text)) + text)
    # bad: two tensors share bytes.
    text = json.dumps({
        "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
    }).encode()
    write(os.path.join(WEIGHTS, "bad_overlap.safetensors"),
          struct.pack("<Q", len(text)) + text + f32(1, 2, 3))
    # bad: a dtype the format does not have.
    write(os.path.join(WEIGHTS, "bad_dtype.safetensors"),
          safetensors([("0.weight", "float32", [1], f32(1))]))

    write(os.path.join(INPUTS, "x_2x2.npy"), npy("<f4", [2, 2], f32(1, 2, 2, 3)))
    write(os.path.join(INPUTS, "x_3x2_f8.npy"),
          npy("<f8", [3, 2], f64(1, 2, 2, 3, 10, 5)))
    write(os.path.join(INPUTS, "x_1d.npy"), npy("<f4", [2], f32(1, -1)))
    write(os.path.join(INPUTS, "x_fortran.npy"),
          npy("<f8", [2, 3], f64(1, 4, 2, 5, 3, 6), fortran=True))
    write(os.path.join(INPUTS, "bad_bigendian.npy"),
          npy(">f4", [1, 2], struct.pack(">2f", 1, 2)))
    write(os.path.join(INPUTS, "x_3d.npy"),
          npy("<f4", [1, 2, 2], f32(1, 2, 3, 4)))
    write(os.path.join(INPUTS, "bad_truncated.npy"),
          npy("<f4", [2, 2], f32(1, 2, 3)))

    write(os.path.join(INPUTS, "x_2x2.csv"), b"1,2\n2,3\n")
    write(os.path.join(INPUTS, "x_header.csv"),
          b"# lecture input\nx1, x2\n\n1.0, 2.0\n2.0, 3.0\n10, 5\n")
    write(os.path.join(INPUTS, "bad_ragged.csv"), b"1,2\n3\n")
    write(os.path.join(INPUTS, "bad_word.csv"), b"1,2\n3,four\n")


if __name__ == "__main__":
    main()
