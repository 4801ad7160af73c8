#!/usr/bin/python3
"""Make the PyTorch numerical goldens under tests/numerics/cases/.

Run with Debian's Python, which has PyTorch and the `safetensors` package:

    /usr/bin/python3 tests/numerics/make_goldens.py           # (re)write all cases
    /usr/bin/python3 tests/numerics/make_goldens.py --check   # rebuild in memory, compare with the files

Every case directory holds
  model.nn            the network in seqc's language (PyTorch nn.Sequential syntax); the last model
                      in the file is the one run; `X.load_state_dict("weights.safetensors")` is seqc's
                      way of naming the weights file (path relative to the .nn file).
  weights.safetensors the model's state_dict as PyTorch has it (safetensors.torch.save, the
                      bytes save_file writes).
  input.npy           float32 [batch, features]; the `ndinput_` cases hold [batch, d1, d2, ...]
                      inputs and other dtypes (uint8, float16, float64), which seqc converts to
                      float32.
  expected.npy        float64 output of the same model run by PyTorch in float64, in eval mode, on the
                      float64 widening of input.npy as seqc sees it (converted to float32 first). Its
                      shape is PyTorch's: [batch, out] after nn.Flatten(), [batch, d1, ..., out] for a
                      model that works on the last dimension.

The PyTorch model is built by executing the very text written to model.nn (minus the seqc-only
`load_state_dict("...")` line) with `nn = torch.nn` and `from torch.nn import *`, so the .nn file
and the golden cannot drift apart.

Weights as seqc sees them: seqc converts every floating tensor to float32 on load. The expected
output is therefore always computed with float32 parameters widened to float64:
  - F32 files: the float32 values, widened (model.double() after loading them).
  - F16 / BF16 files: the half / bfloat16 value widened to float32 (exact) and then to float64.
  - F64 files: the float64 value ROUNDED TO FLOAT32 (round to nearest even), then widened to float64.
    The file itself keeps the full float64 values, so a reader that skipped the rounding would
    differ by up to ~6e-8 relative (below the 1e-6 test tolerance: the F64 case checks the
    conversion path, not the rounding).
Integer tensors (BatchNorm's num_batches_tracked, int64) are saved as PyTorch has them.

Self-check: after computing each golden with PyTorch, the script recomputes the output with an
independent NumPy float64 implementation of every layer, reading the parameters back from the
written safetensors file, and fails if the two disagree (NaN/inf pattern exact, finite values
to 1e-9 relative to the output's scale).

Special values: the `specials_<act>` cases feed NaN, +inf, -inf, +-1e-40 (float32 subnormal), +-0
and ordinary values through each activation; `specials_huge_<act>` feed +-1e30 and +-1e20 (kept
apart because tests compare with a tolerance relative to the largest expected magnitude, which
1e30 would make meaningless for the small values). The input reaches the activation through a
Linear(1, 1) whose weight is 1 and bias 0 (one value per row, so x * 1 + 0 is exact for every
special value); Softmax/LogSoftmax use a Linear(4, 4) set to the identity, where IEEE arithmetic
turns a row holding +-inf or NaN into a row with NaNs (inf * 0), in PyTorch and in seqc alike.
"""

import argparse
import ast
import copy
import io
import math
import os
import random
import shutil
import sys
import zlib

import numpy as np
import torch
from safetensors.torch import load_file, save

nn = torch.nn
HERE = os.path.dirname(os.path.abspath(__file__))
CASES_DIR = os.path.join(HERE, "cases")
WEIGHTS = "weights.safetensors"
LOAD_LINE_PREFIX = ".load_state_dict("

# ----------------------------------------------------------------------------
# Case table
# ----------------------------------------------------------------------------


class Case:
    def __init__(self, name, src, batch=6, dtype="F32", inputs=None, input_scale=2.0,
                 input_shift=0.0, init="random", bn_train_steps=0, comment=None, param_dtypes=None,
                 input_shape=None, input_dtype="float32"):
        self.name = name
        self.src = src.strip("\n") + "\n"
        self.batch = batch
        self.dtype = dtype            # F32, F16, BF16, F64: how floating tensors are stored
        self.param_dtypes = param_dtypes  # optional {key: dtype} overrides (mixed files)
        self.inputs = inputs          # explicit float32 rows, or None for random
        self.input_scale = input_scale
        self.input_shift = input_shift
        self.init = init              # "random" | "identity" (specials)
        self.bn_train_steps = bn_train_steps
        self.comment = comment
        self.input_shape = input_shape  # one sample's shape, or None for [width]
        self.input_dtype = input_dtype  # input.npy's dtype


CASES = []


def case(*args, **kwargs):
    CASES.append(Case(*args, **kwargs))


def seq(name, *layers, load=True):
    body = "".join(f"    {l},\n" for l in layers)
    text = f"{name} = nn.Sequential(\n{body})\n"
    if load:
        text += f'{name}.load_state_dict("{WEIGHTS}")\n'
    return text


