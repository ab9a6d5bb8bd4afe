"""NumPy and DLPack interop: ``from_numpy`` / ``.numpy()`` / ``__array__`` / ``as_tensor``
share memory (zero-copy, checked by writing through one side and reading the other, and by
addresses), ``tensor(ndarray)`` copies, and DLPack round trips with PyTorch and NumPy share
memory in both directions. Errors match PyTorch's type and wording where it has the case.
"""

from __future__ import annotations

import gc
import warnings

import ferrograd
import numpy as np
import pytest

DTYPES = ["float32", "float64", "int64", "bool"]


def _array(dtype, shape=(2, 3)):
    a = np.arange(int(np.prod(shape))).reshape(shape) % 3
    return a.astype(dtype)


def _one(dtype):
    return np.array(True) if dtype == "bool" else np.array(7, dtype=dtype)


# ---- NumPy -> ferrograd ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_from_numpy_shares_memory(dtype):
    a = _array(dtype)
    t = ferrograd.from_numpy(a)
    assert str(t.dtype) == f"ferrograd.{dtype}" and t.shape == (2, 3)
    assert t.data_ptr() == a.ctypes.data and t.tolist() == a.tolist()
    a[1, 2] = _one(dtype)
    assert t[1, 2].item() == a[1, 2].item()
    t[0, 0] = _one(dtype).item()  # and back: a write through the tensor shows in the array
    assert a[0, 0] == _one(dtype)


def test_from_numpy_strided_views_and_lifetime():
    base = np.arange(24.0).reshape(4, 6)
    for view in (base[:, ::2], base.T, base[1:3, 2:5], base[:, :0]):
        t = ferrograd.from_numpy(view)
        assert t.shape == view.shape
        assert t.stride() == tuple(s // 8 for s in view.strides)
        assert t.tolist() == view.tolist()
    t = ferrograd.from_numpy(base[1:, 1:])
    base[1, 1] = -1.0
    assert t[0, 0].item() == -1.0
    # the tensor keeps the array's memory alive
    t = ferrograd.from_numpy(np.arange(1000.0))
    gc.collect()
    assert t.sum().item() == 499500.0
    t.mul_(2)
    assert t[999].item() == 1998.0
    # 0-d and empty arrays
    assert ferrograd.from_numpy(np.array(2.5)).shape == ()
    assert ferrograd.from_numpy(np.zeros((0, 3))).shape == (0, 3)


def test_from_numpy_result_is_an_ordinary_tensor():
    a = np.linspace(-1, 1, 6).reshape(2, 3)
    x = ferrograd.from_numpy(a).requires_grad_()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * a)
    assert x.is_leaf and x.grad_fn is None


def test_from_numpy_errors_match_pytorch():
    cases = [
        lambda m: m.from_numpy([1.0, 2.0]),
        lambda m: m.from_numpy(np.ones(3, dtype=">f8")),
        lambda m: m.from_numpy(np.ones((3, 3))[::-1]),
        lambda m: m.from_numpy(np.array([object()])),
    ]
    fixed = [
        (TypeError, "expected np.ndarray (got list)"),
        (ValueError, "given numpy array has byte order different from the native byte order"),
        (ValueError, "At least one stride in the given numpy array is negative"),
        (TypeError, "can't convert np.ndarray of type numpy.object_. The only supported types"),
    ]
    try:
        import torch
    except ImportError:
        torch = None
    for case, (kind, start) in zip(cases, fixed):
        with pytest.raises(kind) as ours:
            case(ferrograd)
        assert str(ours.value).startswith(start)
        if torch is not None:
            with pytest.raises(Exception) as theirs:
                case(torch)
            assert type(theirs.value) is kind and str(theirs.value).startswith(start)
    # types PyTorch has and ferrograd does not: the same error, listing ours
    with pytest.raises(TypeError, match=r"numpy\.int32\. The only supported types are: float64"):
        ferrograd.from_numpy(np.zeros(2, dtype=np.int32))
    # strides that are not whole elements
    odd = np.zeros(10, dtype=np.uint8)[1:9].view(np.float64)
    assert odd.ctypes.data % 8 == 1
    with pytest.raises(BufferError, match="not aligned"):
        ferrograd.from_numpy(odd)


def test_from_numpy_read_only_warns_like_pytorch():
    a = np.ones(3)
    a.flags.writeable = False
    with pytest.warns(UserWarning, match="The given NumPy array is not writable"):
        t = ferrograd.from_numpy(a)
    assert t.data_ptr() == a.ctypes.data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ferrograd.tensor(a)  # a copy: nothing to warn about


