"""Printing real ferrograd tensors: repr/str are PyTorch's, character for character, with
``torch.`` spelled ``ferrograd.`` (dtypes print as ``ferrograd.float64``, sizes as
``ferrograd.Size([2, 2])``).

Fixed expected strings cover the common cases and always run; the parity tests build the
same tensor in both libraries and compare, where PyTorch is installed.
"""

from __future__ import annotations

import re

import ferrograd
import pytest

# ---- fixed expectations ---------------------------------------------------------------------

FIXED = [
    ("lib.tensor(3.5)", "tensor(3.5000)"),
    ("lib.tensor(3.0)", "tensor(3.)"),
    ("lib.tensor(-0.0)", "tensor(-0.)"),
    ("lib.tensor(7)", "tensor(7)"),
    ("lib.tensor(True)", "tensor(True)"),
    ("lib.tensor(2.0, dtype=lib.float64)", "tensor(2., dtype=ferrograd.float64)"),
    ("lib.tensor([1.5, -2.25, 3.0])", "tensor([ 1.5000, -2.2500,  3.0000])"),
    ("lib.tensor([1, -22, 333])", "tensor([  1, -22, 333])"),
    ("lib.tensor([True, False])", "tensor([ True, False])"),
    ("lib.ones(2, 2)", "tensor([[1., 1.],\n        [1., 1.]])"),
    (
        "lib.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=lib.float64)",
        "tensor([[1., 2.],\n        [3., 4.]], dtype=ferrograd.float64)",
    ),
    (
        "lib.arange(8).reshape(2, 2, 2)",
        "tensor([[[0, 1],\n         [2, 3]],\n\n        [[4, 5],\n         [6, 7]]])",
    ),
    (
        "lib.zeros(1, 2, 1, 2, dtype=lib.bool)",
        "tensor([[[[False, False]],\n\n         [[False, False]]]])",
    ),
    ("lib.tensor([1e-5, 1.0, 1e5])", "tensor([1.0000e-05, 1.0000e+00, 1.0000e+05])"),
    ("lib.tensor([1e10, 2e10])", "tensor([1.0000e+10, 2.0000e+10])"),
    ("lib.tensor([0.1, 100000.0])", "tensor([1.0000e-01, 1.0000e+05])"),
    ("lib.tensor(1e20)", "tensor(1.0000e+20)"),
    ("lib.tensor([1.0, 2.0, 3.0]) / 3", "tensor([0.3333, 0.6667, 1.0000])"),
    (
        "lib.tensor([float('nan'), float('inf'), -float('inf'), 1.0])",
        "tensor([nan, inf, -inf, 1.])",
    ),
    ("lib.tensor([2**40, -1])", "tensor([1099511627776,            -1])"),
    ("lib.tensor([])", "tensor([])"),
    ("lib.zeros(0, 3)", "tensor([], size=(0, 3))"),
    ("lib.zeros(2, 0, dtype=lib.int64)", "tensor([], size=(2, 0), dtype=ferrograd.int64)"),
    (
        "lib.arange(2000)",
        "tensor([   0,    1,    2,  ..., 1997, 1998, 1999])",
    ),
    (
        "lib.arange(1000.0, 3000.0).reshape(40, 50)",
        "tensor([[1000., 1001., 1002.,  ..., 1047., 1048., 1049.],\n"
        "        [1050., 1051., 1052.,  ..., 1097., 1098., 1099.],\n"
        "        [1100., 1101., 1102.,  ..., 1147., 1148., 1149.],\n"
        "        ...,\n"
        "        [2850., 2851., 2852.,  ..., 2897., 2898., 2899.],\n"
        "        [2900., 2901., 2902.,  ..., 2947., 2948., 2949.],\n"
        "        [2950., 2951., 2952.,  ..., 2997., 2998., 2999.]])",
    ),
    (
        # max/min > 1000: scientific notation, and rows wrap at 80 columns
        "lib.arange(1200.0).reshape(12, 100)",
        "tensor([[0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 9.7000e+01, 9.8000e+01,\n"
        "         9.9000e+01],\n"
        "        [1.0000e+02, 1.0100e+02, 1.0200e+02,  ..., 1.9700e+02, 1.9800e+02,\n"
        "         1.9900e+02],\n"
        "        [2.0000e+02, 2.0100e+02, 2.0200e+02,  ..., 2.9700e+02, 2.9800e+02,\n"
        "         2.9900e+02],\n"
        "        ...,\n"
        "        [9.0000e+02, 9.0100e+02, 9.0200e+02,  ..., 9.9700e+02, 9.9800e+02,\n"
        "         9.9900e+02],\n"
        "        [1.0000e+03, 1.0010e+03, 1.0020e+03,  ..., 1.0970e+03, 1.0980e+03,\n"
        "         1.0990e+03],\n"
        "        [1.1000e+03, 1.1010e+03, 1.1020e+03,  ..., 1.1970e+03, 1.1980e+03,\n"
        "         1.1990e+03]])",
    ),
    ("lib.ones(2, requires_grad=True)", "tensor([1., 1.], requires_grad=True)"),
    (
        "lib.ones(2, 2, requires_grad=True) + 2",
        "tensor([[3., 3.],\n        [3., 3.]], grad_fn=<AddBackward0>)",
    ),
    (
        "lib.ones(2, dtype=lib.float64, requires_grad=True) * 3",
        "tensor([3., 3.], dtype=ferrograd.float64, grad_fn=<MulBackward0>)",
    ),
    ("lib.ones(2, requires_grad=True).sum()", "tensor(2., grad_fn=<SumBackward0>)"),
    ("lib.ones(2, 2, requires_grad=True).mean()", "tensor(1., grad_fn=<MeanBackward0>)"),
    ("lib.tensor([[1, 2], [3, 4]]).t()", "tensor([[1, 3],\n        [2, 4]])"),
    ("lib.float32", "ferrograd.float32"),
    ("lib.float64", "ferrograd.float64"),
    ("lib.int64", "ferrograd.int64"),
    ("lib.bool", "ferrograd.bool"),
    ("lib.float", "ferrograd.float32"),
    ("lib.double", "ferrograd.float64"),
    ("lib.long", "ferrograd.int64"),
    ("lib.ones(2, 2).shape", "ferrograd.Size([2, 2])"),
    ("lib.ones(2, 3).size()", "ferrograd.Size([2, 3])"),
    ("lib.tensor(1.0).shape", "ferrograd.Size([])"),
    ("lib.ones(2, 3).dtype", "ferrograd.float32"),
]


