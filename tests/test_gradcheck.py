"""``ferrograd.autograd.gradcheck`` / ``gradgradcheck``: pass on correct gradients, report
wrong ones with PyTorch's messages, keep the inputs untouched, and agree with PyTorch's own
gradcheck on the same functions (parity tests skipped without torch).

Wrong gradients are built from ferrograd ops by mixing in ``detach()``: ``x.detach() * x``
has the value ``x**2`` but autograd sees only one factor, so its analytical derivative is
``x`` where the true one is ``2x``.
"""

from __future__ import annotations

import re
import warnings

import ferrograd
import pytest
from ferrograd.autograd import gradcheck, gradgradcheck
from ferrograd.autograd.gradcheck import GradcheckError
from hypothesis import given
from hypothesis import strategies as st

F64 = ferrograd.float64

WRONG_MSG = (
    "Jacobian mismatch for output 0 with respect to input 0,\n"
    "numerical:tensor([[2.0000, 0.0000],\n"
    "        [0.0000, 4.0000]], dtype=ferrograd.float64)\n"
    "analytical:tensor([[1., 0.],\n"
    "        [0., 2.]], dtype=ferrograd.float64)\n"
)
NOT_DOUBLE = (
    "Input #0 requires gradient and is not a double precision floating point or complex. "
    "This check will likely fail if all the inputs are not of double precision floating "
    "point or complex. "
)


def leaf(values, dtype=F64, shape=None):
    t = ferrograd.tensor(values, dtype=dtype)
    if shape is not None:
        t = t.reshape(shape)
    return t.requires_grad_()


def half_detached_square(x):
    """Value x**2, analytical derivative x (one factor is detached): a wrong backward."""
    return x.detach() * x


def cube_with_constant_gradient(x):
    """Value x**3/3 and first derivative x**2 (right), but the first derivative is built
    from detached values, so its own derivative is 0 instead of 2x (wrong)."""
    d = x.detach()
    return d**3 / 3 + d**2 * (x - d)


# ---- gradcheck: fixed expectations ---------------------------------------------------------


def test_passes_on_correct_functions():
    x = leaf([0.5, -1.5, 2.0])
    y = leaf([[1.0, 2.0], [3.0, 4.0]])
    assert gradcheck(lambda a: a * a * 3, (x,)) is True
    assert gradcheck(lambda a: a.exp().sum(), x) is True
    assert gradcheck(lambda a, b: (a.sum() * b, b.t() * 2), (x, y)) is True
    assert gradcheck(lambda a, k: a * k, (x, 3)) is True  # non-tensor arguments pass through
    assert gradcheck(lambda a: a * a, (x,), fast_mode=True) is True


def test_reports_wrong_backward_with_pytorch_message():
    x = leaf([1.0, 2.0])
    with pytest.raises(GradcheckError) as info:
        gradcheck(half_detached_square, (x,))
    assert str(info.value) == WRONG_MSG
    assert isinstance(info.value, RuntimeError)


def test_raise_exception_false_returns_false():
    x = leaf([1.0, 2.0])
    assert gradcheck(half_detached_square, (x,), raise_exception=False) is False
    assert gradcheck(half_detached_square, (x,), raise_exception=False, fast_mode=True) is False


def test_tolerances_are_used():
    x = leaf([1.0, 2.0])
    assert gradcheck(half_detached_square, (x,), atol=10.0) is True
    assert gradcheck(half_detached_square, (x,), atol=0.0, rtol=0.6) is True
    # A coarse eps still gives exact central differences for a quadratic.
    assert gradcheck(lambda a: a * a, (x,), eps=0.5) is True


def test_mismatch_names_the_output_and_input():
    x, y = leaf([1.0, 2.0]), leaf([3.0])
    with pytest.raises(
        GradcheckError, match="^Jacobian mismatch for output 1 with respect to input 1,"
    ):
        gradcheck(lambda a, b: (a * b, a + half_detached_square(b)), (x, y))


def test_fast_mode_failure_message():
    x = leaf([1.0, 2.0])
    with pytest.raises(GradcheckError) as info:
        gradcheck(half_detached_square, (x,), fast_mode=True)
    msg = str(info.value)
    assert re.match(
        r"Jacobian mismatch for output 0 with respect to input 0,\n"
        r"numerical:tensor\(-?[\d.]+, dtype=ferrograd.float64\)\n"
        r"analytical:tensor\(-?[\d.]+, dtype=ferrograd.float64\)\n",
        msg,
    )
    assert "Below, we recompute numerical and analytical jacobians in slow mode:" in msg
    assert "Numerical:\n tensor([[2.0000, 0.0000],\n" in msg
    assert "The max per-element difference (slow mode) is: tensor(2.0000" in msg


def test_inputs_are_restored_exactly():
    x = leaf([0.1, -0.0, 12345.678, 1.0e-300])
    before, version = x.tolist(), x._version
    gradcheck(lambda a: a * 2, (x,))
    gradcheck(lambda a: a * 2, (x,), fast_mode=True)
    assert x.tolist() == before
    assert x._version == version
    assert x.grad is None