@pytest.mark.parametrize("dtype", DTYPES)
def test_tensor_of_ndarray_copies_and_keeps_dtype(dtype):
    a = _array(dtype, (3, 4))[:, 1:]
    t = ferrograd.tensor(a)
    assert str(t.dtype) == f"ferrograd.{dtype}" and t.tolist() == a.tolist()
    assert t.is_contiguous() and t.data_ptr() != a.ctypes.data
    a[0, 0] = _one(dtype)
    assert t[0, 0].item() != a[0, 0].item() or dtype == "bool" and a[0, 0] == a[0, 1]
    assert ferrograd.tensor(a, dtype=ferrograd.float64).dtype == ferrograd.float64
    assert ferrograd.tensor(np.zeros((0, 2, 3), dtype=dtype)).shape == (0, 2, 3)


def test_tensor_of_other_numpy_dtypes():
    assert ferrograd.tensor(np.arange(3, dtype=np.int32)).dtype == ferrograd.int64
    assert ferrograd.tensor(np.ones(2, dtype=np.float16)).dtype == ferrograd.float32
    assert ferrograd.tensor(np.ones(3, dtype=">f8")).tolist() == [1.0, 1.0, 1.0]
    assert ferrograd.tensor(np.arange(6.0)[::-2]).tolist() == [5.0, 3.0, 1.0]


def test_as_tensor_shares_when_it_can():
    a = np.arange(6, dtype=np.float32)
    t = ferrograd.as_tensor(a)
    assert t.dtype == ferrograd.float32 and t.data_ptr() == a.ctypes.data
    c = ferrograd.as_tensor(a, dtype=ferrograd.float64)
    assert c.dtype == ferrograd.float64 and c.data_ptr() != a.ctypes.data
    assert ferrograd.as_tensor(t) is t
    assert ferrograd.as_tensor(t, dtype=ferrograd.float64).dtype == ferrograd.float64
    assert ferrograd.as_tensor([1, 2]).dtype == ferrograd.int64
    assert ferrograd.as_tensor(np.arange(3, dtype=np.int32)).dtype == ferrograd.int64
    r = ferrograd.as_tensor(np.arange(4.0)[::-1])  # negative strides: a copy
    assert r.tolist() == [3.0, 2.0, 1.0, 0.0]


def test_as_tensor_matches_pytorch_sharing():
    torch = pytest.importorskip("torch")
    a = np.arange(4.0)
    for lib in (ferrograd, torch):
        t = lib.as_tensor(a)
        assert t.data_ptr() == a.ctypes.data


# ---- ferrograd -> NumPy ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_numpy_shares_memory(dtype):
    t = ferrograd.tensor(_array(dtype).tolist(), dtype=getattr(ferrograd, dtype))
    a = t.numpy()
    assert a.dtype == np.dtype(dtype) and a.shape == (2, 3) and a.flags.writeable
    assert a.ctypes.data == t.data_ptr()
    a[0, 1] = _one(dtype)
    assert t[0, 1].item() == a[0, 1].item()
    t.zero_()
    assert not a.any()


def test_numpy_of_views_empty_and_scalars():
    t = ferrograd.arange(12.0).reshape(3, 4)
    for view in (t.t(), t[:, 1], t[1:, ::2], t.expand(2, 3, 4)):
        a = view.numpy()
        assert a.shape == tuple(view.shape)
        assert a.strides == tuple(4 * s for s in view.stride())
        assert a.tolist() == view.tolist() and a.ctypes.data == view.data_ptr()
    for shape in [(0,), (0, 3), (2, 0, 4), (3, 0)]:
        e = ferrograd.zeros(shape)
        assert e.numpy().shape == shape and e.numpy().dtype == np.float32
        assert np.asarray(e).shape == shape
    s = ferrograd.tensor(3.5)
    assert s.numpy().shape == () and s.numpy()[()] == 3.5
    a = ferrograd.ones(3).numpy()  # the array keeps the storage alive
    gc.collect()
    assert a.tolist() == [1.0, 1.0, 1.0]


def test_numpy_requires_grad_matches_pytorch():
    msg = "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
    x = ferrograd.ones(2, requires_grad=True)
    for f in (lambda: x.numpy(), lambda: np.asarray(x), lambda: (x * 2).numpy()):
        with pytest.raises(RuntimeError) as e:
            f()
        assert str(e.value) == msg
    assert x.detach().numpy().tolist() == [1.0, 1.0]
    forced = x.numpy(force=True)
    forced[0] = 5.0
    assert x.tolist() == [1.0, 1.0]  # force: a copy
    try:
        import torch
    except ImportError:
        return
    with pytest.raises(RuntimeError) as theirs:
        torch.ones(2, requires_grad=True).numpy()
    assert str(theirs.value) == msg


