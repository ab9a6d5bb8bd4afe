"""Never crash, never leak, never lose a gradient (issue 6).

1. Random call sequences (Hypothesis) end in a result or an ordinary ``Exception``: never a
   ``PanicException`` (a ``BaseException``), an abort or a segfault.
2. Shape arithmetic: overflowing, negative and unallocatable sizes raise Python errors.
3. Depth: very long chains and wide ``stack``s backpropagate and are freed iteratively.
4. Memory: the graph arena and the process RSS return to their baseline.
5. Threads: independent, shared-leaf and shared-graph backward from many threads.
6. The GIL is released around long kernels.
7. NaN / inf propagate as in PyTorch, gradients included.
8. NumPy interop: what is shared and what is copied.

The long variants (10**6-op chains, 10,000-step RSS runs, the two-thread matmul speed-up)
carry the ``slow`` marker: they run with ``-m slow`` or ``FERROGRAD_SLOW=1`` (see conftest).
"""

from __future__ import annotations

import gc
import math
import os
import threading
import time
import warnings

import ferrograd
import pytest

try:
    import torch
except ImportError:
    torch = None

try:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
except ImportError:
    st = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
needs_hypothesis = pytest.mark.skipif(st is None, reason="hypothesis is not installed")
slow = pytest.mark.slow

BACKWARD_TWICE = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward."
)


def live_nodes():
    return ferrograd._C._live_nodes()


def _panic_free(fn, *args, **kwargs):
    """fn's result, or None when it raised an ordinary Exception; a panic fails the test."""
    try:
        return fn(*args, **kwargs)
    except Exception:
        return None
    except BaseException as e:  # noqa: B036 - a panic is what this test is looking for
        if type(e).__name__ == "PanicException":
            pytest.fail(f"Rust panic in {fn!r}{args!r}: {e!r}")
        raise


# ---- 1. random call sequences ----------------------------------------------------------------

# Methods that would read or write files, or that take a callable, are left out; everything
# else on Tensor and in the namespace is fair game.
_SKIP = {"numpy", "register_hook", "register_post_accumulate_grad_hook", "_make_subclass"}
METHODS = sorted(
    n for n in dir(ferrograd.Tensor) if not n.startswith("_") and n not in _SKIP
) + [
    "__getitem__", "__setitem__", "__add__", "__radd__", "__sub__", "__rsub__", "__mul__",
    "__rmul__", "__truediv__", "__rtruediv__", "__floordiv__", "__mod__", "__pow__",
    "__rpow__", "__matmul__", "__neg__", "__abs__", "__invert__", "__and__", "__or__",
    "__xor__", "__eq__", "__lt__", "__ge__", "__bool__", "__float__", "__int__", "__index__",
    "__len__", "__repr__", "__format__", "__iadd__", "__imul__", "__isub__", "__itruediv__",
    "__array__",
]  # fmt: skip
FUNCTIONS = sorted(
    n
    for n in dir(ferrograd)
    if not n.startswith("_")
    and callable(getattr(ferrograd, n))
    and not isinstance(getattr(ferrograd, n), type)
    and n not in {"save", "load", "manual_seed", "set_printoptions", "set_grad_enabled"}
)
KWARGS = ["dim", "keepdim", "dtype", "alpha", "requires_grad", "retain_graph", "p", "index"]


class Ref:
    """A tensor of the pool, resolved when the call is made."""

    def __init__(self, index):
        self.index = index

    def __repr__(self):
        return f"pool[{self.index}]"


def _pool():
    x = ferrograd.tensor([[1.0, -2.0, 3.0], [0.5, 0.0, -1.5]], requires_grad=True)
    w = ferrograd.ones(3, 3, dtype=ferrograd.float64, requires_grad=True)
    return [
        x,
        x * 2,
        (x * x).sum(),
        w[0],
        ferrograd.arange(6),
        ferrograd.tensor([True, False, True]),
        ferrograd.ones(2, 3, dtype=ferrograd.float64),
        ferrograd.tensor(2.5),
        ferrograd.zeros(0, 3),
        ferrograd.ones(3, 2).t(),
        ferrograd.ones(1, 3).expand(4, 3),
        ferrograd.tensor([[0, 1], [2, 0]]),
        ferrograd.tensor([math.nan, math.inf, -math.inf, -0.0]),
        *_POOL_EXTRA,
    ]


_POOL_EXTRA: list = []  # random tensors of the current example, if any


class _ignore_warnings:
    """Deprecation notices of odd calls (``mT`` on a 0-d tensor...) are not findings."""

    def __enter__(self):
        self._cm = warnings.catch_warnings()
        self._cm.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)


