"""The speed paths give the same results on both sides of their thresholds.

- elementwise kernels run sequentially below `PARALLEL_THRESHOLD` (2**15 elements) and in
  chunks on the thread team above it (src/kernels/mod.rs);
- outputs of at least 1 MiB reuse freed buffers from a bounded cache (src/storage.rs), so a
  new result may land in memory an earlier, dropped tensor used;
- elementwise loops below 2**20 elements give each thread one contiguous part, longer ones
  8192-element chunks (src/kernels/team.rs `chunk_len`);
- in-place add_/sub_/mul_/div_ with nothing recording write straight into a contiguous
  destination; other cases compute out of place and copy;
- matmul hands work to the team from `PARALLEL_FLOPS` (2**18 multiply-adds) on: whole
  products when the batch has at least one per thread, else 16-row (or column) blocks;
- the team (src/kernels/team.rs) runs a kernel inline when another thread's kernel holds it;
- f32 `exp`, `sigmoid` and `silu` use a vectorisable exp, f32 `tanh` (and gelu's tanh form) a
  vectorisable tanh with a polynomial below |x| = 0.625 (src/kernels/vmath.rs); sequential
  elementwise loops are compiled for AVX2 where the CPU has it;
- `x ** 2` is computed as `x * x` (src/ops/arith.rs), as PyTorch does;
- a contiguous operand against a contiguous row it repeats (`x + bias`) is zipped row by row
  (src/kernels/elementwise.rs);
- `tanh`'s backward is one fused loop when nothing records, the composite ops otherwise;
- results of `mm` and of sums over leading dims are tensors of their own (not views of the
  kernel's output), so they become a leaf's `.grad` without a copy;
- f32 sums over leading dims add rows in a buffer of 64 floats up to 64 columns and of a
  whole tile (8192) above (src/kernels/reduce.rs, `add_rows_f32`).
"""

import gc
import threading

import ferrograd
import numpy as np
import pytest

# Just below and above each threshold (elements of float32 unless noted).
SIZES = [2**15 - 1, 2**15, 2**15 + 3, 2**18 - 1, 2**18, 2**18 + 5, 3 * 2**18 + 1]


@pytest.mark.parametrize("n", SIZES)
def test_elementwise_and_reductions_across_thresholds(n):
    rng = np.random.default_rng(n)
    a = rng.standard_normal(n).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32)
    x, y = ferrograd.tensor(a), ferrograd.tensor(b)
    np.testing.assert_array_equal((x + y).numpy(), a + b)
    np.testing.assert_array_equal((x * y - x).numpy(), a * b - a)
    np.testing.assert_allclose(x.exp().numpy(), np.exp(a), rtol=3e-7, atol=0)
    np.testing.assert_allclose(x.sigmoid().numpy(), 1 / (1 + np.exp(-a)), rtol=1e-6, atol=1e-7)
    want = np.tanh(a.astype(np.float64)).astype(np.float32)
    np.testing.assert_allclose(x.tanh().numpy(), want, rtol=2.5e-7, atol=0)
    np.testing.assert_allclose(x.sum().item(), a.astype(np.float64).sum(), rtol=1e-5)
    # A broadcast operand takes the strided walk, also chunked across the pool.
    np.testing.assert_array_equal((x.view(-1, 1) + y[:7]).numpy(), a[:, None] + b[:7])
    # A repeated row (rows of 7, chunks starting mid-row above the threshold), either side.
    rows = a[: n - n % 7].reshape(-1, 7)
    xr = ferrograd.tensor(rows)
    np.testing.assert_array_equal((xr + y[:7]).numpy(), rows + b[:7])
    np.testing.assert_array_equal((y[:7] - xr).numpy(), b[:7] - rows)


