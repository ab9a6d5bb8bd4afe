"""``ferrograd.nn``: modules, layers, activations and losses.

- Module API: registration, traversal, ``state_dict`` keys, ``repr`` and errors (fixed
  expectations, and the same module built in PyTorch where it is installed);
- each layer / activation / loss: outputs and gradients (input and parameters) against
  PyTorch on the same inputs and weights (weights copied with ``load_state_dict``);
- layers' and losses' gradients through ``ferrograd.autograd.gradcheck`` in float64 (and
  ``gradgradcheck`` where the backward itself is a kernel: im2col, fused cross entropy);
- bad input raises PyTorch's exception type and message.
"""

from __future__ import annotations

import math
import warnings

import ferrograd
import ferrograd.nn as nn
import ferrograd.nn.functional as F
import numpy as np
import pytest
from ferrograd.autograd import gradcheck, gradgradcheck
from helpers import to_numpy

RNG = np.random.default_rng(1234)


def fg(a, dtype="float64", requires_grad=False):
    t = ferrograd.tensor(np.asarray(a).tolist(), dtype=getattr(ferrograd, dtype))
    return t.requires_grad_(True) if requires_grad else t


def th(a, dtype="float64", requires_grad=False):
    import torch

    t = torch.tensor(np.asarray(a), dtype=getattr(torch, dtype))
    return t.requires_grad_(True) if requires_grad else t


def torch_state_to_fg(module_t):
    return {k: ferrograd.tensor(v.detach().numpy()) for k, v in module_t.state_dict().items()}


def close(a, b, rtol=1e-10, atol=1e-12, what=""):
    np.testing.assert_allclose(
        to_numpy(a), np.asarray(b.detach().numpy()), rtol=rtol, atol=atol, err_msg=what
    )


# ---- Module API ---------------------------------------------------------------------------


def make_net(lib_nn):
    """The same network class for ferrograd.nn or torch.nn."""

    class Net(lib_nn.Module):
        def __init__(self):
            super().__init__()
            self.features = lib_nn.Sequential(
                lib_nn.Linear(4, 8), lib_nn.ReLU(), lib_nn.Dropout(0.1)
            )
            self.blocks = lib_nn.ModuleList([lib_nn.Linear(8, 8) for _ in range(3)])
            self.heads = lib_nn.ModuleDict({"cls": lib_nn.Linear(8, 3), "reg": lib_nn.Linear(8, 1)})
            self.norm = lib_nn.BatchNorm1d(8)

        def forward(self, x):
            x = self.features(x)
            for b in self.blocks:
                x = b(x)
            x = self.norm(x)
            return self.heads["cls"](x).sum(1) + self.heads["reg"](x).squeeze(1)

    return Net()


def test_registration_order_and_names():
    net = make_net(nn)
    names = [n for n, _ in net.named_parameters()]
    assert names[:2] == ["features.0.weight", "features.0.bias"]
    assert names[2:4] == ["blocks.0.weight", "blocks.0.bias"]
    assert "heads.cls.weight" in names and names[-2:] == ["norm.weight", "norm.bias"]
    assert [n for n, _ in net.named_buffers()] == [
        "norm.running_mean",
        "norm.running_var",
        "norm.num_batches_tracked",
    ]
    assert list(net.state_dict().keys()) == names[:-2] + [
        "norm.weight",
        "norm.bias",
        "norm.running_mean",
        "norm.running_var",
        "norm.num_batches_tracked",
    ]
    assert [n for n, _ in net.named_children()] == ["features", "blocks", "heads", "norm"]
    assert len(list(net.modules())) == 13
    assert all(
        isinstance(p, nn.Parameter) and isinstance(p, ferrograd.Tensor) for p in net.parameters()
    )


def test_state_dict_and_repr_match_pytorch():
    torch = pytest.importorskip("torch")

    a, b = make_net(nn), make_net(torch.nn)
    assert list(a.state_dict().keys()) == list(b.state_dict().keys())
    assert repr(a) == repr(b)
    for lib_a, lib_b in [(nn, torch.nn)]:
        for build in [
            lambda m: m.Conv2d(1, 2, 3),
            lambda m: m.Conv2d(1, 2, (3, 2), stride=2, padding=1, bias=False),
            lambda m: m.Conv2d(2, 4, 3, groups=2, dilation=2, padding="valid"),
            lambda m: m.Conv1d(2, 3, 3, padding="same"),
            lambda m: m.MaxPool2d(2),
            lambda m: m.MaxPool1d(3, 1, 1),
            lambda m: m.AvgPool2d(2),
            lambda m: m.AvgPool1d(2),
            lambda m: m.LayerNorm(4),
            lambda m: m.LayerNorm((2, 3), elementwise_affine=False),
            lambda m: m.BatchNorm1d(3, momentum=None, affine=False),
            lambda m: m.BatchNorm2d(3),
            lambda m: m.Embedding(10, 3, padding_idx=0),
            lambda m: m.Bilinear(2, 3, 4),
            lambda m: m.Linear(3, 2, bias=False),
            lambda m: m.Dropout(0.2, inplace=True),
            lambda m: m.GELU("tanh"),
            lambda m: m.Softmax(1),
            lambda m: m.LogSoftmax(),
            lambda m: m.ReLU(True),
            lambda m: m.LeakyReLU(0.2, True),
            lambda m: m.ELU(),
            lambda m: m.Softplus(2.0, 10.0),
            lambda m: m.SiLU(),
            lambda m: m.Flatten(0),
            lambda m: m.Identity(3, x=1),
            lambda m: m.CrossEntropyLoss(label_smoothing=0.1),
            lambda m: m.Sequential(m.Linear(2, 2), m.Linear(2, 2), m.Tanh(), m.Sigmoid()),
            lambda m: m.ModuleList([m.ReLU(), m.ReLU(), m.Tanh()]),
            lambda m: m.ModuleList([]),
        ]:
            assert repr(build(lib_a)) == repr(build(lib_b))


