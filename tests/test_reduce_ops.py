"""Property tests of reductions, scans and softmax (issue 3), in the style of
``test_ops_properties``.

A REGISTRY of op specs drives three Hypothesis tests over generated shapes (0-dim, size-0
dims), layouts (contiguous, ``.t()``, ``.transpose``, ``.expand``) and arguments (``dim`` as
None / int / tuple, negative dims, ``keepdim``, ``correction``, ``p``):

1. ``test_gradcheck``: float64 backward vs central finite differences;
2. ``test_forward_matches_numpy``: values, shape and dtype vs a NumPy reference;
3. ``test_torch_parity``: values, grads, dtypes, shapes, ``grad_fn`` names and errors vs
   PyTorch (skipped when it is absent).

Fixed tests follow: ties and NaNs (PyTorch's gradient rules), zeros in products, empty
inputs, second derivatives, errors and warnings with PyTorch's wording, return types,
in-place scans, functional forms and the accuracy of large sums on every loop shape.
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
    np_layout,
    sample,
    to_numpy,
)
from hypothesis import assume, given
from hypothesis import strategies as st

INF = float("inf")
NAN = float("nan")
TOL = {"float32": dict(rtol=2e-5, atol=2e-5), "float64": dict(rtol=1e-10, atol=1e-12)}


def _torch():
    return pytest.importorskip("torch")


def _quiet(f):
    """Runs ``f`` with warnings (empty reductions, degrees of freedom) silenced."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return f()


# ---- NumPy references -------------------------------------------------------------------


def _axes(dim, ndim):
    """A ``dim`` argument as a NumPy ``axis`` (None: all)."""
    if dim is None or ndim == 0:
        return None
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    return tuple(d % ndim for d in dims) if dims else None


def _count(shape, dim):
    axes = _axes(dim, len(shape))
    return math.prod(shape) if axes is None else math.prod(shape[a] for a in axes)


def np_prod(x, dim=None, keepdim=False):
    return np.prod(x, axis=_axes(dim, x.ndim), keepdims=keepdim)


def np_amax(x, dim=(), keepdim=False, min=False):
    f = np.min if min else np.max
    return f(x, axis=_axes(dim, x.ndim), keepdims=keepdim)


def np_argmax(x, dim=None, keepdim=False, min=False):
    f = np.argmin if min else np.argmax
    if dim is None:
        r = np.asarray(f(x))
        return r.reshape((1,) * x.ndim) if keepdim else r
    return f(x.reshape(-1) if x.ndim == 0 else x, axis=dim % max(x.ndim, 1)).reshape(
        _kept_shape(x.shape, dim, keepdim)
    )


def _kept_shape(shape, dim, keepdim):
    axes = _axes(dim, len(shape))
    if axes is None:
        axes = tuple(range(len(shape)))
    return tuple(1 if i in axes else n for i, n in enumerate(shape) if keepdim or i not in axes)


def np_var(x, dim=None, correction=1, keepdim=False, sqrt=False):
    axis = _axes(dim, x.ndim)
    n = _count(x.shape, dim)
    m = _quiet(lambda: np.mean(x, axis=axis, keepdims=True))
    s = np.sum((x - m) ** 2, axis=axis, keepdims=keepdim)
    v = _quiet(lambda: s / max(0.0, n - correction))
    return np.sqrt(v) if sqrt else v


def np_norm(x, p=2, dim=None, keepdim=False):
    axis = _axes(dim, x.ndim)
    a = np.abs(x)
    if p == INF:
        return np.max(a, axis=axis, keepdims=keepdim)
    if p == -INF:
        return np.min(a, axis=axis, keepdims=keepdim)
    if p == 0:
        return np.sum(a != 0, axis=axis, keepdims=keepdim).astype(x.dtype)
    return _quiet(lambda: np.sum(a**p, axis=axis, keepdims=keepdim) ** (1.0 / p))


def np_logsumexp(x, dim, keepdim=False):
    axis = _axes(dim, x.ndim)
    m = np.max(x, axis=axis, keepdims=True, initial=-INF)
    m = np.where(np.isfinite(m), m, 0.0)
    s = np.sum(np.exp(x - m), axis=axis, keepdims=True)
    r = _quiet(lambda: m + np.log(s))
    return r if keepdim else np.squeeze(r, axis=axis) if x.ndim else r.reshape(())


def _along(x, dim):
    return x.reshape(1) if x.ndim == 0 else x, dim % max(x.ndim, 1)


def np_cumsum(x, dim):
    y, d = _along(x, dim)
    return np.cumsum(y, axis=d).reshape(x.shape)


def np_cumprod(x, dim):
    y, d = _along(x, dim)
    return np.cumprod(y, axis=d).reshape(x.shape)


def np_softmax(x, dim, log=False):
    y, d = _along(x, dim)
    if y.size == 0:
        return x.copy()
    z = y - np.max(y, axis=d, keepdims=True)
    s = np.log(np.sum(np.exp(z), axis=d, keepdims=True))
    return (z - s if log else np.exp(z - s)).reshape(x.shape)


def np_all(x, dim=None, keepdim=False, any=False):
    f = np.any if any else np.all
    return f(x != 0, axis=_axes(dim, x.ndim), keepdims=keepdim)


# ---- argument strategies ----------------------------------------------------------------

SIZES = st.sampled_from([1, 2, 3, 4, 2, 3, 1, 0])


def shapes(max_dims=3):
    return st.lists(SIZES, max_size=max_dims).map(tuple)


def one_dim(draw, ndim):
    n = max(ndim, 1)
    return draw(st.integers(-n, n - 1))


def dims_tuple(draw, ndim):
    n = max(ndim, 1)
    k = draw(st.integers(1, n))
    dims = draw(st.permutations(range(n)))[:k]
    return tuple(d - n if draw(st.booleans()) else d for d in dims)


def p_reduce(draw, shape):
    """``dim`` None / int / tuple and ``keepdim`` (sum-like reductions)."""
    form = draw(st.sampled_from(["none", "int", "tuple"]))
    dim = None if form == "none" else one_dim(draw, len(shape))
    if form == "tuple":
        dim = dims_tuple(draw, len(shape))
    return {"dim": dim, "keepdim": draw(st.booleans())}


def p_opt_dim(draw, shape):
    """``dim`` None or int (prod, argmax) and ``keepdim``."""
    dim = draw(st.sampled_from([None, "int"]))
    return {
        "dim": None if dim is None else one_dim(draw, len(shape)),
        "keepdim": draw(st.booleans()),
    }


def p_dim_keep(draw, shape):
    return {"dim": one_dim(draw, len(shape)), "keepdim": draw(st.booleans())}