# --- Linear and each activation, after a Linear ------------------------------
case("linear_bias", seq("Net", "nn.Linear(5, 7)", "nn.Linear(7, 3)"))
case("linear_nobias", seq("Net", "nn.Linear(5, 7, bias=False)", "nn.Linear(7, 3, False)"))
case("linear_single", seq("Net", "nn.Linear(1, 1)"), batch=4)

ACTS = {
    "relu": "nn.ReLU()",
    "relu_inplace": "nn.ReLU(inplace=True)",
    "sigmoid": "nn.Sigmoid()",
    "tanh": "nn.Tanh()",
    "gelu": "nn.GELU()",
    "gelu_none_kw": 'nn.GELU(approximate="none")',
    "gelu_tanh": 'nn.GELU(approximate="tanh")',
    "silu": "nn.SiLU()",
    "leakyrelu": "nn.LeakyReLU()",
    "leakyrelu_pos": "nn.LeakyReLU(0.2)",
    "leakyrelu_kw": "nn.LeakyReLU(negative_slope=0.05, inplace=True)",
    "elu": "nn.ELU()",
    "elu_alpha": "nn.ELU(alpha=0.5)",
    "elu_pos": "nn.ELU(2.0)",
    "softplus": "nn.Softplus()",
    "softplus_kw": "nn.Softplus(beta=2, threshold=3)",
    "softplus_pos": "nn.Softplus(0.5, 4)",
    "hardtanh": "nn.Hardtanh()",
    "hardtanh_kw": "nn.Hardtanh(min_val=-0.5, max_val=2.0)",
    "hardtanh_pos": "nn.Hardtanh(-2, 1.5)",
    "hardsigmoid": "nn.Hardsigmoid()",
    "hardswish": "nn.Hardswish()",
    "mish": "nn.Mish()",
    "softsign": "nn.Softsign()",
    "softmax": "nn.Softmax(dim=-1)",
    "softmax_dim1": "nn.Softmax(dim=1)",
    "logsoftmax": "nn.LogSoftmax(dim=-1)",
    "logsoftmax_dim1": "nn.LogSoftmax(dim=1)",
    "identity": "nn.Identity()",
    "dropout": "nn.Dropout(p=0.3)",
    "dropout_default": "nn.Dropout()",
    "flatten": "nn.Flatten()",
}
for key, act in ACTS.items():
    case(f"act_{key}", seq("Net", "nn.Linear(6, 9)", act, "nn.Linear(9, 4)", act), batch=7,
         input_scale=3.0)

case("softmax_head", seq("Net", "nn.Linear(8, 16)", "nn.ReLU()", "nn.Linear(16, 10)",
                         "nn.Softmax(dim=-1)"), batch=9)
case("logsoftmax_head", seq("Net", "nn.Linear(8, 16)", 'nn.GELU(approximate="tanh")',
                            "nn.Linear(16, 3, bias=False)", "nn.LogSoftmax(dim=-1)"), batch=9)

# --- BatchNorm1d --------------------------------------------------------------
case("bn_after_linear", seq("Net", "nn.Linear(6, 10)", "nn.BatchNorm1d(10)", "nn.ReLU()",
                            "nn.Linear(10, 3)"), batch=8)
case("bn_noaffine", seq("Net", "nn.Linear(6, 10)", "nn.BatchNorm1d(10, affine=False)",
                        "nn.Tanh()", "nn.Linear(10, 3)"), batch=8)
case("bn_eps", seq("Net", "nn.Linear(6, 10, bias=False)", "nn.BatchNorm1d(10, eps=0.1)",
                   "nn.SiLU()", "nn.Linear(10, 3)"), batch=8)
case("bn_eps_pos_momentum", seq("Net", "nn.Linear(6, 10)", "nn.BatchNorm1d(10, 1e-3, 0.2)",
                                "nn.Linear(10, 3)"), batch=8)
case("bn_first", seq("Net", "nn.BatchNorm1d(5)", "nn.Linear(5, 4)", "nn.ReLU()",
                     "nn.Linear(4, 2)"), batch=8, input_shift=3.0)
case("bn_first_noaffine_only", seq("Net", "nn.BatchNorm1d(5, affine=False, eps=1e-2)"),
     batch=8, input_shift=-2.0)
case("bn_after_activation", seq("Net", "nn.Linear(6, 10)", "nn.ReLU()", "nn.BatchNorm1d(10)",
                                "nn.Linear(10, 3)"), batch=8)
case("bn_last", seq("Net", "nn.Linear(6, 10)", "nn.Sigmoid()", "nn.BatchNorm1d(10)"), batch=8)
case("bn_trained", seq("Net", "nn.Linear(6, 12)", "nn.BatchNorm1d(12)", "nn.ReLU()",
                       "nn.Linear(12, 12)", "nn.BatchNorm1d(12, momentum=0.5)", "nn.Linear(12, 2)"),
     batch=16, bn_train_steps=5,
     comment="running stats from 5 training-mode forward passes")