def test_fixed_reprs():
    assert repr(nn.Linear(3, 2)) == "Linear(in_features=3, out_features=2, bias=True)"
    assert repr(nn.Sequential(nn.Linear(2, 2), nn.ReLU())) == (
        "Sequential(\n  (0): Linear(in_features=2, out_features=2, bias=True)\n  (1): ReLU()\n)"
    )
    assert repr(nn.ModuleList([nn.ReLU()] * 3)) == "ModuleList(\n  (0-2): 3 x ReLU()\n)"
    assert repr(nn.Conv2d(1, 2, 3)) == "Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1))"
    p = nn.Parameter(ferrograd.tensor([1.0, 2.0]))
    assert repr(p) == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"
    assert repr(nn.Parameter(ferrograd.ones(1), requires_grad=False)) == (
        "Parameter containing:\ntensor([1.])"
    )


def test_parameter_shares_storage_and_is_a_leaf():
    t = ferrograd.zeros(3)
    p = nn.Parameter(t)
    assert p.requires_grad and p.is_leaf and p.grad_fn is None
    t.add_(1)
    assert p.tolist() == [1.0, 1.0, 1.0]
    assert type(p * 2) is ferrograd.Tensor
    d = nn.Parameter(ferrograd.zeros(2, dtype=ferrograd.float64))
    assert d.dtype == ferrograd.float64
    import copy

    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q.tolist() == p.tolist() and q.data_ptr() != p.data_ptr()


def test_train_eval_zero_grad_apply_to():
    net = make_net(nn)
    assert net.training and net.features[2].training
    net.eval()
    assert not net.training and not net.features[2].training and not net.blocks[1].training
    net.train()
    out = net(ferrograd.randn(5, 4)).sum()
    out.backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and float(p.grad.abs().sum()) == 0.0 for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Net" and seen[0] == "Linear"
    net.double()
    assert all(p.dtype == ferrograd.float64 for p in net.parameters())
    assert net.norm.num_batches_tracked.dtype == ferrograd.int64
    assert net(ferrograd.randn(5, 4, dtype=ferrograd.float64)).dtype == ferrograd.float64
    net.to(ferrograd.float32)
    assert all(p.dtype == ferrograd.float32 for p in net.parameters())
    assert net.float() is net


def test_conversion_keeps_shared_parameters_shared():
    a, b = nn.Linear(3, 3), nn.Linear(3, 3)
    b.weight = a.weight
    seq = nn.Sequential(a, b).double()
    assert seq[0].weight is seq[1].weight and seq[0].weight.dtype == ferrograd.float64
    assert len(list(seq.parameters())) == 3
    same = nn.Linear(2, 2)
    w = same.weight
    assert same.float().weight is w  # nothing to convert: the very same parameter


def test_load_state_dict_strict_and_errors():
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    result = b.load_state_dict(a.state_dict())
    assert repr(result) == "<All keys matched successfully>"
    assert b.weight.tolist() == a.weight.tolist()
    sd = a.state_dict()
    sd["foo"] = ferrograd.zeros(1)
    del sd["bias"]
    with pytest.raises(RuntimeError) as e:
        b.load_state_dict(sd)
    assert str(e.value) == (
        'Error(s) in loading state_dict for Linear:\n\tMissing key(s) in state_dict: "bias". '
        '\n\tUnexpected key(s) in state_dict: "foo". '
    )
    keys = b.load_state_dict(sd, strict=False)
    assert keys.missing_keys == ["bias"] and keys.unexpected_keys == ["foo"]
    with pytest.raises(RuntimeError, match=r"size mismatch for weight: copying a param with shape"):
        b.load_state_dict({"weight": ferrograd.zeros(2, 2), "bias": ferrograd.zeros(2)})


def test_module_errors_match_pytorch():
    torch = pytest.importorskip("torch")
    cases = [
        lambda m, t: setattr(m.Linear(2, 2), "weight", t.ones(2, 2)),
        lambda m, t: m.Linear(2, 2).register_buffer("x", 3),
        lambda m, t: m.Linear(2, 2).register_buffer("weight", t.ones(1)),
        lambda m, t: m.Linear(2, 2).train(1),
        lambda m, t: m.Linear(2, 2).to(t.long),
        lambda m, t: m.Linear(2, 2).foo,
        lambda m, t: m.Module()(1),
        lambda m, t: m.Sequential(m.ReLU())[3],
        lambda m, t: m.ModuleList([m.ReLU()])[-2],
        lambda m, t: m.Dropout(1.5),
        lambda m, t: m.Conv2d(3, 2, 3, groups=2),
        lambda m, t: m.Conv2d(3, 2, 3, stride=2, padding="same"),
        lambda m, t: m.Embedding(5, 2, padding_idx=7),
    ]
    for case in cases:
        with pytest.raises(Exception) as ours:
            case(nn, ferrograd)
        with pytest.raises(Exception) as theirs:
            case(torch.nn, torch)
        assert type(ours.value) is type(theirs.value)
        assert _norm(str(ours.value)) == _norm(str(theirs.value))


def _norm(msg):
    return msg.replace("ferrograd.", "torch.")


def test_forward_hooks():
    lin = nn.Linear(2, 2)
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, args: calls.append("pre"))
    h2 = lin.register_forward_hook(lambda m, args, out: out * 0)
    out = lin(ferrograd.ones(1, 2))
    assert calls == ["pre"] and out.tolist() == [[0.0, 0.0]]
    h1.remove()
    h2.remove()
    assert lin(ferrograd.ones(1, 2)).abs().sum().item() > 0


def test_containers():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert isinstance(seq[0], nn.Linear) and isinstance(seq[-1], nn.Linear)
    assert len(seq[1:]) == 2 and list(seq[1:]._modules) == ["1", "2"]
    seq.append(nn.Sigmoid())
    del seq[1]
    assert list(seq._modules) == ["0", "1", "2"]
    ml = nn.ModuleList([nn.ReLU()])
    ml.extend([nn.Tanh()])
    ml.insert(0, nn.Sigmoid())
    assert [type(m).__name__ for m in ml] == ["Sigmoid", "ReLU", "Tanh"]
    md = nn.ModuleDict({"a": nn.ReLU()})
    md["b"] = nn.Tanh()
    assert list(md.keys()) == ["a", "b"] and "b" in md and len(md) == 2
    from collections import OrderedDict

    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"]


