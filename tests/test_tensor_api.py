"""The everyday tensor API: creation (dtype inference, ``dtype=``, ``requires_grad=``),
random numbers and seeding, conversions and metadata, and views that alias storage.

Fixed expectations always run; the parity tests build the same tensors with PyTorch where
it is installed.
"""

from __future__ import annotations

import math

import ferrograd
import pytest

F32, F64, I64, BOOL = ferrograd.float32, ferrograd.float64, ferrograd.int64, ferrograd.bool


def describe(t):
    """Everything a creation call decides: dtype name, shape, values, autograd flags."""
    return (
        str(t.dtype).split(".")[-1],
        tuple(t.shape),
        t.tolist(),
        t.requires_grad,
        t.is_leaf,
    )


# ---- tensor() -------------------------------------------------------------------------------

TENSOR_DATA = [
    ("1", I64, (), 1),
    ("2.5", F32, (), 2.5),
    ("True", BOOL, (), True),
    ("[1, 2, 3]", I64, (3,), [1, 2, 3]),
    ("[1, 2.0]", F32, (2,), [1.0, 2.0]),
    ("[True, 1]", I64, (2,), [1, 1]),
    ("[True, 0.5]", F32, (2,), [1.0, 0.5]),
    ("[True, False]", BOOL, (2,), [True, False]),
    ("[[1, 2], [3, 4]]", I64, (2, 2), [[1, 2], [3, 4]]),
    ("((1.5, 2.5), (3.5, 4.5))", F32, (2, 2), [[1.5, 2.5], [3.5, 4.5]]),
    ("[[[1], [2]], [[3], [4]]]", I64, (2, 2, 1), [[[1], [2]], [[3], [4]]]),
    ("[]", F32, (0,), []),
    ("[[]]", F32, (1, 0), [[]]),
    ("[[], []]", F32, (2, 0), [[], []]),
    ("[-(2**63), 2**63 - 1]", I64, (2,), [-(2**63), 2**63 - 1]),
    ("[1.0, 2**70]", F32, (2,), [1.0, float(2**70)]),
]


@pytest.mark.parametrize("data, dtype, shape, values", TENSOR_DATA, ids=[d[0] for d in TENSOR_DATA])
def test_tensor_infers_dtype_and_shape(data, dtype, shape, values):
    t = ferrograd.tensor(eval(data))
    assert t.dtype is dtype
    assert t.shape == shape
    assert t.tolist() == values
    assert t.requires_grad is False and t.is_leaf


def test_tensor_with_dtype_converts():
    assert describe(ferrograd.tensor([1, 2], dtype=F64)) == (
        "float64",
        (2,),
        [1.0, 2.0],
        False,
        True,
    )
    assert ferrograd.tensor([1.7, -1.7], dtype=I64).tolist() == [1, -1]  # truncation
    assert ferrograd.tensor([0, 2, -1], dtype=BOOL).tolist() == [False, True, True]
    assert ferrograd.tensor([True, False], dtype=F32).tolist() == [1.0, 0.0]
    assert ferrograd.tensor(2**70, dtype=F64).item() == float(2**70)
    assert ferrograd.tensor([0.1], dtype=F64).item() == 0.1
    assert ferrograd.tensor([0.1]).item() == 0.10000000149011612  # stored as float32


def test_tensor_with_requires_grad():
    t = ferrograd.tensor([1.0, 2.0], requires_grad=True)
    assert t.requires_grad and t.is_leaf and t.grad_fn is None
    (t * t).sum().backward()
    assert t.grad.tolist() == [2.0, 4.0]


def test_tensor_copies_its_data():
    data = [1.0, 2.0]
    t = ferrograd.tensor(data)
    data[0] = 5.0
    assert t.tolist() == [1.0, 2.0]
    u = ferrograd.tensor(t)
    u.add_(1.0)
    assert t.tolist() == [1.0, 2.0]