if st is not None:
    # Sizes, dims and indices: mostly small, sometimes beyond int64. (Huge but representable
    # sizes are item 2's business: an expanded 2**62-element view is legal and a reduction
    # over it would only make an example slow.)
    _ints = st.one_of(
        st.integers(-4, 6),
        st.integers(-4, 6),
        st.sampled_from([2**63, 2**64, -(2**63) - 1, -(2**70)]),
    )
    _floats = st.one_of(
        st.floats(-6, 6).map(lambda f: round(f, 2)),
        st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e308, 5e-324]),
    )
    _dtypes = st.sampled_from(["float32", "float64", "int64", "bool"]).map(
        lambda n: getattr(ferrograd, n)
    )
    _refs = st.integers(0, 60).map(Ref)
    _slices = st.builds(
        slice,
        st.one_of(st.none(), st.integers(-4, 4)),
        st.one_of(st.none(), st.integers(-4, 4)),
        st.one_of(st.none(), st.integers(-2, 3)),
    )
    _atoms = st.one_of(
        _ints,
        _floats,
        st.booleans(),
        st.none(),
        st.just(Ellipsis),
        _slices,
        st.sampled_from(["a", "", "fro", "ij,jk->ik", "i,i->"]),
        _dtypes,
        _refs,
        _refs,
    )
    _values = st.recursive(
        _atoms, lambda inner: st.one_of(st.lists(inner, max_size=3), st.tuples(inner, inner)),
        max_leaves=6,
    )  # fmt: skip
    _args = st.lists(st.one_of(_ints, _ints, _refs, _floats, _values), max_size=3)
    _kwargs = st.one_of(
        st.just({}), st.just({}), st.dictionaries(st.sampled_from(KWARGS), _values, max_size=2)
    )
    _step = st.one_of(
        st.tuples(st.just("method"), _refs, st.sampled_from(METHODS), _args, _kwargs),
        st.tuples(st.just("method"), _refs, st.sampled_from(METHODS), _args, _kwargs),
        st.tuples(st.just("function"), st.none(), st.sampled_from(FUNCTIONS), _args, _kwargs),
        st.tuples(st.just("index"), _refs, st.just("__getitem__"), _values.map(lambda v: [v]),
                  st.just({})),
        st.tuples(st.just("index"), _refs, st.just("__setitem__"),
                  st.tuples(_values, st.one_of(_floats, _refs, _ints)).map(list), st.just({})),
        st.tuples(st.just("autograd"), st.none(), st.sampled_from(["grad", "backward"]),
                  st.lists(_values, min_size=1, max_size=3), _kwargs),
        st.tuples(st.just("setattr"), _refs, st.sampled_from(["grad", "requires_grad", "data"]),
                  _values.map(lambda v: [v]), st.just({})),
    )  # fmt: skip


def _resolve(value, pool):
    if isinstance(value, Ref):
        return pool[value.index % len(pool)]
    if isinstance(value, list):
        return [_resolve(v, pool) for v in value]
    if isinstance(value, tuple):
        return tuple(_resolve(v, pool) for v in value)
    return value


def _run(steps):
    pool = _pool()
    try:
        for kind, target, name, raw_args, raw_kwargs in steps:
            args = _resolve(raw_args, pool)
            kwargs = _resolve(raw_kwargs, pool)
            if kind in ("method", "index"):
                # A property (`T`, `mT`, `grad_fn`...) may raise, or be the result itself.
                fn = _panic_free(getattr, _resolve(target, pool), name)
                if fn is None:
                    continue
                if not callable(fn):
                    fn, args, kwargs = (lambda value: value), [fn], {}
            elif kind == "function":
                fn = getattr(ferrograd, name)
            elif kind == "autograd":
                fn = getattr(ferrograd.autograd, name)
            else:
                fn = setattr
                args = [_resolve(target, pool), name, *args]
            result = _panic_free(fn, *args, **kwargs)
            for r in result if isinstance(result, (tuple, list)) else [result]:
                if isinstance(r, ferrograd.Tensor):
                    pool.append(r)
                    # Every result must print, convert and reduce without panicking too.
                    _panic_free(repr, r)
                    _panic_free(r.tolist)
                    if r.requires_grad:
                        _panic_free(lambda r=r: r.float().sum().backward())
    finally:
        ferrograd.set_grad_enabled(True)