# ---- initialisation -----------------------------------------------------------------------


def test_default_initialisation_bounds():
    ferrograd.manual_seed(0)
    lin = nn.Linear(100, 50)
    bound = 1 / math.sqrt(100)  # kaiming_uniform_(a=sqrt(5)) gives the same bound
    w, b = to_numpy(lin.weight), to_numpy(lin.bias)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert np.abs(b).max() <= bound and abs(w.std() - bound / math.sqrt(3)) < 0.005
    conv = nn.Conv2d(4, 8, 3)
    cb = 1 / math.sqrt(4 * 9)
    assert np.abs(to_numpy(conv.weight)).max() <= cb
    emb = nn.Embedding(1000, 10, padding_idx=3)
    e = to_numpy(emb.weight)
    assert np.all(e[3] == 0) and abs(e.std() - 1) < 0.05
    assert nn.init.calculate_gain("relu") == math.sqrt(2)
    t = ferrograd.empty(200, 300)
    nn.init.xavier_uniform_(t)
    assert np.abs(to_numpy(t)).max() <= math.sqrt(6 / 500)
    nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu")
    assert abs(to_numpy(t).std() - math.sqrt(2 / 200)) < 0.005
    nn.init.constant_(t, 0.5)
    assert to_numpy(t).min() == 0.5
    ferrograd.manual_seed(7)
    a = nn.Linear(3, 3).weight.tolist()
    ferrograd.manual_seed(7)
    assert nn.Linear(3, 3).weight.tolist() == a


def test_init_errors_match_pytorch():
    torch = pytest.importorskip("torch")
    for case in [
        lambda t: t.ones(3, dtype=t.long).uniform_(),
        lambda t: t.ones(3).uniform_(1, 0),
        lambda t: t.ones(3).normal_(0, -1),
        lambda t: t.ones(3, requires_grad=True).uniform_(),
    ]:
        with pytest.raises(Exception) as ours:
            case(ferrograd)
        with pytest.raises(Exception) as theirs:
            case(torch)
        assert type(ours.value) is type(theirs.value) and str(ours.value) == str(theirs.value)


# ---- layers against PyTorch ---------------------------------------------------------------

LAYERS = [
    # (name, constructor(lib_nn), input shapes, input kind)
    ("linear", lambda m: m.Linear(4, 3), [(5, 4)], "float"),
    ("linear_3d_nobias", lambda m: m.Linear(4, 3, bias=False), [(2, 5, 4)], "float"),
    ("linear_1d", lambda m: m.Linear(4, 3), [(4,)], "float"),
    ("bilinear", lambda m: m.Bilinear(3, 2, 4), [(5, 3), (5, 2)], "float"),
    ("embedding", lambda m: m.Embedding(7, 3, padding_idx=2), [(4, 5)], "index7"),
    ("layernorm", lambda m: m.LayerNorm(6), [(3, 6)], "float"),
    ("layernorm_2d", lambda m: m.LayerNorm((2, 3)), [(4, 2, 3)], "float"),
    ("batchnorm1d", lambda m: m.BatchNorm1d(4), [(6, 4)], "float"),
    ("batchnorm1d_3d", lambda m: m.BatchNorm1d(3, momentum=None), [(4, 3, 5)], "float"),
    ("batchnorm2d", lambda m: m.BatchNorm2d(2, affine=False), [(3, 2, 4, 4)], "float"),
    ("conv1d", lambda m: m.Conv1d(2, 3, 3, stride=2, padding=1), [(2, 2, 9)], "float"),
    (
        "conv1d_same",
        lambda m: m.Conv1d(2, 4, 4, padding="same", dilation=2, groups=2),
        [(2, 2, 7)],
        "float",
    ),
    ("conv2d", lambda m: m.Conv2d(3, 4, 3), [(2, 3, 6, 5)], "float"),
    (
        "conv2d_strided",
        lambda m: m.Conv2d(
            2, 4, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2, bias=False
        ),
        [(2, 2, 7, 6)],
        "float",
    ),
    ("conv2d_unbatched", lambda m: m.Conv2d(1, 2, 2), [(1, 4, 4)], "float"),
    ("maxpool2d", lambda m: m.MaxPool2d(2), [(2, 3, 6, 6)], "float"),
    (
        "maxpool2d_pad",
        lambda m: m.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
        [(1, 2, 7, 8)],
        "float",
    ),
    ("maxpool2d_dil", lambda m: m.MaxPool2d(2, stride=1, dilation=2), [(1, 1, 5, 5)], "float"),
    ("maxpool1d", lambda m: m.MaxPool1d(3, stride=2, padding=1), [(2, 3, 8)], "float"),
    ("avgpool2d", lambda m: m.AvgPool2d(2), [(2, 3, 6, 6)], "float"),
    (
        "avgpool2d_pad",
        lambda m: m.AvgPool2d(3, stride=2, padding=1, ceil_mode=True),
        [(1, 2, 7, 8)],
        "float",
    ),
    (
        "avgpool2d_nopad",
        lambda m: m.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
        [(1, 2, 7, 8)],
        "float",
    ),
    ("avgpool2d_div", lambda m: m.AvgPool2d(2, divisor_override=3), [(1, 1, 4, 4)], "float"),
    ("avgpool1d", lambda m: m.AvgPool1d(3, stride=2, padding=1), [(2, 3, 8)], "float"),
    ("flatten", lambda m: m.Flatten(), [(2, 3, 4)], "float"),
    ("identity", lambda m: m.Identity(), [(2, 3)], "float"),
    ("dropout_eval", lambda m: m.Dropout(0.5).eval(), [(4, 3)], "float"),
    ("relu", lambda m: m.ReLU(), [(3, 4)], "float"),
    ("gelu", lambda m: m.GELU(), [(3, 4)], "float"),
    ("gelu_tanh", lambda m: m.GELU("tanh"), [(3, 4)], "float"),
    ("silu", lambda m: m.SiLU(), [(3, 4)], "float"),
    ("tanh", lambda m: m.Tanh(), [(3, 4)], "float"),
    ("sigmoid", lambda m: m.Sigmoid(), [(3, 4)], "float"),
    ("softmax", lambda m: m.Softmax(dim=1), [(3, 4)], "float"),
    ("logsoftmax", lambda m: m.LogSoftmax(dim=-1), [(2, 3, 4)], "float"),
    ("leakyrelu", lambda m: m.LeakyReLU(0.2), [(3, 4)], "float"),
    ("elu", lambda m: m.ELU(0.7), [(3, 4)], "float"),
    ("softplus", lambda m: m.Softplus(2.0, 1.0), [(3, 4)], "float"),
    (
        "sequential",
        lambda m: m.Sequential(m.Linear(4, 5), m.Tanh(), m.Linear(5, 2)),
        [(3, 4)],
        "float",
    ),
]


