#!/usr/bin/env python3
"""Copy the ONNX package's PyTorch backend test cases that seqc is tested on.

The `onnx` Python package ships backend test data: for each case a model.onnx and
test_data_set_0/{input,output}_N.pb (TensorProtos). The `pytorch-converted` and
`pytorch-operator` cases are small networks exported from PyTorch. This script copies the
ones whose ops seqc imports, and the models of a selection of those it must refuse, into
tests/data/onnx/backend/:

    python3 -m venv build/onnx-venv && build/onnx-venv/bin/pip install onnx 'numpy<2'
    build/onnx-venv/bin/python tests/data/onnx/copy_backend_tests.py

backend/<case>/model.onnx     the case's model, byte for byte;
backend/<case>/input.npy      (supported cases) float32 input, flattened to [N, features]:
                              seqc's values are [batch, features], and element-wise ops on
                              [3, 2, 5] compute the same numbers on [3, 10];
backend/<case>/expected.npy   (supported cases) the package's expected output, flattened the
                              same way (float32: PyTorch computed it in float32);
backend/cases.txt             one line per case: `NAME ok`, or `NAME fails TEXT` where TEXT
                              is part of the error seqc must print (tests/onnx/CMakeLists.txt).
"""

import os
import shutil
import sys

import numpy as np
import onnx
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "backend")
DATA = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")

SUPPORTED = [
    "pytorch-converted/test_ELU",
    "pytorch-converted/test_LeakyReLU",
    "pytorch-converted/test_LeakyReLU_with_negval",
    "pytorch-converted/test_Linear",
    "pytorch-converted/test_Linear_no_bias",  # MatMul by a Transpose of the weight
    "pytorch-converted/test_LogSoftmax",
    "pytorch-converted/test_ReLU",
    "pytorch-converted/test_Sigmoid",
    "pytorch-converted/test_Softmax",
    "pytorch-converted/test_Softplus",
    "pytorch-converted/test_Softsign",  # Abs/Constant/Add/Div
    "pytorch-converted/test_Tanh",
    "pytorch-converted/test_log_softmax_lastdim",
    "pytorch-converted/test_softmax_lastdim",
    "pytorch-operator/test_operator_clip",  # Clip with min/max attributes (opset 6)
    "pytorch-operator/test_operator_flatten",  # [1, 2, 3, 4] flattened to [1, 24]
]

# Cases seqc must refuse, and part of the message that says why.
REFUSED = {
    "pytorch-converted/test_PReLU_1d": "node 0 (PRelu) is not supported",
    "pytorch-converted/test_SELU": "Selu with gamma 1.0507010221481323 is gamma * ELU",
    "pytorch-converted/test_BatchNorm1d_3d_input_eval": "its input has rank 3",
    "pytorch-converted/test_log_softmax_dim3": "it is over axis 3 of a rank-4 value",
    "pytorch-converted/test_softmax_functional_dim3": "it is over axis 3 of a rank-4 value",
    "pytorch-converted/test_GLU": "node 0 (Split) is not supported",
    "pytorch-converted/test_Softmin": "node 0 (Neg) is not supported",
    "pytorch-converted/test_Embedding": "the graph's input '0' is INT64",
    "pytorch-converted/test_Conv1d": "node 0 (Conv) is not supported",
    "pytorch-converted/test_MaxPool1d": "node 0 (MaxPool) is not supported",
    "pytorch-converted/test_PixelShuffle": "seqc imports Reshape only to [N, -1]",
    "pytorch-operator/test_operator_addmm": "the graph has 3 inputs",
    "pytorch-operator/test_operator_mm": "the graph has 2 inputs",
    "pytorch-operator/test_operator_chunk": "the graph has 2 outputs",
    "pytorch-operator/test_operator_exp": "node 0 (Exp) is not supported",
    "pytorch-operator/test_operator_params": "do not form a supported pattern",
    "pytorch-operator/test_operator_permute2": "node 0 (Transpose) is not supported",
    "pytorch-operator/test_operator_reduced_mean": "node 0 (ReduceMean) is not supported",
    "pytorch-operator/test_operator_view": "has rank 1",
    "pytorch-operator/test_operator_addconstant": "the graph's input '0' is DOUBLE",
}


def read_tensor(path):
    tensor = onnx.TensorProto()
    with open(path, "rb") as f:
        tensor.ParseFromString(f.read())
    return numpy_helper.to_array(tensor)


def as_rows(array):
    """[N, d1, d2, ...] as [N, d1*d2*...]."""
    return np.ascontiguousarray(array.reshape(array.shape[0], -1))


def copy_case(path, expectation):
    name = os.path.basename(path)
    src = os.path.join(DATA, path)
    dst = os.path.join(OUT, name)
    os.makedirs(dst, exist_ok=True)
    shutil.copyfile(os.path.join(src, "model.onnx"), os.path.join(dst, "model.onnx"))
    if expectation == "ok":
        data = os.path.join(src, "test_data_set_0")
        x = read_tensor(os.path.join(data, "input_0.pb"))
        y = read_tensor(os.path.join(data, "output_0.pb"))
        assert x.dtype == np.float32 and y.dtype == np.float32, name
        np.save(os.path.join(dst, "input.npy"), as_rows(x))
        np.save(os.path.join(dst, "expected.npy"), as_rows(y))
    return f"{name} {expectation}\n"


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    lines = [copy_case(p, "ok") for p in SUPPORTED]
    lines += [copy_case(p, "fails " + text) for p, text in REFUSED.items()]
    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        f.write(f"# Written by copy_backend_tests.py from onnx {onnx.__version__}'s "
                "backend test data.\n")
        f.writelines(lines)
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    print(f"{len(SUPPORTED)} supported and {len(REFUSED)} refused cases, {size / 1e3:.0f} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
