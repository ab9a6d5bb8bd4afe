"""Tests of indexing: ``x[...]`` / ``x[...] = v`` and the gather/scatter family.

Generated indices mix ints (negative too), slices with steps, ``None``, ``...``, Python
bools, integer lists / tensors (broadcasting, repeated and negative entries) and bool masks,
over tensors of 0-3 dims with size-0 dims and non-contiguous layouts. Each is checked three
ways, like the op registry of ``test_ops_properties.py``:

1. against NumPy, through ``np_index`` — PyTorch's indexing rule written with NumPy: the
   basic items first, left to right (a NumPy view), then NumPy fancy indexing of what is
   left. (Plain NumPy differs where an int sits between advanced indices: NumPy counts the
   int as an advanced index, PyTorch selects first.)
2. by a float64 gradcheck against finite differences (where the result is smooth in the
   inputs: no repeated targets for overwriting writes);
3. against PyTorch when it is installed: values, grads, dtypes, shapes, ``grad_fn`` names,
   strides and storage offsets of views, version counters, and exception types + messages.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
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
    to_numpy,
)
from hypothesis import assume, given
from hypothesis import strategies as st

TOL = {"float32": dict(rtol=2e-5, atol=2e-5), "float64": dict(rtol=1e-10, atol=1e-12)}
VIEW_NAMES = {"SelectBackward0", "SliceBackward0", "UnsqueezeBackward0", "AliasBackward0"}


def _torch():
    return pytest.importorskip("torch")


def node_name(t):
    """``grad_fn.name()`` without the C++ namespace PyTorch gives some nodes."""
    if t.grad_fn is None:
        return None
    return t.grad_fn.name().replace("torch::autograd::", "")


def lib_tensor(L, arr, requires_grad=False):
    return from_numpy(arr, requires_grad=requires_grad, lib=L)


# ---- shapes and layouts --------------------------------------------------------------------

SIZES = st.sampled_from([1, 2, 3, 4, 3, 2, 0])


def shapes(min_dims=0, max_dims=3):
    return st.lists(SIZES, min_size=min_dims, max_size=max_dims).map(tuple)


def values(rng, shape, dtype):
    if dtype == "bool":
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype == "int64":
        return rng.integers(-5, 6, size=shape).astype(np.int64)
    return rng.uniform(-2.0, 2.0, size=shape).astype(dtype)


# ---- indices -------------------------------------------------------------------------------


@dataclass
class Index:
    """A generated index: ``items`` of ``(kind, payload)`` (see ``index_for``); ``bare``: the
    one item is passed without a tuple; ``as_tensor``: per item, whether an integer array is
    given as a tensor (else as a nested list)."""

    items: list
    bare: bool = False
    as_tensor: list = field(default_factory=list)

    def build(self, L):
        """The index object for library ``L`` (ferrograd or torch)."""
        out = []
        for (kind, p), tensor in zip(self.items, self.as_tensor):
            if kind == "int":
                out.append(p)
            elif kind == "slice":
                out.append(slice(*p))
            elif kind == "none":
                out.append(None)
            elif kind == "ellipsis":
                out.append(Ellipsis)
            elif kind == "bool":
                out.append(p)
            elif kind == "ints":
                out.append(lib_tensor(L, p) if tensor else p.tolist())
            elif kind == "mask":
                out.append(lib_tensor(L, p))
        return out[0] if self.bare else tuple(out)

    def __repr__(self):
        return f"Index({self.build(np)!r}, bare={self.bare})"


def _specified(items):
    n = 0
    for kind, p in items:
        if kind in ("int", "slice") or (kind == "ints"):
            n += 1
        elif kind == "mask":
            n += p.ndim
    return n


def np_index(a, index, value=None):
    """``a[index]`` with PyTorch's semantics, in NumPy (or, given ``value``, the assignment
    ``a[index] = value`` in place)."""
    items = index.items
    specified = _specified(items)
    basic, adv, dim = [], {}, 0
    for kind, p in items:
        if kind == "int" or (kind == "ints" and p.ndim == 0):
            basic.append(int(p))
        elif kind == "slice":
            basic.append(slice(*p))
            dim += 1
        elif kind == "none":
            basic.append(None)
            dim += 1
        elif kind == "ellipsis":
            basic.append(Ellipsis)
            dim += a.ndim - specified
        elif kind == "bool":
            basic.append(None)
            adv[dim] = np.array([0] if p else [], dtype=np.int64)
            dim += 1
        elif kind == "ints":
            basic.append(slice(None))
            adv[dim] = p
            dim += 1
        else:  # mask
            basic.extend([slice(None)] * p.ndim)
            adv[dim] = p
            dim += p.ndim
    if not adv:
        if value is None:
            return np.asarray(a[tuple(basic)])
        a[tuple(basic)] = value
        return a
    view = a[tuple(basic)]
    key, d = [], 0
    while d <= max(adv):
        if d in adv:
            key.append(adv[d])
            d += adv[d].ndim if adv[d].dtype == bool else 1
        else:
            key.append(slice(None))
            d += 1
    if value is None:
        return np.asarray(view[tuple(key)])
    view[tuple(key)] = value
    return a


@st.composite
def index_for(draw, shape, advanced=True, max_items=4):
    """An index for a tensor of ``shape`` that PyTorch accepts."""
    nd = len(shape)
    kinds = ["int", "slice", "slice", "none", "ellipsis"]
    if advanced:
        kinds += ["ints", "ints", "mask", "bool"]
    picked = draw(st.lists(st.sampled_from(kinds), max_size=max_items))
    assume(picked.count("ellipsis") <= 1 and picked.count("mask") <= 1)
    if "mask" in picked or "bool" in picked:
        # Masks and bools broadcast against other index tensors only in special cases.
        assume(picked.count("ints") == 0 and picked.count("bool") + picked.count("mask") <= 1)
    widths = [1 if k in ("int", "slice", "ints") else 0 for k in picked]
    if "mask" in picked:
        free = nd - sum(widths)
        assume(free >= 1)
        widths[picked.index("mask")] = draw(st.integers(1, min(2, free)), label="mask dims")
    assume(sum(widths) <= nd)
    # The dims each item indexes: from the front, and from the back after an ellipsis.
    dims, d = [], 0
    for i, (k, w) in enumerate(zip(picked, widths)):
        if k == "ellipsis":
            d = nd - sum(widths[i + 1 :])
        dims.append(d)
        d += w
    bshape = draw(st.lists(st.sampled_from([1, 2, 3, 0]), max_size=2), label="index shape")
    items, as_tensor = [], []
    for k, w, d in zip(picked, widths, dims):
        size = shape[d] if w else 0
        if k == "int":
            assume(size > 0)
            items.append((k, draw(st.integers(-size, size - 1))))
        elif k == "slice":
            bound = st.one_of(st.none(), st.integers(-size - 2, size + 2))
            step = st.sampled_from([None, 1, 2, 3])
            items.append((k, (draw(bound), draw(bound), draw(step))))
        elif k in ("none", "ellipsis"):
            items.append((k, None))
        elif k == "bool":
            items.append((k, draw(st.booleans())))
        elif k == "mask":
            mshape = shape[d : d + w]
            bits = draw(
                st.lists(st.booleans(), min_size=math.prod(mshape), max_size=math.prod(mshape))
            )
            items.append((k, np.array(bits, dtype=bool).reshape(mshape)))
        else:  # ints: a shape broadcastable with the other index tensors
            ishape = [1 if draw(st.integers(0, 3)) == 0 else s for s in bshape]
            ishape = ishape[draw(st.integers(0, len(ishape))) :]
            n = math.prod(ishape)
            assume(size > 0 or n == 0)
            vals = draw(st.lists(st.integers(-size, max(size - 1, -size)), min_size=n, max_size=n))
            items.append((k, np.array(vals, dtype=np.int64).reshape(ishape)))
        as_tensor.append(draw(st.booleans()))
    for i, (k, p) in enumerate(items):
        if k == "ints" and p.size == 0 and p.ndim > 1:
            as_tensor[i] = True  # an empty nested list loses its inner dims
    bare = len(items) == 1 and draw(st.booleans())
    if bare and items[0][0] == "ints" and items[0][1].ndim != 1:
        as_tensor[0] = True  # a bare nested list would be read as a tuple
    return Index(items, bare, as_tensor)


@st.composite
def getitem_case(draw, advanced=True):
    shape = draw(shapes(), label="shape")
    leaf, layout = draw(layout_for(shape), label="layout")
    index = draw(index_for(shape, advanced), label="index")
    return shape, leaf, layout, index


def _quiet_index(x, idx):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return x[idx]


# ---- __getitem__ ---------------------------------------------------------------------------


@given(
    case=getitem_case(),
    dtype=st.sampled_from(["float32", "float64", "int64", "bool"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_getitem_matches_numpy(case, dtype, seed):
    shape, leaf, layout, index = case
    a = values(np.random.default_rng(seed), leaf, dtype)
    x = apply_layout(lib_tensor(ferrograd, a), layout)
    ref = np_index(np_layout(a, layout), index)
    out = _quiet_index(x, index.build(ferrograd))
    assert tuple(out.shape) == ref.shape
    assert dtype_name(out.dtype) == dtype
    np.testing.assert_array_equal(to_numpy(out), ref)


@given(case=getitem_case(), seed=st.integers(0, 2**32 - 1))
def test_getitem_gradcheck(case, seed):
    shape, leaf, layout, index = case
    a = values(np.random.default_rng(seed), leaf, "float64")
    idx = index.build(ferrograd)
    gradcheck(lambda x: _quiet_index(apply_layout(x, layout), idx), [a])


def _aliases(out, x):
    """Whether ``out`` is a view into ``x``'s storage (by address)."""
    if out.numel() == 0 or x.numel() == 0:
        return None
    size = out.element_size()
    lo = x.data_ptr() - x.storage_offset() * size
    return lo <= out.data_ptr() < lo + (x.storage_offset() + x.numel() * 64) * size


