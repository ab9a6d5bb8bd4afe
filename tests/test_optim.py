"""``ferrograd.optim``: optimisers and schedulers.

Every optimiser configuration runs one and ten steps on the same parameters and loss in
ferrograd and PyTorch (where installed) and the parameters are compared; the Rust fused
step and the Python reference formulas are checked against each other (always); state
dicts have PyTorch's layout and resume training exactly; schedulers follow PyTorch's
learning-rate sequences; bad hyper-parameters raise PyTorch's errors.
"""

from __future__ import annotations

import ferrograd
import ferrograd.nn as nn
import numpy as np
import pytest
from ferrograd import optim
from ferrograd.optim import _functional
from helpers import to_numpy

SHAPES = [(3, 4), (5,), (2, 1, 3)]

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=True)),
    ("Adam", dict(lr=0.02, maximize=True, eps=1e-6)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.03, weight_decay=0.2, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.05)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, maximize=True, momentum=0.5)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.2)),
]
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(CONFIGS)]


def _initial(dtype):
    rng = np.random.default_rng(7)
    return [rng.uniform(-1, 1, size=s).astype(dtype) for s in SHAPES]


def _loss(L, params):
    """A fixed smooth loss whose gradients differ per element and per step."""
    a, b, c = params
    return (
        (a * a).sum() * 0.5
        + (b - 0.3).abs().sum()
        + (c.exp() * c).sum()
        + (a.sum() * b.sum()) * 0.1
    )


def _run(L, optim_mod, name, kwargs, arrays, steps, noncontiguous=False):
    dtype = getattr(L, arrays[0].dtype.name)
    if noncontiguous:  # transposed storage: the Python update path
        params = [
            L.nn.Parameter(L.tensor(a.T.copy().tolist(), dtype=dtype).t())
            if a.ndim == 2
            else L.nn.Parameter(L.tensor(a.tolist(), dtype=dtype))
            for a in arrays
        ]
    else:
        params = [L.nn.Parameter(L.tensor(a.tolist(), dtype=dtype)) for a in arrays]
    opt = getattr(optim_mod, name)(params, **kwargs)
    for _ in range(steps):
        opt.zero_grad()
        _loss(L, params).backward()
        opt.step()
    return [np.asarray(p.detach().tolist()) for p in params], opt


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
@pytest.mark.parametrize("steps", [1, 10])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_matches_pytorch(name, kwargs, steps, dtype):
    torch = pytest.importorskip("torch")
    arrays = _initial(dtype)
    ours, _ = _run(ferrograd, optim, name, kwargs, arrays, steps)
    theirs, _ = _run(torch, torch.optim, name, kwargs, arrays, steps)
    tol = dict(rtol=1e-12, atol=1e-14) if dtype == "float64" else dict(rtol=1e-5, atol=1e-6)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, **tol)


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_fused_step_matches_python_formulas(name, kwargs):
    arrays = _initial("float64")
    fused, _ = _run(ferrograd, optim, name, kwargs, arrays, 5)
    reference, _ = _run(ferrograd, optim, name, kwargs, arrays, 5, noncontiguous=True)
    for a, b in zip(fused, reference):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_fused_step_is_used_and_python_path_for_strided_params(monkeypatch):
    calls = []
    monkeypatch.setattr(
        _functional, "_PYTHON", {k: (lambda *a, k=k: calls.append(k)) for k in ["sgd"]}
    )
    p = nn.Parameter(ferrograd.ones(3))
    p.grad = ferrograd.ones(3)
    optim.SGD([p], lr=0.5).step()
    assert calls == [] and p.tolist() == [0.5, 0.5, 0.5]
    q = nn.Parameter(ferrograd.ones(2, 3).t())
    q.grad = ferrograd.ones(3, 2)
    optim.SGD([q], lr=0.5).step()
    assert calls == ["sgd"]


def test_fused_kernel_rejects_bad_buffers():
    from ferrograd import _C

    p, g = ferrograd.ones(3), ferrograd.ones(3)
    for bufs, hyper in [
        ([], [0.1, 0.9, 0, 0, 0, 0, 0]),  # momentum without its buffer
        ([ferrograd.ones(2)], [0.1, 0.9, 0, 0, 0, 0, 0]),  # wrong shape
        ([p], [0.1, 0.9, 0, 0, 0, 0, 0]),  # the parameter as its own buffer
        ([ferrograd.ones(3, dtype=ferrograd.float64)], [0.1, 0.9, 0, 0, 0, 0, 0]),
    ]:
        with pytest.raises(RuntimeError):
            _C._optim_step("sgd", p, g, bufs, hyper)
    with pytest.raises(ValueError):
        _C._optim_step("sgd", p, g, [], [0.1])
    with pytest.raises(ValueError):
        _C._optim_step("lion", p, g, [], [])
    assert p.tolist() == [1.0, 1.0, 1.0]


