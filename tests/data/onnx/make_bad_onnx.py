#!/usr/bin/env python3
"""Writes the .onnx files of seqc's ONNX must-fail tests into tests/data/onnx/bad/.

    python3 tests/data/onnx/make_bad_onnx.py

Standard library only: the files are protobuf written field by field (the encoder below
follows onnx.proto's field numbers), so hostile ones (truncated, lying about sizes, nested a
thousand deep) can be made as easily as well-formed graphs of unsupported ops. Deterministic;
the files are checked in, and tests/onnx/mustfail/*.nn run seqc on them.

Most graphs start from the same chain, input x [N, 4] -> Gemm(4 -> 3) -> ..., named like
torch.onnx.export's nodes.
"""

import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "bad")

FLOAT, INT64, DOUBLE = 1, 7, 11
ATTR_FLOAT, ATTR_INT, ATTR_STRING, ATTR_GRAPH = 1, 2, 3, 5

# ----------------------------------------------------------------------------
# Protobuf encoding
# ----------------------------------------------------------------------------


def varint(n):
    n &= (1 << 64) - 1  # negative int64s are ten bytes, as protobuf writes them
    out = b""
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def field_varint(number, value):
    return varint(number << 3) + varint(value)


def field_bytes(number, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return varint(number << 3 | 2) + varint(len(data)) + data


def field_float(number, value):
    return varint(number << 3 | 5) + struct.pack("<f", value)


# ----------------------------------------------------------------------------
# ONNX messages (field numbers from onnx.proto)
# ----------------------------------------------------------------------------


def tensor(name, dims, data_type=FLOAT, raw=None, floats=None, location=None):
    out = b"".join(field_varint(1, d) for d in dims) + field_varint(2, data_type)
    if floats is not None:
        out += field_bytes(4, struct.pack(f"<{len(floats)}f", *floats))  # packed
    out += field_bytes(8, name)
    if raw is not None:
        out += field_bytes(9, raw)
    if location is not None:
        out += field_bytes(13, field_bytes(1, "location") + field_bytes(2, location))
        out += field_varint(14, 1)  # EXTERNAL
    return out


def f32(*values):
    return struct.pack(f"<{len(values)}f", *values)


def attribute(name, value):
    out = field_bytes(1, name)
    if isinstance(value, float):
        return out + field_float(2, value) + field_varint(20, ATTR_FLOAT)
    if isinstance(value, int):
        return out + field_varint(3, value) + field_varint(20, ATTR_INT)
    if isinstance(value, str):
        return out + field_bytes(4, value) + field_varint(20, ATTR_STRING)
    return out + field_bytes(6, value) + field_varint(20, ATTR_GRAPH)  # a graph


def node(op_type, inputs, outputs, name, domain=None, **attributes):
    out = b"".join(field_bytes(1, i) for i in inputs)
    out += b"".join(field_bytes(2, o) for o in outputs)
    out += field_bytes(3, name) + field_bytes(4, op_type)
    if domain is not None:
        out += field_bytes(7, domain)
    out += b"".join(field_bytes(5, attribute(k, v)) for k, v in attributes.items())
    return out


def value_info(name, dims, elem_type=FLOAT):
    shape = b"".join(field_bytes(1, field_varint(1, d) if isinstance(d, int)
                                 else field_bytes(2, d)) for d in dims)
    tensor_type = field_varint(1, elem_type) + field_bytes(2, shape)
    return field_bytes(1, name) + field_bytes(2, field_bytes(1, tensor_type))


def graph(nodes, initializers, inputs, outputs, name="main_graph"):
    out = b"".join(field_bytes(1, n) for n in nodes) + field_bytes(2, name)
    out += b"".join(field_bytes(5, t) for t in initializers)
    out += b"".join(field_bytes(11, v) for v in inputs)
    out += b"".join(field_bytes(12, v) for v in outputs)
    return out


def model(graph_bytes, opset=13):
    opset_id = field_bytes(1, "") + field_varint(2, opset)
    return (field_varint(1, 8) + field_bytes(8, opset_id) + field_bytes(2, "make_bad_onnx")
            + field_bytes(7, graph_bytes))


# ----------------------------------------------------------------------------
# The chain most files build on
# ----------------------------------------------------------------------------

WEIGHT = tensor("0.weight", [3, 4], raw=f32(*[0.1 * i for i in range(12)]))
BIAS = tensor("0.bias", [3], raw=f32(0.5, -0.5, 0.25))
GEMM = node("Gemm", ["x", "0.weight", "0.bias"], ["h"], "/0/Gemm", transB=1)
X = value_info("x", ["batch", 4])


def chain(after, out="y", extra_inits=(), weight=WEIGHT, gemm=GEMM, opset=13):
    """x -> Gemm -> the nodes `after` -> out."""
    return model(graph([gemm] + list(after), [weight, BIAS] + list(extra_inits), [X],
                       [value_info(out, ["batch", 3])]), opset)


def deep_type(depth):
    """A graph input whose type is a sequence of sequences ... `depth` deep."""
    t = field_bytes(1, field_varint(1, FLOAT))  # tensor_type { elem_type: FLOAT }
    for _ in range(depth):
        t = field_bytes(4, field_bytes(1, t))  # sequence_type { elem_type: t }
    return field_bytes(1, "x") + field_bytes(2, t)


def files():
    good = chain([node("Relu", ["h"], ["y"], "/1/Relu")])
    yield "good.onnx", good
    yield "truncated.onnx", good[: len(good) // 2]
    yield "not_protobuf.onnx", b"MyNet = nn.Sequential(nn.Linear(2, 3))\n"
    yield "empty.onnx", b""
    yield "raw_data_short.onnx", chain(
        [node("Relu", ["h"], ["y"], "/1/Relu")],
        weight=tensor("0.weight", [3, 4], raw=f32(*range(5))))
    yield "huge_dims.onnx", chain(
        [node("Relu", ["h"], ["y"], "/1/Relu")],
        weight=tensor("0.weight", [1 << 40, 1 << 40], raw=f32(1.0)))
    yield "negative_dim.onnx", chain(
        [node("Relu", ["h"], ["y"], "/1/Relu")],
        weight=tensor("0.weight", [3, -4], raw=b""))
    yield "typed_data_count.onnx", chain(
        [node("Relu", ["h"], ["y"], "/1/Relu")],
        weight=tensor("0.weight", [3, 4], floats=[1.0] * 11))
    yield "deep_nesting.onnx", model(
        graph([node("Relu", ["x"], ["y"], "relu")], [], [deep_type(1000)],
              [value_info("y", ["batch", 4])]))
    # A subgraph inside a subgraph ... 100 deep, in If nodes' then_branch attributes.
    inner = graph([], [], [], [])
    for i in range(100):
        inner = graph([node("If", ["c"], ["o"], f"if{i}", then_branch=inner)], [], [], [])
    yield "deep_subgraphs.onnx", model(inner)
    yield "external_data.onnx", chain(
        [node("Relu", ["h"], ["y"], "/1/Relu")],
        weight=tensor("0.weight", [3, 4], location="../../../etc/passwd"))
    yield "unsupported_op.onnx", chain([node("Exp", ["h"], ["y"], "/1/Exp")])
    yield "conv.onnx", chain([node("Conv", ["h", "0.bias"], ["y"], "/1/Conv")])
    yield "custom_domain.onnx", chain(
        [node("FusedGemm", ["h"], ["y"], "/1/FusedGemm", domain="com.microsoft")])
    # y = x + Gemm(x): a residual connection.
    yield "residual.onnx", model(graph(
        [node("Gemm", ["x", "w", "0.bias"], ["h"], "/0/Gemm", transB=1),
         node("Add", ["x", "h"], ["y"], "/0/Add")],
        [tensor("w", [3, 3], raw=f32(*range(9))), BIAS],
        [value_info("x", ["batch", 3])], [value_info("y", ["batch", 3])]))
    yield "dead_branch.onnx", chain([node("Relu", ["h"], ["y"], "/1/Relu"),
                                     node("Sigmoid", ["h"], ["unused"], "/2/Sigmoid")])
    yield "not_topological.onnx", model(graph(
        [node("Relu", ["h"], ["y"], "/1/Relu"), GEMM], [WEIGHT, BIAS], [X],
        [value_info("y", ["batch", 3])]))
    yield "two_inputs.onnx", model(graph(
        [node("Add", ["x", "z"], ["y"], "add")], [],
        [X, value_info("z", ["batch", 4])], [value_info("y", ["batch", 4])]))
    yield "int_input.onnx", model(graph(
        [node("Relu", ["x"], ["y"], "relu")], [], [value_info("x", ["batch", 4], INT64)],
        [value_info("y", ["batch", 4])]))
    yield "trans_a.onnx", chain(
        [node("Relu", ["h"], ["y"], "/1/Relu")],
        gemm=node("Gemm", ["x", "0.weight", "0.bias"], ["h"], "/0/Gemm", transA=1))
    yield "width_mismatch.onnx", model(graph(
        [GEMM, node("Gemm", ["h", "1.weight"], ["y"], "/1/Gemm", transB=1)],
        [WEIGHT, BIAS, tensor("1.weight", [2, 5], raw=f32(*range(10)))], [X],
        [value_info("y", ["batch", 2])]))
    yield "hardsigmoid_onnx_default.onnx", chain(
        [node("HardSigmoid", ["h"], ["y"], "/1/HardSigmoid")])
    yield "selu.onnx", chain([node("Selu", ["h"], ["y"], "/1/Selu")])
    yield "softmax_axis0.onnx", chain([node("Softmax", ["h"], ["y"], "/1/Softmax", axis=0)])
    yield "dropout_training.onnx", chain(
        [node("Dropout", ["h", "ratio", "training"], ["y"], "/1/Dropout")],
        extra_inits=[tensor("ratio", [], raw=f32(0.5)),
                     tensor("training", [], data_type=9, raw=b"\x01")])


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in files():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print(f"wrote {len(list(files()))} files to {OUT}")


if __name__ == "__main__":
    main()