# --- LayerNorm ----------------------------------------------------------------
case("ln_int", seq("Net", "nn.Linear(6, 10)", "nn.LayerNorm(10)", "nn.ReLU()",
                   "nn.Linear(10, 3)"), batch=8)
case("ln_list", seq("Net", "nn.Linear(6, 10)", "nn.LayerNorm([10])", "nn.GELU()",
                    "nn.Linear(10, 3)"), batch=8)
case("ln_noaffine", seq("Net", "nn.Linear(6, 10)",
                        "nn.LayerNorm(10, elementwise_affine=False)", "nn.Linear(10, 3)"), batch=8)
case("ln_eps", seq("Net", "nn.Linear(6, 10)", "nn.LayerNorm((10,), eps=0.5)",
                   "nn.Linear(10, 3)"), batch=8)
case("ln_first", seq("Net", "nn.LayerNorm(7, 1e-3)", "nn.Linear(7, 3)"), batch=8,
     input_shift=5.0)
case("ln_last", seq("Net", "nn.Linear(6, 10)", "nn.Tanh()", "nn.LayerNorm(10)"), batch=8)
case("ln_width1", seq("Net", "nn.Linear(3, 1)", "nn.LayerNorm(1)", "nn.Linear(1, 2)"), batch=5)

# --- Composition ----------------------------------------------------------------
case("nested", """
# A Sequential inside a Sequential: keys 1.0.weight, 1.2.bias ...
Net = nn.Sequential(
    nn.Linear(5, 8),
    nn.Sequential(
        nn.Linear(8, 8),
        nn.ReLU(),
        nn.Linear(8, 6),
    ),
    nn.Tanh(),
    nn.Sequential(nn.Linear(6, 3), nn.Sequential(nn.Identity(), nn.Linear(3, 2))),
)
Net.load_state_dict("weights.safetensors")
""")
case("python_subset", """
# Constants, arithmetic, list comprehensions and splats (issue 22): the
# comprehension's Sequentials give PyTorch's keys 1.0.weight, 2.0.weight, ...
hidden = 12
p = 0.25
Net = nn.Sequential(
    nn.Linear(5, hidden),
    *[nn.Sequential(nn.Linear(hidden * 2**i // 2**i, hidden), nn.Tanh()) for i in range(3)],
    nn.Dropout(p / 2),
    *[nn.Linear(hidden // 2**i, hidden // 2 ** (i + 1)) for i in range(2)],
    nn.LeakyReLU(2 ** -3),
    nn.Linear(hidden // 4, -(-7 // 2)),
)
Net.load_state_dict("weights.safetensors")
""")
case("references", """
Encoder = nn.Sequential(
    nn.Linear(6, 12),
    nn.BatchNorm1d(12),
    nn.ReLU(),
    nn.Linear(12, 4),
)
Head = nn.Sequential(nn.Linear(4, 3), nn.LogSoftmax(dim=-1))

Net = nn.Sequential(Encoder, nn.ReLU(), Head)  # keys 0.0.weight, 0.1.running_var, 2.0.bias
Net.load_state_dict("weights.safetensors")
""", batch=7)
case("references_deep", """
Block = nn.Sequential(nn.Linear(4, 4), nn.SiLU())
Stem = nn.Sequential(nn.Linear(3, 4), Block)
Body = nn.Sequential(Stem, nn.LayerNorm(4), nn.Sequential(nn.Linear(4, 5), nn.ELU(0.7)))
Net = nn.Sequential(
    Body,
    nn.Dropout(0.1),
    nn.Linear(5, 2),
)
Net.load_state_dict("weights.safetensors")
""", batch=5)
case("reuse_block", """
# The same model referenced twice: PyTorch lists its parameters under both keys.
Block = nn.Sequential(nn.Linear(5, 5), nn.Tanh())
Net = nn.Sequential(Block, nn.Linear(5, 5), Block)
Net.load_state_dict("weights.safetensors")
""", batch=5)
case("several_models_last_runs", """
Other = nn.Sequential(nn.Linear(9, 9), nn.ReLU())
Net = nn.Sequential(
    nn.Linear(4, 6),
    nn.Hardswish(),
    nn.Linear(6, 2),
)
Net.load_state_dict("weights.safetensors")
""", batch=5)
case("no_prefix", """
# No nn. prefix (as after `from torch.nn import *` in a training script).
Net = Sequential(
    Linear(5, 8),
    BatchNorm1d(8),
    LeakyReLU(0.1),
    Linear(8, 8, bias=False),
    LayerNorm(8),
    GELU(approximate="tanh"),
    Linear(8, 3),
    Softmax(dim=-1),
)
Net.load_state_dict("weights.safetensors")
""", batch=6)
case("no_prefix_mixed", """
Enc = Sequential(nn.Linear(4, 6), Mish(), Dropout(p=0.5))
Net = nn.Sequential(Enc, Hardtanh(-1.0, 1.0), Linear(6, 2), nn.LogSoftmax(dim=1))
Net.load_state_dict("weights.safetensors")
""", batch=6)
case("lecture_shape", """
# The lecture's 2-3-2-1 network, with trained-looking weights.
MyNet = nn.Sequential(
    nn.Linear(2, 3),
    nn.Linear(3, 2),
    nn.Linear(2, 1),
)
MyNet.load_state_dict("weights.safetensors")
""", batch=3)