def _inputs(shapes, kind):
    if kind.startswith("index"):
        high = int(kind[5:])
        return [RNG.integers(0, high, size=s) for s in shapes]
    return [RNG.uniform(-2, 2, size=s) for s in shapes]


@pytest.mark.parametrize("name,build,shapes,kind", LAYERS, ids=[c[0] for c in LAYERS])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_layer_matches_pytorch(name, build, shapes, kind, dtype):
    torch = pytest.importorskip("torch")
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == "float64" else dict(rtol=2e-5, atol=2e-5)
    torch.manual_seed(0)
    mt = build(torch.nn).to(getattr(torch, dtype))
    mf = build(nn).to(getattr(ferrograd, dtype))
    mf.load_state_dict(torch_state_to_fg(mt))
    mf.train(mt.training)
    arrays = _inputs(shapes, kind)
    in_dtype = "int64" if kind.startswith("index") else dtype
    grad_in = in_dtype != "int64"
    xs_f = [fg(a, in_dtype, grad_in) for a in arrays]
    xs_t = [th(a, in_dtype, grad_in) for a in arrays]
    out_f, out_t = mf(*xs_f), mt(*xs_t)
    if isinstance(out_t, tuple):
        out_f, out_t = out_f[0], out_t[0]
    close(out_f, out_t, **tol, what="output")
    assert str(out_f.dtype).split(".")[-1] == str(out_t.dtype).split(".")[-1]
    v = RNG.uniform(-1, 1, size=tuple(out_t.shape))
    out_f.backward(fg(v, dtype))
    out_t.backward(th(v, dtype))
    if grad_in:
        for a, b in zip(xs_f, xs_t):
            close(a.grad, b.grad, **tol, what="input grad")
    params_t = dict(mt.named_parameters())
    for pname, p in mf.named_parameters():
        close(p.grad, params_t[pname].grad, **tol, what=f"grad of {pname}")
    buffers_t = dict(mt.named_buffers())
    for bname, b in mf.named_buffers():
        close(b, buffers_t[bname], **tol, what=f"buffer {bname}")


def test_batchnorm_eval_uses_running_stats():
    torch = pytest.importorskip("torch")
    mt, mf = torch.nn.BatchNorm1d(3).double(), nn.BatchNorm1d(3).double()
    x = RNG.normal(size=(8, 3))
    for _ in range(3):
        mt(th(x))
        mf(fg(x))
    mt.eval()
    mf.eval()
    close(mf(fg(x[:2])), mt(th(x[:2])))
    assert int(mf.num_batches_tracked) == 3


def test_max_pool_return_indices_match_pytorch():
    torch = pytest.importorskip("torch")
    x = RNG.normal(size=(2, 2, 7, 6))
    out_f, idx_f = F.max_pool2d(fg(x), 3, 2, 1, return_indices=True)
    out_t, idx_t = torch.nn.functional.max_pool2d(th(x), 3, 2, 1, return_indices=True)
    close(out_f, out_t)
    assert idx_f.tolist() == idx_t.tolist()