def test_fixed_first_steps():
    p = nn.Parameter(ferrograd.tensor([1.0, -2.0]))
    p.grad = ferrograd.tensor([0.5, -1.0])
    optim.SGD([p], lr=0.1).step()
    np.testing.assert_allclose(to_numpy(p), [0.95, -1.9], rtol=1e-6)
    q = nn.Parameter(ferrograd.tensor([1.0, -2.0], dtype=ferrograd.float64))
    q.grad = ferrograd.tensor([0.5, -1.0], dtype=ferrograd.float64)
    opt = optim.Adam([q], lr=0.1)
    opt.step()
    # the first Adam step moves each weight by lr * g / (|g| + eps)
    np.testing.assert_allclose(to_numpy(q), [0.9, -1.9], rtol=1e-7)
    assert opt.state[q]["step"].item() == 1.0


def test_state_dict_layout_matches_pytorch():
    torch = pytest.importorskip("torch")
    for name, kwargs in [
        ("SGD", dict(lr=0.1, momentum=0.9)),
        ("Adam", dict(lr=0.1, amsgrad=True)),
        ("AdamW", {}),
        ("RMSprop", dict(centered=True, momentum=0.1)),
        ("Adagrad", {}),
    ]:
        _, ours = _run(ferrograd, optim, name, kwargs, _initial("float32"), 2)
        _, theirs = _run(torch, torch.optim, name, kwargs, _initial("float32"), 2)
        a, b = ours.state_dict(), theirs.state_dict()
        assert a["param_groups"] == b["param_groups"]
        assert list(a["state"]) == list(b["state"])
        for k in a["state"]:
            assert list(a["state"][k]) == list(b["state"][k])
            for key, v in a["state"][k].items():
                w = b["state"][k][key]
                assert tuple(v.shape) == tuple(w.shape) and str(v.dtype)[-7:] == str(w.dtype)[-7:]


@pytest.mark.parametrize("name,kwargs", [CONFIGS[2], CONFIGS[5], CONFIGS[10], CONFIGS[13]])
def test_state_dict_resumes_exactly(name, kwargs):
    arrays = _initial("float64")
    straight, _ = _run(ferrograd, optim, name, kwargs, arrays, 6)
    first, opt = _run(ferrograd, optim, name, kwargs, arrays, 3)
    sd = opt.state_dict()
    params = [nn.Parameter(ferrograd.tensor(a.tolist(), dtype=ferrograd.float64)) for a in first]
    resumed = getattr(optim, name)(params, **kwargs)
    resumed.load_state_dict(sd)
    for _ in range(3):
        resumed.zero_grad()
        _loss(ferrograd, params).backward()
        resumed.step()
    for a, b in zip(params, straight):
        np.testing.assert_allclose(to_numpy(a), b, rtol=1e-12)


def test_param_groups_and_zero_grad():
    a, b = nn.Parameter(ferrograd.ones(2)), nn.Parameter(ferrograd.ones(2))
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.9)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[1]["lr"] == 0.5
    assert opt.param_groups[1]["momentum"] == 0.9
    c = nn.Parameter(ferrograd.ones(1))
    opt.add_param_group({"params": [c], "lr": 1.0})
    (a.sum() + b.sum() + c.sum()).backward()
    opt.step()
    assert (
        a.tolist() == pytest.approx([0.9, 0.9]) and b.tolist() == [0.5, 0.5] and c.tolist() == [0.0]
    )
    opt.zero_grad(set_to_none=False)
    assert a.grad.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert a.grad is None and b.grad is None
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1], [2]]
    assert "Parameter Group 2" in repr(opt)