# --- Weight dtypes -----------------------------------------------------------------
_DTYPE_NET = seq("Net", "nn.Linear(6, 10)", "nn.BatchNorm1d(10)", "nn.GELU()",
                 "nn.Linear(10, 8)", "nn.LayerNorm(8)", "nn.Linear(8, 3)")
case("dtype_f16", _DTYPE_NET, dtype="F16", batch=7)
case("dtype_bf16", _DTYPE_NET, dtype="BF16", batch=7)
case("dtype_f64", _DTYPE_NET, dtype="F64", batch=7)
case("dtype_mixed", _DTYPE_NET, dtype="F32", batch=7,
     param_dtypes={"0.weight": "F16", "0.bias": "BF16", "1.running_var": "F64",
                   "1.running_mean": "F16", "3.weight": "F64", "4.bias": "BF16"})

# --- Batch sizes and wide layers --------------------------------------------------------
case("batch1", seq("Net", "nn.Linear(12, 20)", "nn.ReLU()", "nn.Linear(20, 5)"), batch=1)
case("batch64", seq("Net", "nn.Linear(12, 20)", "nn.Sigmoid()", "nn.Linear(20, 5)"), batch=64)
case("wide_300", seq("Net", "nn.Linear(300, 64)", "nn.ReLU()", "nn.Linear(64, 300)",
                     "nn.Softmax(dim=-1)"), batch=3, input_scale=1.0)
case("narrow_1", seq("Net", "nn.Linear(1, 1)", "nn.Tanh()", "nn.Linear(1, 1, bias=False)",
                     "nn.Sigmoid()", "nn.Linear(1, 3)", "nn.Linear(3, 1)"), batch=7)


# --- Inputs of any rank and dtype (`seqc run` reads them as PyTorch would) -------------------
case("ndinput_flatten_image", seq("Net", "nn.Flatten()", "nn.Linear(64, 32)", "nn.ReLU()",
                                  "nn.Linear(32, 10)"), batch=5, input_shape=(8, 8),
     comment="[5, 8, 8] images, flattened by nn.Flatten(): the output is [5, 10].")
case("ndinput_flatten_4d", seq("Net", "nn.Dropout(0.1)", "nn.Flatten(1, -1)", "nn.Linear(48, 16)",
                               "nn.Tanh()", "nn.Linear(16, 4)"), batch=3, input_shape=(3, 4, 4))
case("ndinput_uint8_image", seq("Net", "nn.Flatten()", "nn.Linear(64, 10)",
                                "nn.LogSoftmax(dim=1)"), batch=5, input_shape=(8, 8),
     input_dtype="uint8", comment="uint8 pixels, converted to float32 with a note.")
case("ndinput_float16", seq("Net", "nn.Flatten()", "nn.Linear(16, 3)", "nn.Sigmoid()"), batch=4,
     input_shape=(2, 8), input_dtype="float16")
case("ndinput_float64", seq("Net", "nn.Linear(8, 4)", "nn.SiLU()"), batch=4, input_dtype="float64")
case("ndinput_last_dim", seq("Net", "nn.Linear(8, 16)", "nn.GELU()", "nn.LayerNorm(16)",
                             "nn.Linear(16, 6)", "nn.Softmax(dim=-1)"), batch=5, input_shape=(3, 8),
     comment="No Flatten: every layer works on the last dimension, [5, 3, 8] -> [5, 3, 6].")
case("ndinput_last_dim_4d", seq("Net", "nn.Linear(8, 5)", "nn.ReLU()", "nn.Linear(5, 2)"), batch=2,
     input_shape=(3, 4, 8), input_dtype="float64")

# --- Random deeper networks -------------------------------------------------------------------
RANDOM_ACTS = ["nn.ReLU()", "nn.Sigmoid()", "nn.Tanh()", "nn.GELU()", 'nn.GELU(approximate="tanh")',
               "nn.SiLU()", "nn.LeakyReLU({s})", "nn.ELU(alpha={a})", "nn.Softplus(beta={b})",
               "nn.Hardtanh({lo}, {hi})", "nn.Hardsigmoid()", "nn.Hardswish()", "nn.Mish()",
               "nn.Identity()", "nn.Dropout(p=0.2)"]