def test_tensor_from_numpy_keeps_the_dtype():
    np = pytest.importorskip("numpy")
    assert ferrograd.tensor(np.arange(3)).dtype is I64
    assert ferrograd.tensor(np.ones((2, 2))).dtype is F64
    assert ferrograd.tensor(np.ones(2, dtype=np.float32)).dtype is F32
    assert ferrograd.tensor(np.array([True])).dtype is BOOL
    assert ferrograd.tensor(np.float64(1.5)).dtype is F64
    assert ferrograd.tensor(np.ones((2, 3))).shape == (2, 3)


@pytest.mark.parametrize("data", [d[0] for d in TENSOR_DATA])
def test_tensor_inference_matches_torch(data):
    torch = pytest.importorskip("torch")
    assert describe(ferrograd.tensor(eval(data))) == describe(torch.tensor(eval(data)))


# ---- factories ------------------------------------------------------------------------------


def test_ones_zeros_full_empty():
    assert describe(ferrograd.ones(2, 3)) == ("float32", (2, 3), [[1.0] * 3] * 2, False, True)
    assert describe(ferrograd.zeros((2,), dtype=I64)) == ("int64", (2,), [0, 0], False, True)
    assert ferrograd.ones([2, 1], dtype=BOOL).tolist() == [[True], [True]]
    assert ferrograd.ones(()).shape == () and ferrograd.ones(()).item() == 1.0
    assert ferrograd.ones(ferrograd.Size([3, 1])).shape == (3, 1)
    assert ferrograd.zeros(0, 4).shape == (0, 4) and ferrograd.zeros(0, 4).numel() == 0
    e = ferrograd.empty(2, 2, dtype=F64)
    assert e.shape == (2, 2) and e.dtype is F64
    assert ferrograd.full((2, 2), 7).dtype is I64
    assert ferrograd.full((2,), 1.5).tolist() == [1.5, 1.5]
    assert ferrograd.full((2,), True).dtype is BOOL
    assert ferrograd.full([3], 2, dtype=F64).tolist() == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("factory", ["ones", "zeros", "empty", "rand", "randn"])
def test_factories_take_requires_grad(factory):
    t = getattr(ferrograd, factory)(2, 3, requires_grad=True)
    assert t.requires_grad and t.is_leaf and t.dtype is F32 and t.shape == (2, 3)
    d = getattr(ferrograd, factory)(4, dtype=F64, requires_grad=True)
    assert d.dtype is F64 and d.requires_grad
    t.sum().backward()
    assert t.grad.tolist() == [[1.0] * 3] * 2


def test_full_and_arange_take_requires_grad():
    assert ferrograd.full((2,), 3.0, requires_grad=True).requires_grad
    a = ferrograd.arange(0.0, 3.0, requires_grad=True)
    assert a.requires_grad and a.tolist() == [0.0, 1.0, 2.0]


def test_arange():
    assert describe(ferrograd.arange(5)) == ("int64", (5,), [0, 1, 2, 3, 4], False, True)
    assert ferrograd.arange(2, 8, 3).tolist() == [2, 5]
    assert ferrograd.arange(5, 0, -2).tolist() == [5, 3, 1]
    assert ferrograd.arange(5.0).dtype is F32
    assert ferrograd.arange(1, 2.5, 0.5).tolist() == [1.0, 1.5, 2.0]
    assert ferrograd.arange(0.0, 1.0, 0.25).tolist() == [0.0, 0.25, 0.5, 0.75]
    assert ferrograd.arange(3, dtype=F64).tolist() == [0.0, 1.0, 2.0]
    assert ferrograd.arange(0).shape == (0,)