def test_closure_and_params_without_grad():
    p = nn.Parameter(ferrograd.tensor([2.0]))
    frozen = nn.Parameter(ferrograd.tensor([1.0]))
    opt = optim.Adam([p, frozen], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 4.0
    assert frozen.tolist() == [1.0] and frozen not in opt.state


OPT_ERRORS = [
    lambda o, p: o.SGD([p], lr=-1),
    lambda o, p: o.SGD([p], lr=0.1, nesterov=True),
    lambda o, p: o.SGD([p], lr=0.1, momentum=-1),
    lambda o, p: o.SGD([p], lr=0.1, weight_decay=-1),
    lambda o, p: o.Adam([p], betas=(1.0, 0.9)),
    lambda o, p: o.Adam([p], betas=(0.9, 1.0)),
    lambda o, p: o.Adam([p], eps=-1),
    lambda o, p: o.AdamW([p], lr=-1),
    lambda o, p: o.Adam([p], weight_decay=-1),
    lambda o, p: o.SGD([], lr=0.1),
    lambda o, p: o.SGD(p, lr=0.1),
    lambda o, p: o.SGD([p * 2], lr=0.1),
    lambda o, p: o.SGD([{"params": [p]}, {"params": [p]}], lr=0.1),
    lambda o, p: o.SGD([p], lr=0.1).load_state_dict({"state": {}, "param_groups": []}),
    lambda o, p: o.SGD([p], lr=0.1).load_state_dict(
        {"state": {}, "param_groups": [{"params": [0, 1], "lr": 0.1}]}
    ),
    lambda o, p: o.RMSprop([p], alpha=-1),
    lambda o, p: o.Adagrad([p], lr_decay=-1),
    lambda o, p: o.Adagrad([p], initial_accumulator_value=-1),
    lambda o, p: o.lr_scheduler.StepLR(object(), 1),
]


@pytest.mark.parametrize("case", OPT_ERRORS, ids=[str(i) for i in range(len(OPT_ERRORS))])
def test_errors_match_pytorch(case):
    torch = pytest.importorskip("torch")
    with pytest.raises(Exception) as theirs:
        case(torch.optim, torch.ones(1, requires_grad=True))
    with pytest.raises(Exception) as ours:
        case(optim, ferrograd.ones(1, requires_grad=True))
    assert type(ours.value) is type(theirs.value)
    assert str(ours.value) == str(theirs.value)


def test_fixed_errors():
    p = nn.Parameter(ferrograd.ones(1))
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        optim.SGD([p], lr=-1)
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        optim.Adam([])
    with pytest.raises(
        ValueError, match="Nesterov momentum requires a momentum and zero dampening"
    ):
        optim.SGD([p], lr=0.1, nesterov=True)


# ---- schedulers ---------------------------------------------------------------------------

SCHEDULERS = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("CosineAnnealingLR", dict(T_max=4, eta_min=0.01)),
    ("CosineAnnealingLR", dict(T_max=3)),
    ("LambdaLR", dict(lr_lambda=lambda epoch: 0.9**epoch)),
]


def _lrs(L, name, kwargs, epochs=12):
    p = L.nn.Parameter(L.ones(1))
    opt = L.optim.SGD([p], lr=0.1)
    sched = getattr(L.optim.lr_scheduler, name)(opt, **kwargs)
    out = []
    for _ in range(epochs):
        opt.step()
        sched.step()
        out.append(sched.get_last_lr()[0])
    return out, sched


@pytest.mark.parametrize(
    "name,kwargs", SCHEDULERS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SCHEDULERS)]
)
def test_scheduler_matches_pytorch(name, kwargs):
    torch = pytest.importorskip("torch")
    ours, _ = _lrs(ferrograd, name, kwargs)
    theirs, _ = _lrs(torch, name, kwargs)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


def test_scheduler_fixed_values_and_state():
    lrs, sched = _lrs(ferrograd, "StepLR", dict(step_size=2, gamma=0.1), epochs=5)
    np.testing.assert_allclose(lrs, [0.1, 0.01, 0.01, 0.001, 0.001], rtol=1e-12)
    state = sched.state_dict()
    assert state["last_epoch"] == 5 and "optimizer" not in state
    cos, _ = _lrs(ferrograd, "CosineAnnealingLR", dict(T_max=2), epochs=2)
    np.testing.assert_allclose(cos, [0.05, 0.0], atol=1e-15)
    p = nn.Parameter(ferrograd.ones(1))
    opt = optim.SGD([p], lr=1.0)
    sched = optim.lr_scheduler.StepLR(opt, 1)
    with pytest.warns(UserWarning, match="Detected call of `lr_scheduler.step\\(\\)` before"):
        sched.step()