def random_net(rng, depth, max_params):
    while True:
        # Mostly 9..300 wide, sometimes 1..8 (bottlenecks), one layer at least 150 wide.
        widths = [rng.randint(1, 8) if rng.random() < 0.2 else rng.randint(9, 300)
                  for _ in range(depth + 1)]
        if (sum(a * b for a, b in zip(widths, widths[1:])) <= max_params
                and max(widths) >= 150 and widths[-1] >= 2):
            break
    layers = []
    for i in range(depth):
        layers.append(f"nn.Linear({widths[i]}, {widths[i + 1]}"
                      + (", bias=False" if rng.random() < 0.2 else "") + ")")
        if i == depth - 1:
            tail = rng.choice(["", "nn.Softmax(dim=-1)", "nn.LogSoftmax(dim=-1)"])
            if tail:
                layers.append(tail)
            break
        r = rng.random() if widths[i + 1] > 1 else 1.0
        if r < 0.15:
            layers.append(f"nn.BatchNorm1d({widths[i + 1]})")
        elif r < 0.25:
            layers.append(f"nn.LayerNorm({widths[i + 1]})")
        act = rng.choice(RANDOM_ACTS).format(
            s=round(rng.uniform(0.01, 0.5), 3), a=round(rng.uniform(0.1, 2), 3),
            b=round(rng.uniform(0.5, 3), 3), lo=-round(rng.uniform(0.5, 2), 2),
            hi=round(rng.uniform(0.5, 2), 2))
        layers.append(act)
    return seq("Net", *layers)


_rng = random.Random(20240602)
for i, (depth, batch) in enumerate([(3, 1), (5, 7), (8, 64), (6, 7), (4, 64), (7, 1)]):
    case(f"random_{i}_d{depth}_b{batch}", random_net(_rng, depth, 45000), batch=batch,
         input_scale=1.5)

# --- Special values ------------------------------------------------------------------------------
F32_TINY = float(np.float32(1e-40))  # a float32 subnormal
SPECIAL_ROWS = [math.nan, math.inf, -math.inf, 1e-40, -1e-40, 0.0, -0.0, 1.0, -1.0, 0.5, -0.5,
                2.5, -2.5, 3.0, -3.0, 4.0, -4.0, 19.0, 21.0, -30.0, 30.0, 1e-7, -1e-7]
HUGE_ROWS = [1e30, -1e30, 1e20, -1e20, 3e38, -3e38, 1.0, -2.0]
SPECIAL_ACTS = {
    "relu": "nn.ReLU()", "sigmoid": "nn.Sigmoid()", "tanh": "nn.Tanh()", "gelu": "nn.GELU()",
    "gelu_tanh": 'nn.GELU(approximate="tanh")', "silu": "nn.SiLU()",
    "leakyrelu": "nn.LeakyReLU()", "leakyrelu_custom": "nn.LeakyReLU(0.3)", "elu": "nn.ELU()",
    "elu_alpha": "nn.ELU(alpha=1.7)", "softplus": "nn.Softplus()",
    "softplus_custom": "nn.Softplus(beta=3, threshold=2)", "hardtanh": "nn.Hardtanh()",
    "hardtanh_custom": "nn.Hardtanh(min_val=-0.25, max_val=3.5)", "hardsigmoid": "nn.Hardsigmoid()",
    "hardswish": "nn.Hardswish()", "mish": "nn.Mish()", "softsign": "nn.Softsign()",
    "identity": "nn.Identity()",
}
for key, act in SPECIAL_ACTS.items():
    case(f"specials_{key}", seq("Net", "nn.Linear(1, 1)", act), init="identity",
         inputs=[[v] for v in SPECIAL_ROWS])
    case(f"specials_huge_{key}", seq("Net", "nn.Linear(1, 1)", act), init="identity",
         inputs=[[v] for v in HUGE_ROWS])
SOFTMAX_ROWS = [[0.0, 1.0, 2.0, 3.0], [1e-40, -1e-40, 0.0, -0.0], [math.nan, 0.0, 1.0, 2.0],
                [math.inf, 0.0, 1.0, 2.0], [-math.inf, 0.0, 1.0, 2.0], [-30.0, -31.0, 30.0, 5.0],
                [100.0, 100.0, 100.0, 100.0], [-100.0, -100.0, -100.0, -99.0]]
SOFTMAX_HUGE_ROWS = [[1e30, 0.0, -1e30, 5.0], [-1e30, -1e30, -1e30, -1e30], [3e38, 3e38, 0.0, 1.0],
                     [1e20, 1e20 + 1e13, 1e20, 0.0]]