def test_dropout_training_statistics():
    ferrograd.manual_seed(0)
    x = ferrograd.ones(200, 100, requires_grad=True)
    y = F.dropout(x, 0.3)
    vals = to_numpy(y)
    kept = vals != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(vals[kept], 1 / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(to_numpy(x.grad), vals, rtol=1e-6)
    assert F.dropout(x, 0.3, training=False) is x
    assert float(F.dropout(x, 1.0).abs().sum()) == 0.0


# ---- losses against PyTorch ---------------------------------------------------------------

LOSSES = [
    # (name, fn(F_module, input, target, extra), input shape, target kind)
    ("mse", lambda F_, x, t, w: F_.mse_loss(x, t), (4, 3), "float"),
    ("mse_sum", lambda F_, x, t, w: F_.mse_loss(x, t, reduction="sum"), (4, 3), "float"),
    ("l1_none", lambda F_, x, t, w: F_.l1_loss(x, t, reduction="none"), (4, 3), "float"),
    ("smooth_l1", lambda F_, x, t, w: F_.smooth_l1_loss(x, t, beta=0.5), (4, 3), "float"),
    ("smooth_l1_0", lambda F_, x, t, w: F_.smooth_l1_loss(x, t, beta=0.0), (4, 3), "float"),
    ("huber", lambda F_, x, t, w: F_.huber_loss(x, t, delta=0.7), (4, 3), "float"),
    ("ce", lambda F_, x, t, w: F_.cross_entropy(x, t), (5, 4), "class4"),
    ("ce_sum", lambda F_, x, t, w: F_.cross_entropy(x, t, reduction="sum"), (5, 4), "class4"),
    ("ce_none", lambda F_, x, t, w: F_.cross_entropy(x, t, reduction="none"), (5, 4), "class4"),
    (
        "ce_smooth",
        lambda F_, x, t, w: F_.cross_entropy(x, t, label_smoothing=0.2),
        (5, 4),
        "class4",
    ),
    ("ce_ignore", lambda F_, x, t, w: F_.cross_entropy(x, t, ignore_index=1), (6, 4), "class4"),
    (
        "ce_ignore_smooth_none",
        lambda F_, x, t, w: F_.cross_entropy(
            x, t, ignore_index=1, label_smoothing=0.1, reduction="none"
        ),
        (6, 4),
        "class4",
    ),
    ("ce_weight", lambda F_, x, t, w: F_.cross_entropy(x, t, weight=w), (5, 4), "class4"),
    (
        "ce_weight_smooth_ignore",
        lambda F_, x, t, w: F_.cross_entropy(x, t, weight=w, label_smoothing=0.3, ignore_index=0),
        (7, 4),
        "class4",
    ),
    (
        "ce_kdim",
        lambda F_, x, t, w: F_.cross_entropy(x, t, label_smoothing=0.1),
        (2, 4, 3),
        "class4_kdim",
    ),
    ("ce_1d", lambda F_, x, t, w: F_.cross_entropy(x, t), (4,), "class4_0d"),
    ("ce_probs", lambda F_, x, t, w: F_.cross_entropy(x, t, label_smoothing=0.1), (5, 4), "probs"),
    (
        "ce_probs_weight",
        lambda F_, x, t, w: F_.cross_entropy(x, t, weight=w, reduction="sum"),
        (5, 4),
        "probs",
    ),
    ("nll", lambda F_, x, t, w: F_.nll_loss(x, t), (5, 4), "class4"),
    (
        "nll_weight_ignore",
        lambda F_, x, t, w: F_.nll_loss(x, t, weight=w, ignore_index=2),
        (6, 4),
        "class4",
    ),
    ("nll_none", lambda F_, x, t, w: F_.nll_loss(x, t, reduction="none"), (5, 4), "class4"),
    ("bce", lambda F_, x, t, w: F_.binary_cross_entropy(x.sigmoid(), t), (4, 3), "unit"),
    (
        "bce_weight",
        lambda F_, x, t, w: F_.binary_cross_entropy(x.sigmoid(), t, weight=w[:3], reduction="sum"),
        (4, 3),
        "unit",
    ),
    (
        "bce_logits",
        lambda F_, x, t, w: F_.binary_cross_entropy_with_logits(x * 10, t),
        (4, 3),
        "unit",
    ),
    (
        "bce_logits_pos",
        lambda F_, x, t, w: F_.binary_cross_entropy_with_logits(
            x, t, weight=w[:3], pos_weight=w[1:], reduction="none"
        ),
        (4, 3),
        "unit",
    ),
]


def _target(kind, shape):
    if kind == "float":
        return RNG.uniform(-2, 2, size=shape), "x"
    if kind == "unit":
        return RNG.uniform(0, 1, size=shape), "x"
    if kind == "probs":
        p = RNG.uniform(0, 1, size=shape)
        return p / p.sum(1, keepdims=True), "x"
    if kind == "class4":
        return RNG.integers(0, 4, size=shape[0]), "int64"
    if kind == "class4_kdim":
        return RNG.integers(0, 4, size=(shape[0],) + shape[2:]), "int64"
    if kind == "class4_0d":
        return np.array(2), "int64"
    raise ValueError(kind)


@pytest.mark.parametrize("name,fn,shape,kind", LOSSES, ids=[c[0] for c in LOSSES])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_loss_matches_pytorch(name, fn, shape, kind, dtype):
    torch = pytest.importorskip("torch")
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == "float64" else dict(rtol=2e-5, atol=2e-6)
    x = RNG.uniform(-2, 2, size=shape)
    t, t_dtype = _target(kind, shape)
    t_dtype = dtype if t_dtype == "x" else t_dtype
    w = RNG.uniform(0.5, 2, size=4)
    xf, xt = fg(x, dtype, True), th(x, dtype, True)
    out_f = fn(F, xf, fg(t, t_dtype), fg(w, dtype))
    out_t = fn(torch.nn.functional, xt, th(t, t_dtype), th(w, dtype))
    close(out_f, out_t, **tol, what="loss")
    v = RNG.uniform(0.5, 1.5, size=tuple(out_t.shape))
    out_f.backward(fg(v, dtype))
    out_t.backward(th(v, dtype))
    close(xf.grad, xt.grad, **tol, what="grad")


def test_loss_modules_match_functional():
    x = fg(RNG.normal(size=(5, 3)), requires_grad=True)
    t = fg([0, 2, 1, 1, 0], "int64")
    assert nn.CrossEntropyLoss(label_smoothing=0.1)(x, t).item() == pytest.approx(
        F.cross_entropy(x, t, label_smoothing=0.1).item()
    )
    assert nn.NLLLoss(reduction="sum")(x.log_softmax(1), t).item() == pytest.approx(
        F.nll_loss(x.log_softmax(1), t, reduction="sum").item()
    )
    y = fg(RNG.normal(size=(5, 3)))
    assert nn.MSELoss()(x, y).item() == pytest.approx(F.mse_loss(x, y).item())
    assert nn.L1Loss()(x, y).item() == pytest.approx(F.l1_loss(x, y).item())
    assert nn.SmoothL1Loss(beta=0.5)(x, y).item() == pytest.approx(
        F.smooth_l1_loss(x, y, beta=0.5).item()
    )
    u = fg(RNG.uniform(size=(5, 3)))
    assert nn.BCELoss()(x.sigmoid(), u).item() == pytest.approx(
        F.binary_cross_entropy(x.sigmoid(), u).item()
    )
    assert nn.BCEWithLogitsLoss()(x, u).item() == pytest.approx(
        F.binary_cross_entropy_with_logits(x, u).item()
    )


def test_fixed_loss_values():
    x = fg([[1.0, 2.0, 3.0], [0.5, 0.5, 0.5]], requires_grad=True)
    t = fg([2, 0], "int64")
    loss = F.cross_entropy(x, t)
    lse0 = math.log(math.exp(1) + math.exp(2) + math.exp(3))
    assert loss.item() == pytest.approx(((lse0 - 3) + math.log(3)) / 2, rel=1e-12)
    assert loss.grad_fn.name() == "NllLossBackward0"
    loss.backward()
    p0 = np.exp([1.0, 2.0, 3.0]) / np.exp([1.0, 2.0, 3.0]).sum()
    np.testing.assert_allclose(to_numpy(x.grad)[0], (p0 - [0, 0, 1]) / 2, rtol=1e-12)
    assert math.isnan(F.cross_entropy(x, fg([-100, -100], "int64")).item())
    assert F.mse_loss(fg([1.0, 2.0]), fg([0.0, 0.0])).item() == 2.5
    assert F.smooth_l1_loss(fg([0.5, 3.0]), fg([0.0, 0.0])).item() == pytest.approx(
        (0.125 + 2.5) / 2
    )
    assert F.l1_loss(fg([1.0, -2.0]), fg([0.0, 0.0]), reduction="sum").item() == 3.0


# ---- gradcheck ----------------------------------------------------------------------------


def _leaf(shape, low=-1.0, high=1.0):
    return fg(RNG.uniform(low, high, size=shape), requires_grad=True)


GRADCHECKS = [
    ("linear", lambda x, w, b: F.linear(x, w, b), [(3, 4), (2, 4), (2,)]),
    ("bilinear", lambda a, b, w: F.bilinear(a, b, w), [(2, 3), (2, 2), (2, 3, 2)]),
    (
        "conv1d",
        lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2),
        [(2, 2, 7), (3, 2, 2), (3,)],
    ),
    ("conv2d", lambda x, w: F.conv2d(x, w, padding=1, groups=2), [(1, 2, 4, 3), (2, 1, 2, 2)]),
    ("max_pool2d", lambda x: F.max_pool2d(x, 2, 1, 1), [(1, 2, 3, 4)]),
    (
        "avg_pool2d",
        lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
        [(1, 1, 5, 4)],
    ),
    ("max_pool1d", lambda x: F.max_pool1d(x, 2), [(2, 1, 6)]),
    ("layer_norm", lambda x, w, b: F.layer_norm(x, (3,), w, b), [(2, 3), (3,), (3,)]),
    (
        "batch_norm",
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        [(4, 2, 3), (2,), (2,)],
    ),
    ("embedding", lambda w: F.embedding(fg([[0, 2], [2, 2]], "int64"), w), [(3, 2)]),
    (
        "cross_entropy",
        lambda x: F.cross_entropy(x, fg([1, 0, 2], "int64"), label_smoothing=0.2),
        [(3, 4)],
    ),
    (
        "cross_entropy_ignore_none",
        lambda x: F.cross_entropy(x, fg([1, -100, 2], "int64"), reduction="none"),
        [(3, 4)],
    ),
    (
        "cross_entropy_weight",
        lambda x, w: F.cross_entropy(x, fg([1, 0, 2], "int64"), weight=w),
        [(3, 4), (4,)],
    ),
    (
        "cross_entropy_kdim",
        lambda x: F.cross_entropy(x, fg([[1, 0], [2, 3]], "int64")),
        [(2, 4, 2)],
    ),
    ("nll", lambda x: F.nll_loss(x, fg([1, 0, 3], "int64"), ignore_index=0), [(3, 4)]),
    ("bce", lambda x, t: F.binary_cross_entropy(x, t), [(2, 3), (2, 3)]),
    (
        "bce_logits",
        lambda x, pw: F.binary_cross_entropy_with_logits(x, fg([[0.2, 1.0, 0.0]]), pos_weight=pw),
        [(1, 3), (3,)],
    ),
    ("smooth_l1", lambda x: F.smooth_l1_loss(x, fg([[0.05, 2.0, -0.3]]), beta=0.5), [(1, 3)]),
    ("mse", lambda x, y: F.mse_loss(x, y), [(2, 3), (2, 3)]),
]