def p_dims_keep(draw, shape):
    """``dim`` int or non-empty tuple (amax, logsumexp) and ``keepdim``."""
    dim = dims_tuple(draw, len(shape)) if draw(st.booleans()) else one_dim(draw, len(shape))
    return {"dim": dim, "keepdim": draw(st.booleans())}


def p_var(draw, shape):
    return dict(p_reduce(draw, shape), correction=draw(st.sampled_from([1, 0, 2, 0.5])))


NORM_ORDERS = [2, 1, INF, -INF, 3, 0.5, 1.5, -1, 0]


def p_norm(draw, shape):
    return dict(p_reduce(draw, shape), p=draw(st.sampled_from(NORM_ORDERS)))


def p_dim(draw, shape):
    return {"dim": one_dim(draw, len(shape))}


def no_params(draw, shape):
    return {}


# ---- the registry -----------------------------------------------------------------------


@dataclass(frozen=True)
class OpSpec:
    name: str
    fn: Callable  # fn(L, x, **params) with L = ferrograd or torch
    np_fn: Callable  # NumPy reference on float64 arrays
    params: Callable = no_params  # params(draw, shape) -> dict
    domain: str = "any"
    grad: bool = True
    # Whether a case has a value (max-like reductions of nothing raise; see the parity test).
    valid: Callable = lambda shape, params: True  # noqa: E731
    dtype: str | None = None  # fixed result dtype (else the input's)


def _kw(params, *names):
    return {k: params[k] for k in names if k in params}


def _nonempty_reduction(shape, params):
    dim = params.get("dim")
    if dim is None or dim == () or len(shape) == 0:
        return math.prod(shape) > 0
    return _count(shape, dim) > 0


def _var_defined(shape, params):
    """Finite differences need a finite result: more elements than the correction."""
    return _count(shape, params.get("dim")) - params.get("correction", 1) > 0


def _var(name, sqrt):
    def fn(L, x, dim=None, correction=1, keepdim=False):
        return _quiet(lambda: getattr(x, name)(dim, correction=correction, keepdim=keepdim))

    return OpSpec(
        name,
        fn,
        lambda x, **kw: np_var(x, sqrt=sqrt, **kw),
        p_var,
        valid=_var_defined,
    )


REGISTRY = [
    # (An explicit dim=None selects torch's dim overload, SumBackward1: see
    # test_ops_properties' test_explicit_dim_none_grad_fn; these pass no dim instead.)
    OpSpec(
        "sum_dtype",
        lambda L, x, dim=None, keepdim=False: (
            x.sum(dtype=L.float64) if dim is None else x.sum(dim, keepdim, dtype=L.float64)
        ),
        lambda x, dim=None, keepdim=False: np.sum(
            x, axis=_axes(dim, x.ndim), keepdims=keepdim and dim is not None
        ),
        p_reduce,
        dtype="float64",
    ),
    OpSpec(
        "mean",
        lambda L, x, dim=None, keepdim=False: L.mean(x) if dim is None else L.mean(x, dim, keepdim),
        lambda x, dim=None, keepdim=False: _quiet(
            lambda: np.mean(x, axis=_axes(dim, x.ndim), keepdims=keepdim and dim is not None)
        ),
        p_reduce,
    ),
    OpSpec(
        "prod",
        lambda L, x, dim=None, keepdim=False: (
            x.prod() if dim is None and not keepdim else x.prod(dim, keepdim)
        ),
        np_prod,
        lambda draw, shape: (
            {} if draw(st.booleans()) else {"dim": one_dim(draw, len(shape)), "keepdim": False}
        ),
    ),
    OpSpec(
        "prod_fn",
        lambda L, x, dim=None, keepdim=False: (
            L.prod(x) if dim is None else L.prod(x, dim, keepdim=keepdim)
        ),
        lambda x, dim=None, keepdim=False: np_prod(x, dim, keepdim and dim is not None),
        p_opt_dim,
    ),
    OpSpec("max", lambda L, x: x.max(), np.max, valid=lambda s, p: math.prod(s) > 0),
    OpSpec("min_fn", lambda L, x: L.min(x), np.min, valid=lambda s, p: math.prod(s) > 0),
    OpSpec(
        "max_dim",
        lambda L, x, dim, keepdim: x.max(dim, keepdim).values,
        lambda x, dim, keepdim: np_amax(x, dim, keepdim),
        p_dim_keep,
        valid=_nonempty_reduction,
    ),
    OpSpec(
        "min_dim",
        lambda L, x, dim, keepdim: L.min(x, dim, keepdim=keepdim)[0],
        lambda x, dim, keepdim: np_amax(x, dim, keepdim, min=True),
        p_dim_keep,
        valid=_nonempty_reduction,
    ),
    OpSpec(
        "max_dim_indices",
        lambda L, x, dim, keepdim: x.max(dim=dim, keepdim=keepdim)[1],
        lambda x, dim, keepdim: np_argmax(x, dim, keepdim),
        p_dim_keep,
        grad=False,
        valid=_nonempty_reduction,
        dtype="int64",
    ),
    OpSpec(
        "amax",
        lambda L, x, dim, keepdim: x.amax(dim, keepdim),
        np_amax,
        p_dims_keep,
        valid=_nonempty_reduction,
    ),
    OpSpec(
        "amin_fn",
        lambda L, x, dim, keepdim: L.amin(x, dim, keepdim),
        lambda x, dim, keepdim: np_amax(x, dim, keepdim, min=True),
        p_dims_keep,
        valid=_nonempty_reduction,
    ),
    OpSpec(
        "argmax",
        lambda L, x, dim, keepdim: x.argmax(dim, keepdim),
        np_argmax,
        p_opt_dim,
        grad=False,
        valid=_nonempty_reduction,
        dtype="int64",
    ),
    OpSpec(
        "argmin_fn",
        lambda L, x, dim, keepdim: L.argmin(x, dim=dim, keepdim=keepdim),
        lambda x, dim, keepdim: np_argmax(x, dim, keepdim, min=True),
        p_opt_dim,
        grad=False,
        valid=_nonempty_reduction,
        dtype="int64",
    ),
    _var("var", False),
    _var("std", True),
    OpSpec(
        "var_unbiased",
        lambda L, x, dim, keepdim: _quiet(lambda: L.var(x, dim, False, keepdim)),
        lambda x, dim, keepdim: np_var(x, dim, 0, keepdim),
        p_reduce,
        valid=lambda s, p: _count(s, p["dim"]) > 0,
    ),
    OpSpec(
        "norm",
        lambda L, x, p, dim=None, keepdim=False: x.norm(p, dim, keepdim),
        np_norm,
        p_norm,
        domain="nonzero",
        valid=lambda s, p: p["p"] >= 0 and p["p"] != INF or _nonempty_reduction(s, p),
    ),
    OpSpec(
        "logsumexp",
        lambda L, x, dim, keepdim: x.logsumexp(dim, keepdim),
        np_logsumexp,
        p_dims_keep,
    ),
    OpSpec("cumsum", lambda L, x, dim: x.cumsum(dim), np_cumsum, p_dim),
    OpSpec("cumsum_fn", lambda L, x, dim: L.cumsum(x, dim=dim), np_cumsum, p_dim),
    OpSpec("cumprod", lambda L, x, dim: x.cumprod(dim), np_cumprod, p_dim),
    OpSpec(
        "cumsum_dtype",
        lambda L, x, dim: x.cumsum(dim, dtype=L.float64),
        np_cumsum,
        p_dim,
        dtype="float64",
    ),
    OpSpec("softmax", lambda L, x, dim: x.softmax(dim), np_softmax, p_dim),
    OpSpec(
        "log_softmax_fn",
        lambda L, x, dim: L.log_softmax(x, dim),
        lambda x, dim: np_softmax(x, dim, log=True),
        p_dim,
    ),
    OpSpec(
        "softmax_dtype",
        lambda L, x, dim: L.softmax(x, dim, dtype=L.float64),
        np_softmax,
        p_dim,
        dtype="float64",
    ),
    OpSpec(
        "all",
        lambda L, x, dim=None, keepdim=False: x.all(dim, keepdim),
        np_all,
        p_reduce,
        grad=False,
        domain="small",
        dtype="bool",
    ),
    OpSpec(
        "any_fn",
        lambda L, x, dim=None, keepdim=False: L.any(x, dim, keepdim),
        lambda x, **kw: np_all(x, any=True, **kw),
        p_reduce,
        grad=False,
        domain="small",
        dtype="bool",
    ),
]
GRAD_SPECS = [s for s in REGISTRY if s.grad]


