"""The speed paths give the same results on both sides of their thresholds.

- elementwise kernels run sequentially below `PARALLEL_THRESHOLD` (2**15 elements) and in
  chunks on the thread pool above it (src/kernels/mod.rs);
- outputs of at least 1 MiB reuse freed buffers from a bounded cache (src/storage.rs), so a
  new result may land in memory an earlier, dropped tensor used;
- matmul hands work to the pool from `PARALLEL_FLOPS` (2**18 multiply-adds) on;
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