@pytest.mark.parametrize("name,fn,shapes", GRADCHECKS, ids=[c[0] for c in GRADCHECKS])
def test_gradcheck(name, fn, shapes):
    low, high = (0.1, 0.9) if name == "bce" else (-1.0, 1.0)
    inputs = [_leaf(s, low, high) for s in shapes]
    assert gradcheck(fn, inputs, eps=1e-6, atol=1e-5)


@pytest.mark.parametrize(
    "fn,shapes",
    [
        (lambda x, w: F.conv2d(x, w, padding=1), [(1, 1, 3, 3), (1, 1, 2, 2)]),
        (lambda x: F.avg_pool2d(x, 2, 1, 1), [(1, 1, 3, 3)]),
        (lambda x: F.cross_entropy(x, fg([1, 0], "int64"), label_smoothing=0.1), [(2, 3)]),
    ],
)
def test_gradgradcheck(fn, shapes):
    assert gradgradcheck(fn, [_leaf(s) for s in shapes])


def test_module_gradcheck():
    ferrograd.manual_seed(0)
    conv = nn.Conv2d(2, 2, 2, padding=1).double()

    def f(x, w, b):
        return F.max_pool2d(F.conv2d(x, w, b, padding=1).tanh(), 2)

    assert gradcheck(
        f,
        [
            _leaf((1, 2, 3, 3)),
            conv.weight.detach().requires_grad_(),
            conv.bias.detach().requires_grad_(),
        ],
    )


# ---- errors -------------------------------------------------------------------------------