CREATIONS = [
    "lib.ones(2, 3)",
    "lib.ones((2, 3), dtype=lib.int64)",
    "lib.ones([])",
    "lib.zeros(3, dtype=lib.bool)",
    "lib.zeros(0, 2)",
    "lib.full((2, 2), 7)",
    "lib.full((2,), 1.5, dtype=lib.float64)",
    "lib.full((1,), False)",
    "lib.arange(5)",
    "lib.arange(5.0)",
    "lib.arange(1, 2.5, 0.5)",
    "lib.arange(0.0, 1.0, 0.3)",
    "lib.arange(5, 0, -2)",
    "lib.arange(-1.5, 1.5, 0.5, dtype=lib.float64)",
    "lib.ones(2, requires_grad=True)",
    "lib.zeros(2, 2, dtype=lib.float64, requires_grad=True)",
    "lib.ones_like(lib.ones(2, 3, dtype=lib.int64))",
    "lib.zeros_like(lib.ones(2), dtype=lib.float64)",
    "lib.zeros_like(lib.ones(2), requires_grad=True)",
    "lib.ones_like(lib.ones(2, requires_grad=True))",
    "lib.full_like(lib.ones(2, dtype=lib.int64), 2.7)",
    "lib.full_like(lib.ones(2, 2), 3)",
    "lib.full_like(lib.ones(1), 2, dtype=lib.bool)",
]


@pytest.mark.parametrize("expr", CREATIONS)
def test_creation_matches_torch(expr):
    torch = pytest.importorskip("torch")
    assert describe(eval(expr, {"lib": ferrograd})) == describe(eval(expr, {"lib": torch}))


def test_like_functions_follow_the_input():
    base = ferrograd.ones(2, 3, dtype=F64, requires_grad=True)
    for name in ["ones_like", "zeros_like", "empty_like", "rand_like", "randn_like"]:
        t = getattr(ferrograd, name)(base)
        assert t.shape == (2, 3) and t.dtype is F64, name
        assert not t.requires_grad, name  # requires_grad is not copied
        f = getattr(ferrograd, name)(base, dtype=F32, requires_grad=True)
        assert f.dtype is F32 and f.requires_grad and f.is_leaf, name
    assert ferrograd.ones_like(base).tolist() == [[1.0] * 3] * 2
    assert ferrograd.zeros_like(base).tolist() == [[0.0] * 3] * 2
    assert ferrograd.full_like(base, 4).tolist() == [[4.0] * 3] * 2
    assert ferrograd.full_like(ferrograd.arange(2), 2.7).tolist() == [2, 2]


# ---- random numbers -------------------------------------------------------------------------


def test_manual_seed_reproduces_randn_and_rand():
    ferrograd.manual_seed(1234)
    a = ferrograd.randn(4, 5)
    b = ferrograd.rand(3)
    ferrograd.manual_seed(1234)
    assert ferrograd.randn(4, 5).tolist() == a.tolist()
    assert ferrograd.rand(3).tolist() == b.tolist()
    assert ferrograd.initial_seed() == 1234


def test_different_seeds_give_different_numbers():
    ferrograd.manual_seed(1)
    a = ferrograd.randn(100).tolist()
    ferrograd.manual_seed(2)
    b = ferrograd.randn(100).tolist()
    assert a != b
    # Without reseeding, consecutive draws differ too.
    assert ferrograd.randn(100).tolist() != b


def test_rand_is_in_the_unit_interval():
    ferrograd.manual_seed(0)
    values = ferrograd.rand(20_000).tolist()
    assert all(0.0 <= v < 1.0 for v in values)
    assert 0.48 < sum(values) / len(values) < 0.52
    assert len(set(values)) > 19_000
    values64 = ferrograd.rand(1000, dtype=F64).tolist()
    assert all(0.0 <= v < 1.0 for v in values64)


def test_randn_is_standard_normal():
    ferrograd.manual_seed(0)
    values = ferrograd.randn(20_000, dtype=F64).tolist()
    mean = sum(values) / len(values)
    var = sum((v - mean) ** 2 for v in values) / len(values)
    assert abs(mean) < 0.05
    assert 0.95 < var < 1.05
    assert all(math.isfinite(v) for v in values)


def test_random_tensors_have_the_requested_shape_and_dtype():
    assert ferrograd.randn(2, 3).dtype is F32 and ferrograd.randn(2, 3).shape == (2, 3)
    assert ferrograd.rand((4,), dtype=F64).dtype is F64
    assert ferrograd.randn(()).shape == ()
    assert ferrograd.rand(0, 3).shape == (0, 3)


