"""Shared test helpers: NumPy <-> ferrograd conversion, input layouts and a float64
central-difference gradcheck.

Import from any test file as ``from helpers import gradcheck`` (``tests/conftest.py`` puts
this folder on ``sys.path``).

Layouts: an input of an op is described by the *leaf* it is built from plus a layout, so
that non-contiguous inputs can be tested while gradients are still taken w.r.t. a plain leaf:

- ``("id",)``: the leaf itself;
- ``("t",)``: ``leaf.t()`` (the leaf has the reversed 2-d shape);
- ``("transpose", d0, d1)``: ``leaf.transpose(d0, d1)``;
- ``("expand", shape)``: ``leaf.expand(*shape)`` (the leaf has size-1 dims where it is broadcast).

Layouts are applied with method calls only, so the same code builds PyTorch inputs.
"""

from __future__ import annotations

import ferrograd
import numpy as np
from hypothesis import strategies as st

NP_DTYPES = {"float32": np.float32, "float64": np.float64, "int64": np.int64, "bool": np.bool_}


def dtype_name(dtype) -> str:
    """``ferrograd.float32`` / ``torch.float32`` / ``np.float32`` -> ``"float32"``."""
    s = str(dtype)
    for prefix in ("ferrograd.", "torch."):
        if s.startswith(prefix):
            return s[len(prefix) :]
    return np.dtype(dtype).name


def fg_dtype(name_or_dtype):
    return getattr(ferrograd, dtype_name(name_or_dtype))


def to_numpy(t) -> np.ndarray:
    """A ferrograd (or torch) tensor's values as a NumPy array of the same dtype and shape."""
    t = t.detach()
    shape = tuple(t.shape)
    dt = NP_DTYPES[dtype_name(t.dtype)]
    # torch's double backward may give a ZeroTensor, which has no storage to read.
    if t.numel() == 0 or getattr(t, "_is_zerotensor", lambda: False)():
        return np.zeros(shape, dtype=dt)
    return np.asarray(t.tolist(), dtype=dt).reshape(shape)


def from_numpy(arr, *, dtype=None, requires_grad=False, lib=ferrograd):
    """A leaf tensor of ``lib`` (ferrograd or torch) with ``arr``'s values, shape and dtype.

    Built from a flat list and reshaped (then detached), so size-0 shapes survive.
    """
    arr = np.asarray(arr)
    name = dtype_name(dtype) if dtype is not None else arr.dtype.name
    dt = getattr(lib, name)
    flat = arr.astype(NP_DTYPES[name]).reshape(-1).tolist()
    t = lib.tensor(flat, dtype=dt).reshape(arr.shape).detach()
    if requires_grad:
        t.requires_grad_(True)
    return t


def layout_kinds(ndim):
    """The layouts `layout_for` draws from by default for a tensor of `ndim` dims."""
    return ["id", "expand"] + (["t"] if ndim <= 2 else []) + (["transpose"] if ndim >= 2 else [])


@st.composite
def layout_for(draw, shape, kinds=None):
    """A leaf shape and a layout (see `apply_layout`) giving a tensor of ``shape``: the leaf
    itself ("id"), its `t()`, a transpose of two dims, or an expand of a leaf with size-1
    and missing leading dims. ``kinds`` restricts the choice (default: `layout_kinds`)."""
    n = len(shape)
    kind = draw(st.sampled_from(kinds if kinds is not None else layout_kinds(n)))
    if kind == "id" or (kind == "transpose" and n < 2):
        return shape, ("id",)
    if kind == "t":
        return tuple(reversed(shape)), ("t",)
    if kind == "transpose":
        d0, d1 = draw(st.integers(-n, n - 1)), draw(st.integers(-n, n - 1))
        leaf = list(shape)
        leaf[d0], leaf[d1] = leaf[d1], leaf[d0]
        return tuple(leaf), ("transpose", d0, d1)
    drop = draw(st.integers(0, n))
    leaf = tuple(1 if draw(st.integers(0, 2)) == 0 else s for s in shape[drop:])
    return leaf, ("expand", tuple(shape))