ERRORS = [
    lambda L, nn_, F_: nn_.Linear(4, 2)(L.randn(3, 5)),
    lambda L, nn_, F_: nn_.Linear(4, 2)(L.randn(5)),
    lambda L, nn_, F_: nn_.Linear(4, 2)(L.randn(2, 3, 5)),
    lambda L, nn_, F_: nn_.Linear(4, 2)(L.ones(3, 4, dtype=L.float64)),
    lambda L, nn_, F_: F_.cross_entropy(L.randn(3, 5), L.tensor([1, 2, 3, 4])),
    lambda L, nn_, F_: F_.cross_entropy(L.randn(3, 5), L.tensor([1.0, 2.0, 3.0])),
    lambda L, nn_, F_: F_.cross_entropy(L.randn(3, 5), L.tensor([1, 2, 7])),
    lambda L, nn_, F_: F_.cross_entropy(L.randn(3, 5), L.tensor([1, 2, -3])),
    lambda L, nn_, F_: F_.cross_entropy(L.randn(3, 5), L.tensor([True, False, True])),
    lambda L, nn_, F_: F_.cross_entropy(L.ones(3, 5, dtype=L.long), L.tensor([1, 2, 3])),
    lambda L, nn_, F_: F_.cross_entropy(L.randn(2, 5, 4), L.tensor([[1, 2, 3], [1, 2, 3]])),
    lambda L, nn_, F_: F_.cross_entropy(L.randn(3, 5), L.tensor([1, 2, 3]), weight=L.ones(4)),
    lambda L, nn_, F_: F_.cross_entropy(L.randn(3, 5), L.tensor([1, 2, 3]), label_smoothing=1.5),
    lambda L, nn_, F_: F_.cross_entropy(L.randn(3, 5), L.ones(3, 5, dtype=L.long)),
    lambda L, nn_, F_: F_.nll_loss(L.randn(3, 5), L.tensor([1, 2])),
    lambda L, nn_, F_: F_.nll_loss(L.tensor(1.0), L.tensor(1)),
    lambda L, nn_, F_: F_.nll_loss(L.randn(2, 5, 4), L.tensor([1, 2])),
    lambda L, nn_, F_: F_.mse_loss(L.randn(3), L.randn(3), reduction="foo"),
    lambda L, nn_, F_: F_.binary_cross_entropy(L.rand(3, 1), L.rand(3)),
    lambda L, nn_, F_: F_.binary_cross_entropy(L.tensor([1.5]), L.tensor([1.0])),
    lambda L, nn_, F_: F_.binary_cross_entropy(L.rand(3), L.tensor([1, 0, 1])),
    lambda L, nn_, F_: F_.binary_cross_entropy_with_logits(L.rand(3, 1), L.rand(3)),
    lambda L, nn_, F_: nn_.Conv2d(3, 2, 3)(L.randn(1, 4, 5, 5)),
    lambda L, nn_, F_: nn_.Conv2d(3, 2, 3)(L.randn(4, 5)),
    lambda L, nn_, F_: nn_.Conv2d(3, 2, 3)(L.randn(1, 3, 2, 2)),
    lambda L, nn_, F_: nn_.Conv1d(3, 2, 3)(L.randn(1, 3, 4, 4)),
    lambda L, nn_, F_: F_.max_pool2d(L.randn(4), 2),
    lambda L, nn_, F_: F_.max_pool2d(L.randn(1, 1, 4, 4), 2, padding=2),
    lambda L, nn_, F_: F_.max_pool2d(L.randn(1, 1, 1, 1), 2),
    lambda L, nn_, F_: F_.avg_pool2d(L.randn(1, 1, 4, 4), 2, padding=2),
    lambda L, nn_, F_: nn_.Embedding(5, 2)(L.tensor([1.0, 2.0])),
    lambda L, nn_, F_: nn_.Embedding(5, 2)(L.tensor([1, 7])),
    lambda L, nn_, F_: nn_.LayerNorm(4)(L.randn(3, 5)),
    lambda L, nn_, F_: nn_.BatchNorm1d(3)(L.randn(2, 3, 4, 5)),
    lambda L, nn_, F_: nn_.BatchNorm1d(3)(L.randn(2, 4)),
    lambda L, nn_, F_: nn_.BatchNorm1d(3)(L.randn(1, 3)),
    lambda L, nn_, F_: F_.dropout(L.randn(3), 1.5),
    lambda L, nn_, F_: F_.softmax(L.randn(3), dim=2),
    lambda L, nn_, F_: nn_.Bilinear(2, 3, 4)(L.randn(5, 2), L.randn(4, 3)),
    lambda L, nn_, F_: nn_.Bilinear(2, 3, 4)(L.randn(5, 3), L.randn(5, 3)),
    lambda L, nn_, F_: nn_.Flatten()(L.randn(3)),
    lambda L, nn_, F_: F_.mse_loss(L.randn(3, 2), L.randn(4, 2)),
    lambda L, nn_, F_: F_.l1_loss(L.randn(3), L.randn(4)),
    lambda L, nn_, F_: F_.smooth_l1_loss(L.randn(3), L.randn(2)),
    lambda L, nn_, F_: F_.nll_loss(L.randn(3, 5), L.tensor([1.0, 2.0, 3.0])),
    lambda L, nn_, F_: F_.nll_loss(L.randn(3, 5), L.tensor([1, 2, 9])),
    lambda L, nn_, F_: nn_.CrossEntropyLoss()(L.randn(3, 5), L.tensor([1, 2])),
    lambda L, nn_, F_: nn_.NLLLoss()(L.randn(3, 5), L.tensor([1, 2, 0, 1])),
    lambda L, nn_, F_: nn_.BCEWithLogitsLoss()(L.randn(3), L.tensor([1, 0, 1])),
    lambda L, nn_, F_: nn_.BCELoss()(L.rand(3), L.rand(4)),
    lambda L, nn_, F_: nn_.MSELoss(reduction="bad")(L.rand(3), L.rand(3)),
    lambda L, nn_, F_: nn_.BatchNorm1d(3)(L.randn(4, 5)),
    lambda L, nn_, F_: nn_.LayerNorm(4)(L.randn(3)),
    lambda L, nn_, F_: nn_.Embedding(5, 2)(L.tensor([[1, 2]]).float()),
    lambda L, nn_, F_: nn_.Conv2d(3, 2, 3)(L.randn(1, 3, 5, 5, dtype=L.float64)),
    lambda L, nn_, F_: nn_.Conv2d(3, 2, 3, bias=False)(L.randn(1, 3, 5, 5, dtype=L.float64)),
    lambda L, nn_, F_: nn_.Conv1d(3, 2, 3)(L.ones(1, 3, 5, dtype=L.long)),
    lambda L, nn_, F_: nn_.Linear(4, 2)(L.ones(3, 4, dtype=L.long)),
    lambda L, nn_, F_: F_.cross_entropy(L.randn(2, 5, 4), L.rand(2, 4)),
    lambda L, nn_, F_: F_.cross_entropy(L.randn(3, 5), L.rand(3, 4)),
    lambda L, nn_, F_: F_.cross_entropy(L.randn(3, 5), L.tensor([1, 2, 3]), reduction="bad"),
]