# ---- conversions and metadata ---------------------------------------------------------------


def test_item_and_tolist():
    assert ferrograd.tensor(3).item() == 3 and type(ferrograd.tensor(3).item()) is int
    assert type(ferrograd.tensor(True).item()) is bool
    assert type(ferrograd.tensor(2.5).item()) is float
    assert ferrograd.tensor([[7.0]]).item() == 7.0
    assert ferrograd.tensor(2.5).tolist() == 2.5
    assert ferrograd.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert ferrograd.tensor([True]).tolist() == [True]
    assert ferrograd.zeros(2, 0).tolist() == [[], []]
    assert ferrograd.ones(2, requires_grad=True).tolist() == [1.0, 1.0]


def test_shape_size_dim_numel_dtype():
    t = ferrograd.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4) and isinstance(t.shape, ferrograd.Size)
    assert t.size() == (2, 3, 4) and isinstance(t.size(), ferrograd.Size)
    assert t.size(0) == 2 and t.size(-1) == 4 and t.size(1) == 3
    assert t.dim() == 3 and t.ndim == 3
    assert t.numel() == 24 and ferrograd.numel(t) == 24
    assert t.dtype is F32
    s = ferrograd.tensor(5.0)
    assert s.shape == () and s.dim() == 0 and s.numel() == 1
    assert len(ferrograd.zeros(5, 2)) == 5


def test_float_double_and_python_numbers():
    i = ferrograd.tensor([1, 2])
    assert i.float().dtype is F32 and i.float().tolist() == [1.0, 2.0]
    assert i.double().dtype is F64
    assert ferrograd.tensor([1.7, -1.7]).long().tolist() == [1, -1]
    assert ferrograd.tensor([0.0, 2.0]).bool().tolist() == [False, True]
    assert ferrograd.tensor([0.1]).double().item() == 0.10000000149011612
    assert float(ferrograd.tensor([2.5])) == 2.5
    assert int(ferrograd.tensor(7.9)) == 7
    assert bool(ferrograd.tensor([0.0])) is False
    assert ferrograd.tensor(3).__index__() == 3
    assert [10, 20, 30][ferrograd.tensor(1)] == 20


def test_conversion_keeps_the_graph():
    x = ferrograd.ones(2, requires_grad=True)
    d = x.double()
    assert d.requires_grad and d.grad_fn is not None
    d.sum().backward()
    assert x.grad.dtype is F32 and x.grad.tolist() == [1.0, 1.0]


def test_metadata_matches_torch():
    torch = pytest.importorskip("torch")

    def run(lib):
        t = lib.zeros(2, 3, 4)
        s = lib.tensor(5)
        return [
            tuple(t.shape),
            tuple(t.size()),
            t.size(-2),
            t.dim(),
            t.numel(),
            s.dim(),
            s.item(),
            type(s.item()),
            lib.tensor([1, 2]).float().tolist(),
            lib.tensor([1.7, -1.7]).long().tolist(),
            lib.tensor([0.1]).double().item(),
            t.stride(),
            t.transpose(0, 2).stride(),
            t.transpose(0, 2).is_contiguous(),
        ]

    assert run(ferrograd) == run(torch)


# ---- views alias storage --------------------------------------------------------------------


def test_view_and_reshape_alias_the_storage():
    base = ferrograd.arange(6.0)
    v = base.view(2, 3)
    r = base.reshape(3, 2)
    assert v.data_ptr() == base.data_ptr() == r.data_ptr()
    v.add_(10.0)  # in place through the view
    assert base.tolist() == [10.0, 11.0, 12.0, 13.0, 14.0, 15.0]
    assert r.tolist() == [[10.0, 11.0], [12.0, 13.0], [14.0, 15.0]]
    r.zero_()
    assert base.tolist() == [0.0] * 6 and v.tolist() == [[0.0] * 3] * 2
    base.fill_(1.0)
    assert v.tolist() == [[1.0] * 3] * 2


def test_views_share_the_version_counter():
    base = ferrograd.zeros(4)
    v = base.view(2, 2)
    v.mul_(2.0)
    assert base._version == v._version == 1