if st is not None:
    # 2 x 1,000 examples of up to 6 calls each (each call also prints, converts and
    # backpropagates its result): 2,000 generated cases per run.
    _fuzz_settings = settings(
        max_examples=max(1000, settings().max_examples),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )

    @_fuzz_settings
    @given(steps=st.lists(_step, min_size=1, max_size=6))
    def test_random_call_sequences_never_panic(steps):
        with _ignore_warnings():
            _run(steps)

    @_fuzz_settings
    @given(
        steps=st.lists(_step, min_size=1, max_size=6),
        dtype=_dtypes,
        shape=st.lists(st.integers(0, 3), max_size=3),
    )
    def test_random_calls_on_random_shapes_never_panic(steps, dtype, shape):
        # The same, on a pool extended by random (often empty or 0-d) tensors of any dtype.
        extra = _panic_free(ferrograd.ones, *shape, dtype=dtype)
        with _ignore_warnings():
            if extra is not None:
                sliced = _panic_free(lambda: extra[..., :1])
                _POOL_EXTRA.extend([extra] if sliced is None else [extra, sliced])
            try:
                _run(steps)
            finally:
                _POOL_EXTRA.clear()

else:

    @needs_hypothesis
    def test_random_call_sequences_never_panic():
        pass


# ---- 2. shape arithmetic --------------------------------------------------------------------

OVERFLOWING = [
    ((0, 2**62, 4), "Stride calculation overflowed"),
    ((0, 2**61, 4), "Stride calculation overflowed"),
    ((2**62, 4), "Storage size calculation overflowed with sizes=[4611686018427387904, 4]"),
    ((2**31, 2**31, 4), "Storage size calculation overflowed with sizes="),
    ((2**62, 4, 0), "Storage size calculation overflowed with sizes=[4611686018427387904, 4, 0]"),
    ((3, 2**63 - 1), "Storage size calculation overflowed with sizes="),
]


@pytest.mark.parametrize("sizes, message", OVERFLOWING, ids=str)
@pytest.mark.parametrize("make", ["empty", "zeros", "ones", "rand"])
def test_overflowing_shapes_are_rejected_before_allocating(make, sizes, message):
    # Even with a 0 size (no element at all), as PyTorch does.
    with pytest.raises(RuntimeError) as info:
        getattr(ferrograd, make)(*sizes)
    assert str(info.value).startswith(message)


@needs_torch
@pytest.mark.parametrize("sizes", [s for s, _ in OVERFLOWING], ids=str)
def test_overflowing_shape_message_matches_torch(sizes):
    with pytest.raises(RuntimeError) as ours:
        ferrograd.zeros(*sizes)
    with pytest.raises(RuntimeError) as theirs:
        torch.zeros(*sizes)
    assert str(ours.value) == str(theirs.value).split("\n")[0]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m: m.ones(-1), "Trying to create tensor with negative dimension -1: [-1]"),
        (lambda m: m.ones(2, -3), "Trying to create tensor with negative dimension -3: [2, -3]"),
        (lambda m: m.zeros(2, -3), "zeros: Dimension size must be non-negative."),
        (lambda m: m.empty(4, -2, 0), "negative dimension -2: [4, -2, 0]"),
        (lambda m: m.ones(3).new_zeros(-5), "negative dimension -5: [-5]"),
    ],
)
def test_negative_sizes_raise_runtime_error(call, message):
    with pytest.raises(RuntimeError, match=None) as info:
        call(ferrograd)
    assert message in str(info.value)
    if torch is not None:
        with pytest.raises(RuntimeError) as theirs:
            call(torch)
        assert str(info.value) == str(theirs.value)


@pytest.mark.parametrize(
    "call",
    [
        lambda: ferrograd.ones(2**40),
        lambda: ferrograd.empty(2**40),
        lambda: ferrograd.full((2**20, 2**20), 1.0),
        lambda: ferrograd.ones(3).repeat(2**40),
        lambda: ferrograd.ones(1).expand(2**21, 2**20).contiguous(),
        lambda: ferrograd.ones(1).expand(2**21, 2**20).clone(),
        lambda: ferrograd.ones(1).expand(2**21, 2**20).double(),
        lambda: ferrograd.ones(1).expand(2**21, 2**20).tolist(),
        lambda: ferrograd.ones(1).expand(2**21, 2**20).cumsum(0),
        lambda: ferrograd.ones(1).expand(2**21, 2**20).softmax(1),
        lambda: ferrograd.ones(1).expand(2**21, 2**20).tril(),
        lambda: ferrograd.ones(1).expand(2**21, 2**20).flip(0),
        lambda: ferrograd.ones(1).expand(2**21, 2**20).roll(1, 0),
        lambda: ferrograd.ones(1).expand(2**21, 2**20) + 1,
        lambda: ferrograd.ones(1).expand(2**21, 2**20).bernoulli(),
        lambda: ferrograd.cat([ferrograd.ones(1).expand(2**21, 2**20)] * 2),
        lambda: ferrograd.stack([ferrograd.ones(1).expand(2**21, 2**20)] * 2),
        lambda: ferrograd.ones(2**20, 1) @ ferrograd.ones(1, 2**20 * 8),
    ],
)
def test_unsatisfiable_allocations_raise_instead_of_aborting(call):
    # 2**40 floats (4 TiB) and more: a Python error (PyTorch's allocator message), never an
    # abort of the process.
    with pytest.raises(RuntimeError, match="can't allocate memory|too many|overflow"):
        call()