def _view_strides(t):
    return [s for s, n in zip(t.stride(), t.shape) if n > 1]


@given(
    case=getitem_case(),
    dtype=st.sampled_from(["float32", "float64"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_getitem_torch_parity(case, dtype, seed):
    torch = _torch()
    shape, leaf, layout, index = case
    rng = np.random.default_rng(seed)
    a = values(rng, leaf, dtype)
    res = []
    for L in (ferrograd, torch):
        lf = lib_tensor(L, a, requires_grad=True)
        x = apply_layout(lf, layout)
        out = _quiet_index(x, index.build(L))
        res.append((lf, x, out))
    (fl, fx, fo), (tl, tx, to) = res
    assert tuple(fo.shape) == tuple(to.shape)
    assert str(fo.dtype).split(".")[-1] == str(to.dtype).split(".")[-1]
    assert node_name(fo) == node_name(to)
    assert_close(to_numpy(fo), to_numpy(to), **TOL[dtype], what="value")
    if node_name(to) in VIEW_NAMES and to.numel() > 0:
        assert _view_strides(fo) == _view_strides(to)
        assert (
            fo.storage_offset() - fx.storage_offset() == to.storage_offset() - tx.storage_offset()
        )
        assert _aliases(fo, fx)
    v = rng.uniform(-1, 1, size=tuple(to.shape)).astype(dtype)
    fo.backward(from_numpy(v))
    to.backward(from_numpy(v, lib=torch))
    assert_close(to_numpy(fl.grad), to_numpy(tl.grad), **TOL[dtype], what="grad")


# ---- __setitem__ ---------------------------------------------------------------------------


@st.composite
def setitem_case(draw, advanced=True):
    shape, leaf, layout, index = draw(getitem_case(advanced))
    region = np_index(np.zeros(shape), index).shape
    kind = draw(st.sampled_from(["scalar", "full", "smaller", "ones", "zero-dim"]), label="value")
    if kind == "scalar":
        return shape, index, None, draw(st.sampled_from([1.5, -2, True, 0]))
    if kind == "full":
        vshape = region
    elif kind == "smaller":
        drop = draw(st.integers(0, len(region)))
        vshape = tuple(1 if draw(st.booleans()) else s for s in region[drop:])
    elif kind == "ones":
        vshape = (1, 1) + tuple(region)
    else:
        vshape = ()
    return shape, index, vshape, None


def _positions(shape, index):
    """The flat positions ``x[index]`` reads, in order (to spot repeated targets)."""
    return np_index(np.arange(math.prod(shape)).reshape(shape), index).reshape(-1)


def _has_advanced(index):
    return any(
        k in ("ints", "mask", "bool") and not (k == "ints" and p.ndim == 0) for k, p in index.items
    )


@given(
    case=setitem_case(),
    dtype=st.sampled_from(["float32", "float64", "int64"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_setitem_matches_numpy(case, dtype, seed):
    shape, index, vshape, scalar = case
    rng = np.random.default_rng(seed)
    a = values(rng, shape, dtype)
    x = lib_tensor(ferrograd, a)
    if vshape is None:
        value, ref_value = scalar, scalar
    else:
        # Advanced indexing (index_put_) needs the value in x's dtype; copies cast.
        vdtype = dtype if _has_advanced(index) else "float64"
        ref_value = values(rng, vshape, vdtype)
        value = lib_tensor(ferrograd, ref_value)
        # PyTorch drops a value's leading size-1 dims (NumPy only broadcasts them).
        lead = len(vshape) - len(np.trim_zeros(np.array(vshape) != 1, "f"))
        ref_value = ref_value.astype(dtype).reshape(vshape[lead:])
    ref = np_index(a.copy(), index, ref_value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        x[index.build(ferrograd)] = value
    np.testing.assert_allclose(to_numpy(x), ref, rtol=1e-6)
    assert x._version == (
        0 if (len(index.items) == 1 and index.bare and index.items[0] == ("bool", False)) else 1
    )


def _setter(index, vshape, scalar, L):
    idx = index.build(L)

    def f(x, *v):
        y = x * 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            y[idx] = v[0] if v else scalar
        return y

    return f


@given(case=setitem_case(), seed=st.integers(0, 2**32 - 1))
def test_setitem_gradcheck(case, seed):
    shape, index, vshape, scalar = case
    pos = _positions(shape, index)
    assume(len(np.unique(pos)) == len(pos))  # an overwritten value has no derivative
    assume(not (index.bare and index.items[0] == ("bool", False)))  # x[False] = v is a no-op
    rng = np.random.default_rng(seed)
    leaves = [values(rng, shape, "float64")]
    if vshape is not None:
        leaves.append(values(rng, vshape, "float64"))
    gradcheck(_setter(index, vshape, scalar, ferrograd), leaves)


@given(
    case=setitem_case(),
    dtype=st.sampled_from(["float32", "float64"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_setitem_torch_parity(case, dtype, seed):
    torch = _torch()
    shape, index, vshape, scalar = case
    if vshape is not None:  # PyTorch leaves the winner of repeated targets undefined
        pos = _positions(shape, index)
        assume(len(np.unique(pos)) == len(pos))
    rng = np.random.default_rng(seed)
    arrays = [values(rng, shape, dtype)]
    if vshape is not None:
        arrays.append(values(rng, vshape, dtype))
    res = []
    for L in (ferrograd, torch):
        leaves = [lib_tensor(L, a, requires_grad=True) for a in arrays]
        y = leaves[0] * 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                y[index.build(L)] = leaves[1] if vshape is not None else scalar
        except (RuntimeError, IndexError) as e:
            res.append(e)
            continue
        res.append((leaves, y))
    if isinstance(res[1], Exception) or isinstance(res[0], Exception):
        assert type(res[0]) is type(res[1]) and str(res[0]) == str(res[1])
        return
    (fls, fy), (tls, ty) = res
    assert node_name(fy) == node_name(ty)
    assert fy._version == ty._version
    assert_close(to_numpy(fy), to_numpy(ty), **TOL[dtype], what="value")
    v = rng.uniform(-1, 1, size=tuple(ty.shape)).astype(dtype)
    fy.backward(from_numpy(v))
    ty.backward(from_numpy(v, lib=torch))
    for i, (a, b) in enumerate(zip(fls, tls)):
        assert (a.grad is None) == (b.grad is None)
        if b.grad is not None:
            assert_close(to_numpy(a.grad), to_numpy(b.grad), **TOL[dtype], what=f"grad {i}")


# ---- gather / scatter / index_* / masked_* / take / index_put / copy_ ------------------------


@dataclass(frozen=True)
class OpSpec:
    """An op over float inputs (``floats``: how many leading args are differentiable) and
    fixed integer/bool arguments (``extra``), drawn together by ``case``."""

    name: str
    case: Callable  # strategy: (float shapes, layouts, extra args dict)
    fn: Callable  # fn(L, *float_tensors, **extra with arrays turned into L tensors)
    np_fn: Callable  # np_fn(*float_arrays, **extra)
    grad: bool = True  # finite differences apply (no overwritten duplicates)
    # Whether no target is written twice (PyTorch leaves the winner undefined otherwise).
    unique: Callable | None = None


def _idx_values(draw, n, size, allow_repeat=True, negative=False):
    lo = -size if negative else 0
    if allow_repeat or n > size:
        assume(size > 0 or n == 0)
        return draw(st.lists(st.integers(lo, max(size - 1, lo)), min_size=n, max_size=n))
    return draw(st.permutations(range(size)))[:n]


@st.composite
def dim_case(draw, kind):
    """Shapes and an index along one dim, for index_select / index_add / index_fill."""
    shape = draw(shapes(0, 3))
    nd = len(shape)
    dim = draw(st.integers(-max(nd, 1), max(nd, 1) - 1))
    size = shape[dim] if nd else 1
    n = draw(st.integers(0, 4)) if nd else 1
    idx = np.array(_idx_values(draw, n, size, negative=kind == "index_fill"), dtype=np.int64)
    if draw(st.booleans()) and n == 1:
        idx = idx.reshape(())
    leaf, layout = draw(layout_for(shape))
    extra = {"dim": dim, "index": idx}
    if kind == "index_select":
        return [leaf], [layout], extra
    if kind == "index_fill":
        extra["value"] = draw(st.sampled_from([-1.5, 2, 0.25]))
        return [leaf], [layout], extra
    src_shape = list(shape)
    if nd:
        src_shape[dim] = idx.size
    extra["alpha"] = draw(st.sampled_from([1, 2.5, -1]))
    src_leaf, src_layout = draw(layout_for(tuple(src_shape)))
    return [leaf, src_leaf], [layout, src_layout], extra


@st.composite
def gather_case(draw, kind):
    """Shapes and an index for gather / scatter / scatter_add (``unique``: no two index
    entries of a scatter hit one element)."""
    shape = draw(shapes(0, 3))
    nd = len(shape)
    ne = [*shape] if nd else [1]
    dim = draw(st.integers(-max(nd, 1), max(nd, 1) - 1)) % len(ne)
    ishape = [draw(st.integers(0, s)) for s in ne]
    if kind == "gather":
        ishape[dim] = draw(st.integers(0, 4))
    n = math.prod(ishape)
    if kind == "scatter":  # each column gets distinct targets along dim
        ishape[dim] = min(ishape[dim], ne[dim])
        cols = math.prod(ishape) // max(ishape[dim], 1) if ishape[dim] else 0
        perms = [draw(st.permutations(range(ne[dim])))[: ishape[dim]] for _ in range(cols)]
        idx = np.moveaxis(
            np.array(perms, dtype=np.int64).reshape(
                [*ishape[:dim], *ishape[dim + 1 :], ishape[dim]]
            ),
            -1,
            dim,
        )
    else:
        idx = np.array(_idx_values(draw, n, ne[dim]), dtype=np.int64).reshape(ishape)
    if nd == 0 and idx.size == 1 and draw(st.booleans()):
        idx = idx.reshape(())
    leaf, layout = draw(layout_for(shape))
    extra = {"dim": dim - len(ne) if draw(st.booleans()) else dim, "index": idx}
    if kind == "gather":
        return [leaf], [layout], extra
    src_shape = tuple(max(i, draw(st.integers(i, i + 1))) for i in ishape) if nd else idx.shape
    if kind == "scatter" and draw(st.booleans()):
        extra["value"] = draw(st.sampled_from([1.5, -3]))
        return [leaf], [layout], extra
    src_leaf, src_layout = draw(layout_for(src_shape))
    return [leaf, src_leaf], [layout, src_layout], extra


@st.composite
def mask_case(draw):
    shape = draw(shapes(0, 3))
    drop = draw(st.integers(0, len(shape)))
    mshape = tuple(1 if draw(st.integers(0, 3)) == 0 else s for s in shape[drop:])
    if draw(st.booleans()):  # the mask may be the larger operand
        shape, mshape = mshape, shape
    bits = draw(st.lists(st.booleans(), min_size=math.prod(mshape), max_size=math.prod(mshape)))
    leaf, layout = draw(layout_for(shape))
    return [leaf], [layout], {"mask": np.array(bits, dtype=bool).reshape(mshape)}


@st.composite
def take_case(draw):
    shape = draw(shapes(0, 3))
    n = math.prod(shape)
    ishape = draw(shapes(0, 2))
    idx = np.array(_idx_values(draw, math.prod(ishape), n, negative=True), dtype=np.int64).reshape(
        ishape
    )
    leaf, layout = draw(layout_for(shape))
    return [leaf], [layout], {"index": idx}


@st.composite
def index_put_case(draw, accumulate):
    shape = draw(shapes(1, 3))
    k = draw(st.integers(1, len(shape)))
    if draw(st.integers(0, 3)) == 0:
        bits = draw(
            st.lists(st.booleans(), min_size=math.prod(shape[:k]), max_size=math.prod(shape[:k]))
        )
        indices = [np.array(bits, dtype=bool).reshape(shape[:k])]
    else:
        bshape = draw(st.lists(st.sampled_from([1, 2, 3]), max_size=2))
        indices = []
        for d in range(k):
            ishape = [1 if draw(st.integers(0, 3)) == 0 else s for s in bshape]
            vals = _idx_values(draw, math.prod(ishape), shape[d], negative=True)
            indices.append(np.array(vals, dtype=np.int64).reshape(ishape))
    region = np.zeros(shape)[tuple(indices)].shape
    drop = draw(st.integers(0, len(region)))
    vshape = tuple(1 if draw(st.booleans()) else s for s in region[drop:])
    leaf, layout = draw(layout_for(shape))
    vleaf, vlayout = draw(layout_for(vshape))
    return [leaf, vleaf], [layout, vlayout], {"indices": indices, "accumulate": accumulate}


def _np_index_select(x, dim, index):
    if x.ndim == 0:
        return x.copy()
    return np.take(x, index.reshape(-1), axis=dim)


def _np_index_add(x, src, dim, index, alpha):
    out = x.copy()
    if x.ndim == 0:
        return out + alpha * src * index.size
    view = np.moveaxis(out, dim, 0)
    np.add.at(view, index.reshape(-1), alpha * np.moveaxis(src, dim, 0))
    return out


def _np_index_fill(x, dim, index, value):
    out = x.copy()
    if x.ndim == 0:
        return np.full_like(out, value)
    view = np.moveaxis(out, dim, 0)
    view[index.reshape(-1)] = value
    return out


def _np_gather(x, dim, index):
    x1, i1 = np.atleast_1d(x), np.atleast_1d(index)
    grids = np.indices(i1.shape, sparse=True)
    key = tuple(i1 if d == dim % x1.ndim else g for d, g in enumerate(grids))
    return x1[key].reshape(index.shape)


def _np_scatter(x, *src, dim, index, value=None, add=False):
    out = np.atleast_1d(x.copy())
    i1 = np.atleast_1d(index)
    s = np.broadcast_to(value, i1.shape) if not src else np.atleast_1d(src[0])
    s = s[tuple(slice(0, n) for n in i1.shape)]
    grids = np.indices(i1.shape, sparse=True)
    key = tuple(i1 if d == dim % out.ndim else g for d, g in enumerate(grids))
    if add:
        np.add.at(out, key, s)
    else:
        out[key] = s
    return out.reshape(x.shape)


def _np_masked_fill(x, mask, value=None):
    return np.where(mask, value, x)


def _np_masked_select(x, mask):
    xb, mb = np.broadcast_arrays(x, mask)
    return xb[mb]


def _np_take(x, index):
    return x.reshape(-1)[index] if x.size else np.zeros(index.shape)


def _np_index_put(x, v, indices, accumulate):
    out = x.copy()
    key = tuple(indices)
    if accumulate:
        np.add.at(out, key, np.broadcast_to(v, out[key].shape))
    else:
        out[key] = v
    return out


def _index_put_unique(shapes_, layouts, extra):
    shape = layout_shape(shapes_[0], layouts[0])
    pos = np.arange(math.prod(shape)).reshape(shape)[tuple(extra["indices"])].reshape(-1)
    return len(np.unique(pos)) == len(pos)


def _L_index_put(L, x, v, indices, accumulate):
    return x.index_put(tuple(indices), v, accumulate=accumulate)


def _L_copy(L, x, src):
    y = x * 1
    y.copy_(src)
    return y


@st.composite
def copy_case(draw):
    shape = draw(shapes(0, 3))
    drop = draw(st.integers(0, len(shape)))
    sshape = tuple(1 if draw(st.booleans()) else s for s in shape[drop:])
    leaf, layout = draw(layout_for(shape))
    sleaf, slayout = draw(layout_for(sshape))
    return [leaf, sleaf], [layout, slayout], {}


OPS = [
    OpSpec(
        "index_select",
        dim_case("index_select"),
        lambda L, x, dim, index: x.index_select(dim, index),
        _np_index_select,
    ),
    OpSpec(
        "index_select_fn",
        dim_case("index_select"),
        lambda L, x, dim, index: L.index_select(x, dim, index),
        _np_index_select,
    ),
    OpSpec(
        "index_add",
        dim_case("index_add"),
        lambda L, x, s, dim, index, alpha: x.index_add(dim, index, s, alpha=alpha),
        _np_index_add,
    ),
    OpSpec(
        "index_add_fn",
        dim_case("index_add"),
        lambda L, x, s, dim, index, alpha: L.index_add(x, dim, index, s, alpha=alpha),
        _np_index_add,
    ),
    OpSpec(
        "index_fill",
        dim_case("index_fill"),
        lambda L, x, dim, index, value: x.index_fill(dim, index, value),
        _np_index_fill,
    ),
    OpSpec(
        "gather", gather_case("gather"), lambda L, x, dim, index: x.gather(dim, index), _np_gather
    ),
    OpSpec(
        "gather_fn",
        gather_case("gather"),
        lambda L, x, dim, index: L.gather(x, dim, index),
        _np_gather,
    ),
    OpSpec(
        "scatter",
        gather_case("scatter"),
        lambda L, x, *s, dim, index, value=None: x.scatter(dim, index, s[0] if s else value),
        _np_scatter,
    ),
    OpSpec(
        "scatter_add",
        gather_case("scatter_add"),
        lambda L, x, s, dim, index: x.scatter_add(dim, index, s),
        lambda x, s, dim, index: _np_scatter(x, s, dim=dim, index=index, add=True),
    ),
    OpSpec(
        "scatter_add_fn",
        gather_case("scatter_add"),
        lambda L, x, s, dim, index: L.scatter_add(x, dim, index, s),
        lambda x, s, dim, index: _np_scatter(x, s, dim=dim, index=index, add=True),
    ),
    OpSpec(
        "masked_fill",
        mask_case(),
        lambda L, x, mask: x.masked_fill(mask, -0.5),
        lambda x, mask: _np_masked_fill(x, mask, -0.5),
    ),
    OpSpec(
        "masked_fill_fn",
        mask_case(),
        lambda L, x, mask: L.masked_fill(x, mask, 3),
        lambda x, mask: _np_masked_fill(x, mask, 3),
    ),
    OpSpec(
        "masked_select", mask_case(), lambda L, x, mask: x.masked_select(mask), _np_masked_select
    ),
    OpSpec(
        "masked_select_fn",
        mask_case(),
        lambda L, x, mask: L.masked_select(x, mask),
        _np_masked_select,
    ),
    OpSpec("take", take_case(), lambda L, x, index: x.take(index), _np_take),
    OpSpec("take_fn", take_case(), lambda L, x, index: L.take(x, index), _np_take),
    OpSpec(
        "index_put",
        index_put_case(False),
        _L_index_put,
        _np_index_put,
        grad=False,
        unique=_index_put_unique,
    ),
    OpSpec("index_put_acc", index_put_case(True), _L_index_put, _np_index_put),
    OpSpec("copy_", copy_case(), _L_copy, lambda x, s: np.broadcast_to(s, x.shape).copy()),
]


def _build_extra(L, extra):
    out = {}
    for k, v in extra.items():
        if isinstance(v, np.ndarray):
            out[k] = lib_tensor(L, v)
        elif isinstance(v, list):
            out[k] = [lib_tensor(L, a) for a in v]
        else:
            out[k] = v
    return out


def _run(spec, L, leaves, layouts, extra):
    xs = [apply_layout(x, lay) for x, lay in zip(leaves, layouts)]
    return spec.fn(L, *xs, **_build_extra(L, extra))


@pytest.mark.parametrize("spec", OPS, ids=lambda s: s.name)
@given(data=st.data())
def test_op_matches_numpy(spec, data):
    shapes_, layouts, extra = data.draw(spec.case, label="case")
    dtype = data.draw(st.sampled_from(["float32", "float64"]), label="dtype")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    arrays = [values(rng, s, dtype) for s in shapes_]
    with ferrograd.no_grad():
        out = _run(spec, ferrograd, [lib_tensor(ferrograd, a) for a in arrays], layouts, extra)
    ref = np.asarray(spec.np_fn(*[np_layout(a, lay) for a, lay in zip(arrays, layouts)], **extra))
    assert tuple(out.shape) == ref.shape
    assert dtype_name(out.dtype) == dtype
    assert_close(to_numpy(out), ref, **TOL[dtype], what=spec.name)


@pytest.mark.parametrize("spec", [s for s in OPS if s.grad], ids=lambda s: s.name)
@given(data=st.data())
def test_op_gradcheck(spec, data):
    shapes_, layouts, extra = data.draw(spec.case, label="case")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    arrays = [values(rng, s, "float64") for s in shapes_]
    if spec.name.startswith("scatter") and len(arrays) > 1:
        # PyTorch refuses the grad of a src larger than the index (see the errors below).
        assume(layout_shape(shapes_[1], layouts[1]) == extra["index"].shape)
    gradcheck(lambda *xs: _run(spec, ferrograd, xs, layouts, extra), arrays)


@pytest.mark.parametrize("spec", OPS, ids=lambda s: s.name)
@given(data=st.data())
def test_op_torch_parity(spec, data):
    torch = _torch()
    shapes_, layouts, extra = data.draw(spec.case, label="case")
    dtype = data.draw(st.sampled_from(["float32", "float64"]), label="dtype")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    arrays = [values(rng, s, dtype) for s in shapes_]
    res = []
    for L in (ferrograd, torch):
        leaves = [lib_tensor(L, a, requires_grad=True) for a in arrays]
        try:
            res.append((leaves, _run(spec, L, leaves, layouts, extra)))
        except (RuntimeError, IndexError) as e:
            res.append(e)
    if isinstance(res[0], Exception) or isinstance(res[1], Exception):
        assert type(res[0]) is type(res[1]) and str(res[0]) == str(res[1])
        return
    (fl, fo), (tl, to) = res
    assert tuple(fo.shape) == tuple(to.shape)
    assert str(fo.dtype).split(".")[-1] == str(to.dtype).split(".")[-1]
    assert node_name(fo) == node_name(to)
    if spec.unique is None or spec.unique(shapes_, layouts, extra):
        assert_close(to_numpy(fo), to_numpy(to), **TOL[dtype], what="value")
    v = rng.uniform(-1, 1, size=tuple(to.shape)).astype(dtype)
    errors = []
    for o, L in ((fo, ferrograd), (to, torch)):
        try:
            o.backward(from_numpy(v, lib=L))
            errors.append(None)
        except RuntimeError as e:
            errors.append(str(e))
    assert errors[0] == errors[1]
    for i, (a, b) in enumerate(zip(fl, tl)):
        assert (a.grad is None) == (b.grad is None), f"grad {i}"
        if b.grad is not None:
            assert_close(to_numpy(a.grad), to_numpy(b.grad), **TOL[dtype], what=f"grad {i}")


# ---- fixed cases: names, repeated indices, in place, double backward -----------------------


def _x(L, shape=(3, 4), requires_grad=True):
    a = np.arange(math.prod(shape), dtype=np.float64).reshape(shape) / 7 - 0.5
    return lib_tensor(L, a, requires_grad=requires_grad)


def _i(L, v):
    return L.tensor(v)


GRAD_FN_NAMES = [
    ("x[0]", lambda L, x: x[0], "SelectBackward0"),
    ("x[-1, 1:3]", lambda L, x: x[-1, 1:3], "SliceBackward0"),
    ("x[:]", lambda L, x: x[:], "SliceBackward0"),
    ("x[:, :]", lambda L, x: x[:, :], "AliasBackward0"),
    ("x[...]", lambda L, x: x[...], "AliasBackward0"),
    ("x[None]", lambda L, x: x[None], "UnsqueezeBackward0"),
    ("x[True]", lambda L, x: x[True], "IndexBackward0"),
    ("x[[0, 0]]", lambda L, x: x[[0, 0]], "IndexBackward0"),
    ("x[x > 0]", lambda L, x: x[x > 0], "IndexBackward0"),
    ("index_select", lambda L, x: x.index_select(1, _i(L, [0, 0])), "IndexSelectBackward0"),
    ("gather", lambda L, x: x.gather(0, _i(L, [[0, 1]])), "GatherBackward0"),
    ("scatter src", lambda L, x: x.scatter(0, _i(L, [[0, 1]]), x), "ScatterBackward0"),
    ("scatter value", lambda L, x: x.scatter(0, _i(L, [[0, 1]]), 2.0), "ScatterBackward1"),
    ("scatter_add", lambda L, x: x.scatter_add(0, _i(L, [[0, 1]]), x), "ScatterAddBackward0"),
    ("masked_fill", lambda L, x: x.masked_fill(x > 0, 1.0), "MaskedFillBackward0"),
    ("masked_fill tensor", lambda L, x: x.masked_fill(x > 0, x[0, 0]), "MaskedFillBackward1"),
    ("masked_select", lambda L, x: x.masked_select(x > 0), "MaskedSelectBackward0"),
    ("index_add", lambda L, x: x.index_add(0, _i(L, [0]), x[:1]), "IndexAddBackward0"),
    ("index_fill", lambda L, x: x.index_fill(0, _i(L, [0]), 1.0), "IndexFillBackward0"),
    ("index_fill tensor", lambda L, x: x.index_fill(0, _i(L, [0]), x[0, 0]), "IndexFillBackward1"),
    ("take", lambda L, x: x.take(_i(L, [0, 5])), "TakeBackward0"),
    ("index_put", lambda L, x: x.index_put((_i(L, [0]),), x[0, 0]), "IndexPutBackward0"),
]


@pytest.mark.parametrize(
    "fn,name", [c[1:] for c in GRAD_FN_NAMES], ids=[c[0] for c in GRAD_FN_NAMES]
)
def test_grad_fn_names(fn, name):
    assert node_name(fn(ferrograd, _x(ferrograd))) == name


SETITEM_NAMES = [
    ("y[0] = 1", (0,), 1.0, "CopySlices"),
    ("y[0] = v", (0,), "v", "CopySlices"),
    ("y[None] = v", (None,), "v", "CopySlices"),
    ("y[...] = v", (Ellipsis,), "v", "CopyBackwards"),
    ("y[:] = v", (slice(None),), "v", "CopyBackwards"),
    ("y[...] = 1", (Ellipsis,), 1.0, "FillBackward2"),
    ("y[...] = 0-dim", (Ellipsis,), "s", "FillBackward3"),
    ("y[[0, 1]] = v", ([0, 1],), "v", "IndexPutBackward0"),
    ("y[[0, 1]] = 1", ([0, 1],), 1.0, "IndexFillBackward0"),
    ("y[:, [0, 1]] = 1", (slice(None), [0, 1]), 1.0, "IndexFillBackward0"),
    ("y[[[0], [1]]] = 1", ([[0], [1]],), 1.0, "IndexPutBackward0"),
    ("y[mask] = 1", ("mask",), 1.0, "MaskedFillBackward0"),
    ("y[mask] = 0-dim", ("mask",), "s", "IndexPutBackward0"),
    ("y[0, [1, 2]] = 1", (0, [1, 2]), 1.0, "CopySlices"),
]


@pytest.mark.parametrize(
    "index,value,name", [c[1:] for c in SETITEM_NAMES], ids=[c[0] for c in SETITEM_NAMES]
)
def test_setitem_grad_fn_names(index, value, name):
    x = _x(ferrograd)
    y = x * 1
    vals = {
        "v": ferrograd.ones(4, dtype=ferrograd.float64, requires_grad=True),
        "s": ferrograd.tensor(2.0, dtype=ferrograd.float64, requires_grad=True),
    }
    idx = tuple(y > 1 if i == "mask" else i for i in index)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        y[idx if len(idx) > 1 else idx[0]] = vals.get(value, value)
    assert node_name(y) == name
    assert y._version == 1


def test_repeated_indices_accumulate_grads():
    x = _x(ferrograd)
    x[[0, 0, 2, -1]].sum().backward()
    np.testing.assert_array_equal(to_numpy(x.grad)[:, 0], [2.0, 0.0, 2.0])
    x.grad = None
    x.gather(0, ferrograd.tensor([[1, 1, 1, 1], [1, 0, 0, 0]])).sum().backward()
    np.testing.assert_array_equal(to_numpy(x.grad)[:, 0], [0.0, 2.0, 0.0])
    x.grad = None
    x.index_select(1, ferrograd.tensor([3, 3, 3])).sum().backward()
    np.testing.assert_array_equal(to_numpy(x.grad)[0], [0.0, 0.0, 0.0, 3.0])
    x.grad = None
    x.take(ferrograd.tensor([[0, 0], [11, 0]])).sum().backward()
    assert to_numpy(x.grad).reshape(-1)[[0, 11]].tolist() == [3.0, 1.0]


def test_setitem_grad_flows_to_old_values_and_value():
    x = _x(ferrograd)
    v = ferrograd.tensor([10.0, 20.0], dtype=ferrograd.float64, requires_grad=True)
    y = x * 2
    y[1, 1:3] = v
    (y * y).sum().backward()
    expected = 8 * to_numpy(x)
    expected[1, 1:3] = 0
    np.testing.assert_allclose(to_numpy(x.grad), expected)
    np.testing.assert_allclose(to_numpy(v.grad), [20.0, 40.0])


def test_setitem_on_a_leaf_and_under_no_grad():
    x = _x(ferrograd)
    with pytest.raises(RuntimeError, match="^a view of a leaf Variable that requires grad"):
        x[0] = 1.0
    with pytest.raises(RuntimeError, match="^a leaf Variable that requires grad"):
        x[[0]] = 1.0
    with ferrograd.no_grad():
        x[0] = 5.0
    assert x.is_leaf and x.grad_fn is None and x._version == 1
    assert to_numpy(x)[0].tolist() == [5.0] * 4


def test_setitem_casts_and_broadcasts():
    xi = ferrograd.arange(6)
    xi[0] = 2.7
    xi[1:3] = ferrograd.tensor([7.9, -1.2])
    assert xi.tolist() == [2, 7, -1, 3, 4, 5]
    xb = ferrograd.zeros(3, dtype=ferrograd.bool)
    xb[0] = 5
    assert xb.tolist() == [True, False, False]
    x = ferrograd.zeros(2, 3)
    x[0] = ferrograd.ones(1, 1, 3)
    x[[1]] = ferrograd.ones(1, 3) * 2
    assert x.tolist() == [[1.0] * 3, [2.0] * 3]
    x[False] = 9.0
    assert x._version == 2


def test_basic_views_alias_storage():
    x = ferrograd.arange(12.0).reshape(3, 4)
    v = x[1, ::2]
    with ferrograd.no_grad():
        x.mul_(2)
    assert v.tolist() == [8.0, 12.0]
    assert v.stride() == (2,) and v.storage_offset() == 4
    assert x[[1]].data_ptr() != x[1].data_ptr()


def test_in_place_variants_match_torch():
    torch = _torch()
    results = []
    for L in (ferrograd, torch):
        x = _x(L)
        src = _x(L, (2, 4))
        y = x * 1
        y.masked_fill_(y > 0.3, 0.5)
        y.index_add_(0, _i(L, [2, 2]), src, alpha=2)
        y.scatter_(1, _i(L, [[0, 1], [2, 3]]), src[:, :2])
        y.scatter_add_(0, _i(L, [[1, 1, 1, 1]]), src[:1])
        y.index_fill_(1, _i(L, [0, -1]), -2.0)
        y.index_put_((_i(L, [0, 0]), _i(L, [1, 1])), src[0, :2].sum(), accumulate=True)
        y[0].copy_(src[1])
        z = x * 1
        z.copy_(src[0])
        names = [node_name(y), node_name(z)]
        (y.sum() + (z * z).sum()).backward()
        results.append((names, to_numpy(y), to_numpy(x.grad), to_numpy(src.grad), y._version))
    (fn, fy, fgx, fgs, fv), (tn, ty, tgx, tgs, tv) = results
    assert fn[1] == tn[1] == "CopyBackwards"
    np.testing.assert_allclose(fy, ty)
    np.testing.assert_allclose(fgx, tgx)
    np.testing.assert_allclose(fgs, tgs)
    assert fv == tv


@pytest.mark.parametrize(
    "name,fn",
    [
        ("getitem adv", lambda x: x[[0, 2, 0], 1:]),
        ("getitem mask", lambda x: x[x > 0.2]),
        ("getitem basic", lambda x: x[1, ::2]),
        ("gather", lambda x: x.gather(1, ferrograd.tensor([[0, 0], [3, 1], [2, 2]]))),
        ("index_select", lambda x: x.index_select(0, ferrograd.tensor([2, 0, 2]))),
        ("masked_select", lambda x: x.masked_select(x > 0)),
        ("take", lambda x: x.take(ferrograd.tensor([0, 0, 7]))),
        (
            "scatter_add",
            lambda x: x.scatter_add(0, ferrograd.tensor([[1, 0, 1, 1]]), x[:1] * x[:1]),
        ),
        ("index_add", lambda x: x.index_add(1, ferrograd.tensor([0, 0]), x[:, :2] * x[:, 1:3])),
        ("masked_fill", lambda x: x.masked_fill(x > 0, 1.0) * x),
        (
            "index_put",
            lambda x: x.index_put((ferrograd.tensor([0, 0]),), x[1] * x[2], accumulate=True),
        ),
    ],
)
def test_second_derivatives(name, fn):
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, size=(3, 4))
    out = fn(from_numpy(a))
    v = rng.uniform(-1, 1, size=tuple(out.shape))
    w = [rng.uniform(-1, 1, size=(3, 4))]
    gradgradcheck(lambda x: fn(x) * fn(x), [a], v=v, w=w)


def test_backward_twice_and_modified_index():
    x = _x(ferrograd)
    y = x[[0, 1]].sum()
    y.backward()
    with pytest.raises(RuntimeError, match="^Trying to backward through the graph a second time"):
        y.backward()
    x[0].sum().backward()
    x[0].sum().backward()  # views save nothing
    i = ferrograd.tensor([0, 1])
    y = x.gather(0, i.reshape(1, 2)).sum()
    with ferrograd.no_grad():
        i.reshape(1, 2).add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_non_tuple_sequence_warns_as_torch():
    x = ferrograd.arange(12.0).reshape(3, 4)
    with pytest.warns(UserWarning, match="non-tuple sequence for multidimensional indexing"):
        y = x[[0, slice(1, 3)]]
    assert y.tolist() == [1.0, 2.0]
    assert x[np.array([0, 2])].shape == (2, 4)
    assert x[np.array([True, False, True])].shape == (2, 4)
    assert x[np.int64(1)].tolist() == [4.0, 5.0, 6.0, 7.0]


def test_large_tensors_take_the_parallel_paths():
    n = 1 << 16
    x = ferrograd.arange(float(n)).reshape(n // 4, 4).requires_grad_()
    i = ferrograd.arange(n // 4 - 1, -1, -1)
    y = x[i]
    assert y[0].tolist() == to_numpy(x)[-1].tolist()
    (y * 2).sum().backward()
    assert float(x.grad.sum()) == 2.0 * n
    z = x.detach().clone()
    z[z > n / 2] = 0.0
    assert float((z == 0).sum()) == n / 2


# ---- errors --------------------------------------------------------------------------------


def _xi(L):
    return L.arange(12.0).reshape(3, 4)


ERRORS = [
    ("step <= 0", lambda L: _xi(L)[::-1], ValueError, "step must be greater than zero"),
    ("step 0", lambda L: _xi(L)[::0], ValueError, "slice step cannot be zero"),
    (
        "too many",
        lambda L: _xi(L)[0, 0, 0],
        IndexError,
        "too many indices for tensor of dimension 2",
    ),
    (
        "int out of range",
        lambda L: _xi(L)[3],
        IndexError,
        "index 3 is out of bounds for dimension 0 with size 3",
    ),
    (
        "neg out of range",
        lambda L: _xi(L)[-4],
        IndexError,
        "index -4 is out of bounds for dimension 0 with size 3",
    ),
    (
        "2nd int",
        lambda L: _xi(L)[None, 0, 7],
        IndexError,
        "index 7 is out of bounds for dimension 2 with size 4",
    ),
    (
        "0-dim",
        lambda L: L.tensor(1.0)[0],
        IndexError,
        "invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` in "
        "C++ to convert a 0-dim tensor to a number",
    ),
    (
        "0-dim 1",
        lambda L: L.tensor(1.0)[1],
        IndexError,
        "index 1 is out of bounds for dimension 0 with size 0",
    ),
    (
        "float index",
        lambda L: _xi(L)[1.5],
        IndexError,
        "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are "
        "valid indices (got float)",
    ),
    (
        "float tensor",
        lambda L: _xi(L)[L.tensor([0.0])],
        IndexError,
        "tensors used as indices must be long, int, byte or bool tensors",
    ),
    (
        "list out of range",
        lambda L: _xi(L)[[5]],
        IndexError,
        "index 5 is out of bounds for dimension 0 with size 3",
    ),
    (
        "adv dim",
        lambda L: _xi(L)[:, [4]],
        IndexError,
        "index 4 is out of bounds for dimension 0 with size 4",
    ),
    (
        "broadcast",
        lambda L: _xi(L)[[0, 1], [0, 1, 2]],
        IndexError,
        "shape mismatch: indexing tensors could not be broadcast together with shapes [2], [3]",
    ),
    (
        "mask shape",
        lambda L: _xi(L)[:, L.tensor([True, False])],
        IndexError,
        "The shape of the mask [2] at index 0 does not match the shape of the indexed tensor [3, "
        "4] at index 1",
    ),
    ("overflow", lambda L: _xi(L)[10**20], ValueError, "Overflow when unpacking long long"),
    ("str", lambda L: _xi(L)["a"], TypeError, "new(): invalid data type 'str'"),
    (
        "set expand",
        lambda L: _xi(L).__setitem__(0, L.ones(2)),
        RuntimeError,
        "The expanded size of the tensor (4) must match the existing size (2) at non-singleton "
        "dimension 0.  Target sizes: [4].  Tensor sizes: [2]",
    ),
    (
        "set ndim",
        lambda L: _xi(L).__setitem__(0, L.ones(2, 4)),
        RuntimeError,
        "expand(torch.FloatTensor{[2, 4]}, size=[4]): the number of sizes provided (1) must be "
        "greater or equal to the number of dimensions in the tensor (2)",
    ),
    (
        "set shape mismatch",
        lambda L: _xi(L).__setitem__([0, 1], L.ones(3, 4)),
        RuntimeError,
        "shape mismatch: value tensor of shape [3, 4] cannot be broadcast to indexing result of "
        "shape [2, 4]",
    ),
    (
        "set dtype",
        lambda L: _xi(L).__setitem__([0, 1], L.ones(4, dtype=L.float64)),
        RuntimeError,
        "Index put requires the source and destination dtypes match, got Float for the "
        "destination and Double for the source.",
    ),
    (
        "set list",
        lambda L: _xi(L).__setitem__(0, [1, 2]),
        TypeError,
        "can't assign a list to a torch.FloatTensor",
    ),
    (
        "set fill dim",
        lambda L: _xi(L).__setitem__((slice(None), [9]), 1.0),
        IndexError,
        "index 9 is out of bounds for dimension 1 with size 4",
    ),
    (
        "gather dtype",
        lambda L: _xi(L).gather(0, L.tensor([[0.0]])),
        RuntimeError,
        "gather(): Expected dtype int32/int64 for index",
    ),
    (
        "gather oob",
        lambda L: _xi(L).gather(1, L.tensor([[5]])),
        RuntimeError,
        "index 5 is out of bounds for dimension 1 with size 4",
    ),
    (
        "gather neg",
        lambda L: _xi(L).gather(0, L.tensor([[-1]])),
        RuntimeError,
        "index -1 is out of bounds for dimension 0 with size 3",
    ),
    (
        "gather ndim",
        lambda L: _xi(L).gather(0, L.tensor([0])),
        RuntimeError,
        "Index tensor must have the same number of dimensions as input tensor",
    ),
    (
        "gather size",
        lambda L: _xi(L).gather(0, L.zeros(2, 5, dtype=L.int64)),
        RuntimeError,
        "Size does not match at dimension 1 expected index [2, 5] to be no larger than self [3, "
        "4] apart from dimension 0",
    ),
    (
        "gather dim",
        lambda L: _xi(L).gather(2, L.tensor([[0]])),
        IndexError,
        "Dimension out of range (expected to be in range of [-2, 1], but got 2)",
    ),
    (
        "scatter src small",
        lambda L: _xi(L).scatter(0, L.tensor([[0, 1]]), L.ones(1, 1)),
        RuntimeError,
        "Expected index [1, 2] to be no larger than self [3, 4] apart from dimension 0 and to be "
        "no larger size than src [1, 1]",
    ),
    (
        "scatter dtype",
        lambda L: _xi(L).scatter(0, L.tensor([[0]]), L.ones(1, 1, dtype=L.float64)),
        RuntimeError,
        "scatter(): Expected self.dtype to be equal to src.dtype",
    ),
    (
        "scatter oob",
        lambda L: _xi(L).scatter(0, L.tensor([[5]]), 1.0),
        RuntimeError,
        "index 5 is out of bounds for dimension 0 with size 3",
    ),
    (
        "scatter_add idx",
        lambda L: _xi(L).scatter_add(0, L.tensor([[0.0]]), L.ones(1, 1)),
        RuntimeError,
        "scatter(): Expected dtype int32/int64 for index",
    ),
    (
        "scatter_add ndim",
        lambda L: _xi(L).scatter_add(0, L.tensor([0]), L.ones(1, 1)),
        RuntimeError,
        "Index tensor must have the same number of dimensions as self tensor",
    ),
    (
        "index_select 2d",
        lambda L: _xi(L).index_select(1, L.tensor([[2]])),
        IndexError,
        "index_select(): Index is supposed to be a vector",
    ),
    (
        "index_select float",
        lambda L: _xi(L).index_select(1, L.tensor([2.0])),
        RuntimeError,
        "index_select(): Expected dtype int32 or int64 for index",
    ),
    (
        "index_select oob",
        lambda L: _xi(L).index_select(1, L.tensor([4])),
        RuntimeError,
        "INDICES element is out of DATA bounds, id=4 axis_dim=4",
    ),
    (
        "index_select 0-dim",
        lambda L: L.tensor(1.0).index_select(0, L.tensor([0, 0])),
        RuntimeError,
        "index_select(): Index to scalar can have only 1 value, got 2 value(s)",
    ),
    (
        "index_select 0-dim oob",
        lambda L: L.tensor(1.0).index_select(0, L.tensor([1])),
        IndexError,
        "index out of range in self",
    ),
    (
        "masked_fill mask",
        lambda L: _xi(L).masked_fill(L.tensor([1, 0, 1, 0]), 1.0),
        RuntimeError,
        "masked_fill_ only supports boolean masks, but got mask with dtype long int",
    ),
    (
        "masked_fill value",
        lambda L: _xi(L).masked_fill(L.tensor([True, False, True, False]), L.tensor([2.0])),
        RuntimeError,
        "masked_fill_ only supports a 0-dimensional value tensor, but got tensor with 1 "
        "dimension(s).",
    ),
    (
        "masked_fill shape",
        lambda L: _xi(L).masked_fill(L.tensor([True, False]), 1.0),
        RuntimeError,
        "The size of tensor a (2) must match the size of tensor b (4) at non-singleton dimension 1",
    ),
    (
        "masked_fill_ broadcast",
        lambda L: L.zeros(4).masked_fill_(L.ones(3, 4, dtype=L.bool), 1.0),
        RuntimeError,
        "output with shape [4] doesn't match the broadcast shape [3, 4]",
    ),
    (
        "masked_select mask",
        lambda L: _xi(L).masked_select(L.tensor([1, 0, 1, 0])),
        RuntimeError,
        "masked_select: expected BoolTensor for mask",
    ),
    (
        "index_add dtype",
        lambda L: _xi(L).index_add(0, L.tensor([0]), L.ones(1, 4, dtype=L.float64)),
        RuntimeError,
        "index_add_(): self (Float) and source (Double) must have the same scalar type",
    ),
    (
        "index_add count",
        lambda L: _xi(L).index_add(0, L.tensor([0, 0]), L.ones(3, 4)),
        RuntimeError,
        "index_add_(): Number of indices (2) should be equal to source.size(dim): (3), for dim: 0",
    ),
    (
        "index_add shape",
        lambda L: _xi(L).index_add(0, L.tensor([0, 0]), L.ones(2, 3)),
        RuntimeError,
        "source tensor shape must match self tensor shape, excluding the specified dimension. "
        "Got self.shape = [3, 4] source.shape = [2, 3]",
    ),
    (
        "index_add oob",
        lambda L: _xi(L).index_add(0, L.tensor([5]), L.ones(1, 4)),
        RuntimeError,
        "index 5 is out of bounds for dimension 0 with size 3",
    ),
    (
        "index_add neg",
        lambda L: _xi(L).index_add(0, L.tensor([-1]), L.ones(1, 4)),
        RuntimeError,
        "index -1 is out of bounds for dimension 0 with size 3",
    ),
    (
        "index_add 1-d",
        lambda L: L.zeros(3).index_add(0, L.tensor([3]), L.ones(1)),
        IndexError,
        "index out of range in self",
    ),
    (
        "index_select neg",
        lambda L: _xi(L).index_select(0, L.tensor([-1])),
        IndexError,
        "index out of range in self",
    ),
    (
        "take empty",
        lambda L: L.zeros(0).take(L.tensor([0])),
        IndexError,
        "take(): tried to take from an empty tensor",
    ),
    ("iter 0-d", lambda L: list(L.tensor(1.0)), TypeError, "iteration over a 0-d tensor"),
    (
        "index_add idx",
        lambda L: _xi(L).index_add(0, L.tensor([0.0]), L.ones(1, 4)),
        RuntimeError,
        "index_add_(): Expected dtype int32/int64 for index but got: Float",
    ),
    (
        "index_add 2d",
        lambda L: _xi(L).index_add(0, L.tensor([[0]]), L.ones(1, 4)),
        IndexError,
        "index_add_(): Index is supposed to be a vector, but got dim: 2 with type: Long and "
        "size: [1, 1]",
    ),
    (
        "index_fill oob",
        lambda L: _xi(L).index_fill(1, L.tensor([4]), -1.0),
        IndexError,
        "index 4 is out of bounds for dimension 1 with size 4",
    ),
    (
        "index_fill 2d",
        lambda L: _xi(L).index_fill(1, L.tensor([[0]]), -1.0),
        RuntimeError,
        "Index has to be a vector/scalar",
    ),
    (
        "index_fill idx",
        lambda L: _xi(L).index_fill(1, L.tensor([0.0]), -1.0),
        IndexError,
        "index_fill_(): Expected dtype int64 for index.",
    ),
    (
        "index_fill value",
        lambda L: _xi(L).index_fill(1, L.tensor([0]), L.tensor([1.0])),
        RuntimeError,
        "index_fill_ only supports a 0-dimensional value tensor, but got tensor with 1 "
        "dimension(s).",
    ),
    (
        "take oob",
        lambda L: _xi(L).take(L.tensor([12])),
        IndexError,
        "out of range: tried to access index 12 on a tensor of 12 elements.",
    ),
    (
        "take neg",
        lambda L: _xi(L).take(L.tensor([-13])),
        IndexError,
        "out of range: tried to access index -13 on a tensor of 12 elements.",
    ),
    (
        "take idx",
        lambda L: _xi(L).take(L.tensor([1.0])),
        RuntimeError,
        "take(): Expected a long tensor for index, but got Float",
    ),
    (
        "index_put dtype",
        lambda L: _xi(L).index_put((L.tensor([0]),), L.tensor(1.0, dtype=L.float64)),
        RuntimeError,
        "Index put requires the source and destination dtypes match, got Float for the "
        "destination and Double for the source.",
    ),
    (
        "index_put too many",
        lambda L: _xi(L).index_put((L.tensor([0]),) * 3, L.tensor(1.0)),
        IndexError,
        "too many indices for tensor of dimension 2 (got 3)",
    ),
    (
        "index_put None",
        lambda L: _xi(L).index_put((None,), L.tensor(1.0)),
        TypeError,
        "expected Tensor as element 0 in argument 0, but got NoneType",
    ),
    (
        "copy_ shape",
        lambda L: _xi(L).copy_(L.ones(3)),
        RuntimeError,
        "The size of tensor a (4) must match the size of tensor b (3) at non-singleton dimension 1",
    ),
    (
        "copy_ bigger",
        lambda L: L.zeros(4).copy_(L.ones(3, 4)),
        RuntimeError,
        "output with shape [4] doesn't match the broadcast shape [3, 4]",
    ),
    (
        "gather type",
        lambda L: _xi(L).gather(0, [0]),
        TypeError,
        "gather(): argument 'index' (position 2) must be Tensor, not list",
    ),
    (
        "scatter backward",
        lambda L: (
            _xi(L)
            .requires_grad_()
            .scatter_add(0, L.tensor([[0, 1]]), L.ones(3, 4, requires_grad=True))
            .sum()
            .backward()
        ),
        RuntimeError,
        "Function ScatterAddBackward0 returned an invalid gradient at index 1 - got [1, 2] but "
        "expected shape compatible with [3, 4]",
    ),
]


@pytest.mark.parametrize("fn,exc,msg", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_errors(fn, exc, msg):
    with pytest.raises(exc) as info:
        fn(ferrograd)
    assert str(info.value) == msg


@pytest.mark.parametrize("fn,exc,msg", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_errors_match_torch(fn, exc, msg):
    torch = _torch()
    with pytest.raises(exc) as info:
        fn(torch)
    assert str(info.value).split("\n")[0] == msg


INT_OPS = [
    ("gather", lambda L, x: x.gather(1, L.tensor([[0, 0], [2, 1]]))),
    ("index_select", lambda L, x: x.index_select(0, L.tensor([1, 1, 0]))),
    ("take", lambda L, x: x.take(L.tensor([5, -1]))),
    ("masked_select", lambda L, x: x.masked_select(L.tensor([True, False, True]))),
    ("getitem", lambda L, x: x[L.tensor([1, 0]), 1:]),
    ("scatter", lambda L, x: x.scatter(1, L.tensor([[2], [0]]), x[:, :1])),
    ("scatter value", lambda L, x: x.scatter(1, L.tensor([[2], [0]]), 1)),
    ("scatter_add", lambda L, x: x.scatter_add(0, L.tensor([[1, 1, 1]]), x[:1])),
    ("index_add", lambda L, x: x.index_add(1, L.tensor([2, 2]), x[:, :2], alpha=3)),
    ("index_fill", lambda L, x: x.index_fill(1, L.tensor([0]), 7)),
    ("masked_fill", lambda L, x: x.masked_fill(L.tensor([True, False, True]), 1)),
    ("index_put", lambda L, x: x.index_put((L.tensor([0, 0]),), x[1], accumulate=True)),
]


@pytest.mark.parametrize("dtype", ["int64", "bool"])
@pytest.mark.parametrize("fn", [c[1] for c in INT_OPS], ids=[c[0] for c in INT_OPS])
def test_integer_and_bool_tensors_match_torch(fn, dtype):
    torch = _torch()
    a = values(np.random.default_rng(0), (2, 3), dtype)
    out = []
    for L in (ferrograd, torch):
        try:
            r = fn(L, lib_tensor(L, a))
            out.append((dtype_name(r.dtype), tuple(r.shape), r.tolist()))
        except RuntimeError as e:
            out.append(str(e))
    assert out[0] == out[1]
