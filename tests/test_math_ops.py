"""Property tests of pointwise math, activations, comparisons and logic
(``src/ops/{arith,unary,pointwise}.rs``), in the style of ``test_ops_properties.py``.

A REGISTRY of op specs drives three generic Hypothesis tests: float64 gradcheck against
central differences, forward values against NumPy, and parity with PyTorch (values, grads,
result dtype, shape, ``grad_fn.name()``; skipped without torch). Explicit tables follow for
integer and bool dtypes, edge values (zeros, infinities, NaN, ties), errors (exception type
and message, compared with torch), in-place forms and second derivatives.

Op functions take the library module first (``fn(L, *xs, **params)``, ``L`` ferrograd or
torch); ``act(L, name)`` finds an activation in ``torch.nn.functional`` or in
``ferrograd._math`` (ferrograd has no ``nn.functional`` yet).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable

import ferrograd
import numpy as np
import pytest
from helpers import (
    apply_layout,
    assert_close,
    dtype_name,
    from_numpy,
    gradcheck,
    gradgradcheck,
    layout_for,
    layout_shape,
    np_layout,
    result_dtype,
    sample,
    second_order,
    to_numpy,
)
from hypothesis import given, settings
from hypothesis import strategies as st

NAN, INF = float("nan"), float("inf")
TOL = {"float32": dict(rtol=2e-5, atol=2e-5), "float64": dict(rtol=1e-10, atol=1e-12)}


def _torch():
    return pytest.importorskip("torch")


def act(L, name):
    """An activation function: ``torch.nn.functional.<name>`` or ``ferrograd._math.<name>``."""
    if L is ferrograd:
        return getattr(ferrograd._math, name)
    return getattr(L.nn.functional, name)


def sample_in(rng, shape, domain):
    """``helpers.sample`` plus domains for this family: ``unit`` (|x| < 0.9, inside asin's
    domain), ``offint`` (at least 0.05 from an integer, where rounding is locally constant)
    and ``offhalf`` (at least 0.05 from a half-integer)."""
    if domain == "unit":
        return rng.uniform(-0.9, 0.9, size=shape)
    if domain == "grid":  # small integers as floats: ties and zeros are common
        return rng.integers(-2, 3, size=shape).astype(np.float64)
    if domain == "special":  # NaN and infinities among ordinary values
        return rng.choice([NAN, INF, -INF, 0.0, 1.5, -2.0], size=shape)
    if domain in ("offint", "offhalf"):
        a = rng.uniform(-3.0, 3.0, size=shape)
        shift = 0.0 if domain == "offint" else 0.5
        frac = (a - shift) - np.round(a - shift)
        return np.where(np.abs(frac) < 0.05, a + 0.1, a)
    return sample(rng, shape, domain)


# ---- NumPy references -------------------------------------------------------------------

_erf = np.vectorize(math.erf, otypes=[np.float64])


def np_gelu(x, approximate="none"):
    if approximate == "tanh":
        k = math.sqrt(2 / math.pi)
        return 0.5 * x * (1 + np.tanh(k * (x + 0.044715 * x**3)))
    return 0.5 * x * (1 + _erf(x / math.sqrt(2)))


def np_softplus(x, beta=1.0, threshold=20.0):
    with np.errstate(over="ignore"):
        return np.where(x * beta > threshold, x, np.log1p(np.exp(beta * x)) / beta)


def np_floor_divide(a, b):
    with np.errstate(all="ignore"):
        return np.floor_divide(a, b)


# ---- the registry -----------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    name: str
    fn: Callable  # fn(L, *tensors, **params)
    np_fn: Callable  # NumPy reference on float64 arrays
    arity: int = 1
    domain: tuple = ("any",)
    broadcast: bool = False  # the inputs broadcast against each other
    grad: bool = True  # take part in the finite-difference gradcheck
    params: Callable | None = None  # draws extra keyword arguments: params(draw, out_shape)
    out_dtype: str | None = None  # a fixed result dtype (bool for comparisons)

    def __post_init__(self):
        if len(self.domain) != self.arity:
            object.__setattr__(self, "domain", self.domain * self.arity)


def _unary(name, np_fn, domain="any", **kw):
    return Spec(name, lambda L, x: getattr(x, name)(), np_fn, domain=(domain,), **kw)


def _binary(name, fn, np_fn, domain=("any", "any"), **kw):
    return Spec(name, fn, np_fn, arity=2, domain=domain, broadcast=True, **kw)


def _cond(draw, shape):
    """A ``cond`` keyword: a bool array of ``shape`` (or a broadcastable trailing part)."""
    drop = draw(st.integers(0, len(shape)))
    sub = shape[drop:]
    seed = draw(st.integers(0, 2**16))
    return {"cond": np.random.default_rng(seed).random(sub) < 0.5}


REGISTRY = [
    # unary math: methods
    _unary("exp", np.exp),
    _unary("expm1", np.expm1),
    _unary("log", np.log, "positive"),
    _unary("log1p", np.log1p, "positive"),
    _unary("log2", np.log2, "positive"),
    _unary("log10", np.log10, "positive"),
    _unary("sqrt", np.sqrt, "positive"),
    _unary("rsqrt", lambda x: 1 / np.sqrt(x), "positive"),
    _unary("square", np.square),
    _unary("sin", np.sin),
    _unary("cos", np.cos),
    _unary("tan", np.tan, "small"),
    _unary("asin", np.arcsin, "unit"),
    _unary("acos", np.arccos, "unit"),
    _unary("atan", np.arctan),
    _unary("sinh", np.sinh),
    _unary("cosh", np.cosh),
    _unary("tanh", np.tanh),
    _unary("sigmoid", lambda x: 1 / (1 + np.exp(-x))),
    _unary("relu", lambda x: np.maximum(x, 0), "nonzero"),
    _unary("erf", _erf),
    _unary("floor", np.floor, "offint"),
    _unary("ceil", np.ceil, "offint"),
    _unary("trunc", np.trunc, "offint"),
    _unary("round", np.round, "offhalf"),
    _unary("frac", lambda x: x - np.trunc(x), "offint"),
    _unary("neg", np.negative),
    _unary("reciprocal", np.reciprocal, "nonzero"),
    _unary("abs", np.abs, "nonzero"),
    _unary("sign", np.sign, "nonzero"),
    # functional forms and aliases
    Spec("exp_fn", lambda L, x: L.exp(x), np.exp),
    Spec("sigmoid_fn", lambda L, x: L.sigmoid(x), lambda x: 1 / (1 + np.exp(-x))),
    Spec("relu_fn", lambda L, x: L.relu(x), lambda x: np.maximum(x, 0), domain=("nonzero",)),
    Spec("arctan_fn", lambda L, x: L.arctan(x), np.arctan),
    Spec(
        "round_decimals",
        lambda L, x: L.round(x * 100, decimals=-1),
        lambda x: np.round(x * 100, -1),
        domain=("offint",),
    ),
    Spec(
        "round_method_decimals",
        lambda L, x: x.round(decimals=2),
        lambda x: np.round(x, 2),
        domain=("small",),
    ),
    # activations
    Spec("gelu", lambda L, x: act(L, "gelu")(x), np_gelu),
    Spec(
        "gelu_tanh",
        lambda L, x: act(L, "gelu")(x, approximate="tanh"),
        lambda x: np_gelu(x, "tanh"),
    ),
    Spec("silu", lambda L, x: act(L, "silu")(x), lambda x: x / (1 + np.exp(-x))),
    Spec("softplus", lambda L, x: act(L, "softplus")(x), np_softplus),
    Spec(
        "softplus_beta",
        lambda L, x: act(L, "softplus")(x, beta=2.0, threshold=1.5),
        lambda x: np_softplus(x, 2.0, 1.5),
        domain=("nonzero",),
    ),
    Spec(
        "elu",
        lambda L, x: act(L, "elu")(x),
        lambda x: np.where(x > 0, x, np.expm1(x)),
        domain=("nonzero",),
    ),
    Spec(
        "elu_alpha",
        lambda L, x: act(L, "elu")(x, alpha=0.5),
        lambda x: np.where(x > 0, x, 0.5 * np.expm1(x)),
        domain=("nonzero",),
    ),
    Spec(
        "leaky_relu",
        lambda L, x: act(L, "leaky_relu")(x, 0.2),
        lambda x: np.where(x > 0, x, 0.2 * x),
        domain=("nonzero",),
    ),
    # in place (on a non-leaf copy)
    Spec("exp_", lambda L, x: x.clone().exp_(), np.exp),
    Spec("sin_", lambda L, x: x.clone().sin_(), np.sin),
    Spec("tanh_", lambda L, x: x.clone().tanh_(), np.tanh),
    Spec("sigmoid_", lambda L, x: L.sigmoid_(x.clone()), lambda x: 1 / (1 + np.exp(-x))),
    Spec("relu_", lambda L, x: L.relu_(x.clone()), lambda x: np.maximum(x, 0), domain=("nonzero",)),
    Spec("clamp_", lambda L, x: x.clone().clamp_(-0.5, 0.5), lambda x: np.clip(x, -0.5, 0.5)),
    Spec("abs_", lambda L, x: x.clone().abs_(), np.abs, domain=("nonzero",)),
    Spec("square_", lambda L, x: x.clone().square_(), np.square),
    Spec(
        "elu_inplace",
        lambda L, x: (
            act(L, "elu")(x.clone(), inplace=True)
            if L is not ferrograd
            else act(L, "elu_")(x.clone())
        ),
        lambda x: np.where(x > 0, x, np.expm1(x)),
        domain=("nonzero",),
    ),
    Spec(
        "leaky_relu_inplace",
        lambda L, x: (
            act(L, "leaky_relu")(x.clone(), 0.1, inplace=True)
            if L is not ferrograd
            else act(L, "leaky_relu_")(x.clone(), 0.1)
        ),
        lambda x: np.where(x > 0, x, 0.1 * x),
        domain=("nonzero",),
    ),
    # clamp with Python-number bounds
    Spec("clamp", lambda L, x: x.clamp(-0.5, 0.5), lambda x: np.clip(x, -0.5, 0.5)),
    Spec("clamp_min", lambda L, x: L.clamp(x, min=-0.5), lambda x: np.maximum(x, -0.5)),
    Spec("clamp_max", lambda L, x: x.clamp(max=0.5), lambda x: np.minimum(x, 0.5)),
    Spec("clamp_min_fn", lambda L, x: x.clamp_min(0.25), lambda x: np.maximum(x, 0.25)),
    Spec("clamp_max_fn", lambda L, x: L.clamp_max(x, 0.25), lambda x: np.minimum(x, 0.25)),
    Spec("clip", lambda L, x: L.clip(x, -1, 1), lambda x: np.clip(x, -1, 1)),
    # binary, broadcasting
    _binary("maximum", lambda L, x, y: L.maximum(x, y), np.maximum),
    _binary("minimum", lambda L, x, y: x.minimum(y), np.minimum),
    _binary("atan2", lambda L, x, y: L.atan2(x, y), np.arctan2, ("any", "nonzero")),
    _binary("remainder", lambda L, x, y: x % y, np.remainder, ("any", "positive")),
    _binary("remainder_fn", lambda L, x, y: L.remainder(x, y), np.remainder, ("any", "nonzero")),
    _binary(
        "div_floor",
        lambda L, x, y: L.div(x, y, rounding_mode="floor"),
        np_floor_divide,
        ("any", "nonzero"),
    ),
    _binary(
        "div_trunc",
        lambda L, x, y: x.div(y, rounding_mode="trunc"),
        lambda x, y: np.trunc(x / y),
        ("any", "nonzero"),
    ),
    _binary(
        "div_none", lambda L, x, y: x.div(y, rounding_mode=None), np.divide, ("any", "nonzero")
    ),
    _binary("true_divide", lambda L, x, y: L.true_divide(x, y), np.divide, ("any", "nonzero")),
    _binary(
        "floor_divide", lambda L, x, y: x // y, np_floor_divide, ("any", "nonzero"), grad=False
    ),
    _binary(
        "where",
        lambda L, x, y, cond: L.where(from_numpy(cond, lib=L), x, y),
        lambda x, y, cond: np.where(cond, x, y),
        params=_cond,
    ),
    _binary(
        "where_method",
        lambda L, x, y, cond: x.where(from_numpy(cond, lib=L), y),
        lambda x, y, cond: np.where(cond, x, y),
        params=_cond,
    ),
    _binary("clamp_min_tensor", lambda L, x, y: x.clamp(min=y), np.maximum),
    _binary("clamp_max_tensor", lambda L, x, y: L.clamp_max(x, y), np.minimum),
    Spec(
        "clamp_tensor",
        lambda L, x, lo, hi: L.clamp(x, lo, hi),
        lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi),
        arity=3,
        broadcast=True,
    ),
    # aliases
    _binary("multiply", lambda L, x, y: L.multiply(x, y), np.multiply),
    _binary("subtract", lambda L, x, y: x.subtract(y, alpha=2), lambda x, y: x - 2 * y),
    _binary(
        "divide",
        lambda L, x, y: L.divide(x, y, rounding_mode="trunc"),
        lambda x, y: np.trunc(x / y),
        ("any", "nonzero"),
    ),
    _binary("arctan2", lambda L, x, y: x.arctan2(y), np.arctan2, ("any", "nonzero")),
    Spec("negative", lambda L, x: L.negative(x), np.negative),
    Spec("absolute", lambda L, x: x.absolute(), np.abs, domain=("nonzero",)),
    # comparisons and logic (bool results; ties are common on the "grid" domain)
    *(
        _binary(name, fn, np_fn, ("grid", "grid"), grad=False, out_dtype="bool")
        for name, fn, np_fn in [
            ("eq", lambda L, x, y: x == y, np.equal),
            ("ne", lambda L, x, y: L.ne(x, y), np.not_equal),
            ("lt", lambda L, x, y: x.lt(y), np.less),
            ("le", lambda L, x, y: x <= y, np.less_equal),
            ("gt", lambda L, x, y: L.gt(x, y), np.greater),
            ("ge", lambda L, x, y: x >= y, np.greater_equal),
            ("logical_and", lambda L, x, y: L.logical_and(x, y), np.logical_and),
            ("logical_or", lambda L, x, y: x.logical_or(y), np.logical_or),
        ]
    ),
    Spec(
        "logical_not",
        lambda L, x: L.logical_not(x),
        np.logical_not,
        domain=("grid",),
        grad=False,
        out_dtype="bool",
    ),
    *(
        Spec(name, fn, np_fn, domain=("special",), grad=False, out_dtype="bool")
        for name, fn, np_fn in [
            ("isnan", lambda L, x: L.isnan(x), np.isnan),
            ("isinf", lambda L, x: x.isinf(), np.isinf),
            ("isfinite", lambda L, x: L.isfinite(x), np.isfinite),
        ]
    ),
    # a Python number on the left or right
    Spec(
        "where_scalar",
        lambda L, x, cond: L.where(from_numpy(cond, lib=L), x, 0.0),
        lambda x, cond: np.where(cond, x, 0.0),
        params=_cond,
    ),
    Spec(
        "where_scalar_left",
        lambda L, x, cond: L.where(from_numpy(cond, lib=L), 1, x),
        lambda x, cond: np.where(cond, 1.0, x),
        params=_cond,
    ),
    Spec("remainder_scalar", lambda L, x: x % 1.5, lambda x: np.remainder(x, 1.5)),
    Spec(
        "rfloordiv",
        lambda L, x: 2.0 // x,
        lambda x: np_floor_divide(2.0, x),
        domain=("nonzero",),
        grad=False,
    ),
    Spec(
        "div_scalar_floor",
        lambda L, x: x.div(0.7, rounding_mode="floor"),
        lambda x: np_floor_divide(x, 0.7),
    ),
]
SPECS = {s.name: s for s in REGISTRY}
GRAD_SPECS = [s for s in REGISTRY if s.grad]


# ---- case generation --------------------------------------------------------------------


@dataclass
class Case:
    shapes: list  # leaf shapes
    layouts: list  # one per leaf, see helpers.apply_layout
    params: dict


SIZES = st.sampled_from([1, 2, 3, 2, 1, 0])


def shapes(max_dims=3):
    return st.lists(SIZES, max_size=max_dims).map(tuple)


@st.composite
def case_for(draw, spec):
    out = draw(shapes())
    if spec.broadcast:
        outs = []
        for _ in range(spec.arity):
            drop = draw(st.integers(0, len(out)))
            outs.append(tuple(1 if draw(st.integers(0, 3)) == 0 else s for s in out[drop:]))
    else:
        outs = [out] * spec.arity
    leaves, layouts = [], []
    for s in outs:
        leaf, layout = draw(layout_for(s))
        leaves.append(leaf)
        layouts.append(layout)
    params = spec.params(draw, out) if spec.params else {}
    return Case(leaves, layouts, params)


def leaf_values(spec, case, seed, dtypes=None):
    rng = np.random.default_rng(seed)
    dtypes = dtypes or ["float64"] * spec.arity
    return [
        np.asarray(sample_in(rng, shape, dom)).astype(dt)
        for shape, dom, dt in zip(case.shapes, spec.domain, dtypes)
    ]


def build(L, spec, case, arrays, requires_grad=True):
    leaves = [from_numpy(a, requires_grad=requires_grad, lib=L) for a in arrays]
    xs = [apply_layout(x, lay) for x, lay in zip(leaves, case.layouts)]
    return leaves, spec.fn(L, *xs, **case.params)


def grad_fn_name(t):
    return None if t.grad_fn is None else t.grad_fn.name()


FLOATS = st.sampled_from(["float32", "float64"])

# The registry is long: each generic test runs half the profile's examples per op (12 with the
# default "ci" profile, 100 with "dev").
fewer_examples = settings(max_examples=max(5, settings().max_examples // 2))


# ---- 1. gradcheck -----------------------------------------------------------------------


@pytest.mark.parametrize("spec", GRAD_SPECS, ids=lambda s: s.name)
@fewer_examples
@given(data=st.data())
def test_gradcheck(spec, data):
    case = data.draw(case_for(spec), label="case")
    arrays = leaf_values(spec, case, data.draw(st.integers(0, 2**32 - 1), label="seed"))

    def f(*leaves):
        xs = [apply_layout(x, lay) for x, lay in zip(leaves, case.layouts)]
        return spec.fn(ferrograd, *xs, **case.params)

    gradcheck(f, arrays, rng=np.random.default_rng(1))


# ---- 2. forward vs NumPy ----------------------------------------------------------------


@pytest.mark.parametrize("spec", REGISTRY, ids=lambda s: s.name)
@fewer_examples
@given(data=st.data())
def test_forward_matches_numpy(spec, data):
    case = data.draw(case_for(spec), label="case")
    dtypes = [data.draw(FLOATS, label=f"dtype{i}") for i in range(spec.arity)]
    arrays = leaf_values(spec, case, data.draw(st.integers(0, 2**32 - 1), label="seed"), dtypes)
    with ferrograd.no_grad():
        _, out = build(ferrograd, spec, case, arrays, requires_grad=False)
    ndims = [len(layout_shape(s, lay)) for s, lay in zip(case.shapes, case.layouts)]
    want = spec.out_dtype or result_dtype(*zip(dtypes, ndims))
    assert dtype_name(out.dtype) == want
    ref_inputs = [np_layout(a.astype(np.float64), lay) for a, lay in zip(arrays, case.layouts)]
    with np.errstate(all="ignore"):
        ref = np.asarray(spec.np_fn(*ref_inputs, **case.params), dtype=np.float64)
    assert tuple(out.shape) == ref.shape
    assert out.grad_fn is None
    # Rounded quotients may land on the other side of an integer in float32.
    tol = dict(rtol=1e-5, atol=1e-5) if want == "float32" else TOL["float64"]
    if spec.name in (
        "div_floor",
        "div_trunc",
        "divide",
        "floor_divide",
        "rfloordiv",
        "div_scalar_floor",
    ):
        if want == "float32":
            return
    assert_close(to_numpy(out), ref, **tol, what=spec.name)


# ---- 3. parity with PyTorch -------------------------------------------------------------


def compare_with_torch(spec, case, arrays, seed=0):
    torch = _torch()
    results = []
    for L in (ferrograd, torch):
        try:
            results.append(build(L, spec, case, arrays))
        except RuntimeError as e:
            results.append(e)
    fg_res, t_res = results
    if isinstance(t_res, Exception) or isinstance(fg_res, Exception):
        assert type(fg_res) is type(t_res), f"{fg_res!r} vs {t_res!r}"
        assert str(fg_res) == str(t_res)
        return
    (fl, fo), (tl, to) = fg_res, t_res
    want = dtype_name(to.dtype)
    assert dtype_name(fo.dtype) == want
    assert tuple(fo.shape) == tuple(to.shape)
    assert grad_fn_name(fo) == grad_fn_name(to)
    assert fo.requires_grad == to.requires_grad
    assert_close(to_numpy(fo), to_numpy(to), **TOL.get(want, TOL["float64"]), what="value")
    if not spec.grad:
        return
    v = np.random.default_rng(seed).uniform(-1, 1, size=tuple(to.shape)).astype(want)
    fo.backward(from_numpy(v))
    to.backward(from_numpy(v, lib=torch))
    involved = {want} | {dtype_name(x.dtype) for x in tl}
    tol = TOL["float32" if "float32" in involved else "float64"]
    for i, (a, b) in enumerate(zip(fl, tl)):
        assert (a.grad is None) == (b.grad is None), f"grad {i} presence"
        if b.grad is not None:
            assert dtype_name(a.grad.dtype) == dtype_name(b.grad.dtype)
            assert_close(to_numpy(a.grad), to_numpy(b.grad), **tol, what=f"grad {i}")


@pytest.mark.parametrize("spec", REGISTRY, ids=lambda s: s.name)
@fewer_examples
@given(data=st.data())
def test_torch_parity(spec, data):
    _torch()
    case = data.draw(case_for(spec), label="case")
    dtypes = [data.draw(FLOATS, label=f"dtype{i}") for i in range(spec.arity)]
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    arrays = leaf_values(spec, case, seed, dtypes)
    if spec.name in (
        "div_floor",
        "div_trunc",
        "divide",
        "floor_divide",
        "rfloordiv",
        "div_scalar_floor",
    ):
        # Both libraries round the same float quotient; only float64 inputs keep the
        # comparison away from quotients within an ulp of an integer.
        arrays = [a.astype(np.float64) for a in arrays]
    compare_with_torch(spec, case, arrays, seed)


# ---- integer and bool dtypes ------------------------------------------------------------


def _t(L, values, dtype):
    return L.tensor(values, dtype=getattr(L, dtype))


# (id, fn(L) -> result, expected dtype); values are compared with torch where installed.
DTYPES = [
    ("exp(int64)", lambda L: _t(L, [-1, 2], "int64").exp(), "float32"),
    ("sin(bool)", lambda L: L.sin(_t(L, [True, False], "bool")), "float32"),
    ("sigmoid(int64)", lambda L: _t(L, [-1, 2], "int64").sigmoid(), "float32"),
    ("rsqrt(int64)", lambda L: _t(L, [4, 0], "int64").rsqrt(), "float32"),
    ("erf(int64)", lambda L: L.erf(_t(L, [-1, 2], "int64")), "float32"),
    ("log2(bool)", lambda L: _t(L, [True, False], "bool").log2(), "float32"),
    ("relu(int64)", lambda L: _t(L, [-1, 2], "int64").relu(), "int64"),
    ("abs(int64)", lambda L: L.abs(_t(L, [-3, 2], "int64")), "int64"),
    ("sign(int64)", lambda L: _t(L, [-3, 0, 2], "int64").sign(), "int64"),
    ("sign(bool)", lambda L: _t(L, [True, False], "bool").sign(), "bool"),
    ("floor(int64)", lambda L: _t(L, [-3, 2], "int64").floor(), "int64"),
    ("round(int64)", lambda L: L.round(_t(L, [-3, 2], "int64")), "int64"),
    ("trunc(int64)", lambda L: _t(L, [-3, 2], "int64").trunc(), "int64"),
    ("square(int64)", lambda L: _t(L, [-3, 2], "int64").square(), "int64"),
    ("square(bool)", lambda L: L.square(_t(L, [True, False], "bool")), "int64"),
    ("neg(int64)", lambda L: _t(L, [-3, 2], "int64").negative(), "int64"),
    ("clamp(int64, 0, 2)", lambda L: _t(L, [-3, 1, 5], "int64").clamp(0, 2), "int64"),
    ("clamp(int64, 0.5, 2.5)", lambda L: _t(L, [-3, 1, 5], "int64").clamp(0.5, 2.5), "float32"),
    ("clamp(bool, 0, 1)", lambda L: L.clamp(_t(L, [True, False], "bool"), 0, 1), "int64"),
    (
        "clamp(int64, min=f32)",
        lambda L: _t(L, [-3, 1, 5], "int64").clamp(min=_t(L, [0.5, 2.5, 1.5], "float32")),
        "float32",
    ),
    (
        "clamp(f32, f64 0-dim)",
        lambda L: _t(L, [1.5, -2.5], "float32").clamp(_t(L, 0.0, "float64")),
        "float32",
    ),
    (
        "maximum(int64, f32)",
        lambda L: L.maximum(_t(L, [1, 5], "int64"), _t(L, [2.5, 0.5], "float32")),
        "float32",
    ),
    (
        "maximum(bool, bool)",
        lambda L: L.maximum(_t(L, [True, False], "bool"), _t(L, [False, False], "bool")),
        "bool",
    ),
    (
        "minimum(int64, int64)",
        lambda L: L.minimum(_t(L, [1, 5], "int64"), _t(L, [2, -5], "int64")),
        "int64",
    ),
    (
        "atan2(int64, bool)",
        lambda L: L.atan2(_t(L, [1, -2], "int64"), _t(L, [True, False], "bool")),
        "float32",
    ),
    (
        "int64 // int64",
        lambda L: _t(L, [-7, 0, 7], "int64") // _t(L, [2, -2, -2], "int64"),
        "int64",
    ),
    ("int64 % int64", lambda L: _t(L, [-7, 0, 7], "int64") % _t(L, [2, -2, -2], "int64"), "int64"),
    ("int64 % -2", lambda L: _t(L, [-7, 0, 7], "int64") % -2, "int64"),
    ("7 // int64", lambda L: 7 // _t(L, [2, -2], "int64"), "int64"),
    ("7 % int64", lambda L: 7 % _t(L, [2, -2, 3], "int64"), "int64"),
    ("int64.remainder(2.5)", lambda L: _t(L, [1, 2, 3], "int64").remainder(2.5), "float32"),
    ("int64 // 2.5", lambda L: _t(L, [-7, 0, 7], "int64") // 2.5, "float32"),
    (
        "div(int64, trunc)",
        lambda L: L.div(_t(L, [-7, 7], "int64"), 2, rounding_mode="trunc"),
        "int64",
    ),
    (
        "div(int64, floor)",
        lambda L: _t(L, [-7, 7], "int64").div(_t(L, [2, -2], "int64"), rounding_mode="floor"),
        "int64",
    ),
    ("div(int64, None)", lambda L: _t(L, [-7, 7], "int64").div(2, rounding_mode=None), "float32"),
    (
        "div(int64 / 2.5, floor)",
        lambda L: L.div(_t(L, [-7, 7], "int64"), 2.5, rounding_mode="floor"),
        "float32",
    ),
    ("int64.min // -1", lambda L: _t(L, [-(2**63)], "int64") // -1, "int64"),
    ("int64.min % -1", lambda L: _t(L, [-(2**63)], "int64") % -1, "int64"),
    ("where(b, 1, 0)", lambda L: L.where(_t(L, [True, False], "bool"), 1, 0), "int64"),
    ("where(b, 1.0, 0.0)", lambda L: L.where(_t(L, [True, False], "bool"), 1.0, 0.0), "float32"),
    (
        "where(b, int64, 2.5)",
        lambda L: L.where(_t(L, [True, False], "bool"), _t(L, [3, 4], "int64"), 2.5),
        "float32",
    ),
    (
        "where(b, f32, 0)",
        lambda L: L.where(_t(L, [True, False], "bool"), _t(L, [3.5, 4], "float32"), 0),
        "float32",
    ),
    (
        "where(b, int64, f64)",
        lambda L: L.where(
            _t(L, [True, False], "bool"), _t(L, [3, 4], "int64"), _t(L, [0.5, 1], "float64")
        ),
        "float64",
    ),
    (
        "logical_and(int64, f32)",
        lambda L: L.logical_and(_t(L, [-7, 0, 7], "int64"), _t(L, [1.5, 0, NAN], "float32")),
        "bool",
    ),
    (
        "logical_or",
        lambda L: _t(L, [0, 0, 7], "int64").logical_or(_t(L, [0.0, 1, 0], "float32")),
        "bool",
    ),
    (
        "logical_xor",
        lambda L: L.logical_xor(_t(L, [True, False], "bool"), _t(L, [True, True], "bool")),
        "bool",
    ),
    ("logical_not(f32)", lambda L: L.logical_not(_t(L, [1.5, 0.0, NAN], "float32")), "bool"),
    ("logical_not_(f32)", lambda L: _t(L, [1.5, 0.0, NAN], "float32").logical_not_(), "float32"),
    (
        "logical_and_(int64)",
        lambda L: _t(L, [-7, 0, 7], "int64").logical_and_(_t(L, [1.0, 1, 0], "float32")),
        "int64",
    ),
    ("isnan(f32)", lambda L: L.isnan(_t(L, [1.5, NAN, INF], "float32")), "bool"),
    ("isinf(f64)", lambda L: _t(L, [1.5, NAN, INF, -INF], "float64").isinf(), "bool"),
    ("isfinite(f32)", lambda L: L.isfinite(_t(L, [1.5, NAN, INF], "float32")), "bool"),
    ("isnan(int64)", lambda L: _t(L, [1, 2], "int64").isnan(), "bool"),
    ("isfinite(bool)", lambda L: L.isfinite(_t(L, [True], "bool")), "bool"),
    ("~bool", lambda L: ~_t(L, [True, False], "bool"), "bool"),
    ("~int64", lambda L: ~_t(L, [-7, 0, 7], "int64"), "int64"),
    ("int64 & 3", lambda L: _t(L, [-7, 0, 7], "int64") & 3, "int64"),
    ("3 & int64", lambda L: 3 & _t(L, [-7, 0, 7], "int64"), "int64"),
    ("int64 | 8", lambda L: _t(L, [-7, 0, 7], "int64") | 8, "int64"),
    ("int64 ^ 5", lambda L: _t(L, [-7, 0, 7], "int64") ^ 5, "int64"),
    ("bool & bool", lambda L: _t(L, [True, False], "bool") & _t(L, [True, True], "bool"), "bool"),
    ("bool ^ bool", lambda L: _t(L, [True, False], "bool") ^ _t(L, [True, True], "bool"), "bool"),
    ("bool | True", lambda L: _t(L, [True, False], "bool") | True, "bool"),
    ("bool & 1", lambda L: _t(L, [True, False], "bool") & 1, "int64"),
    ("int64 & bool", lambda L: _t(L, [3, 2], "int64") & _t(L, [True, False], "bool"), "int64"),
    ("bitwise_xor fn", lambda L: L.bitwise_xor(_t(L, [3, 2], "int64"), 6), "int64"),
    ("bitwise_not fn", lambda L: L.bitwise_not(_t(L, [3, 2], "int64")), "int64"),
    ("int64 &= 1", lambda L: _iop(_t(L, [3, 2], "int64"), "__iand__", 1), "int64"),
    ("int64 //= 2", lambda L: _iop(_t(L, [3, -3], "int64"), "__ifloordiv__", 2), "int64"),
    ("int64 %= 2", lambda L: _iop(_t(L, [3, -3], "int64"), "__imod__", 2), "int64"),
    ("f32 **= 2", lambda L: _iop(_t(L, [3.0, -3], "float32"), "__ipow__", 2), "float32"),
    (
        "f32.lt_(f32)",
        lambda L: _t(L, [1.0, 2.0], "float32").lt_(_t(L, [2.0, 1.0], "float32")),
        "float32",
    ),
    ("int64.ge_(2)", lambda L: _t(L, [1, 2], "int64").ge_(2), "int64"),
    ("greater", lambda L: L.greater(_t(L, [1.0, 2.0], "float32"), 1.5), "bool"),
    (
        "less_equal",
        lambda L: _t(L, [1, 2], "int64").less_equal(_t(L, [1.5, 1.5], "float32")),
        "bool",
    ),
    ("not_equal fn", lambda L: L.not_equal(_t(L, [1, 2], "int64"), 2), "bool"),
    ("ne_ method", lambda L: _t(L, [1.0, 2.0], "float64").not_equal_(2), "float64"),
    ("relu_(int64)", lambda L: _t(L, [-1, 2], "int64").relu_(), "int64"),
]


def _iop(t, name, other):
    out = getattr(t, name)(other)
    assert out is t
    return out


@pytest.mark.parametrize("fn,want", [m[1:] for m in DTYPES], ids=[m[0] for m in DTYPES])
def test_dtypes(fn, want):
    out = fn(ferrograd)
    assert dtype_name(out.dtype) == want
    assert out.grad_fn is None
    try:
        import torch
    except ImportError:
        return
    ref = fn(torch)
    assert dtype_name(ref.dtype) == want
    assert tuple(out.shape) == tuple(ref.shape)
    if want.startswith("float"):
        assert_close(to_numpy(out), to_numpy(ref), rtol=1e-6, atol=1e-7)
    else:
        np.testing.assert_array_equal(to_numpy(out), to_numpy(ref))


def test_dtype_values_without_torch():
    """A few of the above with fixed expectations."""
    i = ferrograd.tensor([-7, 0, 7])
    j = ferrograd.tensor([2, -2, -2])
    assert (i // j).tolist() == [-4, 0, -4]
    assert (i % j).tolist() == [1, 0, -1]
    assert i.div(j, rounding_mode="trunc").tolist() == [-3, 0, -3]
    assert (~i).tolist() == [6, -1, -8]
    assert (i & 3).tolist() == [1, 0, 3]
    f = ferrograd.tensor([5.0, -5.0, 0.5, -0.5, 7.0])
    g = ferrograd.tensor([2.0, 2.0, 0.1, 0.1, -0.0])
    assert (f // g).tolist() == [2.0, -3.0, 4.0, -5.0, -INF]
    assert (ferrograd.tensor([5.0, -5.0, 0.0, -0.0]) % -3).tolist() == [-1.0, -2.0, 0.0, -0.0]
    r = ferrograd.tensor([0.5, 1.5, 2.5, -0.5, -2.5]).round()
    assert r.tolist() == [0.0, 2.0, 2.0, -0.0, -2.0]
    assert ferrograd.tensor([1234.5, 15.0, 25.0]).round(decimals=-1).tolist() == [
        1230.0,
        20.0,
        20.0,
    ]
    b = ferrograd.tensor([True, False])
    assert ferrograd.where(b, 1, 0).dtype == ferrograd.int64
    assert ferrograd.where(b, 1.0, 0.0).dtype == ferrograd.float32


# ---- edge values ------------------------------------------------------------------------

# (id, fn(L, *xs), input values): values and grads (backward of ones) compared with torch.
EDGES = [
    ("relu", lambda L, x: x.relu(), [[0.0, -0.0, -1.0, 2.0, NAN]]),
    ("sigmoid", lambda L, x: x.sigmoid(), [[-1000.0, 0.0, 1000.0, NAN]]),
    ("tanh", lambda L, x: x.tanh(), [[-INF, 0.0, INF, NAN]]),
    ("sqrt", lambda L, x: x.sqrt(), [[0.0, -1.0, INF]]),
    ("rsqrt", lambda L, x: x.rsqrt(), [[0.0, -1.0, INF, 4.0]]),
    ("log1p", lambda L, x: x.log1p(), [[-1.0, -2.0, 0.0]]),
    ("log2", lambda L, x: x.log2(), [[0.0, -1.0, 8.0]]),
    ("asin", lambda L, x: x.asin(), [[-1.0, 1.0, 2.0, 0.0]]),
    ("acos", lambda L, x: x.acos(), [[-1.0, 1.0, 2.0, 0.0]]),
    ("erf", lambda L, x: x.erf(), [[-INF, INF, 0.0, NAN, 6.0]]),
    ("expm1", lambda L, x: x.expm1(), [[-INF, 1e-10, 100.0]]),
    ("tan", lambda L, x: x.tan(), [[0.0, 1.5707963267948966]]),
    ("frac", lambda L, x: x.frac(), [[-2.5, 2.5, INF, NAN, -0.0]]),
    ("floor", lambda L, x: x.floor(), [[-2.5, 2.5, INF, NAN, -0.0]]),
    ("ceil", lambda L, x: x.ceil(), [[-2.5, -0.5, INF, NAN]]),
    ("round", lambda L, x: x.round(), [[0.5, 1.5, 2.5, -0.5, -2.5, NAN]]),
    ("round(decimals=1)", lambda L, x: x.round(decimals=1), [[0.25, 0.35, -1.25, 1e30]]),
    ("trunc", lambda L, x: x.trunc(), [[-2.5, 2.5, -0.5]]),
    ("sign", lambda L, x: x.sign(), [[0.0, -0.0, NAN, -INF]]),
    # (float32 gelu(inf) is NaN in PyTorch's vectorised kernel, inf in float64 and here)
    ("gelu", lambda L, x: act(L, "gelu")(x), [[-INF, 10.0, 0.0, NAN, -10.0]]),
    ("gelu tanh", lambda L, x: act(L, "gelu")(x, approximate="tanh"), [[-10.0, 0.0, 10.0]]),
    ("silu", lambda L, x: act(L, "silu")(x), [[-1000.0, 0.0, 1000.0, NAN]]),
    ("softplus", lambda L, x: act(L, "softplus")(x), [[-100.0, 0.0, 20.0, 20.5, NAN]]),
    ("softplus beta", lambda L, x: act(L, "softplus")(x, beta=2, threshold=1), [[0.5, 0.4, -3.0]]),
    ("elu", lambda L, x: act(L, "elu")(x, alpha=1.5), [[0.0, -0.0, -1.0, 1.0, NAN]]),
    ("leaky_relu", lambda L, x: act(L, "leaky_relu")(x, 0.1), [[0.0, -1.0, 1.0, NAN]]),
    ("clamp scalars", lambda L, x: x.clamp(0.0, 1.0), [[-1.0, 0.0, 0.5, 1.0, 2.0, NAN]]),
    ("clamp min", lambda L, x: x.clamp(min=0.0), [[-1.0, 0.0, 0.5, NAN]]),
    ("clamp_max", lambda L, x: x.clamp_max(1.0), [[1.0, 2.0, 0.5, NAN]]),
    ("clamp min > max", lambda L, x: x.clamp(1.0, 0.0), [[-1.0, 0.5, 2.0]]),
    ("clamp nan bound", lambda L, x: x.clamp(NAN, 1.0), [[0.0, 2.0]]),
    (
        "clamp tensors",
        lambda L, x, lo, hi: L.clamp(x, lo, hi),
        [
            [0.0, 0.0, 0.0, 1.0, 1.0, NAN, NAN, 0.0, 2.0, 0.5],
            [0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, NAN, 1.0, 1.0],
            [0.0, 1.0, 0.0, 1.0, 2.0, 0.0, 1.0, 1.0, NAN, 1.0],
        ],
    ),
    (
        "clamp_min tensor",
        lambda L, x, lo: x.clamp_min(lo),
        [[0.0, 1.0, NAN, 2.0], [0.0, 2.0, 1.0, NAN]],
    ),
    (
        "clamp max tensor",
        lambda L, x, hi: x.clamp(max=hi),
        [[0.0, 1.0, NAN, 2.0], [0.0, 2.0, 1.0, NAN]],
    ),
    (
        "maximum ties",
        lambda L, x, y: L.maximum(x, y),
        [[0.0, 1.0, NAN, 2.0, -0.0], [0.0, 2.0, 1.0, NAN, 0.0]],
    ),
    ("minimum ties", lambda L, x, y: L.minimum(x, y), [[0.0, 1.0, NAN, 2.0], [0.0, 2.0, 1.0, NAN]]),
    (
        "atan2",
        lambda L, x, y: L.atan2(x, y),
        [[0.0, 1.0, -0.0, 0.0, INF], [0.0, 0.0, -1.0, -1.0, INF]],
    ),
    ("remainder", lambda L, x, y: x % y, [[5.0, -5.0, 5.0, INF, 0.0], [0.0, 3.0, -3.0, 2.0, INF]]),
    ("remainder scalar", lambda L, x: x % -3, [[5.0, -5.0, 0.0, -0.0]]),
    (
        "div floor",
        lambda L, x, y: L.div(x, y, rounding_mode="floor"),
        [[5.0, -5.0, 0.0, 0.5], [0.0, 0.0, 0.0, 0.1]],
    ),
    (
        "div trunc",
        lambda L, x, y: L.div(x, y, rounding_mode="trunc"),
        [[5.0, -5.0, 0.0, 0.5], [0.0, 0.0, 0.0, -0.1]],
    ),
    ("where", lambda L, x, y: L.where(x > 0, x, y), [[1.0, -1.0, NAN, 0.0], [INF, 2.0, 3.0, NAN]]),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("fn,values", [e[1:] for e in EDGES], ids=[e[0] for e in EDGES])
def test_edge_values_torch_parity(fn, values, dtype):
    torch = _torch()
    results = []
    for L in (ferrograd, torch):
        xs = [from_numpy(np.asarray(v, dtype=dtype), requires_grad=True, lib=L) for v in values]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fn(L, *xs)
            out.backward(L.ones_like(out))
        results.append((out, xs))
    (fo, fx), (to, tx) = results
    assert dtype_name(fo.dtype) == dtype_name(to.dtype)
    assert grad_fn_name(fo) == grad_fn_name(to)
    assert_close(to_numpy(fo), to_numpy(to), **TOL[dtype], what="value")
    # Signs of zeros count (floor(-0.0), -0.0 % -3, relu(-0.0)); those of NaNs do not.
    fv, tv = to_numpy(fo), to_numpy(to)
    keep = ~np.isnan(tv)
    np.testing.assert_array_equal(np.signbit(fv[keep]), np.signbit(tv[keep]))
    for i, (a, b) in enumerate(zip(fx, tx)):
        assert_close(to_numpy(a.grad), to_numpy(b.grad), **TOL[dtype], what=f"grad {i}")


def test_where_grad_of_the_branch_not_taken_is_zero():
    """Even when the incoming grad is NaN or inf there: where(cond, g, 0), never g * mask."""
    x = ferrograd.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = ferrograd.tensor([3.0, 5.0, 7.0], requires_grad=True)
    c = ferrograd.tensor([True, False, True])
    ferrograd.where(c, x, y).backward(ferrograd.tensor([NAN, INF, 1.0]))
    g = to_numpy(x.grad)
    assert np.isnan(g[0]) and g[1] == 0.0 and g[2] == 1.0
    g = to_numpy(y.grad)
    assert g[0] == 0.0 and g[1] == INF and g[2] == 0.0
    # The same through a scalar branch and through where-based rules (relu, clamp).
    x = ferrograd.tensor([-1.0, 2.0], requires_grad=True)
    ferrograd.where(x > 0, x, 0.0).backward(ferrograd.tensor([INF, 1.0]))
    assert x.grad.tolist() == [0.0, 1.0]
    x.grad = None
    x.relu().backward(ferrograd.tensor([NAN, 1.0]))
    assert x.grad.tolist() == [0.0, 1.0]
    x.grad = None
    x.clamp(0.0, 1.0).backward(ferrograd.tensor([INF, INF]))
    assert x.grad.tolist() == [0.0, 0.0]


def test_clamp_tensor_grads_fixed():
    """PyTorch's split at ties and where min > max, checked without torch."""
    x = ferrograd.tensor([0.0, 1.0, NAN, 1.0], requires_grad=True)
    lo = ferrograd.tensor([0.0, 0.0, 1.0, 2.0], requires_grad=True)
    hi = ferrograd.tensor([1.0, 1.0, 0.0, 1.0], requires_grad=True)
    ferrograd.clamp(x, lo, hi).sum().backward()
    assert x.grad.tolist() == [0.5, 0.5, 1.0, 0.0]
    assert lo.grad.tolist() == [0.5, 0.0, 0.0, 0.0]
    assert hi.grad.tolist() == [0.0, 0.5, 1.0, 1.0]