for key, act in {"softmax": "nn.Softmax(dim=-1)", "logsoftmax": "nn.LogSoftmax(dim=1)"}.items():
    case(f"specials_{key}", seq("Net", "nn.Linear(4, 4)", act), init="identity",
         inputs=SOFTMAX_ROWS)
    case(f"specials_huge_{key}", seq("Net", "nn.Linear(4, 4)", act), init="identity",
         inputs=SOFTMAX_HUGE_ROWS)

# ----------------------------------------------------------------------------
# Building a case
# ----------------------------------------------------------------------------

TORCH_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
                "F64": torch.float64}


def is_load_line(line):
    """seqc-only: `Name.load_state_dict("file")` with a string argument."""
    s = line.strip()
    if LOAD_LINE_PREFIX not in s:
        return False
    try:
        node = ast.parse(s).body[0]
    except SyntaxError:
        return False
    return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Attribute)
            and node.value.func.attr == "load_state_dict" and len(node.value.args) == 1
            and isinstance(node.value.args[0], ast.Constant)
            and isinstance(node.value.args[0].value, str))


def python_source(src):
    return "".join(l for l in src.splitlines(keepends=True) if not is_load_line(l))


def build_module(src):
    """Executes the .nn text as Python and returns the last model it defines."""
    ns = {"nn": torch.nn, "torch": torch}
    exec("from torch.nn import *", ns)
    py = python_source(src)
    exec(compile(py, "<model.nn>", "exec"), ns)
    last = None
    for node in ast.parse(py).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            last = node.targets[0].id
    assert last is not None and isinstance(ns[last], nn.Module)
    return ns[last]


def leaves(module):
    if isinstance(module, nn.Sequential):
        for child in module:
            yield from leaves(child)
    else:
        yield module


def input_width(model):
    for m in leaves(model):
        if isinstance(m, nn.Linear):
            return m.in_features
        if isinstance(m, nn.BatchNorm1d):
            return m.num_features
        if isinstance(m, nn.LayerNorm):
            return m.normalized_shape[-1]
    raise ValueError("cannot infer the input width")


def init_params(model, gen, c):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Linear):
                if c.init == "identity":
                    assert m.in_features == m.out_features
                    m.weight.copy_(torch.eye(m.in_features))
                    if m.bias is not None:
                        m.bias.zero_()
                    continue
                scale = 1.5 / math.sqrt(m.in_features)
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen,
                                           dtype=torch.float64) * scale)
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=gen,
                                             dtype=torch.float64) * 0.5)
            elif isinstance(m, nn.BatchNorm1d):
                n = m.num_features
                if m.affine:
                    m.weight.copy_(1 + 0.3 * torch.randn(n, generator=gen, dtype=torch.float64))
                    m.bias.copy_(0.3 * torch.randn(n, generator=gen, dtype=torch.float64))
                m.running_mean.copy_(0.8 * torch.randn(n, generator=gen, dtype=torch.float64))
                m.running_var.copy_(0.2 + 2 * torch.rand(n, generator=gen, dtype=torch.float64))
                m.num_batches_tracked.fill_(11)
            elif isinstance(m, nn.LayerNorm) and m.elementwise_affine:
                n = m.weight.numel()
                m.weight.copy_(1 + 0.3 * torch.randn(n, generator=gen, dtype=torch.float64))
                m.bias.copy_(0.3 * torch.randn(n, generator=gen, dtype=torch.float64))


def make_input(c, width, gen):
    """input.npy's array, in the case's dtype and shape."""
    if c.inputs is not None:
        x = np.array(c.inputs, dtype=np.float32)
        assert x.shape[1] == width
        return x
    shape = (c.batch,) + tuple(c.input_shape or (width,))
    if c.input_dtype == "uint8":  # image pixels
        return torch.randint(0, 256, shape, generator=gen).numpy().astype(np.uint8)
    x = torch.randn(*shape, generator=gen, dtype=torch.float64) * c.input_scale
    return (x + c.input_shift).numpy().astype(np.dtype(c.input_dtype))


def stored_state_dict(model, c):
    """The tensors written to weights.safetensors, in their stored dtypes."""
    out = {}
    for k, v in model.state_dict().items():
        v = v.detach()
        if v.is_floating_point():
            dt = (c.param_dtypes or {}).get(k, c.dtype)
            v = v.to(TORCH_DTYPES[dt])
        out[k] = v.clone().contiguous()
    return out


def seen_by_seqc(tensor):
    """A stored tensor as seqc uses it: floating types converted to float32."""
    return tensor.to(torch.float32) if tensor.is_floating_point() else tensor