@dataclass
class Case:
    leaf: tuple
    layout: tuple
    params: dict


@st.composite
def case_for(draw, spec, require_valid=True):
    shape = draw(shapes())
    params = spec.params(draw, shape)
    if require_valid:
        assume(spec.valid(shape, params))
    leaf, layout = draw(layout_for(shape))
    return Case(leaf, layout, params)


def values(spec, case, seed, dtype="float64"):
    arr = sample(np.random.default_rng(seed), case.leaf, spec.domain).astype(dtype)
    if spec.domain == "small":  # truth tests need zeros too
        arr = np.where(np.abs(arr) < 0.3, 0.0, arr).astype(dtype)
    return arr


def build(L, spec, case, arr, requires_grad=True):
    leaf = from_numpy(arr, requires_grad=requires_grad, lib=L)
    return leaf, spec.fn(L, apply_layout(leaf, case.layout), **case.params)


def grad_fn_name(t):
    return None if t.grad_fn is None else t.grad_fn.name()


# ---- 1. gradcheck -----------------------------------------------------------------------


@pytest.mark.parametrize("spec", GRAD_SPECS, ids=lambda s: s.name)
@given(data=st.data())
def test_gradcheck(spec, data):
    case = data.draw(case_for(spec), label="case")
    params = case.params
    if spec.name == "norm":
        assume(params["p"] != 0)  # no grad flows (tested below)
    arr = values(spec, case, data.draw(st.integers(0, 2**32 - 1), label="seed"))
    gradcheck(lambda x: spec.fn(ferrograd, apply_layout(x, case.layout), **params), [arr])


# ---- 2. forward vs NumPy ----------------------------------------------------------------


@pytest.mark.parametrize("spec", REGISTRY, ids=lambda s: s.name)
@given(data=st.data())
def test_forward_matches_numpy(spec, data):
    case = data.draw(case_for(spec), label="case")
    dtype = data.draw(st.sampled_from(["float32", "float64"]), label="dtype")
    arr = values(spec, case, data.draw(st.integers(0, 2**32 - 1), label="seed"), dtype)
    with ferrograd.no_grad():
        _, out = build(ferrograd, spec, case, arr, requires_grad=False)
    want = spec.dtype or dtype
    assert dtype_name(out.dtype) == want
    ref = np.asarray(spec.np_fn(np_layout(arr.astype(np.float64), case.layout), **case.params))
    assert tuple(out.shape) == ref.shape
    assert out.grad_fn is None
    tol = TOL["float32" if "float32" in (want, dtype) else "float64"]
    assert_close(to_numpy(out), ref, **tol, what=spec.name)


# ---- 3. parity with PyTorch -------------------------------------------------------------


def run_both(fn):
    """``fn(L)`` for ferrograd and torch: both results, or both exceptions."""
    torch = _torch()
    out = []
    for L in (ferrograd, torch):
        try:
            out.append(_quiet(lambda L=L: fn(L)))
        except Exception as e:  # noqa: BLE001 - compared below
            out.append(e)
    return out


def assert_same_error(fe, te):
    assert isinstance(fe, Exception), f"torch raised {te!r}, ferrograd did not"
    assert isinstance(te, Exception), f"ferrograd raised {fe!r}, torch did not"
    assert type(fe) is type(te), (fe, te)
    first = str(te).split("\n")[0]
    assert str(fe).split("\n")[0] == first


def compare(fo, to, *, tol):
    torch = _torch()
    assert str(fo.dtype) == str(to.dtype).replace("torch.", "ferrograd.")
    assert tuple(fo.shape) == tuple(to.shape)
    assert grad_fn_name(fo) == grad_fn_name(to)
    assert fo.requires_grad == to.requires_grad
    if to.dtype in (torch.int64, torch.bool):
        np.testing.assert_array_equal(to_numpy(fo), to_numpy(to))
    else:
        assert_close(to_numpy(fo), to_numpy(to), **tol, what="value")


def compare_with_torch(spec, case, arr, seed=0):
    torch = _torch()
    (fg, tt) = run_both(lambda L: build(L, spec, case, arr))
    if isinstance(fg, Exception) or isinstance(tt, Exception):
        assert_same_error(fg, tt)
        return
    (fl, fo), (tl, to) = fg, tt
    tol = TOL["float32" if "float32" in (dtype_name(to.dtype), arr.dtype.name) else "float64"]
    compare(fo, to, tol=tol)
    if not to.requires_grad:
        return
    if spec.name == "std" and np.any(np.abs(to_numpy(to)) < 1e-3):
        # A std of (nearly) equal values, e.g. of an expanded input: the grad divides
        # rounding noise by ~0 in torch (ferrograd's float64 accumulation gives exact zeros).
        return
    v = np.random.default_rng(seed).uniform(-1, 1, size=tuple(to.shape))
    fo.backward(from_numpy(v.astype(dtype_name(to.dtype))))
    to.backward(from_numpy(v.astype(dtype_name(to.dtype)), lib=torch))
    assert (fl.grad is None) == (tl.grad is None)
    if tl.grad is not None:
        assert str(fl.grad.dtype) == str(tl.grad.dtype).replace("torch.", "ferrograd.")
        assert_close(to_numpy(fl.grad), to_numpy(tl.grad), **tol, what="grad")