@pytest.mark.parametrize("expr, expected", FIXED, ids=[e for e, _ in FIXED])
def test_repr_and_str_fixed(expr, expected):
    value = eval(expr, {"lib": ferrograd})
    assert repr(value) == expected
    assert str(value) == expected


def test_print_writes_the_repr(capsys):
    print(ferrograd.ones(2, 2, requires_grad=True) + 2)
    assert capsys.readouterr().out == (
        "tensor([[3., 3.],\n        [3., 3.]], grad_fn=<AddBackward0>)\n"
    )


def test_dtype_aliases_are_the_same_objects():
    assert ferrograd.float is ferrograd.float32
    assert ferrograd.double is ferrograd.float64
    assert ferrograd.long is ferrograd.int64
    assert ferrograd.ones(1).dtype is ferrograd.float32
    assert ferrograd.ones(1, dtype=ferrograd.double).dtype is ferrograd.float64


def test_grad_fn_repr():
    y = ferrograd.ones(2, requires_grad=True) + 1
    assert re.fullmatch(r"<AddBackward0 object at 0x[0-9a-f]+>", repr(y.grad_fn))
    assert re.fullmatch(r"<AddBackward0 object at 0x[0-9a-f]+>", str(y.grad_fn))
    acc = y.grad_fn.next_functions[0][0]
    assert re.fullmatch(r"<AccumulateGrad object at 0x[0-9a-f]+>", repr(acc))


def test_size_is_a_tuple():
    s = ferrograd.ones(2, 3).shape
    assert s == (2, 3) and isinstance(s, tuple)
    assert repr(s[1:]) == "ferrograd.Size([3])"
    assert s.numel() == 6


def test_format_of_a_zero_dim_tensor():
    t = ferrograd.tensor(3.14159)
    assert f"{t:.2f}" == "3.14"
    assert f"{t}" == "tensor(3.1416)"


# ---- parity with PyTorch ----------------------------------------------------------------------