@pytest.mark.parametrize("case", ERRORS, ids=[str(i) for i in range(len(ERRORS))])
def test_errors_match_pytorch(case):
    torch = pytest.importorskip("torch")
    with pytest.raises(Exception) as theirs:
        case(torch, torch.nn, torch.nn.functional)
    with pytest.raises(Exception) as ours:
        case(ferrograd, nn, F)
    assert type(ours.value).__name__ == type(theirs.value).__name__
    assert _norm(str(ours.value)) == _norm(str(theirs.value))


def test_window_kernel_rejects_bad_geometry():
    from ferrograd import _C

    x = ferrograd.randn(1, 1, 4, 4)
    for args in [
        ([0, 2], [1, 1], [0, 0], [1, 1], [3, 3]),  # zero kernel
        ([2], [1, 1], [0, 0], [1, 1], [3, 3]),  # mismatched dims
        ([2, 2], [0, 1], [0, 0], [1, 1], [3, 3]),  # zero stride
    ]:
        with pytest.raises(RuntimeError):
            _C._im2col(x, *args, 0.0)
    with pytest.raises(RuntimeError):
        _C._im2col(
            ferrograd.ones(1, 1, 4, 4, dtype=ferrograd.int64),
            [2, 2],
            [1, 1],
            [0, 0],
            [1, 1],
            [3, 3],
        )
    # output positions past the input read the fill value, never out of bounds
    cols = _C._im2col(x, [2, 2], [1, 1], [0, 0], [1, 1], [9, 9], -1.0)
    assert cols.shape == (1, 1, 4, 81) and cols[0, 0, 0, -1].item() == -1.0


def test_fixed_errors():
    with pytest.raises(
        RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(3x5 and 4x2\)"
    ):
        nn.Linear(4, 2)(ferrograd.randn(3, 5))
    with pytest.raises(
        ValueError, match=r"Expected input batch_size \(3\) to match target batch_size \(4\)\."
    ):
        F.cross_entropy(ferrograd.randn(3, 5), ferrograd.tensor([1, 2, 3, 4]))
    with pytest.raises(
        RuntimeError, match="expected target dtype to be Long or Byte, but got Float"
    ):
        F.cross_entropy(ferrograd.randn(3, 5), ferrograd.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(IndexError, match=r"Target 7 is out of bounds\."):
        F.cross_entropy(ferrograd.randn(3, 5), ferrograd.tensor([1, 2, 7]))
    with pytest.raises(RuntimeError, match="0D or 1D target tensor expected, multi-target"):
        F.nll_loss(ferrograd.randn(3, 5), ferrograd.rand(3, 4))
    with pytest.raises(RuntimeError, match=r"Expected target size \[2, 4\], got \[2, 3\]"):
        F.cross_entropy(ferrograd.randn(2, 5, 4), ferrograd.rand(2, 3))
    with pytest.raises(RuntimeError, match=r"Input type \(double\) and bias type \(float\)"):
        nn.Conv2d(3, 2, 3)(ferrograd.randn(1, 3, 5, 5, dtype=ferrograd.float64))
    with pytest.raises(RuntimeError, match="expected scalar type Long but found Float"):
        nn.Conv1d(3, 2, 3, bias=False)(ferrograd.ones(1, 3, 5, dtype=ferrograd.long))
    with pytest.raises(RuntimeError, match=r"running_mean should contain 5 elements not 3"):
        nn.BatchNorm1d(3)(ferrograd.randn(4, 5))
    with warnings.catch_warnings(), pytest.raises(RuntimeError, match=r"size of tensor a \(3\)"):
        warnings.simplefilter("ignore")  # PyTorch warns about the target size first
        F.l1_loss(ferrograd.randn(3), ferrograd.randn(4))


def test_warnings_match_pytorch():
    with pytest.warns(UserWarning, match="Using a target size"):
        F.mse_loss(ferrograd.randn(3, 1), ferrograd.randn(3))
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        F.softmax(ferrograd.randn(2, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.softmax(ferrograd.randn(2, 3), dim=1)


# ---- clip_grad ----------------------------------------------------------------------------


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
def test_clip_grad_norm_matches_pytorch(norm_type):
    torch = pytest.importorskip("torch")
    grads = [RNG.normal(size=(3, 4)), RNG.normal(size=(5,))]
    pf = [fg(np.zeros_like(g), requires_grad=True) for g in grads]
    pt = [th(np.zeros_like(g), requires_grad=True) for g in grads]
    for p, g in zip(pf, grads):
        p.grad = fg(g)
    for p, g in zip(pt, grads):
        p.grad = th(g)
    nf = nn.utils.clip_grad_norm_(pf, 0.5, norm_type)
    nt = torch.nn.utils.clip_grad_norm_(pt, 0.5, norm_type)
    assert nf.item() == pytest.approx(nt.item(), rel=1e-12)
    for a, b in zip(pf, pt):
        close(a.grad, b.grad)


def test_clip_grad_fixed():
    p = nn.Parameter(ferrograd.zeros(2))
    p.grad = ferrograd.tensor([3.0, 4.0])
    total = nn.utils.clip_grad_norm_([p], 1.0)
    assert total.item() == 5.0
    np.testing.assert_allclose(to_numpy(p.grad), [0.6, 0.8], rtol=1e-5)
    nn.utils.clip_grad_value_([p], 0.7)
    np.testing.assert_allclose(to_numpy(p.grad), [0.6, 0.7], rtol=1e-6)
    assert nn.utils.clip_grad_norm_([nn.Parameter(ferrograd.zeros(1))], 1.0).item() == 0.0