@pytest.mark.parametrize("spec", REGISTRY, ids=lambda s: s.name)
@given(data=st.data())
def test_torch_parity(spec, data):
    _torch()
    # Invalid cases too: the errors must be PyTorch's.
    case = data.draw(case_for(spec, require_valid=False), label="case")
    dtype = data.draw(st.sampled_from(["float32", "float64"]), label="dtype")
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    compare_with_torch(spec, case, values(spec, case, seed, dtype), seed)


# ---- ties, NaNs, zeros and empty inputs: fixed values vs PyTorch --------------------------

# (id, fn(L, x) -> tensor, input values)
EDGES = [
    ("max ties", lambda L, x: x.max(), [1.0, 3.0, 3.0]),
    ("min ties", lambda L, x: x.min(), [1.0, 1.0, 3.0, 1.0]),
    ("max NaNs", lambda L, x: x.max(), [1.0, NAN, 3.0, NAN]),
    ("max all NaN", lambda L, x: x.max(), [NAN, NAN]),
    ("amax ties", lambda L, x: x.amax(), [1.0, 3.0, 3.0]),
    ("amax NaN", lambda L, x: x.amax(), [1.0, NAN, 3.0]),
    ("amax dim ties", lambda L, x: x.amax(0), [[1.0, 3.0], [3.0, 3.0]]),
    ("amin dims ties", lambda L, x: x.amin((0, 1)), [[1.0, 1.0], [3.0, 1.0]]),
    ("amax keepdim NaN", lambda L, x: x.amax(1, True), [[1.0, NAN], [2.0, 2.0]]),
    ("max dim ties", lambda L, x: x.max(0)[0], [[1.0, 3.0], [3.0, 3.0]]),
    ("max dim NaN", lambda L, x: x.max(1).values, [[1.0, 3.0, 3.0], [NAN, 3.0, NAN]]),
    ("min dim NaN", lambda L, x: x.min(0).values, [[NAN, 1.0], [NAN, NAN]]),
    ("max dim indices ties", lambda L, x: x.max(0)[1], [[1.0, 3.0], [3.0, 3.0]]),
    ("argmax NaN", lambda L, x: x.argmax(), [1.0, NAN, 3.0, NAN]),
    ("argmin ties", lambda L, x: x.argmin(1), [[2.0, 1.0, 1.0], [0.0, 0.0, 5.0]]),
    ("argmax -inf", lambda L, x: x.argmax(), [-INF, -INF]),
    ("prod one zero", lambda L, x: x.prod(), [1.0, 0.0, 3.0]),
    ("prod two zeros", lambda L, x: x.prod(), [0.0, 2.0, 0.0]),
    ("prod dim zeros", lambda L, x: x.prod(1), [[0.0, 2.0, 3.0], [1.0, 2.0, 4.0]]),
    ("prod empty", lambda L, x: x.prod(), np.zeros((0,))),
    ("cumprod zeros", lambda L, x: x.cumprod(0), [2.0, 0.0, 3.0, 0.0, 5.0]),
    ("cumprod one zero", lambda L, x: x.cumprod(0), [2.0, 1.0, 3.0, 0.0, 5.0]),
    ("cumprod zero dim 1", lambda L, x: x.cumprod(1), [[2.0, 0.0, 3.0], [1.0, 2.0, 0.5]]),
    ("std zero", lambda L, x: x.std(), [1.0, 1.0, 1.0]),
    ("std dim zero", lambda L, x: x.std(0), [[1.0, 2.0], [1.0, 3.0]]),
    ("var one element", lambda L, x: x.var(), [1.0]),
    ("std one element", lambda L, x: x.std(), [1.0]),
    ("var correction 2", lambda L, x: x.var(correction=2), [1.0, 2.0]),
    ("var dim one element", lambda L, x: x.var(0), [[1.0, 2.0]]),
    ("var empty", lambda L, x: x.var(), np.zeros((0,))),
    ("norm 3 zeros", lambda L, x: x.norm(3), [0.0, 0.0]),
    ("norm 0.5 zero entry", lambda L, x: x.norm(0.5), [1.0, -2.0, 0.0]),
    ("norm -1 zero entry", lambda L, x: x.norm(-1), [1.0, -2.0, 0.0]),
    ("norm -inf ties", lambda L, x: x.norm(-INF), [1.0, -1.0, 2.0]),
    ("norm inf NaN", lambda L, x: x.norm(INF), [1.0, NAN, 2.0]),
    ("norm 0", lambda L, x: x.norm(0), [1.0, -2.0, 0.0]),
    ("norm 3 NaN", lambda L, x: x.norm(3), [NAN, 1.0]),
    ("norm 1.5 zero", lambda L, x: x.norm(1.5, 0), [[0.0, 1.0], [0.0, -1.0]]),
    ("logsumexp -inf", lambda L, x: x.logsumexp(0), [-INF, -INF]),
    ("logsumexp inf", lambda L, x: x.logsumexp(0), [INF, 1.0]),
    ("logsumexp NaN", lambda L, x: x.logsumexp(0), [NAN, 1.0]),
    ("logsumexp empty", lambda L, x: x.logsumexp(0), np.zeros((0, 2))),
    ("logsumexp big", lambda L, x: x.logsumexp(1), [[1000.0, 1000.0], [-1000.0, 0.0]]),
    ("softmax inf", lambda L, x: x.softmax(0), [INF, 1.0]),
    ("softmax -inf", lambda L, x: x.softmax(0), [-INF, 1.0]),
    ("softmax big", lambda L, x: x.softmax(1), [[1000.0, 1000.0], [-1000.0, 0.0]]),
    ("log_softmax -inf", lambda L, x: x.log_softmax(0), [-INF, 1.0]),
    ("log_softmax dim 0", lambda L, x: x.log_softmax(0), [[1.0, 2.0, 3.0], [0.5, 0.0, -1.0]]),
    ("cumsum empty dim", lambda L, x: x.cumsum(1), np.zeros((2, 0))),
    ("mean empty", lambda L, x: x.mean(), np.zeros((0,))),
    ("max dim of empty rows", lambda L, x: x.max(0)[0], np.zeros((3, 0))),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("fn,vals", [e[1:] for e in EDGES], ids=[e[0] for e in EDGES])
def test_edge_values_torch_parity(fn, vals, dtype):
    torch = _torch()

    def go(L):
        x = from_numpy(np.asarray(vals, dtype=dtype), requires_grad=True, lib=L)
        out = fn(L, x)
        if out.requires_grad:
            out.backward(L.ones_like(out))
        return out, x

    (fo, fx), (to, tx) = run_both(go)
    compare(fo, to, tol=TOL[dtype])
    assert (fx.grad is None) == (tx.grad is None)
    if tx.grad is not None:
        assert_close(to_numpy(fx.grad), to_numpy(tx.grad), **TOL[dtype], what="grad")
    del torch


def _grad_of(fn, vals):
    x = ferrograd.tensor(vals, dtype=ferrograd.float64, requires_grad=True)
    out = fn(x)
    out = out[0] if isinstance(out, tuple) else out
    out.backward(ferrograd.ones_like(out))
    return out, x.grad


def test_tie_and_nan_grads_fixed():
    """PyTorch's rules, checked without torch."""
    _, g = _grad_of(lambda x: x.max(), [1.0, 3.0, 3.0])
    assert g.tolist() == [0.0, 0.5, 0.5]  # evenly among ties
    _, g = _grad_of(lambda x: x.max(), [1.0, NAN, 3.0, NAN])
    assert g.tolist() == [0.0, 0.5, 0.0, 0.5]  # among the NaNs
    _, g = _grad_of(lambda x: x.amax(0), [[1.0, 3.0], [3.0, 3.0]])
    assert g.tolist() == [[0.0, 0.5], [1.0, 0.5]]
    _, g = _grad_of(lambda x: x.max(0), [[1.0, 3.0], [3.0, 3.0]])
    assert g.tolist() == [[0.0, 1.0], [1.0, 0.0]]  # to the returned (first) index
    out, g = _grad_of(lambda x: x.amax(), [1.0, NAN, 3.0])
    assert math.isnan(out.item()) and all(math.isnan(v) for v in g.tolist())
    _, g = _grad_of(lambda x: x.prod(), [1.0, 0.0, 3.0])
    assert g.tolist() == [0.0, 3.0, 0.0]
    _, g = _grad_of(lambda x: x.cumprod(0), [2.0, 0.0, 3.0, 0.0, 5.0])
    assert g.tolist() == [1.0, 8.0, 0.0, 0.0, 0.0]
    x = ferrograd.tensor([1.0, -2.0, 0.0], requires_grad=True)
    x.norm(0).backward()
    assert x.grad is None  # no grad flows through the 0-"norm"


def test_max_dim_nan_index_is_first_nan():
    v, i = ferrograd.tensor([[1.0, NAN, 3.0, NAN]]).max(1)
    assert math.isnan(v.item()) and i.tolist() == [1]
    assert ferrograd.tensor([[2.0, 1.0, 1.0]]).min(1).indices.tolist() == [1]


# ---- second derivatives -----------------------------------------------------------------

# (id, fn(L, x), domain, shape)
SECOND_ORDER = [
    ("softmax", lambda L, x: x.softmax(1), "any", (2, 3)),
    ("log_softmax", lambda L, x: x.log_softmax(0), "any", (3, 2)),
    ("logsumexp", lambda L, x: x.logsumexp(1), "any", (2, 3)),
    ("var", lambda L, x: x.var(0), "any", (3, 2)),
    ("std", lambda L, x: x.std(), "any", (2, 3)),
    ("std dims keepdim", lambda L, x: x.std((0, 1), keepdim=True), "any", (2, 3)),
    ("prod", lambda L, x: x.prod(), "nonzero", (4,)),
    ("prod dim", lambda L, x: x.prod(1, True), "nonzero", (2, 3)),
    ("cumprod", lambda L, x: x.cumprod(1), "nonzero", (2, 3)),
    ("cumsum", lambda L, x: x.cumsum(0) * x, "any", (3, 2)),
    ("amax", lambda L, x: x.amax(1) * x.sum(1), "any", (2, 3)),
    ("max dim", lambda L, x: x.max(0)[0] ** 2, "any", (3, 2)),
    ("max", lambda L, x: x.max() * x, "any", (2, 2)),
    ("norm 3", lambda L, x: x.norm(3, 1), "nonzero", (2, 3)),
    ("norm 0.5", lambda L, x: x.norm(0.5), "nonzero", (3,)),
    ("norm 1.5", lambda L, x: x.norm(1.5), "nonzero", (3,)),
    ("norm -inf", lambda L, x: x.norm(-INF) * x, "nonzero", (3,)),
]


def _second_order(L, fn, arr, v, w):
    x = from_numpy(arr, requires_grad=True, lib=L)
    y = (fn(L, x) * from_numpy(v, lib=L)).sum()
    (g,) = L.autograd.grad(y, x, create_graph=True)
    z = (g * from_numpy(w, lib=L)).sum()
    (gg,) = L.autograd.grad(z, x, allow_unused=True) if z.requires_grad else (None,)
    return g, gg


@pytest.mark.parametrize(
    "fn,domain,shape", [c[1:] for c in SECOND_ORDER], ids=[c[0] for c in SECOND_ORDER]
)
def test_second_derivatives(fn, domain, shape):
    rng = np.random.default_rng(5)
    arr = sample(rng, shape, domain)
    with ferrograd.no_grad():
        out_shape = tuple(fn(ferrograd, from_numpy(arr)).shape)
    v, w = rng.uniform(-1, 1, size=out_shape), rng.uniform(-1, 1, size=shape)
    gradgradcheck(lambda x: fn(ferrograd, x), [arr], v=v, w=[w])
    try:
        import torch
    except ImportError:
        return
    (fg, fgg), (tg, tgg) = (_second_order(L, fn, arr, v, w) for L in (ferrograd, torch))
    assert_close(to_numpy(fg), to_numpy(tg), rtol=1e-10, atol=1e-12)
    assert (fgg is None) == (tgg is None)
    if tgg is not None:
        assert_close(to_numpy(fgg), to_numpy(tgg), rtol=1e-9, atol=1e-12)


# ---- errors and warnings ----------------------------------------------------------------


def _empty(L):
    return L.zeros(0, 3)


def _ones(L):
    return L.ones(2, 3)


def _ints(L):
    return L.tensor([[1, 2], [3, 4]])


def _bools(L):
    return L.tensor([True, False])


# (id, fn(L), exception type, PyTorch's message or its first line)
ERRORS = [
    ("max of empty", lambda L: L.tensor([]).max(), RuntimeError,
     "max(): Expected reduction dim to be specified for input.numel() == 0. Specify the "
     "reduction dim with the 'dim' argument."),
    ("min of empty", lambda L: _empty(L).min(), RuntimeError,
     "min(): Expected reduction dim to be specified for input.numel() == 0. Specify the "
     "reduction dim with the 'dim' argument."),
    ("amax of empty", lambda L: _empty(L).amax(), RuntimeError,
     "amax(): Expected reduction dim to be specified for input.numel() == 0. Specify the "
     "reduction dim with the 'dim' argument."),
    ("amin over empty dim", lambda L: _empty(L).amin((0, 1)), IndexError,
     "amin(): Expected reduction dim 0 to have non-zero size."),
    ("max over empty dim", lambda L: _empty(L).max(0), IndexError,
     "max(): Expected reduction dim 0 to have non-zero size."),
    ("argmax of empty", lambda L: L.tensor([]).argmax(), IndexError,
     "argmax(): Expected reduction dim to be specified for input.numel() == 0."),
    ("argmin over empty dim", lambda L: _empty(L).argmin(0), IndexError,
     "argmin(): Expected reduction dim 0 to have non-zero size."),
    ("argmax of bool", lambda L: _bools(L).argmax(), NotImplementedError,
     "argmax(): does not support bool input"),
    ("inf-norm of empty", lambda L: _empty(L).norm(INF), RuntimeError,
     "linalg.vector_norm cannot compute the inf norm on an empty tensor because the "
     "operation does not have an identity"),
    ("-1-norm over empty dim", lambda L: _empty(L).norm(-1, 0), RuntimeError,
     "linalg.vector_norm cannot compute the -1 norm on the dimension 0because this dimension "
     "is empty and the operation does not have an identity"),
    ("-2.5-norm of empty", lambda L: _empty(L).norm(-2.5), RuntimeError,
     "linalg.vector_norm cannot compute the -2.5 norm on an empty tensor because the "
     "operation does not have an identity"),
    ("dim out of range", lambda L: _ones(L).max(2), IndexError,
     "Dimension out of range (expected to be in range of [-2, 1], but got 2)"),
    ("cumsum dim out of range", lambda L: _ones(L).cumsum(-3), IndexError,
     "Dimension out of range (expected to be in range of [-2, 1], but got -3)"),
    ("softmax dim out of range", lambda L: _ones(L).softmax(2), IndexError,
     "Dimension out of range (expected to be in range of [-2, 1], but got 2)"),
    ("amax repeated dim", lambda L: _ones(L).amax((0, 0)), RuntimeError,
     "dim 0 appears multiple times in the list of dims"),
    ("logsumexp repeated dim", lambda L: _ones(L).logsumexp((1, -1)), RuntimeError,
     "dim 1 appears multiple times in the list of dims"),
    ("var of int", lambda L: _ints(L).var(), NotImplementedError,
     "std and var only support floating point and complex dtypes"),
    ("std of bool", lambda L: _bools(L).std(0), NotImplementedError,
     "std and var only support floating point and complex dtypes"),
    ("softmax of int", lambda L: _ints(L).softmax(0), NotImplementedError,
     "\"softmax_kernel_impl\" not implemented for 'Long'"),
    ("softmax of int, last dim", lambda L: _ints(L).softmax(1), NotImplementedError,
     "\"softmax_lastdim_kernel_impl\" not implemented for 'Long'"),
    ("log_softmax into int", lambda L: _ones(L).log_softmax(0, L.int64), NotImplementedError,
     "\"log_softmax_kernel_impl\" not implemented for 'Long'"),
    ("cumsum into bool", lambda L: _ones(L).cumsum(0, dtype=L.bool), NotImplementedError,
     "\"cumsum_out_cpu\" not implemented for 'Bool'"),
    ("max(float)", lambda L: _ones(L).max(1.5), TypeError,
     "max() received an invalid combination of arguments - got (float), but expected one of:"),
    ("min(keepdim=True)", lambda L: _ones(L).min(keepdim=True), TypeError,
     "min() received an invalid combination of arguments - got (keepdim=bool, ), but "
     "expected one of:"),
    ("max(1, keepdim=1)", lambda L: _ones(L).max(1, keepdim=1), TypeError,
     "max(): argument 'keepdim' must be bool, not int"),
    ("prod(tuple)", lambda L: _ones(L).prod((0, 1)), TypeError,
     "prod() received an invalid combination of arguments - got (tuple), but expected one of:"),
    ("var(float)", lambda L: _ones(L).var(1.5), TypeError,
     "var() received an invalid combination of arguments - got (float), but expected one of:"),
    ("all(float)", lambda L: _ones(L).all(1.5), TypeError,
     "all() received an invalid combination of arguments - got (float), but expected one of:"),
    ("argmax(tuple)", lambda L: _ones(L).argmax((0, 1)), TypeError,
     "argmax(): argument 'dim' (position 1) must be int, not tuple"),
    ("cumsum(float)", lambda L: _ones(L).cumsum(0.5), TypeError,
     "cumsum(): argument 'dim' (position 1) must be int, not float"),
    ("softmax(bool)", lambda L: _ones(L).softmax(True), TypeError,
     "softmax(): argument 'dim' (position 1) must be int, not bool"),
    ("amax(float)", lambda L: _ones(L).amax(0.5), TypeError,
     "amax(): argument 'dim' (position 1) must be tuple of ints, not float"),
    ("logsumexp(None)", lambda L: _ones(L).logsumexp(dim=None), TypeError,
     "logsumexp(): argument 'dim' must be tuple of ints, not NoneType"),
    ("logsumexp(()) of a vector", lambda L: L.ones(3).logsumexp(()), RuntimeError,
     "output with shape [] doesn't match the broadcast shape [1]"),
    ("max(dim=tensor, keepdim)", lambda L: _ones(L).max(L.ones(3), True), TypeError,
     "max(): argument 'dim' (position 1) must be int, not Tensor"),
]  # fmt: skip


@pytest.mark.parametrize("fn,exc,msg", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_errors(fn, exc, msg):
    with pytest.raises(exc) as info:
        _quiet(lambda: fn(ferrograd))
    assert str(info.value).split("\n")[0] == msg.split("\n")[0]
    try:
        import torch
    except ImportError:
        return
    with pytest.raises(exc) as tinfo:
        _quiet(lambda: fn(torch))
    assert type(info.value) is type(tinfo.value)
    assert str(info.value).split("\n")[0] == str(tinfo.value).split("\n")[0]


@pytest.mark.parametrize(
    "fn,name",
    [
        (lambda L: L.ones(3, 2).var(1, correction=3), "var"),
        (lambda L: L.tensor([5.0]).std(), "std"),
        (lambda L: L.zeros(0, 3).var(1), "var"),
        (lambda L: L.tensor(5.0).var(0), "var"),
    ],
)
def test_degrees_of_freedom_warning(fn, name):
    msg = (
        f"{name}(): degrees of freedom is <= 0. Correction should be strictly less than the "
        "reduction factor (input numel divided by output numel)."
    )
    with pytest.warns(UserWarning, match=r"degrees of freedom is <= 0") as rec:
        fn(ferrograd)
    assert str(rec[0].message) == msg
    try:
        import torch
    except ImportError:
        return
    with pytest.warns(UserWarning, match=r"degrees of freedom is <= 0") as trec:
        fn(torch)
    assert str(trec[0].message).startswith(msg)


def test_no_warning_with_enough_elements():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ferrograd.ones(3, 2).var(0)
        ferrograd.ones(3, 2).std(1, correction=1.5)


# ---- argument forms, return types, dtypes -----------------------------------------------


@pytest.mark.parametrize(
    "fn",
    [
        lambda L, x: x.var(True),
        lambda L, x: x.var(False),
        lambda L, x: x.var(0, True),
        lambda L, x: x.var(1, False, True),
        lambda L, x: x.std(dim=0, unbiased=False),
        lambda L, x: x.var(correction=0),
        lambda L, x: x.std(0, correction=2, keepdim=True),
        lambda L, x: L.std(x, (0, 1), correction=0.5),
        lambda L, x: x.amax(dim=[0, 1]),
        lambda L, x: x.amin([]),
        lambda L, x: L.amax(x),
        lambda L, x: x.argmax(None, True),
        lambda L, x: x.argmin(dim=None),
        lambda L, x: x.argmax(keepdim=True),
        lambda L, x: x.all(None, True),
        lambda L, x: x.any(dim=(0, 1), keepdim=True),
        lambda L, x: L.all(x > 0.5, 1),
        lambda L, x: x.prod(dtype=L.float64),
        lambda L, x: x.prod(0, True, dtype=L.float64),
        lambda L, x: L.prod(x, 1, True),
        lambda L, x: L.max(x, dim=1).indices,
        lambda L, x: L.max(input=x, dim=0).values,
        lambda L, x: L.logsumexp(x, (0, 1), True),
        lambda L, x: x.logsumexp(-1),
        lambda L, x: x.softmax(0, L.float64),
        lambda L, x: L.softmax(x, dim=1, dtype=L.float64),
        lambda L, x: x.log_softmax(dim=-1),
        lambda L, x: L.cumprod(x, 1, dtype=L.float64),
        lambda L, x: x.cumsum(dim=0),
        lambda L, x: x.norm(3, (0, 1)),
        lambda L, x: L.norm(x, p=-2),
        lambda L, x: L.norm(x, 0.5, 1),
        lambda L, x: x.mean(dtype=L.float64),
        lambda L, x: x.max(0, True)[0],
        lambda L, x: x.sum((0, 1), True, dtype=L.float64),
    ],
)
def test_argument_forms_torch_parity(fn):
    torch = _torch()
    arr = sample(np.random.default_rng(3), (2, 3), "nonzero").astype(np.float32)

    def go(L):
        x = from_numpy(arr, requires_grad=True, lib=L)
        out = fn(L, x)
        if out.requires_grad:
            out.sum().backward()
        return out, x

    (fo, fx), (to, tx) = run_both(go)
    compare(fo, to, tol=TOL["float32"])
    assert (fx.grad is None) == (tx.grad is None)
    if tx.grad is not None:
        assert_close(to_numpy(fx.grad), to_numpy(tx.grad), **TOL["float32"], what="grad")
    del torch


# (id, fn(L) -> tensor): integer and bool inputs
INT_CASES = [
    ("prod int", lambda L: L.tensor([[1, 2], [3, 4]]).prod()),
    ("prod int dim", lambda L: L.tensor([[1, 2], [3, 4]]).prod(0)),
    ("prod bool", lambda L: L.tensor([True, False]).prod()),
    ("prod bool dtype", lambda L: L.ones(2, 3).prod(0, True, dtype=L.bool)),
    ("prod int to float", lambda L: L.tensor([[1, 2], [3, 4]]).prod(dtype=L.float32)),
    ("max int", lambda L: L.tensor([[1, 5], [3, 4]]).max()),
    ("max int dim", lambda L: L.tensor([[1, 5], [3, 4]]).max(0).values),
    ("max bool dim indices", lambda L: L.tensor([[True, False], [True, True]]).max(0)[1]),
    ("amax bool", lambda L: L.tensor([[True, False], [True, True]]).amax(0)),
    ("amin bool", lambda L: L.tensor([True, False]).amin()),
    ("argmax int", lambda L: L.tensor([[1, 5], [3, 4]]).argmax()),
    ("argmin int dim", lambda L: L.tensor([[1, 5], [3, 4]]).argmin(1, True)),
    ("logsumexp int", lambda L: L.tensor([[1, 2], [3, 4]]).logsumexp(1)),
    ("logsumexp bool", lambda L: L.tensor([[True, False], [True, True]]).logsumexp(1)),
    ("cumsum int", lambda L: L.tensor([[1, 2], [3, 4]]).cumsum(0)),
    ("cumsum bool", lambda L: L.tensor([[True, False], [True, True]]).cumsum(1)),
    ("cumprod bool", lambda L: L.tensor([True, True]).cumprod(0)),
    ("cumsum int to float", lambda L: L.tensor([[1, 2], [3, 4]]).cumsum(0, dtype=L.float32)),
    ("cumsum float to int", lambda L: L.tensor([[1.5, 2.5]]).cumsum(1, dtype=L.int64)),
    ("softmax int with dtype", lambda L: L.tensor([[1, 2], [3, 4]]).softmax(0, L.float32)),
    ("all int", lambda L: L.tensor([[1, 2], [3, 0]]).all()),
    ("any int dim", lambda L: L.tensor([[0, 0], [3, 0]]).any(0)),
    ("all float NaN", lambda L: L.tensor([NAN, 1.0]).all()),
    ("all empty", lambda L: L.zeros(0).all()),
    ("any empty", lambda L: L.zeros(0).any()),
    ("any empty dim", lambda L: L.zeros(2, 0).any(1)),
    ("sum to bool", lambda L: L.tensor([[1, 2], [3, 0]]).sum(dtype=L.bool)),
    ("0-dim max dim", lambda L: L.tensor(3.0).max(0)[1]),
    ("0-dim argmax keepdim", lambda L: L.tensor(3.0).argmax(0, True)),
    ("0-dim cumsum", lambda L: L.tensor(3.0).cumsum(0)),
    ("0-dim softmax", lambda L: L.tensor(3.0).softmax(-1)),
    ("0-dim logsumexp ()", lambda L: L.tensor(2.0).logsumexp(())),
    ("0-dim prod keepdim", lambda L: L.tensor(5.0).prod(0, True)),
    ("0-dim amax", lambda L: L.tensor(5.0).amax(0)),
    ("empty logsumexp ()", lambda L: L.tensor([]).logsumexp(())),
]


@pytest.mark.parametrize("fn", [c[1] for c in INT_CASES], ids=[c[0] for c in INT_CASES])
def test_integer_and_bool_inputs_torch_parity(fn):
    (fo, to) = run_both(fn)
    if isinstance(fo, Exception) or isinstance(to, Exception):
        assert_same_error(fo, to)
        return
    compare(fo, to, tol=TOL["float32"])


def test_max_dim_return_type():
    x = ferrograd.tensor([[1.0, 3.0], [4.0, 2.0]])
    r = x.max(1)
    values, indices = r
    assert r.values is values and r.indices is indices and r[0] is values
    assert type(r).__name__ == "max" and type(x.min(0)).__name__ == "min"
    assert indices.dtype == ferrograd.int64 and values.tolist() == [3.0, 4.0]
    assert repr(r) == (
        "ferrograd.return_types.max(\nvalues=tensor([3., 4.]),\nindices=tensor([1, 0]))"
    )
    try:
        import torch
    except ImportError:
        return
    t = torch.tensor([[1.0, 3.0], [4.0, 2.0]]).max(1)
    assert repr(r).replace("ferrograd", "torch") == repr(t)


def test_max_with_a_tensor_delegates_to_maximum(monkeypatch):
    a, b = ferrograd.tensor([1.0, 5.0]), ferrograd.tensor([3.0, 2.0])
    calls = []
    monkeypatch.setattr(ferrograd, "maximum", lambda x, y: calls.append((x, y)) or "max", False)
    monkeypatch.setattr(ferrograd, "minimum", lambda x, y: calls.append((x, y)) or "min", False)
    assert a.max(b) == "max" and ferrograd.max(a, b) == "max"
    assert ferrograd.min(a, other=b) == "min" and a.min(b) == "min"
    assert all(x is not None and y is b for x, y in calls) and len(calls) == 4
    monkeypatch.delattr(ferrograd, "maximum", raising=False)
    with pytest.raises(NotImplementedError, match="ferrograd.maximum"):
        a.max(b)


# ---- in-place scans ---------------------------------------------------------------------


@pytest.mark.parametrize("method", ["cumsum_", "cumprod_"])
def test_inplace_scans_torch_parity(method):
    torch = _torch()
    arr = sample(np.random.default_rng(9), (3, 4), "nonzero")

    def go(L):
        x = from_numpy(arr, requires_grad=True, lib=L)
        y = x * 2
        r = getattr(y, method)(1)
        assert r is y
        y.sum().backward()
        return y, x

    (fy, fx), (ty, tx) = run_both(go)
    compare(fy, ty, tol=TOL["float64"])
    assert_close(to_numpy(fx.grad), to_numpy(tx.grad), **TOL["float64"])
    del torch


def test_inplace_scan_checks():
    x = ferrograd.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        x.cumsum_(0)
    y = ferrograd.tensor([1, 2, 3])
    y.cumsum_(0)
    assert y.tolist() == [1, 3, 6] and y._version == 1
    z = ferrograd.tensor([1, 2, 3])
    with pytest.raises(RuntimeError) as info:
        z.cumsum_(0, dtype=ferrograd.float32)
    assert str(info.value) == (
        "Bad in-place call: input tensor dtype long int and output tensor dtype float should match"
    )


# ---- accuracy and every loop shape on large inputs ----------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "shape,layout,dim",
    [
        ((300_001,), ("id",), None),  # contiguous, parallel, split into parts
        ((500, 700), ("id",), 1),  # inner rows
        ((500, 700), ("id",), 0),  # outer: tiles of columns
        ((70_000, 3), ("id",), 0),  # outer, few columns: the rows are split
        ((3, 70_000), ("id",), 1),  # few long rows
        ((700, 500), ("t",), 0),  # transposed: rows again
        ((40, 30, 50), ("transpose", 0, 2), (0, 2)),  # strided
        ((1, 2000), ("expand", (300, 2000)), 0),  # stride 0
    ],
)
def test_large_sums_match_numpy(shape, layout, dim, dtype):
    arr = np.random.default_rng(1).uniform(-1, 2, size=shape).astype(dtype)
    x = apply_layout(from_numpy(arr), layout)
    ref = np_layout(arr.astype(np.float64), layout)
    axis = _axes(dim, ref.ndim)
    tol = dict(rtol=1e-5, atol=1e-4) if dtype == "float32" else dict(rtol=1e-11, atol=1e-9)
    assert_close(to_numpy(x.sum(dim)), np.sum(ref, axis=axis), **tol)
    assert_close(to_numpy(x.mean(dim)), np.mean(ref, axis=axis), **tol)
    assert_close(
        to_numpy(x.amax(() if dim is None else dim)), np.max(ref, axis=axis), rtol=0, atol=0
    )
    assert_close(to_numpy(x.var(dim)), np.var(ref, axis=axis, ddof=1), **tol)
    assert_close(to_numpy(x.norm(3, dim)), np.sum(np.abs(ref) ** 3, axis=axis) ** (1 / 3), **tol)
    if dim is None or isinstance(dim, int):
        idx = np.argmax(ref) if dim is None else np.argmax(ref, axis=dim)
        np.testing.assert_array_equal(to_numpy(x.argmax(dim)), idx)


def test_float32_sum_of_many_ones_is_exact():
    # Sequential float32 accumulation would stop at 2**24.
    n = 2**24 + 8
    assert ferrograd.ones(n).sum().item() == float(n)


@pytest.mark.parametrize("shape,dim", [((100_000, 4), 1), ((4, 100_000), 1), ((300, 400), 0)])
def test_large_scans_and_softmax_match_numpy(shape, dim):
    arr = np.random.default_rng(2).uniform(-1, 1, size=shape)
    x = from_numpy(arr)
    assert_close(to_numpy(x.cumsum(dim)), np.cumsum(arr, axis=dim), rtol=1e-10, atol=1e-9)
    assert_close(to_numpy(x.softmax(dim)), np_softmax(arr, dim), rtol=1e-10, atol=1e-15)
    assert_close(to_numpy(x.logsumexp(dim)), np_logsumexp(arr, dim), rtol=1e-10, atol=1e-12)


# ---- functional forms ---------------------------------------------------------------------


def test_functional_forms_exist_with_torch_names():
    import inspect

    names = ["prod", "max", "min", "amax", "amin", "argmax", "argmin", "var", "std"]
    names += ["logsumexp", "cumsum", "cumprod", "softmax", "log_softmax", "all", "any"]
    for name in names:
        assert callable(getattr(ferrograd, name)), name
        assert name in ferrograd._reduce.__all__
        params = list(inspect.signature(getattr(ferrograd, name)).parameters)
        assert params[0] == "input", name
    try:
        import torch
    except ImportError:
        return
    for name in names:
        assert hasattr(torch, name)