@pytest.mark.parametrize(
    "call, where",
    [
        (lambda m: m.ones(2**64), "ones size 1"),
        (lambda m: m.zeros(2**63), "zeros size 1"),
        (lambda m: m.zeros(2, 2**63), "zeros size 2"),
        (lambda m: m.empty((3, 2**64)), "empty size 2"),
        (lambda m: m.randn([2**64]), "randn size 1"),
        (lambda m: m.full((2**64,), 1.0), "full size 1"),
        (lambda m: m.ones(4).view(2**64), "view size 1"),
        (lambda m: m.ones(4).view(2**63), "view size 1"),
        (lambda m: m.ones(4).reshape(-(2**63) - 1), "reshape shape 1"),
        (lambda m: m.ones(4).expand(2**63), "expand size 1"),
        (lambda m: m.ones(4).permute(2**64), "permute dims 1"),
    ],
)
def test_size_ints_beyond_int64_raise_type_error_like_torch(call, where):
    # PyTorch's argument parser refuses them with a TypeError (its message goes on with a C++
    # backtrace after "Overflow when unpacking long long"; ours closes the quote there).
    func, name, pos = where.split()
    message = f"{func}(): argument '{name}' failed to unpack the object at pos {pos}"
    with pytest.raises(TypeError) as ours:
        call(ferrograd)
    assert str(ours.value) == f'{message} with error "Overflow when unpacking long long"'
    if torch is not None:
        with pytest.raises(TypeError) as theirs:
            call(torch)
        assert str(theirs.value).split("\n")[0] + '"' == str(ours.value)


def test_negative_size_for_randn_matches_torch():
    with pytest.raises(RuntimeError) as ours:
        ferrograd.randn(-1)
    assert str(ours.value) == "Trying to create tensor with negative dimension -1: [-1]"
    if torch is not None:
        with pytest.raises(RuntimeError) as theirs:
            torch.randn(-1)
        assert str(theirs.value) == str(ours.value)


def test_dims_beyond_int64_raise_overflow_error():
    with pytest.raises(OverflowError):
        ferrograd.ones(4).sum(2**63)


@pytest.mark.parametrize(
    "call",
    [lambda m: m.tensor(2**64), lambda m: m.tensor([1, 2**63]), lambda m: m.tensor([[-(2**70)]])],
)
def test_data_beyond_int64_raises_like_torch(call):
    # PyTorch raises ValueError("Overflow when unpacking long long") for the data of tensor().
    with pytest.raises(ValueError) as ours:
        call(ferrograd)
    if torch is not None:
        with pytest.raises(ValueError) as theirs:
            call(torch)
        assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize(
    "source, target",
    [((), (2, 3)), ((0, 3), (2, 3)), ((4,), (2, 3)), ((6,), (2, 2))],
    ids=str,
)
def test_reshape_as_checks_the_element_count(source, target):
    # reshape_as / view_as with a shape of another element count is an error (it once built an
    # out-of-bounds view of a 0-d tensor, which panicked when read).
    x = ferrograd.ones(*source)
    n = math.prod(source)
    with pytest.raises(RuntimeError, match=rf"shape '\[.*\]' is invalid for input of size {n}"):
        x.reshape_as(ferrograd.ones(*target))
    with pytest.raises(RuntimeError):
        x.view_as(ferrograd.ones(*target))


def test_huge_empty_views_are_legal():
    # A view allocates nothing, so PyTorch allows it (only creating one is rejected).
    x = ferrograd.ones(0).reshape(0, 2**62, 4)
    assert x.shape == (0, 2**62, 4) and x.numel() == 0
    assert x.sum().item() == 0.0
    assert ferrograd.ones(0).view(0, 2**62, 4).shape == (0, 2**62, 4)


# ---- 3. depth --------------------------------------------------------------------------------


def _chain(n, result):
    gc.collect()  # other tests' garbage must not be freed during the count
    before = live_nodes()
    # float64, so that the gradient (1.000001**n) is checked tightly.
    x = ferrograd.ones(3, dtype=ferrograd.float64, requires_grad=True)
    y = x
    for _ in range(n):
        y = y * 1.000001
    result["during"] = live_nodes() - before
    y.sum().backward()
    result["grad"] = x.grad.tolist()
    del y
    gc.collect()
    result["after"] = live_nodes() - before


def _chain_in_small_stack_thread(n):
    result = {}
    previous = threading.stack_size(512 * 1024)
    try:
        t = threading.Thread(target=_chain, args=(n, result))
        t.start()
        t.join()
    finally:
        threading.stack_size(previous)
    return result