@pytest.mark.parametrize("cols", [1, 63, 64, 65, 8192, 8193])
def test_float32_column_sums_both_row_buffers(cols):
    rng = np.random.default_rng(cols)
    a = rng.standard_normal((37, cols)).astype(np.float32)
    x, wide = ferrograd.tensor(a), a.astype(np.float64)
    np.testing.assert_allclose(x.sum(0).numpy(), wide.sum(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(x.mean(0).numpy(), wide.mean(0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("n", [2**18 - 1, 2**18, 2**20 + 7])
def test_reused_buffers_never_alias_live_tensors(n):
    x = ferrograd.arange(n, dtype=ferrograd.float32)
    kept = []
    for step in range(6):
        y = x * float(step)  # its buffer goes back to the cache when `y` dies
        kept.append(x + float(step))
        del y
        gc.collect()
    for step, k in enumerate(kept):
        assert k[0].item() == step and k[-1].item() == n - 1 + step
    # zeros() taken from the cache is zeroed again.
    big = ferrograd.ones(n) * 5
    del big
    assert ferrograd.zeros(n).sum().item() == 0.0
    # A float64 request never takes a float32 buffer, whatever its size.
    assert ferrograd.zeros(n // 2, dtype=ferrograd.float64).sum().item() == 0.0


@pytest.mark.parametrize("m,k,n", [(63, 64, 64), (64, 64, 64), (65, 64, 64), (100, 70, 90)])
def test_matmul_sequential_and_parallel_paths(m, k, n):
    # 64*64*64 = 2**18 multiply-adds is where the pool takes over.
    rng = np.random.default_rng(m * k * n)
    a = rng.standard_normal((m, k))
    b = rng.standard_normal((k, n))
    out = ferrograd.tensor(a) @ ferrograd.tensor(b)
    np.testing.assert_allclose(out.numpy(), a @ b, rtol=1e-12, atol=1e-12)
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    out32 = ferrograd.tensor(a32) @ ferrograd.tensor(b32)
    np.testing.assert_allclose(out32.numpy(), a32 @ b32, rtol=1e-4, atol=1e-4)


def test_vectorised_exp_special_values():
    x = ferrograd.tensor([0.0, -0.0, float("inf"), float("-inf"), float("nan"), 88.8, -104.0])
    got = x.exp().tolist()
    assert got[:4] == [1.0, 1.0, float("inf"), 0.0]
    assert got[4] != got[4]  # NaN
    assert got[5] == float("inf") and got[6] == 0.0
    sub = ferrograd.tensor([-100.0]).exp().item()  # a subnormal result, not flushed to 0
    assert 0.0 < sub < 1.2e-38


def test_vectorised_tanh_special_values():
    x = ferrograd.tensor([0.0, -0.0, float("inf"), float("-inf"), float("nan"), 1e-40, 20.0])
    got = x.tanh().numpy()
    np.testing.assert_array_equal(got[:4], [0.0, -0.0, 1.0, -1.0])
    assert np.signbit(got[1]) and not np.signbit(got[0])
    assert np.isnan(got[4])
    assert got[5] == np.float32(1e-40) and got[6] == 1.0  # subnormal in, subnormal out


def test_vectorised_tanh_within_two_ulp_across_its_branches():
    # Dense around the switch from the polynomial to exp at |x| = 0.625, both signs, and
    # out to where tanh rounds to 1.
    a = np.concatenate(
        [
            np.linspace(-1.0, 1.0, 200_001, dtype=np.float32),
            np.linspace(-10.0, 10.0, 20_001, dtype=np.float32),
            np.nextafter(np.float32(0.625), np.float32([-1, 1] * 8)).astype(np.float32),
        ]
    )
    got = ferrograd.tensor(a).tanh().numpy()
    want = np.tanh(a.astype(np.float64)).astype(np.float32)
    ulps = np.abs(got.view(np.int32).astype(np.int64) - want.view(np.int32).astype(np.int64))
    assert ulps.max() <= 2
    # float64 keeps libm's tanh.
    d = ferrograd.tensor(a.astype(np.float64)).tanh().numpy()
    np.testing.assert_allclose(d, np.tanh(a.astype(np.float64)), rtol=1e-15, atol=0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_square_is_a_product(dtype):
    rng = np.random.default_rng(2)
    a = rng.standard_normal(1000).astype(dtype)
    a[:4] = [np.inf, -np.inf, np.nan, -0.0]
    x = ferrograd.tensor(a, requires_grad=True)
    for e in (2, 2.0):
        y = x**e
        np.testing.assert_array_equal(y.detach().numpy(), a * a)
        assert y.grad_fn.name() == "PowBackward0"
    (x**2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * a)
    # Other exponents still go through pow.
    np.testing.assert_allclose((x.detach() ** 3).numpy()[4:], a[4:] ** 3, rtol=1e-6)


def test_leaf_grads_from_mm_and_bias_sums_accumulate_independently():
    rng = np.random.default_rng(5)
    xs, ws, bs = rng.standard_normal((6, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2)
    x = ferrograd.tensor(xs)
    w = ferrograd.tensor(ws, requires_grad=True)
    b = ferrograd.tensor(bs, requires_grad=True)
    g = rng.standard_normal((6, 2))
    for step in (1, 2):  # the second backward adds into the grads taken over by the first
        (x @ w + b).backward(ferrograd.tensor(g))
        np.testing.assert_allclose(w.grad.numpy(), step * xs.T @ g, rtol=1e-12)
        np.testing.assert_allclose(b.grad.numpy(), step * g.sum(0), rtol=1e-12)
    np.testing.assert_array_equal(x.numpy(), xs)  # nothing else was written


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_tanh_backward_fused_and_composite_agree(dtype):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((50, 7)).astype(dtype)
    g = rng.standard_normal((50, 7)).astype(dtype)
    x = ferrograd.tensor(a, requires_grad=True)
    (gx,) = ferrograd.autograd.grad(x.tanh(), x, ferrograd.tensor(g))
    x2 = ferrograd.tensor(a, requires_grad=True)
    (gx2,) = ferrograd.autograd.grad(x2.tanh(), x2, ferrograd.tensor(g), create_graph=True)
    assert gx2.requires_grad and not gx.requires_grad
    np.testing.assert_array_equal(gx.numpy(), gx2.detach().numpy())
    y = x.tanh().detach().numpy()
    np.testing.assert_array_equal(gx.numpy(), g * (1 - y * y))


@pytest.fixture(params=[1, 2, 3])
def threads(request):
    before = ferrograd.get_num_threads()
    ferrograd.set_num_threads(request.param)
    yield request.param
    ferrograd.set_num_threads(before)


@pytest.mark.parametrize(
    "batch,m,k,n",
    [(1, 64, 64, 64), (1, 200, 70, 33), (1, 33, 70, 200), (2, 90, 64, 90), (5, 70, 70, 70)],
)
def test_matmul_blocks_for_any_thread_count(threads, batch, m, k, n):
    rng = np.random.default_rng(batch * m * k * n)
    a = rng.standard_normal((batch, m, k)).astype(np.float32)
    b = rng.standard_normal((batch, k, n)).astype(np.float32)
    x, y = ferrograd.tensor(a), ferrograd.tensor(b)
    np.testing.assert_allclose((x @ y).numpy(), a @ b, rtol=1e-4, atol=1e-4)
    # Transposed operands: strided, no copy.
    xt = ferrograd.tensor(a.transpose(0, 2, 1).copy()).transpose(1, 2)
    yt = ferrograd.tensor(b.transpose(0, 2, 1).copy()).transpose(1, 2)
    np.testing.assert_allclose((xt @ yt).numpy(), a @ b, rtol=1e-4, atol=1e-4)
    # A broadcast batch (stride 0) and a float64 product.
    np.testing.assert_allclose((x @ y[:1]).numpy(), a @ b[:1], rtol=1e-4, atol=1e-4)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    out = ferrograd.tensor(a64) @ ferrograd.tensor(b64)
    np.testing.assert_allclose(out.numpy(), a64 @ b64, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n", [2**15 - 1, 2**15 + 3, 3 * 2**18 + 1])
def test_kernels_for_any_thread_count(threads, n):
    a = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    x = ferrograd.tensor(a)
    np.testing.assert_array_equal((x * 2 + 1).numpy(), a * 2 + 1)
    np.testing.assert_allclose(x.sum().item(), a.astype(np.float64).sum(), rtol=1e-5)
    np.testing.assert_allclose(
        x.view(-1, 1).expand(n, 3).sum(0).numpy(), [a.astype(np.float64).sum()] * 3, rtol=1e-5
    )


def test_kernels_from_several_python_threads_at_once():
    # Large kernels release the GIL; one thread's kernel finds the team busy and runs inline.
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(2**20).astype(np.float32) for _ in range(4)]
    mats = [rng.standard_normal((128, 128)).astype(np.float32) for _ in range(4)]
    errors = []

    def work(i):
        try:
            x, m = ferrograd.tensor(arrays[i]), ferrograd.tensor(mats[i])
            for _ in range(20):
                np.testing.assert_array_equal((x + x).numpy(), arrays[i] * 2)
                np.testing.assert_allclose((m @ m).numpy(), mats[i] @ mats[i], rtol=1e-4, atol=1e-3)
        except Exception as e:  # reported below, on the main thread
            errors.append(e)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors, errors


def test_set_num_threads_checks_its_argument():
    before = ferrograd.get_num_threads()
    with pytest.raises(RuntimeError, match="set_num_threads expects a positive integer"):
        ferrograd.set_num_threads(0)
    with pytest.raises(RuntimeError, match="set_num_threads expects an int, but got float"):
        ferrograd.set_num_threads(1.5)
    with pytest.raises(RuntimeError, match="set_num_threads expects an int, but got bool"):
        ferrograd.set_num_threads(True)
    assert ferrograd.get_num_threads() == before


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # 3.12+: fork of a threaded process
def test_a_forked_child_computes_large_kernels():
    import os

    x = ferrograd.ones(2**20)
    assert (x + x).sum().item() == 2**21  # the team's workers exist in the parent
    pid = os.fork()
    if pid == 0:  # the child has no workers: its kernels run on its one thread
        ok = (x + x).sum().item() == 2**21 and (
            x.view(1024, 1024) @ x.view(1024, 1024)
        ).sum().item() == 2**30
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0


# In-place add_/sub_/mul_/div_ with nothing recording write straight into a contiguous
# destination (src/ops/arith.rs `binary_assign`); anything else (a strided destination, an
# operand that is broadcast, strided, of another dtype or in the same storage) computes out
# of place and copies. Both must give the same bits.
@pytest.mark.parametrize("n", [5, 2**15 + 3, 2**20 + 5])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_inplace_arithmetic_direct_and_copying_paths_agree(n, dtype):
    rng = np.random.default_rng(n)
    a = (rng.standard_normal(n) * 100).astype(dtype)
    b = (rng.standard_normal(n) * 100).astype(dtype)
    b[b == 0] = 3
    alphas = [1, 3] if dtype == "int64" else [1, 0.37]
    ops = [("add_", True), ("sub_", True), ("mul_", False)]
    if dtype != "int64":
        ops.append(("div_", False))
    for name, takes_alpha in ops:
        for alpha in alphas if takes_alpha else [1]:
            kw = {"alpha": alpha} if alpha != 1 else {}
            for other in (ferrograd.tensor(b), 2.5 if dtype != "int64" else 7):
                direct = ferrograd.tensor(a)
                v0 = direct._version
                getattr(direct, name)(other, **kw)
                assert direct._version == v0 + 1
                # The same values through the copying path: a strided destination.
                strided = ferrograd.tensor(np.stack([a, a], 1))[:, 0]
                assert not strided.is_contiguous()
                getattr(strided, name)(other, **kw)
                np.testing.assert_array_equal(direct.numpy(), strided.numpy())
                # An operand sharing the destination's storage also copies.
                both = ferrograd.tensor(np.concatenate([a, b]))
                dst, src = both[:n], both[n:]
                if isinstance(other, (float, int)):
                    continue
                getattr(dst, name)(src, **kw)
                np.testing.assert_array_equal(dst.numpy(), direct.numpy())


def test_inplace_direct_path_keeps_errors_and_version_checks():
    x = ferrograd.ones(2**16)
    with pytest.raises(NotImplementedError, match="Subtraction, the `-` operator, with a bool"):
        x.sub_(ferrograd.ones(2**16, dtype=ferrograd.bool))
    i = ferrograd.ones(2**16, dtype=ferrograd.int64)
    with pytest.raises(RuntimeError, match="result type Float can't be cast to"):
        i.add_(x)
    # A broadcast operand takes the copying path.
    y = ferrograd.ones(4, 2**14)
    y.add_(ferrograd.arange(2**14, dtype=ferrograd.float32))
    assert y[3, 5].item() == 6.0
    # A graph that saved a parameter sees the update under no_grad.
    w = ferrograd.ones(2**16, requires_grad=True)
    out = (w * w).sum()
    with ferrograd.no_grad():
        w.sub_(ferrograd.ones(2**16) * 0.5)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.backward()
    # Accumulating grads adds in place into the existing grad.
    w.grad = None
    (w * 2).sum().backward()
    g = w.grad
    (w * 3).sum().backward()
    assert w.grad is g or w.grad.data_ptr() == g.data_ptr()
    assert w.grad[0].item() == 5.0


@pytest.mark.parametrize("n", [7, 2**15 + 1])
def test_where_with_a_scalar_branch(n):
    rng = np.random.default_rng(n)
    c = rng.standard_normal(n) > 0
    a = rng.standard_normal(n).astype(np.float32)
    cond, x = ferrograd.tensor(c), ferrograd.tensor(a)
    np.testing.assert_array_equal(ferrograd.where(cond, x, 0.0).numpy(), np.where(c, a, 0))
    np.testing.assert_array_equal(ferrograd.where(cond, -1.5, x).numpy(), np.where(c, -1.5, a))
    np.testing.assert_array_equal(ferrograd.where(cond, 2.0, 3.0).numpy(), np.where(c, 2.0, 3.0))
    # ReLU's backward is where(result > 0, grad, 0).
    xr = ferrograd.tensor(a, requires_grad=True)
    xr.relu().sum().backward()
    np.testing.assert_array_equal(xr.grad.numpy(), (a > 0).astype(np.float32))


def test_a_fresh_grad_is_taken_not_copied_and_is_no_view():
    # matmul's grad arrives as a reshaped (view) fresh result; the leaf takes it as is.
    rng = np.random.default_rng(1)
    a = rng.standard_normal((64, 96)).astype(np.float32)
    w0 = rng.standard_normal((96, 32)).astype(np.float32)
    w = ferrograd.tensor(w0, requires_grad=True)
    (ferrograd.tensor(a) @ w).sum().backward()
    assert w.grad.is_contiguous()
    np.testing.assert_allclose(w.grad.numpy(), a.sum(0)[:, None].repeat(32, 1), rtol=1e-5)
    w.grad.zero_()  # the grad owns its memory: nothing else changes
    assert w.grad.abs().sum().item() == 0 and np.array_equal(w.detach().numpy(), w0)
