"""The in-place view ops: ``t_``, ``transpose_``, ``swapaxes_``, ``swapdims_``, ``squeeze_``
and ``unsqueeze_`` change the tensor's own shape and strides.

The registry of ``test_shape_ops.py`` covers their values, grads (gradcheck), node names and
errors over generated shapes; here: the tensor returned is the tensor changed, the version
counter, the strides of the result, autograd's refusals (leaf, view of a leaf, multi-output
view, inference tensor), ``no_grad``, views and bases, ``retain_grad`` and saved tensors,
compared with PyTorch where it is installed.
"""

from __future__ import annotations

import ferrograd
import numpy as np
import pytest
from helpers import assert_close, to_numpy

# (name, call) -- each call changes its argument in place and returns it.
OPS = [
    ("t_", lambda y: y.t_()),
    ("transpose_", lambda y: y.transpose_(0, -1)),
    ("swapaxes_", lambda y: y.swapaxes_(axis0=-1, axis1=0)),
    ("swapdims_", lambda y: y.swapdims_(1, 0)),
    ("squeeze_", lambda y: y.squeeze_()),
    ("squeeze_dim", lambda y: y.squeeze_(0)),
    ("squeeze_dims", lambda y: y.squeeze_((0, -1))),
    ("unsqueeze_", lambda y: y.unsqueeze_(-1)),
]
IDS = [o[0] for o in OPS]
CALLS = [o[1] for o in OPS]

# PyTorch's node names for the in-place overloads (checked against torch 2.15).
NODE_NAMES = {
    "t_": "TBackward1",
    "transpose_": "TransposeBackward1",
    "swapaxes_": "TransposeBackward1",
    "swapdims_": "TransposeBackward1",
    "squeeze_": "SqueezeBackward3",
    "squeeze_dim": "SqueezeBackward4",
    "squeeze_dims": "SqueezeBackward5",
    "unsqueeze_": "UnsqueezeBackward1",
}

LEAF_MSG = "a leaf Variable that requires grad is being used in an in-place operation."
VIEW_OF_LEAF_MSG = (
    "a view of a leaf Variable that requires grad is being used in an in-place operation."
)


def _torch():
    return pytest.importorskip("torch")


def _values(L, shape=(1, 3)):
    return L.arange(float(np.prod(shape))).reshape(shape) - 1.0


@pytest.mark.parametrize("call", CALLS, ids=IDS)
def test_returns_the_same_tensor_changed(call):
    y = _values(ferrograd) * 1
    ref = call(_values(ferrograd).clone())  # the out-of-place result the shape must match
    before = y._version
    out = call(y)
    assert out is y
    assert tuple(y.shape) == tuple(ref.shape)
    assert y._version == before + 1
    assert_close(to_numpy(y), to_numpy(ref), rtol=0, atol=0)


@pytest.mark.parametrize("call", CALLS, ids=IDS)
def test_node_name_and_grad(call):
    name = IDS[CALLS.index(call)]
    x = ferrograd.tensor([[1.0, -2.0, 3.0]], requires_grad=True)
    y = x * 2
    call(y)
    assert y.grad_fn.name() == NODE_NAMES[name]
    assert not y.is_leaf and y.requires_grad
    w = ferrograd.arange(3.0).reshape(y.shape)
    (y * w).sum().backward()
    assert_close(to_numpy(x.grad), 2 * np.arange(3.0).reshape(1, 3), rtol=0, atol=0)


@pytest.mark.parametrize("call", CALLS, ids=IDS)
def test_matches_torch(call):
    """Shape, strides, contiguity, version, node, values and grads, on a tensor and on
    non-contiguous views of one."""
    torch = _torch()
    for make in (
        lambda y: y.view(1, 6),
        lambda y: y.view(3, 2).t(),
        lambda y: y.view(1, 6)[:, ::2],
        lambda y: y.view(6, 1)[1:4],
    ):
        res = {}
        for L in (ferrograd, torch):
            x = L.arange(6.0, dtype=L.float64).requires_grad_()
            y = make(x * 1)
            v0 = y._version
            out = call(y)
            assert out is y
            w = L.arange(float(y.numel()), dtype=L.float64).reshape(y.shape)
            (y * w).sum().backward()
            res[L] = (
                tuple(y.shape),
                tuple(y.stride()),
                y.storage_offset(),
                y.is_contiguous(),
                y._version - v0,
                y.grad_fn.name(),
                to_numpy(y.detach()).tolist(),
                to_numpy(x.grad).tolist(),
            )
        assert res[ferrograd] == res[torch]


@pytest.mark.parametrize("call", CALLS, ids=IDS)
def test_on_a_leaf_that_requires_grad_is_refused(call):
    x = _values(ferrograd).requires_grad_()
    with pytest.raises(RuntimeError, match=LEAF_MSG):
        call(x)
    assert tuple(x.shape) == (1, 3) and x._version == 0
    with pytest.raises(RuntimeError, match=VIEW_OF_LEAF_MSG):
        call(x.view(1, 3))


@pytest.mark.parametrize("call", CALLS, ids=IDS)
def test_under_no_grad_a_leaf_changes_and_keeps_its_grad(call):
    x = ferrograd.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    (x * 3).sum().backward()
    with ferrograd.no_grad():
        assert call(x) is x
    assert x.requires_grad and x.is_leaf and x.grad_fn is None
    assert x._version == 1
    assert tuple(x.grad.shape) == (1, 3)  # the grad is not reshaped (as in PyTorch)
    x.grad = None
    (x * 2).sum().backward()  # the changed leaf still accumulates
    assert tuple(x.grad.shape) == tuple(x.shape)
    assert_close(to_numpy(x.grad), np.full(tuple(x.shape), 2.0), rtol=0, atol=0)