def _check_chain(result, n):
    assert result.get("during") == n + 1, result.keys()
    assert result["grad"] == pytest.approx([1.000001**n] * 3, rel=1e-9)
    assert result["after"] == 0


@pytest.mark.parametrize("n", [200_000, pytest.param(1_000_000, marks=slow)])
def test_deep_chain_main_thread(n):
    result = {}
    _chain(n, result)
    _check_chain(result, n)


@pytest.mark.parametrize("n", [200_000, pytest.param(1_000_000, marks=slow)])
def test_deep_chain_small_stack_thread(n):
    _check_chain(_chain_in_small_stack_thread(n), n)


@pytest.mark.parametrize("n", [10_000])
def test_stack_of_many_tensors_backpropagates(n):
    gc.collect()  # other tests' garbage must not be freed during the count
    before = live_nodes()
    xs = [ferrograd.full((2,), float(i), requires_grad=True) for i in range(n)]
    s = ferrograd.stack(xs)
    assert s.shape == (n, 2)
    (s * s).sum().backward()
    assert all(x.grad.tolist() == [2.0 * i, 2.0 * i] for i, x in enumerate(xs))
    del s, xs
    gc.collect()
    assert live_nodes() == before


def test_deep_chain_dropped_without_backward_in_small_stack_thread():
    result = {}

    def build():
        gc.collect()  # other tests' garbage must not be freed during the count
        before = live_nodes()
        y = ferrograd.ones(2, requires_grad=True)
        for _ in range(200_000):
            y = y + 1.0
        del y
        result["after"] = live_nodes() - before

    previous = threading.stack_size(512 * 1024)
    try:
        t = threading.Thread(target=build)
        t.start()
        t.join()
    finally:
        threading.stack_size(previous)
    assert result == {"after": 0}


# ---- 4. memory -------------------------------------------------------------------------------


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


needs_proc = pytest.mark.skipif(
    not os.path.exists("/proc/self/statm"), reason="RSS is read from /proc/self/statm"
)


def _mlp():
    nn = ferrograd.nn
    ferrograd.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1))
    opt = ferrograd.optim.SGD(model.parameters(), lr=1e-3)
    x = ferrograd.randn(16, 8)
    target = ferrograd.randn(16, 1)
    return model, opt, x, target


def _plain_step(model, opt, x, target):
    opt.zero_grad()
    loss = ((model(x) - target) ** 2).mean()
    loss.backward()
    opt.step()


def _penalty_step(model, opt, x, target):
    opt.zero_grad()
    xi = x.detach().requires_grad_(True)
    out = model(xi)
    (g,) = ferrograd.autograd.grad(out.sum(), xi, create_graph=True)
    loss = ((out - target) ** 2).mean() + 1e-3 * (g * g).sum()
    loss.backward()
    opt.step()


def _hook_step(model, opt, x, target):
    opt.zero_grad()
    h = model[0](x)
    # The hook's closure captures the very tensor it hooks: a reference cycle through the
    # Rust side that only gc.collect() can break.
    h.register_hook(lambda g, h=h: g * (h.detach() > -1e9))
    loss = ((model[2](model[1](h)) - target) ** 2).mean()
    loss.backward()
    opt.step()


STEPS = {"plain": _plain_step, "create_graph": _penalty_step, "hooks": _hook_step}


def _rss_growth(step, warmup, steps):
    gc.collect()
    model, opt, x, target = _mlp()
    nodes = live_nodes()
    for _ in range(warmup):
        step(model, opt, x, target)
    gc.collect()
    base_nodes = live_nodes()
    base = _rss_bytes()
    for i in range(steps):
        step(model, opt, x, target)
        if i % 50 == 49:
            gc.collect(1)  # the hooks' young cycles (a full collection is slow with torch loaded)
    gc.collect()
    assert live_nodes() == base_nodes, "graph nodes were left behind"
    assert base_nodes - nodes <= 8  # parameters' AccumulateGrad nodes at most
    return _rss_bytes() - base


@needs_proc
@pytest.mark.parametrize("kind", list(STEPS))
@pytest.mark.parametrize(
    "steps, bound",
    # 10,000 steps must grow RSS by < 2 MiB. The CI variant runs 2,000 steps with the same
    # 2 MiB bound: a leak of a single node or buffer per step (>= ~100 bytes) would still
    # cross it only after ~20,000 steps, so CI relies on the exact node count above for
    # small leaks and on this bound for large ones (a tensor per step: 512+ bytes x 2,000).
    [(2_000, 2 * 2**20), pytest.param(10_000, 2 * 2**20, marks=slow)],
    ids=["2k", "10k"],
)
def test_training_does_not_grow_rss(kind, steps, bound):
    growth = _rss_growth(STEPS[kind], warmup=300, steps=steps)
    assert growth < bound, f"RSS grew by {growth / 2**20:.2f} MiB over {steps} steps"