def make_case(c):
    seed = zlib.crc32(c.name.encode())
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = build_module(c.src)
    model = model.double() if c.dtype == "F64" else model.float()
    init_params(model, gen, c)
    width = input_width(model)
    if c.bn_train_steps:
        # Training-mode passes update BatchNorm's running stats. They run in float64 (a float32
        # reduction's rounding depends on memory alignment, which made the stats differ from run
        # to run); the stats are then rounded to the model's dtype like every other parameter.
        dtype = next(model.parameters()).dtype
        model.double().train()
        with torch.no_grad():
            for _ in range(c.bn_train_steps):
                model(torch.randn(32, width, generator=gen, dtype=torch.float64) * 2 + 1)
        model.to(dtype)
    model.eval()
    stored = stored_state_dict(model, c)
    x32 = make_input(c, width, gen)

    # The golden: the same architecture, parameters and input as seqc sees them, run in float64.
    ref = build_module(c.src)
    ref.load_state_dict({k: seen_by_seqc(v) for k, v in stored.items()})
    ref = ref.double().eval()
    with torch.no_grad():
        seen = x32.astype(np.float32).astype(np.float64)
        expected = ref(torch.from_numpy(seen)).numpy().astype(np.float64)
    assert expected.dtype == np.float64 and expected.ndim >= 2
    return stored, x32, expected


# ----------------------------------------------------------------------------
# Independent NumPy float64 implementation (self-check)
# ----------------------------------------------------------------------------

_erf = np.vectorize(math.erf, otypes=[np.float64])


def _np_sigmoid(x):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def _np_softplus(x, beta, threshold):
    with np.errstate(over="ignore"):
        return np.where(x * beta > threshold, x, np.log1p(np.exp(x * beta)) / beta)


def _np_softmax(x, log):
    m = np.max(x, axis=1, keepdims=True)
    s = x - m
    e = np.exp(s)
    tot = np.sum(e, axis=1, keepdims=True)
    return s - np.log(tot) if log else e / tot


def np_forward(module, prefix, params, x):
    """Evaluates `module` on x (float64) with parameters from `params` (key -> float64 array)."""
    if isinstance(module, nn.Sequential):
        for i, child in enumerate(module):
            x = np_forward(child, f"{prefix}{i}.", params, x)
        return x
    p = lambda name: params.get(prefix + name)
    t = type(module)
    with np.errstate(invalid="ignore", over="ignore"):
        if t is nn.Linear:
            w, b = p("weight"), p("bias")
            assert w.shape == (module.out_features, module.in_features)
            y = np.zeros((x.shape[0], w.shape[0]))
            for o in range(w.shape[0]):  # explicit sums, so inf * 0 behaves as in IEEE
                y[:, o] = np.sum(x * w[o][None, :], axis=1)
            return y + b if b is not None else y
        if t is nn.ReLU:
            return np.where(np.isnan(x), x, np.maximum(x, 0.0))
        if t is nn.Sigmoid:
            return _np_sigmoid(x)
        if t is nn.Tanh:
            return np.tanh(x)
        if t is nn.GELU:
            if module.approximate == "tanh":
                k = math.sqrt(2.0 / math.pi)
                return 0.5 * x * (1.0 + np.tanh(k * (x + 0.044715 * x ** 3)))
            return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))
        if t is nn.SiLU:
            return x * _np_sigmoid(x)
        if t is nn.LeakyReLU:
            return np.where(x > 0, x, x * module.negative_slope)
        if t is nn.ELU:
            return np.where(x > 0, x, module.alpha * np.expm1(x))
        if t is nn.Softplus:
            return _np_softplus(x, module.beta, module.threshold)
        if t is nn.Hardtanh:
            return np.where(np.isnan(x), x, np.clip(x, module.min_val, module.max_val))
        if t is nn.Hardsigmoid:
            return np.where(np.isnan(x), x, np.clip(x + 3.0, 0.0, 6.0) / 6.0)
        if t is nn.Hardswish:
            return x * np.where(np.isnan(x), x, np.clip(x + 3.0, 0.0, 6.0)) / 6.0
        if t is nn.Mish:
            return x * np.tanh(_np_softplus(x, 1.0, math.inf))
        if t is nn.Softsign:
            return x / (1.0 + np.abs(x))
        if t is nn.Softmax or t is nn.LogSoftmax:
            assert module.dim in (-1, 1)
            return _np_softmax(x, t is nn.LogSoftmax)
        if t is nn.Flatten:
            assert (module.start_dim, module.end_dim) == (1, -1)
            return x.reshape(x.shape[0], -1)
        if t in (nn.Identity, nn.Dropout):
            return x
        if t is nn.BatchNorm1d:
            y = (x - p("running_mean")) / np.sqrt(p("running_var") + module.eps)
            if module.affine:
                y = y * p("weight") + p("bias")
            return y
        if t is nn.LayerNorm:
            mean = x.mean(axis=1, keepdims=True)
            var = ((x - mean) ** 2).mean(axis=1, keepdims=True)
            y = (x - mean) / np.sqrt(var + module.eps)
            if module.elementwise_affine:
                y = y * p("weight") + p("bias")
            return y
    raise TypeError(f"no NumPy implementation for {t.__name__}")