def test_under_no_grad_a_non_leaf_keeps_its_history():
    x = ferrograd.ones(2, 3, requires_grad=True)
    y = x * 1
    with ferrograd.no_grad():
        y.t_()
    assert y.grad_fn.name() == "MulBackward0" and tuple(y.shape) == (3, 2)
    # Its node expects the old shape, so backward refuses the grad, as in PyTorch.
    with pytest.raises(RuntimeError, match="returned an invalid gradient at index 0"):
        y.sum().backward()


def test_a_parameter_stays_the_same_parameter():
    p = ferrograd.nn.Parameter(ferrograd.ones(2, 3))
    with ferrograd.no_grad():
        assert p.t_() is p
    assert isinstance(p, ferrograd.nn.Parameter) and p.requires_grad
    (p * ferrograd.arange(6.0).reshape(3, 2)).sum().backward()
    assert_close(to_numpy(p.grad), np.arange(6.0).reshape(3, 2), rtol=0, atol=0)


def test_the_base_of_a_view_keeps_its_shape():
    b = ferrograd.arange(6.0).reshape(2, 3)
    v = b.view(2, 3)
    v.t_()
    assert tuple(b.shape) == (2, 3) and tuple(v.shape) == (3, 2)
    assert b._version == v._version == 1
    v.mul_(10)  # still aliases the base
    assert_close(to_numpy(b), np.arange(6.0).reshape(2, 3) * 10, rtol=0, atol=0)
    assert_close(to_numpy(v), np.arange(6.0).reshape(2, 3).T * 10, rtol=0, atol=0)


def test_detach_shares_the_version_not_the_shape():
    x = ferrograd.ones(2, 3)
    d = x.detach()
    d.t_()
    assert tuple(x.shape) == (2, 3) and tuple(d.shape) == (3, 2)
    assert x._version == d._version == 1


def test_a_write_after_the_change_reaches_the_base_history():
    """A view changed in place, then written in place: the base's grad sees the write."""
    x = ferrograd.arange(6.0).reshape(2, 3).requires_grad_()
    y = x * 1
    v = y[0:2]
    v.t_()
    v.mul_(ferrograd.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    y.sum().backward()
    assert_close(to_numpy(x.grad), np.array([[1.0, 3.0, 5.0], [2.0, 4.0, 6.0]]), rtol=0, atol=0)


def test_retain_grad_before_keeps_the_old_values_grad():
    """As PyTorch: ``retain_grad()`` before the call retains the grad of the value before it
    (old shape); after the call, that of the new value."""
    x = ferrograd.ones(1, 3, requires_grad=True)
    y = x * 1
    y.retain_grad()
    y.unsqueeze_(0)
    (y * 2).sum().backward()
    assert y.retains_grad and tuple(y.grad.shape) == (1, 3)
    y = x * 1
    y.unsqueeze_(0)
    y.retain_grad()
    (y * 2).sum().backward()
    assert tuple(y.grad.shape) == (1, 1, 3)


def test_a_saved_tensor_changed_in_place_is_caught():
    x = ferrograd.ones(2, 3, requires_grad=True)
    y = x * 1
    z = y * y  # saves y
    y.t_()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_outputs_of_split_are_refused():
    y = ferrograd.ones(2, 4, requires_grad=True) * 1
    a, _ = y.split(2, 1)
    with pytest.raises(RuntimeError, match="Output 0 of Split is a view and is being modified"):
        a.t_()
    with ferrograd.no_grad():
        assert tuple(ferrograd.ones(2, 4).split(2, 1)[0].t_().shape) == (2, 2)


def test_an_inference_tensor_outside_inference_mode_is_refused():
    with ferrograd.inference_mode():
        i = ferrograd.ones(2, 3)
        assert tuple(i.t_().shape) == (3, 2)
    with pytest.raises(RuntimeError, match="Inplace update to inference tensor outside"):
        i.t_()


def test_squeeze_of_a_dim_that_is_not_one_changes_nothing_but_the_version():
    x = ferrograd.ones(2, 3)
    s = x.stride()
    assert x.squeeze_(0) is x and tuple(x.shape) == (2, 3) and x.stride() == s
    assert x._version == 1


ERRORS = [
    (lambda x: x.transpose_(2, 0), (2, 3)),
    (lambda x: x.swapaxes_(0, -3), (2, 3)),
    (lambda x: x.squeeze_(5), (2, 3)),
    (lambda x: x.squeeze_((0, -2)), (2, 3)),
    (lambda x: x.squeeze_((1, 1)), (1, 1)),
    (lambda x: x.unsqueeze_(3), (2, 3)),
    (lambda x: x.unsqueeze_(-4), (2, 3)),
    (lambda x: x.t_(), (2, 3, 1)),
    (lambda x: x.transpose_(0, 1), ()),
    (lambda x: x.swapdims_(0.5, 1), (2, 3)),
]


@pytest.mark.parametrize("call, shape", ERRORS)
def test_errors_match_torch(call, shape):
    torch = _torch()
    with pytest.raises(Exception) as want:
        call(torch.ones(shape))
    x = ferrograd.ones(shape)
    with pytest.raises(want.type) as got:
        call(x)
    assert str(got.value) == str(want.value).split("\nException raised from")[0]
    assert tuple(x.shape) == shape and x._version == 0


def test_zero_dim():
    x = ferrograd.tensor(2.0)
    assert tuple(x.t_().shape) == ()
    assert tuple(x.transpose_(0, -1).shape) == ()
    assert tuple(x.squeeze_(0).shape) == ()
    assert tuple(x.unsqueeze_(0).shape) == (1,)
    assert tuple(x.squeeze_().shape) == ()
    assert x._version == 5