def test_graph_is_freed_after_backward_and_dropping_the_output():
    gc.collect()  # other tests' garbage must not be freed during the count
    before = live_nodes()
    x = ferrograd.randn(4, 4, requires_grad=True)
    y = ((x @ x).exp() * 2).sum()
    assert live_nodes() > before
    y.backward()
    del y
    assert live_nodes() <= before + 1  # at most x's AccumulateGrad, alive with x
    del x
    assert live_nodes() == before


# ---- 5. threads ------------------------------------------------------------------------------


def _train_independent(seed, rounds):
    g = ferrograd.tensor([float(seed), 1.0, -2.0], dtype=ferrograd.float64, requires_grad=True)
    w = ferrograd.tensor([[0.5, -1.0], [2.0, 0.25], [1.5, 1.0]], dtype=ferrograd.float64)
    w.requires_grad_(True)
    grads = []
    for _ in range(rounds):
        loss = ((g @ w).tanh() * (g * g).sum()).sum()
        loss.backward()
        grads.append((g.grad.tolist(), w.grad.tolist()))
        g.grad = None
        w.grad = None
    return grads


def _in_threads(n, target, *args):
    results = [None] * n
    errors = []

    def run(i):
        try:
            results[i] = target(i, *args)
        except BaseException as e:  # noqa: B036 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


def test_threads_training_independent_graphs_get_single_thread_gradients():
    expected = [_train_independent(i, 100) for i in range(10)]
    assert _in_threads(10, _train_independent, 100) == expected


def test_threads_accumulating_into_one_leaf_lose_no_update():
    leaf = ferrograd.zeros(1000, dtype=ferrograd.float64, requires_grad=True)
    coeff = ferrograd.arange(1000, dtype=ferrograd.float64)

    def work(i):
        for _ in range(20):
            (leaf * coeff).sum().backward()

    _in_threads(10, work)
    assert leaf.grad.tolist() == (coeff * 200).tolist()


def test_threads_backpropagating_one_graph_without_retain_graph():
    x = ferrograd.ones(100, requires_grad=True)
    y = (x.exp() * x).sum()
    barrier = threading.Barrier(5)

    def work(i):
        barrier.wait()
        try:
            y.backward()
            return "ok"
        except RuntimeError as e:
            return str(e)

    outcomes = _in_threads(5, work)
    assert outcomes.count("ok") == 1, outcomes
    assert all(o == BACKWARD_TWICE for o in outcomes if o != "ok")
    assert x.grad.tolist() == pytest.approx([2 * math.e] * 100)


class MyError(Exception):
    pass


def test_exception_in_a_hook_keeps_its_type_and_next_backward_works():
    x = ferrograd.ones(3, requires_grad=True)
    y = x * 2

    def hook(g):
        raise MyError("from the hook")

    handle = y.register_hook(hook)
    with pytest.raises(MyError, match="from the hook"):
        y.sum().backward(retain_graph=True)
    handle.remove()
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]
    z = (x * 3).sum()
    z.backward()
    assert x.grad.tolist() == [5.0, 5.0, 5.0]


