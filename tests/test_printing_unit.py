"""Unit tests for ferrograd._tensor_str (PyTorch-identical tensor printing).

The module under test is pure Python; it is exercised here through a small
numpy-backed fake tensor that implements exactly the interface the Rust core
provides.  Fixed expected strings always run; the parity tests against real
PyTorch run only where ``torch`` is importable.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import pathlib
import sys

import numpy as np
import pytest


def _load_tensor_str():
    try:
        return importlib.import_module("ferrograd._tensor_str")
    except ImportError:
        path = (
            pathlib.Path(__file__).resolve().parents[1] / "python" / "ferrograd" / "_tensor_str.py"
        )
        spec = importlib.util.spec_from_file_location("_ferrograd_tensor_str", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module


ts = _load_tensor_str()


# --------------------------------------------------------------------------
# numpy-backed fake tensor implementing the interface used by _tensor_str
# --------------------------------------------------------------------------

_NP_TO_NAME = {
    np.dtype(np.float32): "float32",
    np.dtype(np.float64): "float64",
    np.dtype(np.int64): "int64",
    np.dtype(np.bool_): "bool",
}


class FakeDtype:
    def __init__(self, name: str) -> None:
        self.name = name

    def __str__(self) -> str:
        return f"ferrograd.{self.name}"

    __repr__ = __str__

    @property
    def is_floating_point(self) -> bool:
        return self.name in ("float32", "float64")


class FakeGradFn:
    def __init__(self, name: str) -> None:
        self._name = name

    def name(self) -> str:
        return self._name


class FakeTensor:
    def __init__(self, data, dtype=None, requires_grad=False, grad_fn=None):
        keep_dtype = dtype is not None or isinstance(data, (np.ndarray, np.generic))
        arr = np.asarray(data, dtype=dtype)
        if not keep_dtype and arr.dtype.kind == "f":
            arr = arr.astype(np.float32)  # Python floats default to float32
        elif arr.dtype not in _NP_TO_NAME:
            arr = arr.astype(np.float32 if arr.dtype.kind == "f" else np.int64)
        self._arr = arr
        self.dtype = FakeDtype(_NP_TO_NAME[arr.dtype])
        self.requires_grad = requires_grad or grad_fn is not None
        self.grad_fn = FakeGradFn(grad_fn) if isinstance(grad_fn, str) else grad_fn

    @property
    def shape(self):
        return tuple(self._arr.shape)

    def numel(self) -> int:
        return int(self._arr.size)

    def dim(self) -> int:
        return self._arr.ndim

    def tolist(self):
        return self._arr.tolist()

    def _summarized_list(self, edgeitems: int):
        arr = self._arr
        for axis, n in enumerate(arr.shape):
            if n > 2 * edgeitems:
                keep = list(range(edgeitems)) + list(range(n - edgeitems, n))
                arr = arr.take(keep, axis=axis)
        return arr.tolist()


def r(data, dtype=None, **kwargs) -> str:
    return ts.tensor_repr(FakeTensor(data, dtype, **kwargs))


@pytest.fixture(autouse=True)
def _default_options():
    ts.set_printoptions(profile="default")
    yield
    ts.set_printoptions(profile="default")


# --------------------------------------------------------------------------
# fixed expectations
# --------------------------------------------------------------------------


def test_autograd_tutorial_outputs():
    assert r(np.ones((2, 2)), np.float32, requires_grad=True) == (
        "tensor([[1., 1.],\n        [1., 1.]], requires_grad=True)"
    )
    assert r([[3.0, 3.0], [3.0, 3.0]], grad_fn="AddBackward0") == (
        "tensor([[3., 3.],\n        [3., 3.]], grad_fn=<AddBackward0>)"
    )
    assert r(27.0, grad_fn="MeanBackward0") == "tensor(27., grad_fn=<MeanBackward0>)"
    assert (
        r(np.full((2, 2), 4.5), np.float32)
        == "tensor([[4.5000, 4.5000],\n        [4.5000, 4.5000]])"
    )
    assert r([102.4, 1024.0, 0.1024]) == "tensor([1.0240e+02, 1.0240e+03, 1.0240e-01])"
    assert r([-863.3226, 941.6025, 34.9647], grad_fn="MulBackward0") == (
        "tensor([-863.3226,  941.6025,   34.9647], grad_fn=<MulBackward0>)"
    )
    assert r(True) == "tensor(True)"


def test_scalars():
    assert r(0.1) == "tensor(0.1000)"
    assert r(1.0) == "tensor(1.)"
    assert r(0.0) == "tensor(0.)"
    assert r(-0.0) == "tensor(-0.)"
    assert r(1e-5) == "tensor(1.0000e-05)"
    assert r(123456789.0) == "tensor(1.2346e+08)"
    assert r(1e8) == "tensor(100000000.)"
    assert r(3.14159, np.float64) == "tensor(3.1416, dtype=ferrograd.float64)"
    assert r(5) == "tensor(5)"
    assert r(-7, np.int64) == "tensor(-7)"
    assert r(False) == "tensor(False)"
    assert r(math.nan) == "tensor(nan)"
    assert r(-math.inf) == "tensor(-inf)"


def test_float32_values_round_through_float32():
    # 0.1 stored as float32 is 0.100000001490116...; 16777217 becomes 16777216
    assert r([0.1, 0.2, 0.3]) == "tensor([0.1000, 0.2000, 0.3000])"
    assert r([16777217.0]) == "tensor([16777216.])"
    assert r([16777217.0], np.float64) == ("tensor([16777217.], dtype=ferrograd.float64)")
    assert r([2.5, 0.125]) == "tensor([2.5000, 0.1250])"


def test_int_mode_and_widths():
    assert r([1.0, 2.0, 3.0]) == "tensor([1., 2., 3.])"
    assert r([-1.0, 20.0, 300.0]) == "tensor([ -1.,  20., 300.])"
    assert r([1.0, 1001.0]) == "tensor([1.0000e+00, 1.0010e+03])"
    assert r([1.0, 1000.0]) == "tensor([   1., 1000.])"
    assert r([2e8, 3e8]) == "tensor([2.0000e+08, 3.0000e+08])"


def test_sci_mode_thresholds():
    assert r([1e-4, 2e-4]) == "tensor([1.0000e-04, 2.0000e-04])"
    assert r([0.5, 1e-4]) == "tensor([5.0000e-01, 1.0000e-04])"
    assert r([0.001, 0.5]) == "tensor([0.0010, 0.5000])"
    assert r([1.5, 2000.0]) == "tensor([1.5000e+00, 2.0000e+03])"
    assert r([1.5, 1000.5]) == "tensor([   1.5000, 1000.5000])"
    assert r([-1.5, 1000.5]) == "tensor([  -1.5000, 1000.5000])"


def test_nan_inf_and_zero():
    assert r([math.nan, 1.0]) == "tensor([nan, 1.])"
    assert r([0.0, math.nan]) == "tensor([0., nan])"
    assert r([math.inf, -math.inf, math.nan]) == "tensor([inf, -inf, nan])"
    assert r([1.5, math.inf]) == "tensor([1.5000,    inf])"
    assert r([1.5, -math.inf, math.nan]) == "tensor([1.5000,   -inf,    nan])"
    assert r([1e-8, math.nan]) == "tensor([1.0000e-08,        nan])"
    assert r([0.0, -0.0]) == "tensor([0., -0.])"
    # -0.0 is skipped when choosing the width, so it may overflow it
    assert r([-0.0, 2.5]) == "tensor([-0.0000, 2.5000])"
    assert r([0.0, 0.0, 0.0]) == "tensor([0., 0., 0.])"
    assert r([1.0, math.nan], np.float64) == ("tensor([1., nan], dtype=ferrograd.float64)")


def test_int_and_bool_tensors():
    assert r([1, 2, 3]) == "tensor([1, 2, 3])"
    assert r([-1, 10, 200]) == "tensor([ -1,  10, 200])"
    assert r([[1, -2], [30, 4]]) == "tensor([[ 1, -2],\n        [30,  4]])"
    assert r([True, False, True]) == "tensor([ True, False,  True])"
    assert r([True, True]) == "tensor([True, True])"
    assert r([[True], [False]]) == "tensor([[ True],\n        [False]])"
    big = 2**62
    assert r([big, -1]) == f"tensor([{big},                  -1])"


def test_higher_dims():
    a = np.arange(12, dtype=np.float32).reshape(2, 3, 2)
    assert r(a) == (
        "tensor([[[ 0.,  1.],\n"
        "         [ 2.,  3.],\n"
        "         [ 4.,  5.]],\n"
        "\n"
        "        [[ 6.,  7.],\n"
        "         [ 8.,  9.],\n"
        "         [10., 11.]]])"
    )
    b = np.arange(8, dtype=np.int64).reshape(2, 1, 2, 2)
    assert r(b) == (
        "tensor([[[[0, 1],\n          [2, 3]]],\n\n\n        [[[4, 5],\n          [6, 7]]]])"
    )
    assert r(np.zeros((1, 1, 1, 1, 1), np.float32)) == "tensor([[[[[0.]]]]])"


def test_long_rows_wrap():
    a = np.arange(30, dtype=np.float32) + 0.5
    assert r(a) == (
        "tensor([ 0.5000,  1.5000,  2.5000,  3.5000,  4.5000,  5.5000,  6.5000,  7.5000,\n"
        "         8.5000,  9.5000, 10.5000, 11.5000, 12.5000, 13.5000, 14.5000, 15.5000,\n"
        "        16.5000, 17.5000, 18.5000, 19.5000, 20.5000, 21.5000, 22.5000, 23.5000,\n"
        "        24.5000, 25.5000, 26.5000, 27.5000, 28.5000, 29.5000])"
    )
    b = np.arange(40, dtype=np.int64)
    assert r(b) == (
        "tensor([ 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15, 16, 17,\n"
        "        18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35,\n"
        "        36, 37, 38, 39])"
    )
    c = np.arange(12, dtype=np.float32).reshape(1, 12) + 0.5
    assert r(c) == (
        "tensor([[ 0.5000,  1.5000,  2.5000,  3.5000,  4.5000,  5.5000,  6.5000,  7.5000,\n"
        "          8.5000,  9.5000, 10.5000, 11.5000]])"
    )


def test_summarized():
    assert r(np.arange(2000, dtype=np.float32)) == (
        "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n"
        "        1.9990e+03])"
    )
    assert r(np.arange(2000, dtype=np.int64)) == (
        "tensor([   0,    1,    2,  ..., 1997, 1998, 1999])"
    )
    assert r(np.ones(1001, np.float32)) == "tensor([1., 1., 1.,  ..., 1., 1., 1.])"
    assert r(np.ones(1000, np.float32)).count("...") == 0
    assert r(np.arange(2000, dtype=np.float32).reshape(40, 50)) == (
        "tensor([[0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 4.7000e+01, 4.8000e+01,\n"
        "         4.9000e+01],\n"
        "        [5.0000e+01, 5.1000e+01, 5.2000e+01,  ..., 9.7000e+01, 9.8000e+01,\n"
        "         9.9000e+01],\n"
        "        [1.0000e+02, 1.0100e+02, 1.0200e+02,  ..., 1.4700e+02, 1.4800e+02,\n"
        "         1.4900e+02],\n"
        "        ...,\n"
        "        [1.8500e+03, 1.8510e+03, 1.8520e+03,  ..., 1.8970e+03, 1.8980e+03,\n"
        "         1.8990e+03],\n"
        "        [1.9000e+03, 1.9010e+03, 1.9020e+03,  ..., 1.9470e+03, 1.9480e+03,\n"
        "         1.9490e+03],\n"
        "        [1.9500e+03, 1.9510e+03, 1.9520e+03,  ..., 1.9970e+03, 1.9980e+03,\n"
        "         1.9990e+03]])"
    )
    big = (np.arange(8 * 3 * 50) % 7).reshape(8, 3, 50).astype(np.float32)
    assert r(big) == (
        "tensor([[[0., 1., 2.,  ..., 5., 6., 0.],\n"
        "         [1., 2., 3.,  ..., 6., 0., 1.],\n"
        "         [2., 3., 4.,  ..., 0., 1., 2.]],\n"
        "\n"
        "        [[3., 4., 5.,  ..., 1., 2., 3.],\n"
        "         [4., 5., 6.,  ..., 2., 3., 4.],\n"
        "         [5., 6., 0.,  ..., 3., 4., 5.]],\n"
        "\n"
        "        [[6., 0., 1.,  ..., 4., 5., 6.],\n"
        "         [0., 1., 2.,  ..., 5., 6., 0.],\n"
        "         [1., 2., 3.,  ..., 6., 0., 1.]],\n"
        "\n"
        "        ...,\n"
        "\n"
        "        [[1., 2., 3.,  ..., 6., 0., 1.],\n"
        "         [2., 3., 4.,  ..., 0., 1., 2.],\n"
        "         [3., 4., 5.,  ..., 1., 2., 3.]],\n"
        "\n"
        "        [[4., 5., 6.,  ..., 2., 3., 4.],\n"
        "         [5., 6., 0.,  ..., 3., 4., 5.],\n"
        "         [6., 0., 1.,  ..., 4., 5., 6.]],\n"
        "\n"
        "        [[0., 1., 2.,  ..., 5., 6., 0.],\n"
        "         [1., 2., 3.,  ..., 6., 0., 1.],\n"
        "         [2., 3., 4.,  ..., 0., 1., 2.]]])"
    )


def test_summary_formatter_only_sees_shown_values():
    a = np.ones(2000, dtype=np.float32)
    a[1000] = 0.5  # hidden by the summary, so it must not switch notation
    assert r(a) == "tensor([1., 1., 1.,  ..., 1., 1., 1.])"


def test_empty_tensors():
    assert r(np.zeros(0, np.float32)) == "tensor([])"
    assert r(np.zeros((0, 3), np.float32)) == "tensor([], size=(0, 3))"
    assert r(np.zeros((2, 0, 4), np.float32)) == "tensor([], size=(2, 0, 4))"
    assert r(np.zeros(0, np.int64)) == "tensor([], dtype=ferrograd.int64)"
    assert r(np.zeros(0, np.bool_)) == "tensor([], dtype=ferrograd.bool)"
    assert r(np.zeros((3, 0), np.float64)) == ("tensor([], size=(3, 0), dtype=ferrograd.float64)")
    assert r(np.zeros(0, np.float32), requires_grad=True) == ("tensor([], requires_grad=True)")


def test_float64_and_grad_suffixes():
    assert r([1.0, 2.0], np.float64) == "tensor([1., 2.], dtype=ferrograd.float64)"
    assert r([1.0, 2.0], np.float64, requires_grad=True) == (
        "tensor([1., 2.], dtype=ferrograd.float64, requires_grad=True)"
    )
    assert r([1.0], np.float64, grad_fn="MulBackward0") == (
        "tensor([1.], dtype=ferrograd.float64, grad_fn=<MulBackward0>)"
    )
    # grad_fn wins over requires_grad
    assert r([1.0], grad_fn="SumBackward0") == "tensor([1.], grad_fn=<SumBackward0>)"
    assert r([1.0], grad_fn="torch::autograd::CopySlices") == ("tensor([1.], grad_fn=<CopySlices>)")


def test_suffix_wraps_to_new_line():
    a = np.arange(8, dtype=np.float64) + 0.5
    assert r(a, requires_grad=True) == (
        "tensor([0.5000, 1.5000, 2.5000, 3.5000, 4.5000, 5.5000, 6.5000, 7.5000],\n"
        "       dtype=ferrograd.float64, requires_grad=True)"
    )
    b = np.arange(10, dtype=np.float32) + 0.5
    assert r(b, grad_fn="AddBackward0") == (
        "tensor([0.5000, 1.5000, 2.5000, 3.5000, 4.5000, 5.5000, 6.5000, 7.5000, 8.5000,\n"
        "        9.5000], grad_fn=<AddBackward0>)"
    )
    c = np.arange(9, dtype=np.float64) + 0.5
    assert r(c, grad_fn="AddBackward0") == (
        "tensor([0.5000, 1.5000, 2.5000, 3.5000, 4.5000, 5.5000, 6.5000, 7.5000, 8.5000],\n"
        "       dtype=ferrograd.float64, grad_fn=<AddBackward0>)"
    )
    ts.set_printoptions(linewidth=30)
    assert r([0.5, 1.5], np.float64, requires_grad=True) == (
        "tensor([0.5000, 1.5000],\n       dtype=ferrograd.float64,\n       requires_grad=True)"
    )


def test_printoptions_api():
    assert ts.get_printoptions() == {
        "precision": 4,
        "threshold": 1000,
        "edgeitems": 3,
        "linewidth": 80,
        "sci_mode": None,
    }
    ts.set_printoptions(precision=2)
    assert r([1.12345]) == "tensor([1.12])"
    ts.set_printoptions(threshold=5)
    assert r(np.arange(10)) == "tensor([0, 1, 2,  ..., 7, 8, 9])"
    # precision is kept: only sci_mode resets when not given
    assert ts.get_printoptions()["precision"] == 2
    ts.set_printoptions(profile="default")
    assert r([1.12345]) == "tensor([1.1235])"
    assert r(np.arange(10)) == "tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])"

    ts.set_printoptions(profile="short")
    assert ts.get_printoptions()["precision"] == 2
    assert ts.get_printoptions()["edgeitems"] == 2
    assert r(np.arange(2000)) == "tensor([   0,    1,  ..., 1998, 1999])"
    ts.set_printoptions(profile="full")
    assert ts.get_printoptions()["threshold"] == math.inf
    assert "..." not in r(np.arange(2000))

    ts.set_printoptions(profile="default", sci_mode=True)
    assert r([1.5, 2.5]) == "tensor([1.5000e+00, 2.5000e+00])"
    assert r([1.0, 2.0]) == "tensor([1.0000e+00, 2.0000e+00])"
    assert r([0.0, math.nan]) == "tensor([0., nan])"  # nothing finite & nonzero
    ts.set_printoptions(sci_mode=False)
    assert r([1e-8, 1.0]) == "tensor([0.0000, 1.0000])"
    assert r([1.0, 1e9]) == "tensor([         1., 1000000000.])"
    ts.set_printoptions()
    assert ts.get_printoptions()["sci_mode"] is None

    ts.set_printoptions(linewidth=30)
    assert r(np.arange(6.0) + 0.5, np.float32) == (
        "tensor([0.5000, 1.5000,\n        2.5000, 3.5000,\n        4.5000, 5.5000])"
    )

    with ts.printoptions(precision=1):
        assert r([0.25]) == "tensor([0.2])"
    assert ts.get_printoptions()["precision"] == 4


def test_edgeitems_zero():
    ts.set_printoptions(edgeitems=0, threshold=5)
    assert r(np.arange(10.0).reshape(2, 5), np.float32) == "tensor([...], size=(2, 5))"
    assert r(np.arange(10.0), np.float32) == "tensor([...], size=(10,))"
    assert r(np.arange(3.0), np.float32) == "tensor([0., 1., 2.], size=(3,))"


# --------------------------------------------------------------------------
# parity with PyTorch (skipped when torch is not installed)
# --------------------------------------------------------------------------


def _torch_repr(torch, arr, requires_grad=False, grad=False):
    t = torch.from_numpy(np.array(arr, copy=True))
    if requires_grad or grad:
        t.requires_grad_(True)
    if grad:
        t = t * 1
    return repr(t).replace("torch.", "ferrograd.")


def _fake_repr(arr, requires_grad=False, grad=False):
    fake = FakeTensor(arr)
    if requires_grad or grad:
        fake.requires_grad = True
    if grad:
        fake.grad_fn = FakeGradFn("MulBackward0")
    return ts.tensor_repr(fake)


@pytest.fixture
def torch_mod():
    torch = pytest.importorskip("torch")
    torch.set_printoptions(profile="default")
    yield torch
    torch.set_printoptions(profile="default")


_SPECIAL = np.array(
    [0.0, -0.0, np.nan, np.inf, -np.inf, 1e-30, -1e-5, 1e-4, 9.99e-5, 1e8, 1.0001e8]
)


def _make_array(rng, shape, dtype, regime):
    size = int(np.prod(shape)) if shape else 1
    if dtype == np.bool_:
        return rng.random(size).reshape(shape) < 0.5
    if dtype == np.int64:
        hi = {0: 10, 1: 1000, 2: 10**6, 3: 2**62}[regime % 4]
        return rng.integers(-hi, hi, size=size, dtype=np.int64).reshape(shape)
    if regime == 0:  # small integers
        vals = rng.integers(-20, 20, size=size).astype(np.float64)
    elif regime == 1:  # uniform
        vals = rng.standard_normal(size) * 10.0 ** rng.integers(-3, 4)
    elif regime == 2:  # wide range of magnitudes
        vals = rng.standard_normal(size) * 10.0 ** rng.integers(-40, 40, size=size)
    elif regime == 3:  # tiny
        vals = rng.standard_normal(size) * 1e-6
    elif regime == 4:  # huge integers
        vals = rng.integers(-(10**12), 10**12, size=size).astype(np.float64)
    elif regime == 5:  # integers with ratio near 1000
        vals = rng.choice([1.0, 999.0, 1000.0, 1001.0, -2.0], size=size)
    else:  # mix with specials
        vals = rng.standard_normal(size) * 100
        mask = rng.random(size) < 0.3
        vals[mask] = rng.choice(_SPECIAL, size=int(mask.sum()))
    with np.errstate(over="ignore"):  # huge values may become inf in float32
        return vals.astype(dtype).reshape(shape)


try:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError:  # pragma: no cover - hypothesis is a test dependency
    given = None

if given is not None:
    _dims = st.integers(0, 5)
    _shapes = st.one_of(
        st.lists(_dims, min_size=0, max_size=4).map(tuple),
        st.sampled_from([(2000,), (1001,), (1000,), (40, 50), (7, 7, 21), (3, 8, 9, 7), (0, 2000)]),
        st.tuples(st.integers(6, 80)),
        st.tuples(st.integers(1, 3), st.integers(6, 40)),
    )
    _dtypes = st.sampled_from([np.float32, np.float64, np.int64, np.bool_])
    _options = st.fixed_dictionaries(
        {},
        optional={
            "precision": st.integers(0, 8),
            "threshold": st.sampled_from([0, 5, 50, 1000, 3000]),
            "edgeitems": st.integers(0, 4),
            "linewidth": st.integers(10, 200),
            "sci_mode": st.sampled_from([None, True, False]),
        },
    )

    _parity_settings = settings(
        max_examples=400,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )

    @_parity_settings
    @given(
        shape=_shapes,
        dtype=_dtypes,
        regime=st.integers(0, 6),
        seed=st.integers(0, 2**32 - 1),
        autograd=st.sampled_from(["none", "requires_grad", "grad_fn"]),
    )
    def test_parity_random_arrays(torch_mod, shape, dtype, regime, seed, autograd):
        arr = _make_array(np.random.default_rng(seed), shape, dtype, regime)
        floating = arr.dtype.kind == "f"
        requires_grad = floating and autograd == "requires_grad"
        grad = floating and autograd == "grad_fn"
        assert _fake_repr(arr, requires_grad, grad) == _torch_repr(
            torch_mod, arr, requires_grad, grad
        )

    @_parity_settings
    @given(
        arr=hnp.arrays(
            dtype=st.sampled_from([np.float32, np.float64]),
            shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5),
            elements=st.floats(width=32),
        )
    )
    def test_parity_hypothesis_floats(torch_mod, arr):
        assert _fake_repr(arr) == _torch_repr(torch_mod, arr)

    @_parity_settings
    @given(
        shape=_shapes,
        dtype=_dtypes,
        regime=st.integers(0, 6),
        seed=st.integers(0, 2**32 - 1),
        options=_options,
        grad=st.booleans(),
    )
    def test_parity_print_options(torch_mod, shape, dtype, regime, seed, options, grad):
        arr = _make_array(np.random.default_rng(seed), shape, dtype, regime)
        grad = grad and arr.dtype.kind == "f"
        try:
            torch_mod.set_printoptions(**options)
            ts.set_printoptions(**options)
            assert ts.get_printoptions() == torch_mod._tensor_str.get_printoptions()
            assert _fake_repr(arr, grad=grad) == _torch_repr(torch_mod, arr, grad=grad)
        finally:
            torch_mod.set_printoptions(profile="default")
            ts.set_printoptions(profile="default")


@pytest.mark.parametrize(
    "arr",
    [
        np.float32(0.1),
        np.array([102.4, 1024.0, 0.1024], dtype=np.float32),
        np.array([-863.3226, 941.6025, 34.9647], dtype=np.float32),
        np.arange(8, dtype=np.float64) + 0.5,
        np.arange(9, dtype=np.float64) + 0.5,
        np.arange(10, dtype=np.float32) + 0.5,
        np.arange(2000, dtype=np.float32).reshape(40, 50),
        np.zeros((0, 3), dtype=np.float32),
        np.zeros((0,), dtype=np.float64),
        np.array(np.nan, dtype=np.float64),
    ],
)
@pytest.mark.parametrize("autograd", ["none", "requires_grad", "grad_fn"])
def test_parity_autograd_suffixes(torch_mod, arr, autograd):
    arr = np.asarray(arr)
    requires_grad = autograd == "requires_grad"
    grad = autograd == "grad_fn"
    assert _fake_repr(arr, requires_grad, grad) == _torch_repr(torch_mod, arr, requires_grad, grad)