def test_warns_on_single_precision_inputs():
    x = leaf([1.0, 2.0], dtype=ferrograd.float32)
    with pytest.warns(UserWarning, match=re.escape(NOT_DOUBLE)):
        assert gradcheck(lambda a: a * 2, (x,), eps=1e-3, atol=1e-2) is True
    with pytest.warns(UserWarning):
        # eps=1e-6 is too small for float32, as in PyTorch.
        assert gradcheck(lambda a: a * a, (x,), raise_exception=False) is False


def test_input_errors():
    x = ferrograd.tensor([1.0, 2.0], dtype=F64)
    with pytest.raises(ValueError, match="^gradcheck expects at least one input tensor"):
        gradcheck(lambda a: a * 2, (x,))
    with pytest.raises(RuntimeError, match=r"^The 0th input has a dimension with stride 0\."):
        gradcheck(lambda a: a * 2, (leaf([1.0, 2.0]).expand(3, 2),))
    with pytest.raises(RuntimeError, match="not supported"):
        gradcheck(lambda a: a * 2, (leaf([1.0]),), check_batched_grad=True)


def test_outputs_that_do_not_require_grad():
    x = leaf([1.0, 2.0])
    assert gradcheck(lambda a: ferrograd.ones(2, dtype=F64), (x,)) is True
    with pytest.raises(
        GradcheckError, match="^Numerical gradient for function expected to be zero$"
    ):
        gradcheck(lambda a: a.detach() * 2, (x,))
    assert gradcheck(lambda a: a.detach() * 2, (x,), raise_exception=False) is False


def test_non_contiguous_and_empty_inputs():
    base = leaf([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], shape=(2, 3))
    assert gradcheck(lambda a: a * a, (base.t(),)) is True
    assert gradcheck(lambda a: a * 2, (leaf([]),)) is True
    assert gradcheck(lambda a: (a * a).sum(), (leaf(1.5),)) is True


def test_error_class_is_reachable_like_pytorch():
    assert gradcheck.GradcheckError is GradcheckError
    assert issubclass(GradcheckError, RuntimeError)
    assert ferrograd.autograd.gradgradcheck is gradgradcheck