def test_exception_in_a_custom_backward_keeps_its_type_and_next_backward_works():
    class Boom(ferrograd.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            raise KeyError("custom backward")

    x = ferrograd.ones(2, requires_grad=True)
    with pytest.raises(KeyError, match="custom backward"):
        Boom.apply(x).sum().backward()
    (x * 4).sum().backward()
    assert x.grad.tolist() == [4.0, 4.0]


def test_exception_in_a_hook_on_another_thread_keeps_its_type():
    def work(i):
        x = ferrograd.ones(2, requires_grad=True)
        y = x * i
        y.register_hook(lambda g: (_ for _ in ()).throw(MyError(str(i))))
        try:
            y.sum().backward()
        except MyError as e:
            return str(e)

    assert _in_threads(4, work) == ["0", "1", "2", "3"]


# ---- 6. the GIL ------------------------------------------------------------------------------


def _max_gap_while(kernel):
    """(kernel time, longest pause of a Python counter thread while it runs)."""
    stop = threading.Event()
    ticks = []
    started = threading.Event()

    def counter():
        started.set()
        while not stop.is_set():
            ticks.append(time.perf_counter())

    t = threading.Thread(target=counter)
    t.start()
    started.wait()
    t0 = time.perf_counter()
    kernel()
    t1 = time.perf_counter()
    stop.set()
    t.join()
    inside = [t0] + [x for x in ticks if t0 <= x <= t1] + [t1]
    return t1 - t0, max(b - a for a, b in zip(inside, inside[1:]))


@pytest.mark.parametrize(
    "make, kernel",
    [
        (lambda: (ferrograd.rand(2048, 2048), ferrograd.rand(2048, 2048)), lambda a: a[0] @ a[1]),
        (lambda: ferrograd.rand(10**8), lambda a: a.sum()),
    ],
    ids=["matmul-2048", "sum-1e8"],
)
def test_long_kernels_let_other_python_threads_run(make, kernel):
    # Relative, not absolute: while the kernel runs, the counter thread must not be stopped
    # for most of it (holding the GIL would stop it for the whole kernel). Best of 3.
    args = make()
    results = [_max_gap_while(lambda: kernel(args)) for _ in range(3)]
    assert any(gap < 0.5 * total for total, gap in results), results


@slow
@pytest.mark.xfail(
    strict=False,
    reason="the GEMM already spreads one matmul over every core, so with few cores (2 here: "
    "sequential 0.70 s, two threads 0.71 s for 4 matmuls) concurrency cannot win; that the GIL "
    "is released is checked by test_long_kernels_let_other_python_threads_run",
)
def test_two_threads_of_matmuls_beat_sequential():
    a = ferrograd.rand(2048, 2048)
    b = ferrograd.rand(2048, 2048)

    def sequential():
        t0 = time.perf_counter()
        for _ in range(4):
            a @ b
        return time.perf_counter() - t0

    def concurrent():
        t0 = time.perf_counter()
        ts = [threading.Thread(target=lambda: [a @ b for _ in range(2)]) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return time.perf_counter() - t0

    seq = min(sequential() for _ in range(3))
    con = min(concurrent() for _ in range(3))
    print(f"4 matmuls 2048: sequential {seq:.3f}s, two threads {con:.3f}s")
    assert con < seq, (seq, con)


# ---- 7. NaN and inf --------------------------------------------------------------------------

NAN, INF = math.nan, math.inf
VALUES = [1.0, NAN, INF, -INF, 0.0, -2.0]


def _same(a, b):
    assert len(a) == len(b), (a, b)
    return all(
        (math.isnan(x) and math.isnan(y)) or x == y or math.isclose(x, y, rel_tol=1e-6)
        for x, y in zip(a, b)
    )


NAN_CASES = {
    "add": (lambda m, x: x + 1, [2.0, NAN, INF, -INF, 1.0, -1.0]),
    "inf-inf": (lambda m, x: x - x, [0.0, NAN, NAN, NAN, 0.0, 0.0]),
    "mul0": (lambda m, x: x * 0, [0.0, NAN, NAN, NAN, 0.0, -0.0]),
    "div0": (lambda m, x: x / 0, [INF, NAN, INF, -INF, NAN, -INF]),
    "exp": (lambda m, x: x.exp(), [math.e, NAN, INF, 0.0, 1.0, math.exp(-2.0)]),
    "log": (lambda m, x: x.log(), [0.0, NAN, INF, NAN, -INF, NAN]),
    "sqrt": (lambda m, x: x.sqrt(), [1.0, NAN, INF, NAN, 0.0, NAN]),
    "relu": (lambda m, x: x.relu(), [1.0, NAN, INF, 0.0, 0.0, 0.0]),
    "clamp": (lambda m, x: x.clamp(-1, 1), [1.0, NAN, 1.0, -1.0, 0.0, -1.0]),
    "sigmoid": (lambda m, x: x.sigmoid(), [1 / (1 + math.exp(-1)), NAN, 1.0, 0.0, 0.5,
                                           1 / (1 + math.exp(2))]),
    "max": (lambda m, x: [x.max().item()], [NAN]),
    "min": (lambda m, x: [x.min().item()], [NAN]),
    "sum": (lambda m, x: [x.sum().item()], [NAN]),
    "argmax": (lambda m, x: [float(x.argmax().item())], [1.0]),
    "maximum": (lambda m, x: m.maximum(x, m.zeros(6)), [1.0, NAN, INF, 0.0, 0.0, 0.0]),
    "softmax-inf": (lambda m, x: m.tensor([INF, 1.0]).softmax(0), [NAN, NAN]),
    "isnan": (lambda m, x: x.isnan().float(), [0.0, 1.0, 0.0, 0.0, 0.0, 0.0]),
}  # fmt: skip


def _floats(v):
    return v if isinstance(v, list) else v.tolist()


@pytest.mark.parametrize("name", list(NAN_CASES))
def test_nan_and_inf_propagate_like_pytorch(name):
    fn, expected = NAN_CASES[name]
    x = ferrograd.tensor(VALUES)
    ours = _floats(fn(ferrograd, x))
    assert _same([float(v) for v in ours], expected), ours
    if torch is not None:
        theirs = _floats(fn(torch, torch.tensor(VALUES)))
        assert _same([float(v) for v in ours], [float(v) for v in theirs])


def _where_grads(m):
    x = m.tensor([-1.0, 0.0, 4.0, NAN], requires_grad=True)
    y = m.tensor([1.0, INF, NAN, 2.0], requires_grad=True)
    # The untaken branch: sqrt(-1) = NaN, y = NaN / inf where x is chosen.
    out = m.where(x > 0, x.sqrt(), y * 2)
    out.sum().backward()
    return out.tolist(), x.grad.tolist(), y.grad.tolist()


def test_where_with_nan_in_the_untaken_branch():
    out, gx, gy = _where_grads(ferrograd)
    # Forward takes no NaN from the untaken branch; backward sends zeros into it, but a zero
    # times sqrt's infinite/NaN local derivative is NaN there - exactly as PyTorch.
    assert _same(out, [2.0, INF, 2.0, 4.0])
    assert _same(gx, [NAN, NAN, 0.25, NAN])
    assert _same(gy, [2.0, 2.0, 0.0, 2.0])
    if torch is not None:
        tout, tgx, tgy = _where_grads(torch)
        assert _same(out, tout) and _same(gx, tgx) and _same(gy, tgy)


def test_where_with_nan_only_in_the_untaken_value():
    x = ferrograd.tensor([NAN, 1.0], requires_grad=True)
    y = ferrograd.tensor([5.0, NAN], requires_grad=True)
    out = ferrograd.where(ferrograd.tensor([False, True]), x, y)
    out.sum().backward()
    assert out.tolist() == [5.0, 1.0]
    assert x.grad.tolist() == [0.0, 1.0] and y.grad.tolist() == [1.0, 0.0]


def test_nan_gradients_propagate_through_backward():
    x = ferrograd.tensor([0.0, 1.0], requires_grad=True)
    (x.sqrt() * 0).sum().backward()  # 0 * inf = NaN, as in PyTorch
    assert _same(x.grad.tolist(), [NAN, 0.0])


# ---- 8. NumPy interop ------------------------------------------------------------------------


def test_tensor_of_a_numpy_array_is_a_copy():
    np = pytest.importorskip("numpy")
    a = np.arange(4.0)
    t = ferrograd.tensor(a)
    a[0] = 100.0
    t.add_(1)
    assert t.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert a.tolist() == [100.0, 1.0, 2.0, 3.0]


def test_read_only_numpy_array_is_never_written_through():
    np = pytest.importorskip("numpy")
    a = np.arange(4.0)
    a.flags.writeable = False
    t = ferrograd.tensor(a)  # a copy: no warning (PyTorch's from_numpy would warn)
    t.mul_(3)
    t[0] = -1.0
    assert a.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert t.tolist() == [-1.0, 3.0, 6.0, 9.0]
    if torch is not None:
        tt = torch.tensor(a)
        tt.mul_(3)
        assert a.tolist() == [0.0, 1.0, 2.0, 3.0]


def test_numpy_of_a_tensor_is_consistent_after_mutation_from_the_numpy_side():
    # numpy() shares memory, as in PyTorch, whatever the layout (transposed, expanded):
    # writes through the array show in the tensor and its aliases, and nothing else changes.
    np = pytest.importorskip("numpy")
    makers = [
        lambda L: L.arange(6.0),
        lambda L: L.ones(2, 3).t(),
        lambda L: L.ones(1).expand(4),
    ]
    for make in makers:
        t = make(ferrograd)
        a = t.numpy()
        a[...] = 7.0
        assert t.tolist() == a.tolist()
        assert np.all(a == 7.0)
        if torch is not None:
            tt = make(torch)
            ta = tt.numpy()
            ta[...] = 7.0
            assert tt.tolist() == t.tolist()


def test_numpy_shares_memory_with_the_tensor_like_pytorch():
    pytest.importorskip("numpy")
    t = ferrograd.zeros(3)
    a = t.numpy()
    t[0] = 5.0
    assert a[0] == 5.0


def test_empty_views_past_the_end_of_their_storage():
    # Found by the fuzz test: x[..., 1] of a (0, 3) tensor is empty with an offset past its
    # (empty) storage, which PyTorch allows; reading or writing it must not panic.
    x = ferrograd.zeros(0, 3)
    v = x[..., 1]
    assert v.shape == (0,) and v.tolist() == []
    assert v.clone().tolist() == [] and v.double().tolist() == []
    v.fill_(1.0)
    v.copy_(ferrograd.zeros(0))
    assert x[:, 2:].contiguous().tolist() == []
    if torch is not None:
        tv = torch.zeros(0, 3)[..., 1]
        assert list(tv.shape) == list(v.shape) and tv.tolist() == v.tolist()