def apply_layout(t, layout):
    kind = layout[0]
    if kind == "id":
        return t
    if kind == "t":
        return t.t()
    if kind == "transpose":
        return t.transpose(layout[1], layout[2])
    if kind == "expand":
        return t.expand(layout[1])
    raise ValueError(f"unknown layout {layout!r}")


def layout_shape(leaf_shape, layout):
    """The shape of ``apply_layout(leaf, layout)`` for a leaf of ``leaf_shape``."""
    kind = layout[0]
    shape = list(leaf_shape)
    if kind == "id":
        return tuple(shape)
    if kind == "t":
        return tuple(reversed(shape))
    if kind == "transpose":
        if shape:
            d0, d1 = layout[1] % len(shape), layout[2] % len(shape)
            shape[d0], shape[d1] = shape[d1], shape[d0]
        return tuple(shape)
    if kind == "expand":
        return tuple(layout[1])
    raise ValueError(f"unknown layout {layout!r}")


def np_layout(arr, layout):
    """NumPy equivalent of :func:`apply_layout`."""
    kind = layout[0]
    if kind == "id":
        return arr
    if kind == "t":
        return arr.T
    if kind == "transpose":
        return np.swapaxes(arr, layout[1], layout[2]) if arr.ndim else arr
    if kind == "expand":
        return np.broadcast_to(arr, layout[1])
    raise ValueError(f"unknown layout {layout!r}")


def sample(rng, shape, domain, dtype=np.float64):
    """Random values of ``shape`` in a domain where the op is smooth and well conditioned.

    any: [-2, 2]; positive: [0.5, 2]; nonzero: +-[0.5, 2] (away from kinks and poles);
    small: [-1, 1].
    """
    if domain == "any":
        a = rng.uniform(-2.0, 2.0, size=shape)
    elif domain == "positive":
        a = rng.uniform(0.5, 2.0, size=shape)
    elif domain == "nonzero":
        a = rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    elif domain == "small":
        a = rng.uniform(-1.0, 1.0, size=shape)
    else:
        raise ValueError(f"unknown domain {domain!r}")
    return np.asarray(a, dtype=dtype)


def assert_close(actual, expected, *, rtol, atol, what=""):
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)


def _numeric_grads(f, leaves, v, eps):
    """Central differences of ``sum(f(leaves) * v)`` w.r.t. each leaf (all float64)."""
    grads = []
    for i, leaf in enumerate(leaves):
        g = np.zeros(leaf.shape, dtype=np.float64)
        for idx in np.ndindex(*leaf.shape):
            vals = []
            for sgn in (1.0, -1.0):
                pert = [a.copy() for a in leaves]
                pert[i][idx] += sgn * eps
                # Leaves require grad so that ``f`` may itself differentiate (gradgradcheck).
                xs = [from_numpy(a, requires_grad=True) for a in pert]
                out = to_numpy(f(*xs)).astype(np.float64)
                # Entries that are not finite (the NaN mean of an empty slice) are constant.
                vals.append(float(np.sum(np.where(np.isfinite(out), out * v, 0.0))))
            g[idx] = (vals[0] - vals[1]) / (2.0 * eps)
        grads.append(g)
    return grads