def custom_cubes(lib):
    """Custom Functions computing x**3 with a wrong backward (2x**2), a right one, and a
    right one that drifts by 1e-9 per call (not reentrant)."""

    class WrongCube(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 2 * x * x

    class Cube(WrongCube):
        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 3 * x * x

    calls = []

    class DriftingCube(WrongCube):
        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            calls.append(None)
            return grad * 3 * x * x + grad * 1e-9 * len(calls)

    return WrongCube, Cube, DriftingCube


def test_custom_function_backward_is_checked():
    wrong, right, drifting = custom_cubes(ferrograd)
    x = leaf([1.0, 2.0])
    assert gradcheck(right.apply, (x,)) is True
    assert gradgradcheck(right.apply, (x,)) is True
    with pytest.raises(GradcheckError) as info:
        gradcheck(wrong.apply, (x,))
    assert str(info.value).endswith(
        "analytical:tensor([[2., 0.],\n        [0., 8.]], dtype=ferrograd.float64)\n"
    )
    with pytest.raises(GradcheckError, match="^Backward is not reentrant"):
        gradcheck(drifting.apply, (x,))
    assert gradcheck(drifting.apply, (x,), nondet_tol=1e-6) is True


def test_parity_with_torch_custom_functions():
    torch = pytest.importorskip("torch")
    for make in range(3):
        for kwargs in ({}, {"nondet_tol": 1e-6}):
            ours = custom_cubes(ferrograd)[make].apply
            theirs = custom_cubes(torch)[make].apply
            x = ferrograd.tensor([1.0, 2.0], dtype=F64).requires_grad_()
            y = torch.tensor([1.0, 2.0], dtype=torch.float64).requires_grad_()
            assert outcome(ferrograd, ours, (x,), **kwargs) == outcome(
                torch, theirs, (y,), **kwargs
            )


# ---- gradgradcheck ---------------------------------------------------------------------------


def test_gradgradcheck_passes_on_correct_functions():
    ferrograd.manual_seed(0)
    x = leaf([0.5, -1.5, 2.0])
    y = leaf([[1.0, 2.0], [3.0, 4.0]])
    assert gradgradcheck(lambda a: a * a * a, (x,)) is True
    assert gradgradcheck(lambda a, b: (a.sum() * b).exp(), (x, y)) is True
    go = leaf([[1.0, -1.0], [0.5, 2.0]])
    assert gradgradcheck(lambda b: b * b * b, (y,), (go,)) is True
    assert gradgradcheck(lambda b: b * b * b, (y,), gen_non_contig_grad_outputs=True) is True
    assert gradgradcheck(lambda a: (a * a * a).sum(), (x,), fast_mode=True) is True


def test_gradgradcheck_reports_wrong_second_derivative():
    x = leaf([1.0, 2.0])
    assert gradcheck(cube_with_constant_gradient, (x,)) is True
    with pytest.raises(
        GradcheckError, match="^Jacobian mismatch for output 0 with respect to input 0,"
    ):
        gradgradcheck(cube_with_constant_gradient, (x,))
    assert gradgradcheck(cube_with_constant_gradient, (x,), raise_exception=False) is False


@given(
    shape=st.lists(st.integers(0, 3), min_size=0, max_size=3),
    seed=st.integers(0, 2**16),
    transpose=st.booleans(),
)
def test_property_correct_polynomials_pass(shape, seed, transpose):
    ferrograd.manual_seed(seed)
    x = (ferrograd.rand(*shape, dtype=F64) * 2 - 1).requires_grad_()
    if transpose and len(shape) >= 2:
        x = x.transpose(0, 1)
    assert gradcheck(lambda a: a * a * a - a * 2 + 1, (x,)) is True
    assert gradcheck(half_detached_square, (x,), raise_exception=False) is (x.numel() == 0)


# ---- PyTorch parity ------------------------------------------------------------------------

PARITY_CASES = {
    "correct": (lambda a: a * a, [1.0, 2.0], {}),
    "wrong": (half_detached_square, [1.0, 2.0], {}),
    "wrong_no_raise": (half_detached_square, [1.0, 2.0], {"raise_exception": False}),
    "wrong_fast_no_raise": (
        half_detached_square,
        [1.0, 2.0],
        {"raise_exception": False, "fast_mode": True},
    ),
    "wrong_loose_atol": (half_detached_square, [1.0, 2.0], {"atol": 10.0}),
    "constant_output": (lambda a: a.detach() * 0 + 1, [1.0, 2.0], {}),
    "detached_output": (lambda a: a.detach() * 2, [1.0, 2.0], {}),
    "tuple_output": (lambda a: (a * 2, half_detached_square(a)), [1.0, 2.0], {}),
    "scalar_output": (lambda a: (a * a).sum(), [1.0, 2.0, 3.0], {}),
    "zero_dim": (lambda a: a.exp(), 1.5, {}),
    "empty": (lambda a: a * 2, [], {}),
    "fast_correct": (lambda a: (a * a).sum() * a, [1.0, 2.0, 3.0], {"fast_mode": True}),
    "float32": (lambda a: a * a, [1.0, 2.0], {"raise_exception": False, "dtype": "float32"}),
}


def outcome(lib, fn, inputs, **kwargs):
    """(result or (exception type name, message), warnings), with torch. -> ferrograd."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = lib.autograd.gradcheck(fn, inputs, **kwargs)
        except Exception as e:  # noqa: BLE001 - the exception is what is compared
            result = (type(e).__name__, re.sub(r"\btorch\.", "ferrograd.", str(e)))
    return result, [(w.category.__name__, str(w.message)) for w in caught]


@pytest.mark.parametrize("case", sorted(PARITY_CASES))
def test_parity_with_torch_gradcheck(case):
    torch = pytest.importorskip("torch")
    fn, values, kwargs = PARITY_CASES[case]
    kwargs = dict(kwargs)
    dtype = kwargs.pop("dtype", "float64")
    ours = ferrograd.tensor(values, dtype=getattr(ferrograd, dtype)).requires_grad_()
    theirs = torch.tensor(values, dtype=getattr(torch, dtype)).requires_grad_()
    assert outcome(ferrograd, fn, (ours,), **kwargs) == outcome(torch, fn, (theirs,), **kwargs)


def test_parity_with_torch_input_errors():
    torch = pytest.importorskip("torch")
    cases = [
        lambda lib: ((lib.tensor([1.0, 2.0], dtype=lib.float64),), lambda a: a * 2),
        lambda lib: (
            (lib.tensor([1.0, 2.0], dtype=lib.float64).requires_grad_().expand(3, 2),),
            lambda a: a * 2,
        ),
    ]
    for make in cases:
        ours, fn = make(ferrograd)
        theirs, _ = make(torch)
        assert outcome(ferrograd, fn, ours) == outcome(torch, fn, theirs)


def test_parity_with_torch_gradgradcheck():
    torch = pytest.importorskip("torch")
    for fn in (lambda a: a * a * a, cube_with_constant_gradient):
        ours = ferrograd.tensor([1.0, 2.0], dtype=F64).requires_grad_()
        theirs = torch.tensor([1.0, 2.0], dtype=torch.float64).requires_grad_()
        go_ours = ferrograd.tensor([0.5, -1.0], dtype=F64).requires_grad_()
        go_theirs = torch.tensor([0.5, -1.0], dtype=torch.float64).requires_grad_()
        r_ours = ferrograd.autograd.gradgradcheck(fn, (ours,), (go_ours,), raise_exception=False)
        r_theirs = torch.autograd.gradgradcheck(fn, (theirs,), (go_theirs,), raise_exception=False)
        assert r_ours == r_theirs