# ---- grad_fn names and in-place -----------------------------------------------------------


def _leaf(values=(0.5, -1.5, 2.0), dtype="float64"):
    return ferrograd.tensor(list(values), dtype=getattr(ferrograd, dtype), requires_grad=True)


GRAD_FN_NAMES = [
    ("expm1", lambda x: x.expm1(), "Expm1Backward0"),
    ("log1p", lambda x: x.log1p(), "Log1PBackward0"),
    ("square", lambda x: x.square(), "PowBackward0"),
    ("round", lambda x: x.round(), "RoundBackward0"),
    ("round(decimals=1)", lambda x: x.round(decimals=1), "RoundBackward1"),
    ("div(y)", lambda x: x.div(2), "DivBackward0"),
    ("div(y, rounding_mode=None)", lambda x: x.div(2, rounding_mode=None), "DivBackward2"),
    ("div(y, 'floor')", lambda x: ferrograd.div(x, x, rounding_mode="floor"), "DivBackward2"),
    ("x // y", lambda x: x // 2, "torch::autograd::NotImplemented"),
    ("2 % x", lambda x: 2 % x, "torch::autograd::NotImplemented"),
    ("x % 2", lambda x: x % 2, "RemainderBackward0"),
    ("x % x", lambda x: x % x, "RemainderBackward1"),
    ("clamp(scalars)", lambda x: x.clamp(0, 1), "ClampBackward1"),
    ("clamp(tensor)", lambda x: x.clamp(x.detach()), "ClampBackward0"),
    ("clamp_min(scalar)", lambda x: x.clamp_min(0), "ClampMinBackward0"),
    ("clamp_min(tensor)", lambda x: x.clamp_min(x.detach()), "ClampMinBackward1"),
    ("clamp_max(scalar)", lambda x: x.clamp_max(0), "ClampMaxBackward0"),
    ("clamp_max(tensor)", lambda x: x.clamp_max(x.detach()), "ClampMaxBackward1"),
    ("where", lambda x: ferrograd.where(x > 0, x, 0.0), "WhereBackward0"),
    ("maximum", lambda x: ferrograd.maximum(x, x.detach()), "MaximumBackward0"),
    ("atan2", lambda x: x.atan2(x.detach()), "Atan2Backward0"),
    ("elu_", lambda x: ferrograd._math.elu_(x.clone()), "EluBackward1"),
    ("leaky_relu_", lambda x: ferrograd._math.leaky_relu_(x.clone()), "LeakyReluBackward1"),
    ("silu_", lambda x: ferrograd._math.silu_(x.clone()), "SiluBackward0"),
    ("exp_", lambda x: x.clone().exp_(), "ExpBackward0"),
    ("clamp_", lambda x: x.clone().clamp_(0, 1), "ClampBackward1"),
    ("pow_", lambda x: x.clone().pow_(2), "PowBackward0"),
]


@pytest.mark.parametrize(
    "fn,name", [c[1:] for c in GRAD_FN_NAMES], ids=[c[0] for c in GRAD_FN_NAMES]
)
def test_grad_fn_names(fn, name):
    assert fn(_leaf()).grad_fn.name() == name


def test_no_derivative_raises_in_backward():
    x = _leaf()
    with pytest.raises(
        RuntimeError, match=r"^derivative for aten::floor_divide is not implemented$"
    ):
        (x // 2).sum().backward()
    with pytest.raises(RuntimeError, match=r"^derivative for aten::remainder is not implemented$"):
        (2 % x).sum().backward()


def test_in_place_forms():
    x = ferrograd.tensor([0.25, -1.0, 4.0])
    assert x.abs_() is x and x.tolist() == [0.25, 1.0, 4.0]
    assert x.sqrt_() is x and x.tolist() == [0.5, 1.0, 2.0]
    assert ferrograd.exp_(x) is x
    z = ferrograd.tensor([1.0, 2.0, 3.0])
    z //= 2
    z %= 0.75
    z **= 2
    assert z.tolist() == [0.0, 0.0625, 0.0625]
    w = ferrograd.tensor([7, -7])
    w.div_(2, rounding_mode="floor")
    assert w.tolist() == [3, -4] and w.dtype == ferrograd.int64
    # in-place on a leaf that requires grad, and into an integer tensor
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        _leaf().sin_()
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
        ferrograd.tensor([1, 2]).sin_()


def test_inplace_version_counter_guards_saved_result():
    x = _leaf()
    y = x.exp()
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_inplace_negative_slope_backward_raises():
    x = _leaf()
    y = ferrograd._math.leaky_relu_(x.clone(), -0.5)
    with pytest.raises(RuntimeError, match="In-place leakyReLu backward calculation is triggered"):
        y.sum().backward()
    y = ferrograd._math.elu_(x.clone(), -0.5)
    with pytest.raises(RuntimeError, match="In-place elu backward calculation is triggered"):
        y.sum().backward()


# ---- errors -----------------------------------------------------------------------------

_X = lambda L: L.tensor([1.0, -2.0])  # noqa: E731
_I = lambda L: L.tensor([1, 2])  # noqa: E731
_B = lambda L: L.tensor([True, False])  # noqa: E731

# (id, fn(L), exception type): message and type compared with torch when installed.
ERRORS = [
    ("relu(bool)", lambda L: _B(L).relu(), NotImplementedError),
    ("abs(bool)", lambda L: _B(L).abs(), NotImplementedError),
    ("absolute(bool)", lambda L: _B(L).absolute(), NotImplementedError),
    ("floor(bool)", lambda L: _B(L).floor(), NotImplementedError),
    ("frac(int64)", lambda L: _I(L).frac(), NotImplementedError),
    ("round(int64, decimals)", lambda L: _I(L).round(decimals=1), NotImplementedError),
    ("gelu(int64)", lambda L: act(L, "gelu")(_I(L)), NotImplementedError),
    ("silu(int64)", lambda L: act(L, "silu")(_I(L)), NotImplementedError),
    ("softplus(bool)", lambda L: act(L, "softplus")(_B(L)), NotImplementedError),
    ("elu(int64)", lambda L: act(L, "elu")(_I(L)), NotImplementedError),
    ("leaky_relu(int64)", lambda L: act(L, "leaky_relu")(_I(L)), NotImplementedError),
    ("gelu approximate", lambda L: act(L, "gelu")(_X(L), approximate="foo"), RuntimeError),
    ("gelu approximate None", lambda L: act(L, "gelu")(_X(L), approximate=None), TypeError),
    ("negative(bool)", lambda L: _B(L).negative(), NotImplementedError),
    ("int // 0", lambda L: _I(L) // 0, RuntimeError),
    ("int % zero tensor", lambda L: _I(L) % L.tensor([1, 0]), RuntimeError),
    ("div(int, 0, trunc)", lambda L: L.div(_I(L), 0, rounding_mode="trunc"), RuntimeError),
    ("bool // bool", lambda L: _B(L) // _B(L), NotImplementedError),
    ("bool % bool", lambda L: L.remainder(_B(L), _B(L)), NotImplementedError),
    ("div(bool, floor)", lambda L: _B(L).div(_B(L), rounding_mode="floor"), NotImplementedError),
    ("div rounding_mode", lambda L: L.div(_X(L), 2, rounding_mode="foo"), RuntimeError),
    ("div_ rounding_mode", lambda L: _X(L).div_(2, rounding_mode="round"), RuntimeError),
    ("div rounding_mode type", lambda L: _X(L).div(_X(L), rounding_mode=1), TypeError),
    ("clamp()", lambda L: _X(L).clamp(), RuntimeError),
    ("clamp(None, None)", lambda L: L.clamp(_X(L), None, None), RuntimeError),
    ("clamp str", lambda L: _X(L).clamp("a"), TypeError),
    ("clamp tensor and number", lambda L: _X(L).clamp(_X(L), 2), TypeError),
    ("clamp_min(None)", lambda L: _X(L).clamp_min(None), TypeError),
    ("clamp shapes", lambda L: L.clamp(_X(L), L.zeros(3)), RuntimeError),
    ("maximum(x, 2)", lambda L: L.maximum(_X(L), 2), TypeError),
    ("x.maximum(2)", lambda L: _X(L).maximum(2), TypeError),
    ("maximum(1, x)", lambda L: L.maximum(1, _X(L)), TypeError),
    ("maximum shapes", lambda L: L.maximum(_X(L), L.zeros(3)), RuntimeError),
    ("x.atan2(2)", lambda L: _X(L).atan2(2), TypeError),
    ("atan2_(2)", lambda L: _X(L).atan2_(2), TypeError),
    ("logical_and(x, 1)", lambda L: L.logical_and(_X(L), 1), TypeError),
    ("x.logical_or(1)", lambda L: _X(L).logical_or(1), TypeError),
    ("logical_and shapes", lambda L: L.logical_and(_I(L), L.ones(3)), RuntimeError),
    ("isnan(1.0)", lambda L: L.isnan(1.0), TypeError),
    ("exp(1.0)", lambda L: L.exp(1.0), TypeError),
    ("sigmoid([1])", lambda L: L.sigmoid([1.0]), TypeError),
    ("logical_not(1)", lambda L: L.logical_not(1), TypeError),
    ("bitwise_not(1)", lambda L: L.bitwise_not(1), TypeError),
    ("where cond int", lambda L: L.where(_I(L), _X(L), _X(L)), RuntimeError),
    ("where cond float", lambda L: L.where(_X(L), _X(L), 0.0), RuntimeError),
    ("where shapes", lambda L: L.where(_B(L), _X(L), L.ones(3)), RuntimeError),
    ("x.where(c, 'a')", lambda L: _X(L).where(_B(L), "a"), TypeError),
    ("~float", lambda L: ~_X(L), TypeError),
    ("float & float", lambda L: _X(L) & _X(L), NotImplementedError),
    ("float | 1", lambda L: _X(L) | 1, NotImplementedError),
    ("int ^ 1.5", lambda L: _I(L) ^ 1.5, NotImplementedError),
    ("bitwise_not(float)", lambda L: _X(L).bitwise_not(), NotImplementedError),
    ("x & 'a'", lambda L: _X(L) & "a", TypeError),
    ("x % 'a'", lambda L: _X(L) % "a", TypeError),
    ("'a' // x", lambda L: "a" // _X(L), TypeError),
    ("remainder('a')", lambda L: _X(L).remainder("a"), TypeError),
    ("floor_divide('a')", lambda L: _X(L).floor_divide("a"), TypeError),
    ("bitwise_and('a')", lambda L: _I(L).bitwise_and("a"), TypeError),
    ("round(decimals='a')", lambda L: _X(L).round(decimals="a"), TypeError),
    ("round(decimals=1.5)", lambda L: _X(L).round(decimals=1.5), TypeError),
    pytest.param("int sin_", lambda L: _I(L).sin_(), RuntimeError),
    pytest.param(
        "int floor_divide_(2.5)",
        lambda L: _I(L).floor_divide_(2.5),
        RuntimeError,
    ),
    pytest.param("bool &= int", lambda L: _B(L).__iand__(L.tensor([1, 2])), RuntimeError),
    ("int.logical_and_ shapes", lambda L: _I(L).logical_and_(L.ones(2, 2)), RuntimeError),
]


def _error_params():
    for e in ERRORS:
        if hasattr(e, "marks"):  # a pytest.param with its id first
            yield pytest.param(*e.values[1:], id=e.values[0], marks=e.marks)
        else:
            yield pytest.param(*e[1:], id=e[0])


@pytest.mark.parametrize("fn,exc", list(_error_params()))
def test_errors(fn, exc):
    with pytest.raises(exc) as fg:
        fn(ferrograd)
    try:
        import torch
    except ImportError:
        return
    with pytest.raises(exc) as ref:
        fn(torch)
    assert type(fg.value) is type(ref.value)
    fg_msg, ref_msg = str(fg.value), str(ref.value)
    if "invalid combination of arguments" in ref_msg or "positional argument" in ref_msg:
        # PyTorch lists its overloads; ferrograd matches the first line.
        assert fg_msg.split("\n")[0] == ref_msg.split("\n")[0]
    else:
        assert fg_msg == ref_msg.replace("torch.", "ferrograd.") or fg_msg == ref_msg


def test_error_messages_without_torch():
    with pytest.raises(NotImplementedError, match=r"^\"abs_cpu\" not implemented for 'Bool'$"):
        ferrograd.tensor([True]).absolute()
    with pytest.raises(RuntimeError, match=r"^ZeroDivisionError$"):
        ferrograd.tensor([1]) // 0
    with pytest.raises(
        TypeError, match=r"^maximum\(\): argument 'other' \(position 2\) must be Tensor, not int$"
    ):
        ferrograd.maximum(ferrograd.ones(2), 2)
    msg = "where expected condition to be a boolean tensor, but got a tensor with dtype Float"
    with pytest.raises(RuntimeError, match=f"^{msg}$"):
        ferrograd.where(ferrograd.ones(2), ferrograd.ones(2), 0.0)
    msg = "div expected rounding_mode to be one of None, 'trunc', or 'floor' but found 'x'"
    with pytest.raises(RuntimeError, match=f"^{msg}$"):
        ferrograd.ones(2).div(2, rounding_mode="x")


# ---- second derivatives (create_graph=True) ---------------------------------------------

# (id, fn(L, *xs), domains, shapes)
SECOND_ORDER = [
    ("sin", lambda L, x: x.sin(), ("any",), [(3,)]),
    ("tan", lambda L, x: x.tan(), ("small",), [(3,)]),
    ("asin", lambda L, x: x.asin(), ("unit",), [(3,)]),
    ("atan", lambda L, x: x.atan(), ("any",), [(3,)]),
    ("cosh", lambda L, x: x.cosh(), ("any",), [(3,)]),
    ("tanh", lambda L, x: x.tanh(), ("any",), [(2, 2)]),
    ("sigmoid", lambda L, x: x.sigmoid(), ("any",), [(3,)]),
    ("log1p", lambda L, x: x.log1p(), ("positive",), [(3,)]),
    ("log10", lambda L, x: x.log10(), ("positive",), [(3,)]),
    ("rsqrt", lambda L, x: x.rsqrt(), ("positive",), [(3,)]),
    ("erf", lambda L, x: x.erf(), ("any",), [(3,)]),
    ("expm1", lambda L, x: x.expm1(), ("any",), [(3,)]),
    ("square", lambda L, x: x.square(), ("any",), [(3,)]),
    ("gelu", lambda L, x: act(L, "gelu")(x), ("any",), [(4,)]),
    ("gelu tanh", lambda L, x: act(L, "gelu")(x, approximate="tanh"), ("any",), [(4,)]),
    ("silu", lambda L, x: act(L, "silu")(x), ("any",), [(3,)]),
    ("softplus", lambda L, x: act(L, "softplus")(x, beta=2.0, threshold=3.0), ("any",), [(4,)]),
    ("elu", lambda L, x: act(L, "elu")(x, alpha=0.7), ("nonzero",), [(4,)]),
    ("leaky_relu*x", lambda L, x: act(L, "leaky_relu")(x, 0.3) * x, ("nonzero",), [(4,)]),
    ("relu*x", lambda L, x: x.relu() * x, ("nonzero",), [(4,)]),
    ("atan2", lambda L, x, y: L.atan2(x, y), ("any", "nonzero"), [(3,), (3,)]),
    ("maximum*x", lambda L, x, y: L.maximum(x, y) * x, ("any", "any"), [(3,), (3,)]),
    ("remainder*y", lambda L, x, y: (x % y) * y, ("any", "positive"), [(3,), (3,)]),
    ("where*x", lambda L, x, y: L.where(x > 0, x * x, y.exp()), ("nonzero", "any"), [(4,), (4,)]),
    ("clamp tensors*x", lambda L, x, y: L.clamp(x, y, y + 1) * x, ("any", "any"), [(4,), (4,)]),
    ("clamp*x", lambda L, x: x.clamp(-0.5, 0.5) * x, ("any",), [(4,)]),
]


@pytest.mark.parametrize(
    "fn,domains,shapes_", [c[1:] for c in SECOND_ORDER], ids=[c[0] for c in SECOND_ORDER]
)
def test_second_derivatives(fn, domains, shapes_):
    rng = np.random.default_rng(7)
    arrays = [np.asarray(sample_in(rng, s, d), dtype=np.float64) for s, d in zip(shapes_, domains)]
    with ferrograd.no_grad():
        out_shape = tuple(fn(ferrograd, *[from_numpy(a) for a in arrays]).shape)
    v = rng.uniform(-1, 1, size=out_shape)
    w = [rng.uniform(-1, 1, size=s) for s in shapes_]
    gradgradcheck(lambda *xs: fn(ferrograd, *xs), arrays, v=v, w=w)
    try:
        import torch
    except ImportError:
        return
    f_first, f_second = second_order(ferrograd, fn, arrays, v, w)
    t_first, t_second = second_order(torch, fn, arrays, v, w)
    for a, b in zip(f_first, t_first):
        assert_close(to_numpy(a), to_numpy(b), rtol=1e-10, atol=1e-12)
    for i, (a, b) in enumerate(zip(f_second, t_second)):
        if b is None:
            assert a is None or np.all(to_numpy(a) == 0), f"second grad {i}"
        else:
            assert a is not None, f"second grad {i} missing"
            assert_close(to_numpy(a), to_numpy(b), rtol=1e-10, atol=1e-12)