def compare(a, e, tol):
    """True when a matches e: same NaN and infinity positions, finite values to tol * scale."""
    if a.shape != e.shape:
        return False, f"shape {a.shape} vs {e.shape}"
    if not np.array_equal(np.isnan(a), np.isnan(e)):
        return False, "NaN positions differ"
    inf_a, inf_e = np.isinf(a), np.isinf(e)
    if not np.array_equal(inf_a, inf_e) or not np.array_equal(a[inf_a], e[inf_e]):
        return False, "infinities differ"
    fin = np.isfinite(e)
    scale = max(1.0, float(np.max(np.abs(e[fin]), initial=0.0)))
    err = float(np.max(np.abs(a[fin] - e[fin]), initial=0.0))
    return err <= tol * scale, f"max abs error {err:.3g} (scale {scale:.3g})"


def self_check(c, case_dir, expected):
    model = build_module(c.src)
    params = {k: seen_by_seqc(v).to(torch.float64).numpy()
              for k, v in load_file(os.path.join(case_dir, WEIGHTS)).items()}
    x = np.load(os.path.join(case_dir, "input.npy"))
    assert x.dtype == np.dtype(c.input_dtype)
    x = x.astype(np.float32).astype(np.float64)
    if x.ndim > 2 and not any(isinstance(m, nn.Flatten) for m in leaves(model)):
        # Every layer works on the last dimension: run its vectors as rows.
        got = np_forward(model, "", params, x.reshape(-1, x.shape[-1]))
        got = got.reshape(x.shape[:-1] + got.shape[-1:])
    else:
        got = np_forward(model, "", params, x)
    ok, why = compare(got, expected, 1e-9)
    if not ok:
        raise SystemExit(f"self-check failed for {c.name}: NumPy vs PyTorch: {why}")


# ----------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------


def nn_text(c):
    header = f"# {c.name}: generated by tests/numerics/make_goldens.py; do not edit.\n"
    if c.comment:
        header += f"# {c.comment}\n"
    return header + c.src


def write_if_changed(path, data):
    """Writes data to path unless it already holds exactly that; returns True if written."""
    if os.path.exists(path):
        with open(path, "rb") as f:
            if f.read() == data:
                return False
    with open(path, "wb") as f:
        f.write(data)
    return True


def npy_bytes(a):
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="rebuild every case in memory and compare with the files on disk")
    ap.add_argument("--out", default=CASES_DIR, help="cases directory (default: %(default)s)")
    args = ap.parse_args()
    torch.set_num_threads(1)  # a fixed reduction order

    names = [c.name for c in CASES]
    assert len(names) == len(set(names)), "duplicate case names"
    stale = []
    if not args.check:
        os.makedirs(args.out, exist_ok=True)
        for d in os.listdir(args.out):
            if d not in names and os.path.isfile(os.path.join(args.out, d, "model.nn")):
                shutil.rmtree(os.path.join(args.out, d))
    total = 0
    for c in CASES:
        stored, x32, expected = make_case(c)
        d = os.path.join(args.out, c.name)
        if args.check:
            on_disk = {k: v for k, v in load_file(os.path.join(d, WEIGHTS)).items()}
            # Weights and inputs must match bit for bit; the expected output to 1e-12, since
            # PyTorch's float64 reductions may round differently from run to run.
            same = (open(os.path.join(d, "model.nn")).read() == nn_text(c)
                    and on_disk.keys() == stored.keys()
                    and all(on_disk[k].dtype == v.dtype and torch.equal(on_disk[k], v)
                            for k, v in stored.items())
                    and np.load(os.path.join(d, "input.npy")).dtype == x32.dtype
                    and np.array_equal(np.load(os.path.join(d, "input.npy")), x32,
                                       equal_nan=True)
                    and compare(np.load(os.path.join(d, "expected.npy")), expected, 1e-12)[0])
            if not same:
                stale.append(c.name)
        else:
            os.makedirs(d, exist_ok=True)
            changed = write_if_changed(os.path.join(d, "model.nn"), nn_text(c).encode())
            changed |= write_if_changed(os.path.join(d, WEIGHTS), save(stored))
            changed |= write_if_changed(os.path.join(d, "input.npy"), npy_bytes(x32))
            # PyTorch's float64 results vary in the last bits from run to run; keep the old
            # expected output when nothing else changed and it agrees to 1e-12, so that
            # rerunning the script does not churn the checked-in files.
            exp_path = os.path.join(d, "expected.npy")
            if (changed or not os.path.exists(exp_path)
                    or not compare(np.load(exp_path), expected, 1e-12)[0]):
                write_if_changed(exp_path, npy_bytes(expected))
        self_check(c, d, np.load(os.path.join(d, "expected.npy")))
        total += sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    if stale:
        print("stale cases (rerun make_goldens.py):", " ".join(stale))
        return 1
    print(f"{len(CASES)} cases, {total / 1e6:.2f} MB, self-check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