def test_array_protocol():
    t = ferrograd.arange(4.0)
    a = np.asarray(t)
    assert a.ctypes.data == t.data_ptr()
    assert np.asarray(t, dtype=np.float32).dtype == np.float32
    c = np.array(t)
    assert c.ctypes.data != t.data_ptr() and c.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert np.add(t, 1).tolist() == [1.0, 2.0, 3.0, 4.0]
    assert np.asarray(ferrograd.tensor([True, False])).dtype == np.bool_


# ---- DLPack ---------------------------------------------------------------------------------


def test_dlpack_device_and_capsules():
    t = ferrograd.ones(2, 3)
    assert t.__dlpack_device__() == (1, 0)
    assert "dltensor" in repr(t.__dlpack__())
    assert "dltensor_versioned" in repr(t.__dlpack__(max_version=(1, 0)))
    capsule = t.__dlpack__()
    u = ferrograd.from_dlpack(capsule)
    assert u.data_ptr() == t.data_ptr()
    with pytest.raises(RuntimeError, match="from_dlpack received an invalid capsule"):
        ferrograd.from_dlpack(capsule)  # a capsule is consumed once
    for _ in range(100):  # capsules never consumed free their tensor
        t.__dlpack__()
        t.__dlpack__(max_version=(1, 0))
    with pytest.raises(BufferError, match="Can't export tensors that require gradient"):
        ferrograd.ones(2, requires_grad=True).__dlpack__()
    with pytest.raises(BufferError, match="device type 2"):
        t.__dlpack__(dl_device=(2, 0))
    copied = ferrograd.from_dlpack(t.__dlpack__(copy=True))
    assert copied.data_ptr() != t.data_ptr() and copied.tolist() == t.tolist()


@pytest.mark.parametrize("dtype", DTYPES)
def test_dlpack_round_trip_with_numpy(dtype):
    t = ferrograd.tensor(_array(dtype, (3, 4)).tolist(), dtype=getattr(ferrograd, dtype))
    view = t[:, 1:3]
    a = np.from_dlpack(view)
    assert a.ctypes.data == view.data_ptr() and a.tolist() == view.tolist()
    assert a.strides == tuple(a.itemsize * s for s in view.stride())
    back = ferrograd.from_dlpack(a)
    assert back.data_ptr() == view.data_ptr() and back.stride() == view.stride()
    a[0, 0] = _one(dtype)
    assert t[0, 1].item() == back[0, 0].item() == a[0, 0].item()
    n = np.arange(6.0).reshape(2, 3)
    f = ferrograd.from_dlpack(n)
    n[1, 1] = 42.0
    assert f.data_ptr() == n.ctypes.data and f[1, 1].item() == 42.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_dlpack_round_trip_with_pytorch(dtype):
    torch = pytest.importorskip("torch")
    t = ferrograd.tensor(_array(dtype, (3, 4)).tolist(), dtype=getattr(ferrograd, dtype))
    view = t.t()
    x = torch.from_dlpack(view)
    assert str(x.dtype) == f"torch.{dtype}" and x.data_ptr() == view.data_ptr()
    assert x.stride() == view.stride() and x.tolist() == view.tolist()
    x[0, 0] = _one(dtype).item()
    assert t[0, 0].item() == _one(dtype).item()
    y = torch.tensor(_array(dtype, (2, 5)))[:, ::2]
    f = ferrograd.from_dlpack(y)
    assert f.data_ptr() == y.data_ptr() and f.stride() == y.stride()
    assert f.tolist() == y.tolist()
    y.zero_()
    assert not f.any().item()
    # the imported tensor keeps PyTorch's memory alive after PyTorch lets go
    z = ferrograd.from_dlpack(torch.arange(1000, dtype=torch.float64))
    gc.collect()
    assert z.sum().item() == 499500.0
    assert ferrograd.from_dlpack(torch.zeros(0, 3)).shape == (0, 3)
    assert ferrograd.from_dlpack(torch.tensor(2.0)).shape == ()


def test_from_dlpack_refuses_what_it_cannot_share():
    torch = pytest.importorskip("torch")
    with pytest.raises(BufferError, match="unsupported DLPack dtype"):
        ferrograd.from_dlpack(torch.zeros(2, dtype=torch.int32))
    with pytest.raises(BufferError, match="unsupported DLPack dtype"):
        ferrograd.from_dlpack(np.zeros(2, dtype=np.complex64))
    with pytest.raises(BufferError, match="Can't export tensors that require gradient"):
        torch.from_dlpack(ferrograd.ones(1, requires_grad=True))