def gradcheck(f, leaves, *, rng=None, eps=1e-6, atol=1e-5, rtol=1e-4, v=None):
    """Checks ferrograd's backward of ``f`` against central finite differences, in float64.

    ``f`` maps ferrograd tensors (one per leaf) to a ferrograd tensor; ``leaves`` are NumPy
    arrays (cast to float64). A scalar output is backpropagated with ``out.backward()``, any
    other with a random upstream gradient ``v`` (``out.backward(v)``), so every entry of the
    Jacobian is seen. Size-0 leaves only get their grad's shape checked.

    Returns ``(out, grads, v)``: the output tensor, the analytic grads (NumPy) and ``v``.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    leaves = [np.asarray(a, dtype=np.float64) for a in leaves]
    xs = [from_numpy(a, requires_grad=True) for a in leaves]
    out = f(*xs)
    assert dtype_name(out.dtype) == "float64", f"gradcheck needs float64 output, got {out.dtype}"
    assert out.requires_grad, "output does not require grad"
    out_shape = tuple(out.shape)
    if out.ndim == 0 and v is None:
        v = np.ones((), dtype=np.float64)
        out.backward()
    else:
        if v is None:
            v = rng.uniform(-1.0, 1.0, size=out_shape)
        v = np.asarray(v, dtype=np.float64).reshape(out_shape)
        out.backward(from_numpy(v))
    analytic = []
    for x, a in zip(xs, leaves):
        assert x.grad is not None, "leaf got no grad"
        assert tuple(x.grad.shape) == a.shape, f"grad shape {tuple(x.grad.shape)} != {a.shape}"
        assert dtype_name(x.grad.dtype) == "float64"
        analytic.append(to_numpy(x.grad))
    if all(a.size == 0 for a in leaves) or out.numel() == 0:
        for g in analytic:
            assert np.all(g == 0)
        return out, analytic, v
    numeric = _numeric_grads(f, leaves, v, eps)
    for i, (ga, gn) in enumerate(zip(analytic, numeric)):
        assert_close(ga, gn, rtol=rtol, atol=atol, what=f"grad of input {i}")
    return out, analytic, v


def gradgradcheck(f, leaves, *, v, w, **kwargs):
    """Checks second derivatives: the first grads of ``sum(f(xs) * v)``, taken with
    ``ferrograd.autograd.grad(..., create_graph=True)``, are differentiated once more as
    ``sum_i sum(grad_i * w_i)`` and compared with finite differences of that function."""
    v = np.asarray(v, dtype=np.float64)

    def first_grads_dot_w(*xs):
        y = (f(*xs) * from_numpy(v)).sum()
        grads = ferrograd.autograd.grad(y, xs, create_graph=True)
        return sum((g * from_numpy(wi)).sum() for g, wi in zip(grads, w))

    return gradcheck(first_grads_dot_w, leaves, **kwargs)


# ---- PyTorch's type promotion (the rule ferrograd follows) ---------------------------------

_CATEGORY = {"bool": 0, "int64": 1, "float32": 2, "float64": 2}
_ORDER = ["bool", "int64", "float32", "float64"]


def _promote(a, b):
    return _ORDER[max(_ORDER.index(a), _ORDER.index(b))]


def result_dtype(*operands) -> str:
    """PyTorch's result dtype of a binary op. Operands: ``(dtype_name, ndim)`` for tensors,
    or a Python ``bool`` / ``int`` / ``float`` for scalars. Dimensioned tensors win over
    zero-dim ones, which win over scalars, unless the lower class has a higher category."""
    dimensioned = zero_dim = scalar = None
    for op in operands:
        if isinstance(op, tuple):
            name, ndim = op
            if ndim > 0:
                dimensioned = name if dimensioned is None else _promote(dimensioned, name)
            else:
                zero_dim = name if zero_dim is None else _promote(zero_dim, name)
        else:
            cat = "bool" if isinstance(op, bool) else "int64" if isinstance(op, int) else "float32"
            scalar = cat if scalar is None else _promote(scalar, cat)
    result = dimensioned
    for lower in (zero_dim, scalar):
        if lower is None:
            continue
        if result is None or _CATEGORY[lower] > _CATEGORY[result]:
            result = lower
    return result or "float32"


def second_order(L, fn, arrays, v, w):
    """First grads of ``sum(fn(xs) * v)`` (with ``create_graph``) and the grads of
    ``sum(first_i * w_i)``; None where a grad is unused. ``L`` is ferrograd or torch."""
    xs = [from_numpy(a, requires_grad=True, lib=L) for a in arrays]
    y = (fn(L, *xs) * from_numpy(v, lib=L)).sum()
    first = L.autograd.grad(y, xs, create_graph=True)
    z = sum((g * from_numpy(wi, lib=L)).sum() for g, wi in zip(first, w))
    second = L.autograd.grad(z, xs, allow_unused=True) if z.requires_grad else [None] * len(xs)
    return first, second