def test_view_with_an_inferred_size():
    base = ferrograd.arange(12)
    assert base.view(-1, 4).shape == (3, 4)
    assert base.view(2, -1, 3).shape == (2, 2, 3)
    assert base.view(12, 1).view(-1).tolist() == list(range(12))
    assert base.reshape((4, 3)).shape == (4, 3)
    assert base.reshape(ferrograd.Size([6, 2])).shape == (6, 2)


def test_transpose_is_a_view_and_reshape_of_it_copies():
    base = ferrograd.arange(6.0).view(2, 3)
    t = base.t()
    assert t.data_ptr() == base.data_ptr() and not t.is_contiguous()
    t.mul_(2.0)
    assert base.tolist() == [[0.0, 2.0, 4.0], [6.0, 8.0, 10.0]]
    flat = t.reshape(6)  # cannot be a view: a copy
    assert flat.tolist() == [0.0, 6.0, 2.0, 8.0, 4.0, 10.0]
    flat.zero_()
    assert base.tolist() == [[0.0, 2.0, 4.0], [6.0, 8.0, 10.0]]
    c = t.contiguous()
    assert c.is_contiguous() and c.data_ptr() != base.data_ptr()


def test_expand_is_a_view():
    base = ferrograd.tensor([[1.0], [2.0]])
    e = base.expand(2, 3)
    assert e.shape == (2, 3) and e.data_ptr() == base.data_ptr()
    assert e.stride() == (1, 0)
    base.add_(1.0)
    assert e.tolist() == [[2.0] * 3, [3.0] * 3]


def test_aliasing_matches_torch():
    torch = pytest.importorskip("torch")

    def run(lib):
        base = lib.arange(6.0)
        v = base.view(2, 3)
        r = base.reshape(3, 2)
        v.add_(1.0)
        r.mul_(2.0)
        t = v.t()
        t.sub_(1.0)
        copy = t.reshape(6)
        copy.zero_()
        return [base.tolist(), v.tolist(), r.tolist(), t.tolist(), base._version, v.stride()]

    assert run(ferrograd) == run(torch)


# ---- element in x -------------------------------------------------------------------------

CONTAINS = [
    lambda L: 2.0 in L.tensor([[1.0, 2.0], [3.0, 4.0]]),
    lambda L: 5 in L.tensor([[1.0, 2.0], [3.0, 4.0]]),
    lambda L: True in L.tensor([0.0, 1.0]),
    lambda L: 3 in L.tensor([1, 2, 3]),
    lambda L: 1.0 in L.tensor([]),
    lambda L: L.tensor([1.0, 2.0]) in L.tensor([[1.0, 2.0], [3.0, 4.0]]),
    lambda L: L.tensor([1.0, 5.0]) in L.tensor([[0.0, 2.0], [3.0, 4.0]]),
    lambda L: L.tensor(4.0) in L.tensor([[1.0, 2.0], [3.0, 4.0]]),
    lambda L: L.ones(3) in L.ones(2, 2),
    lambda L: "a" in L.ones(2),
    lambda L: None in L.ones(2),
    lambda L: [1.0] in L.ones(2),
    lambda L: (1,) in L.ones(2),
]


@pytest.mark.parametrize("case", CONTAINS)
def test_contains_matches_torch(case):
    """``element in x`` is PyTorch's ``(element == x).any().item()``, for a tensor or a
    number; anything else is PyTorch's RuntimeError (not a search through the rows)."""
    torch = pytest.importorskip("torch")

    def run(L):
        try:
            return case(L)
        except Exception as e:  # noqa: BLE001 - compared with torch's
            return type(e), str(e).split("\nException raised from")[0]

    assert run(ferrograd) == run(torch)


def test_contains():
    x = ferrograd.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert 2.0 in x and 5 not in x
    assert ferrograd.tensor([1.0, 2.0]) in x
    with pytest.raises(RuntimeError, match="only supports Tensor or scalar, but you passed"):
        _ = "a" in x