DATA_2X3X4 = [
    [[0.1257, -0.1321, 0.6404, 0.1049], [-0.5357, 0.3616, 1.304, 0.9471]],
    [[-0.7037, -1.2654, -0.6233, 0.0413], [-2.325, -0.2188, -1.2459, -0.7323]],
    [[-0.5443, -0.3163, 0.4116, 1.0425], [-0.1285, 1.3665, -0.6652, 0.3515]],
]
PARITY = [
    # 0-d
    "lib.tensor(3.5)",
    "lib.tensor(-7)",
    "lib.tensor(False)",
    "lib.tensor(1e-7)",
    "lib.tensor(123456789.0)",
    "lib.tensor(2.5, dtype=lib.float64)",
    "lib.tensor(0.1, dtype=lib.float64) * 3",
    # 1-d
    "lib.tensor([1.5, -2.25, 3.0])",
    "lib.tensor([1.0, 2.0, 3.0])",
    "lib.tensor([1, -22, 333])",
    "lib.tensor([True, False, True])",
    "lib.tensor([1e-3, 123.456])",
    "lib.tensor([-0.0, 0.0])",
    "lib.tensor([123456789.0, 1.0])",
    "lib.tensor([1e-10])",
    "lib.tensor([0.001, 0.01])",
    "lib.tensor([1e8, 1.0])",
    "lib.tensor([1e9, -1.0])",
    "lib.tensor([float('nan'), 1.5, float('inf')])",
    "lib.tensor([float('nan')])",
    "lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64) / 7",
    # 2-d to 4-d
    "lib.tensor(DATA).reshape(6, 4)",
    "lib.tensor(DATA)",
    "lib.tensor(DATA, dtype=lib.float64).reshape(3, 2, 2, 2)",
    "lib.tensor(DATA).reshape(2, 3, 2, 2) * 1000",
    "lib.arange(24).reshape(2, 3, 4)",
    "lib.arange(24).reshape(1, 2, 3, 4) - 12",
    "lib.tensor(DATA).reshape(4, 6) > 0",
    "lib.tensor(DATA).reshape(2, 2, 2, 3).transpose(1, 3)",
    "lib.ones(1, 3).expand(2, 3)",
    # empty
    "lib.tensor([])",
    "lib.zeros(0, 3)",
    "lib.zeros(2, 0, 1, dtype=lib.float64)",
    "lib.zeros(0, dtype=lib.bool)",
    # summarised
    "lib.arange(1001.0)",
    "lib.arange(2000)",
    "lib.arange(3000, dtype=lib.float64).reshape(10, 10, 30)",
    "lib.zeros(1000, dtype=lib.bool)",
    "lib.arange(5000.0).reshape(5, 1000) / 7",
    "lib.arange(2000.0).reshape(2, 1000) * 1e6",
    "lib.arange(4096).reshape(8, 8, 8, 8)",
    # scientific notation
    "lib.tensor([1e-5, 1.0, 1e5])",
    "lib.tensor([1e10, 2e10])",
    "lib.tensor([0.1, 100000.0])",
    "lib.tensor([[1e-4, 1.0], [2.0, 3e4]], dtype=lib.float64)",
    "lib.tensor(1e20)",
    "lib.tensor([-1e-8, 5.0])",
    # autograd suffixes
    "lib.ones(2, 2, requires_grad=True)",
    "lib.ones(2, 2, requires_grad=True) + 2",
    "lib.ones(2, dtype=lib.float64, requires_grad=True) * 3",
    "lib.ones(2, requires_grad=True).sum()",
    "lib.ones(3, requires_grad=True).exp()",
    "(lib.ones(2, 2, requires_grad=True) * 2).t()",
    "lib.ones(2, 2, requires_grad=True).detach()",
    "lib.zeros(0, 2, requires_grad=True)",
    "lib.tensor(DATA, requires_grad=True).reshape(4, 6) * 1000",
    # dtypes and sizes
    "lib.float32",
    "lib.float64",
    "lib.int64",
    "lib.bool",
    "lib.float",
    "lib.double",
    "lib.long",
    "lib.ones(2, 2).shape",
    "lib.ones(2, 3, 4).size()",
    "lib.tensor(1.0).shape",
    "lib.zeros(0, 5).shape",
    "lib.ones(2, 3, dtype=lib.float64).dtype",
    "lib.tensor([1, 2]).dtype",
    "lib.tensor([True]).dtype",
    "(lib.tensor([1, 2]) / 2).dtype",
]


@pytest.mark.parametrize("expr", PARITY)
def test_repr_and_str_match_torch(expr):
    torch = pytest.importorskip("torch")
    ours = eval(expr, {"lib": ferrograd, "DATA": DATA_2X3X4})
    theirs = eval(expr, {"lib": torch, "DATA": DATA_2X3X4})
    assert repr(ours) == repr(theirs).replace("torch.", "ferrograd.")
    assert str(ours) == str(theirs).replace("torch.", "ferrograd.")


@pytest.mark.parametrize("expr, expected", FIXED, ids=[e for e, _ in FIXED])
def test_fixed_expectations_are_torchs(expr, expected):
    torch = pytest.importorskip("torch")
    assert repr(eval(expr, {"lib": torch})).replace("torch.", "ferrograd.") == expected


def test_printoptions_match_torch():
    torch = pytest.importorskip("torch")
    data = [[1.123456789, -2.5, 1000.25], [3.0, 4.5, -0.001]]
    for options in ({"precision": 2}, {"sci_mode": True}, {"threshold": 5, "edgeitems": 1}):
        with torch._tensor_str.printoptions(**options), ferrograd.printoptions(**options):
            assert repr(ferrograd.tensor(data)) == repr(torch.tensor(data))
    assert repr(ferrograd.tensor(data)) == repr(torch.tensor(data))
