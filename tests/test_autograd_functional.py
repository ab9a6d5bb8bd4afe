"""``ferrograd.autograd.functional``: vjp, jvp, jacobian, hessian, hvp, vhp.

Fixed expectations (closed-form derivatives, return structures, strict-mode errors) always
run; the same calls under ``torch.autograd.functional`` are compared value by value,
structure by structure and error by error where PyTorch is installed.
"""

from __future__ import annotations

import re
import warnings

import ferrograd
import numpy as np
import pytest
from ferrograd.autograd import functional as F
from helpers import from_numpy, to_numpy
from hypothesis import given
from hypothesis import strategies as st

F64 = ferrograd.float64


def t(values):
    return ferrograd.tensor(values, dtype=F64)


def assert_tensor(actual, expected, requires_grad=False):
    assert isinstance(actual, ferrograd.Tensor)
    np.testing.assert_allclose(
        to_numpy(actual), np.asarray(expected, dtype=np.float64), rtol=1e-12, atol=1e-12
    )
    assert actual.requires_grad is requires_grad


def cube_sum(x):
    return (x**3).sum()


def two_outputs(x, y):
    return x.sum() * y, y * y


def scaled_cube(x):
    return x**3 * 2


# ---- fixed expectations ----------------------------------------------------------------------


def test_hessian_of_sum_of_cubes_is_diag_6x():
    x = t([0.5, -1.0, 2.0])
    assert_tensor(F.hessian(cube_sum, x), np.diag([3.0, -6.0, 12.0]))


def test_jacobian_of_elementwise_function_is_diagonal():
    x = t([0.5, -1.0, 2.0])
    assert_tensor(F.jacobian(scaled_cube, x), np.diag(6 * np.array([0.5, -1.0, 2.0]) ** 2))


def test_jacobian_shapes_follow_inputs_and_outputs():
    x, y = t([1.0, 2.0, 3.0]), t([[1.0, 2.0], [3.0, 4.0]])
    jac = F.jacobian(two_outputs, (x, y))
    assert isinstance(jac, tuple) and all(isinstance(row, tuple) and len(row) == 2 for row in jac)
    assert [[tuple(j.shape) for j in row] for row in jac] == [
        [(2, 2, 3), (2, 2, 2, 2)],
        [(2, 2, 3), (2, 2, 2, 2)],
    ]
    # d(sum(x) * y)/dx = y broadcast along x's axis; d(y*y)/dx = 0.
    assert_tensor(jac[0][0], np.repeat(to_numpy(y)[..., None], 3, axis=-1))
    assert_tensor(jac[1][0], np.zeros((2, 2, 3)))
    assert_tensor(jac[1][1], np.diag(2 * to_numpy(y).reshape(-1)).reshape(2, 2, 2, 2))
    # Single tensor in, tuple out: a tuple of tensors; tuple in, tensor out: a tuple.
    jx = F.jacobian(lambda a: (a * 2, a.sum()), x)
    assert isinstance(jx, tuple) and [tuple(j.shape) for j in jx] == [(3, 3), (3,)]
    jt = F.jacobian(lambda a, b: a * b.sum(), (x, y))
    assert isinstance(jt, tuple) and [tuple(j.shape) for j in jt] == [(3, 3), (3, 2, 2)]


def test_vjp_jvp_vhp_hvp_values():
    x, v = t([0.5, -1.0, 2.0]), t([1.0, 2.0, 3.0])
    out, vjp = F.vjp(scaled_cube, x, v)
    assert_tensor(out, 2 * to_numpy(x) ** 3)
    assert_tensor(vjp, 6 * to_numpy(x) ** 2 * to_numpy(v))
    out, jvp = F.jvp(scaled_cube, x, v)
    assert_tensor(jvp, 6 * to_numpy(x) ** 2 * to_numpy(v))
    out, hvp = F.hvp(cube_sum, x, v)
    assert_tensor(out, np.sum(to_numpy(x) ** 3))
    assert_tensor(hvp, 6 * to_numpy(x) * to_numpy(v))
    _, vhp = F.vhp(cube_sum, x, v)
    assert_tensor(vhp, 6 * to_numpy(x) * to_numpy(v))


def test_v_may_be_omitted_for_single_elements():
    x = t(2.0)
    out, g = F.vjp(lambda a: a * a, x)
    assert_tensor(g, 4.0)
    assert_tensor(F.jvp(lambda a: a * a * a, x)[1], 12.0)
    assert_tensor(F.hvp(lambda a: a * a * a, x)[1], 12.0)
    assert_tensor(F.vhp(lambda a: a * a * a, x)[1], 12.0)


def test_tuple_inputs_give_tuples():
    x, y = t([1.0, 2.0]), t([3.0])
    out, (gx, gy) = F.vjp(lambda a, b: (a * b).sum(), (x, y))
    assert_tensor(gx, [3.0, 3.0])
    assert_tensor(gy, [3.0])
    _, (hx, hy) = F.hvp(lambda a, b: (a * a * b).sum(), (x, y), (t([1.0, 0.0]), t([1.0])))
    # H = [[2b, 0, 2a0], [0, 2b, 2a1], [2a0, 2a1, 0]] at a=(1,2), b=3; v = (1, 0, 1).
    assert_tensor(hx, [6.0 + 2.0, 4.0])
    assert_tensor(hy, [2.0])
    h = F.hessian(lambda a, b: (a * a * b).sum(), (x, y))
    assert [[tuple(e.shape) for e in row] for row in h] == [[(2, 2), (2, 1)], [(1, 2), (1, 1)]]
    assert_tensor(h[0][1], [[2.0], [4.0]])


def test_results_are_detached_unless_create_graph():
    x = t([0.5, -1.0, 2.0]).requires_grad_()
    assert_tensor(F.hessian(cube_sum, x), np.diag(6 * to_numpy(x)))
    h = F.hessian(cube_sum, x, create_graph=True)
    assert h.requires_grad
    # d/dx sum(H) = d/dx sum(6x) = 6 everywhere: the result is differentiable.
    (g,) = ferrograd.autograd.grad(h.sum(), x)
    assert_tensor(g, [6.0, 6.0, 6.0])
    out, jvp = F.jvp(scaled_cube, x, t([1.0, 1.0, 1.0]), create_graph=True)
    assert out.requires_grad and jvp.requires_grad
    (g,) = ferrograd.autograd.grad(jvp.sum(), x)
    assert_tensor(g, 12 * to_numpy(x))


def test_caller_grad_mode_is_kept():
    x = t([1.0, 2.0])
    with ferrograd.no_grad():
        out, g = F.vjp(lambda a: a * a, x, t([1.0, 1.0]))
        assert not ferrograd.is_grad_enabled()
    assert_tensor(g, [2.0, 4.0])


def test_long_functions_compose():
    # The Hessian of a function that reads each input twice, through several ops.
    x = t([0.3, 0.7])
    h = F.hessian(lambda a: (a.exp() * a).sum(), x)
    ex = np.exp(to_numpy(x))
    assert_tensor(h, np.diag(ex * (to_numpy(x) + 2)))


STRICT_INDEPENDENT = (
    "The output of the user-provided function is independent of input 1. This is not "
    "allowed in strict mode."
)


@pytest.mark.parametrize(
    ("call", "kind", "message"),
    [
        (
            lambda x: F.vjp(lambda a: a * 2, x),
            RuntimeError,
            (
                "The vector v can only be None if the user-provided function returns a single "
                "Tensor with a single element."
            ),
        ),
        (
            lambda x: F.jvp(lambda a: a * 2, x),
            RuntimeError,
            (
                "The vector v can only be None if the input to the user-provided function is a "
                "single Tensor with a single element."
            ),
        ),
        (
            lambda x: F.vjp(lambda a: a * 2, x, t([1.0])),
            RuntimeError,
            "v has invalid size: should be ferrograd.Size([2]) but got ferrograd.Size([1]).",
        ),
        (
            lambda x: F.jvp(lambda a: a * 2, (x,), (x, x)),
            RuntimeError,
            "v is a tuple of invalid length: should be 1 but got 2.",
        ),
        (
            lambda x: F.vjp(lambda a: a * 2, [x]),
            TypeError,
            (
                "The inputs given to vjp must be either a Tensor or a tuple of Tensors but the "
                "given inputs has type <class 'list'>."
            ),
        ),
        (
            lambda x: F.jacobian(lambda a, k: a * k, (x, 3)),
            TypeError,
            (
                "The inputs given to jacobian must be either a Tensor or a tuple of Tensors but "
                "the value at index 1 has type <class 'int'>."
            ),
        ),
        (
            lambda x: F.jacobian(lambda a: a.detach() * 2, x, strict=True),
            RuntimeError,
            (
                "Output 0 of the user-provided function does not require gradients. The outputs "
                "must be computed in a differentiable manner from the input when running in strict "
                "mode."
            ),
        ),
        (
            lambda x: F.jacobian(lambda a, b: a * 2, (x, x), strict=True),
            RuntimeError,
            (
                "Output 0 of the user-provided function is independent of input 1. This is not "
                "allowed in strict mode."
            ),
        ),
        (
            lambda x: F.vjp(lambda a, b: (a * 2).sum(), (x, x), strict=True),
            RuntimeError,
            STRICT_INDEPENDENT,
        ),
        (
            lambda x: F.hessian(lambda a: (a * 2).sum(), x, strict=True),
            RuntimeError,
            (
                "While computing the hessian, found that the jacobian of the user-provided "
                "function with respect to input 0 is independent of the input. This is not allowed "
                "in strict mode. You should ensure that your function is twice differentiable and "
                "that the jacobian depends on the inputs (this would be violated by a linear "
                "function for example)."
            ),
        ),
        (
            lambda x: F.hessian(lambda a: a * 2, x),
            RuntimeError,
            "The Tensor returned by the function given to hessian should contain a single element",
        ),
        (
            lambda x: F.hvp(lambda a: (a, a), x, x),
            RuntimeError,
            "The function given to hvp should return a single Tensor",
        ),
        (
            lambda x: F.hvp(lambda a: (a * a).sum(), x, x, strict=True, create_graph=True),
            RuntimeError,
            (
                "The hessian of the user-provided function is independent of input 0. This is not "
                "allowed in strict mode when create_graph=True."
            ),
        ),
        (
            lambda x: F.vhp(lambda a: (a * a).sum(), x, x, strict=True, create_graph=True),
            RuntimeError,
            (
                "The hessian of the user-provided function is independent of input 0. This is not "
                "allowed in strict mode when create_graph=True."
            ),
        ),
        (
            lambda x: F.jvp(lambda a, b: a * 2, (x, x), (x, x), strict=True),
            RuntimeError,
            STRICT_INDEPENDENT,
        ),
        (
            lambda x: F.jacobian(lambda a: a, x, strategy="forward"),
            AssertionError,
            (
                'Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your '
                'function has more outputs than inputs, "forward-mode" tends to be more '
                'performant. Otherwise, prefer to use "reverse-mode".'
            ),
        ),
    ],
)
def test_errors(call, kind, message):
    with pytest.raises(kind) as info:
        call(t([1.0, 2.0]))
    assert str(info.value) == message


def test_non_strict_mode_fills_zeros():
    x, y = t([1.0, 2.0]), t([3.0])
    _, (gx, gy) = F.vjp(lambda a, b: (a * 2).sum(), (x, y))
    assert_tensor(gy, [0.0])
    assert_tensor(F.jacobian(lambda a: a.detach() * 2, x), np.zeros((2, 2)))
    assert_tensor(F.hessian(lambda a: (a * 2).sum(), x), np.zeros((2, 2)))


@given(shape=st.lists(st.integers(1, 3), min_size=0, max_size=2), seed=st.integers(0, 2**16))
def test_property_hessian_of_cubes(shape, seed):
    x = from_numpy(np.random.default_rng(seed).uniform(-2, 2, size=shape))
    xs = to_numpy(x).reshape(-1)
    assert_tensor(F.hessian(cube_sum, x), np.diag(6 * xs).reshape(tuple(shape) * 2))
    assert_tensor(F.jacobian(lambda a: a**3, x), np.diag(3 * xs**2).reshape(tuple(shape) * 2))


# ---- PyTorch parity ------------------------------------------------------------------------


def compare(ours, theirs, path="result"):
    """Same nesting (tensor / tuple), values, shapes and requires_grad."""
    torch = pytest.importorskip("torch")
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, ferrograd.Tensor), (path, type(ours))
        assert tuple(ours.shape) == tuple(theirs.shape), path
        np.testing.assert_allclose(
            to_numpy(ours), theirs.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=path
        )
        assert ours.requires_grad == theirs.requires_grad, path
        return
    assert type(ours) is type(theirs) and len(ours) == len(theirs), (path, type(ours), type(theirs))
    for i, (a, b) in enumerate(zip(ours, theirs)):
        compare(a, b, f"{path}[{i}]")


def inputs_for(lib):
    x = lib.tensor([0.5, 1.5, -2.0], dtype=lib.float64)
    y = lib.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=lib.float64)
    v = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64)
    w = lib.tensor([[1.0, -1.0], [0.5, 2.0]], dtype=lib.float64)
    return x, y, v, w


def sum_of_squares_product(x, y):
    return (x * x).sum() * (y**2).sum()


PARITY_CALLS = {
    "jacobian": lambda M, x, y, v, w, cg: M.jacobian(scaled_cube, x, create_graph=cg),
    "jacobian_tuples": lambda M, x, y, v, w, cg: M.jacobian(two_outputs, (x, y), create_graph=cg),
    "hessian": lambda M, x, y, v, w, cg: M.hessian(cube_sum, x, create_graph=cg),
    # (detached: PyTorch's vmap makes even its zero blocks carry a graph, we do not)
    "jacobian_forward_vectorized": lambda M, x, y, v, w, cg: M.jacobian(
        two_outputs, (x.detach(), y.detach()), strategy="forward-mode", vectorize=True
    ),
    "hessian_vectorized": lambda M, x, y, v, w, cg: M.hessian(
        cube_sum, x, create_graph=cg, vectorize=True
    ),
    "hessian_tuple": lambda M, x, y, v, w, cg: M.hessian(
        sum_of_squares_product, (x, y), create_graph=cg
    ),
    "vjp": lambda M, x, y, v, w, cg: M.vjp(scaled_cube, x, v, create_graph=cg),
    "vjp_tuples": lambda M, x, y, v, w, cg: M.vjp(two_outputs, (x, y), (w, w), create_graph=cg),
    "jvp": lambda M, x, y, v, w, cg: M.jvp(scaled_cube, x, v, create_graph=cg),
    "jvp_tuples": lambda M, x, y, v, w, cg: M.jvp(two_outputs, (x, y), (v, w), create_graph=cg),
    "hvp": lambda M, x, y, v, w, cg: M.hvp(cube_sum, x, v, create_graph=cg),
    "hvp_tuple": lambda M, x, y, v, w, cg: M.hvp(
        sum_of_squares_product, (x, y), (v, w), create_graph=cg
    ),
    "vhp": lambda M, x, y, v, w, cg: M.vhp(cube_sum, x, v, create_graph=cg),
    "vhp_tuple": lambda M, x, y, v, w, cg: M.vhp(
        sum_of_squares_product, (x, y), (v, w), create_graph=cg
    ),
}


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("requires_grad", [False, True])
@pytest.mark.parametrize("name", sorted(PARITY_CALLS))
def test_parity_values_and_structures(name, create_graph, requires_grad):
    torch = pytest.importorskip("torch")
    ours = [
        a.requires_grad_(requires_grad) if i < 2 else a for i, a in enumerate(inputs_for(ferrograd))
    ]
    theirs = [
        a.requires_grad_(requires_grad) if i < 2 else a for i, a in enumerate(inputs_for(torch))
    ]
    call = PARITY_CALLS[name]
    with warnings.catch_warnings():
        # torch's vectorized forward-mode path warns about its own torch.jit use.
        warnings.simplefilter("ignore", FutureWarning)
        expected = call(torch.autograd.functional, *theirs, create_graph)
    compare(call(F, *ours, create_graph), expected)


ERROR_CALLS = [
    lambda M, x: M.vjp(lambda a: a * 2, x),
    lambda M, x: M.vjp(lambda a: a * 2, x, x.sum()),
    lambda M, x: M.vjp(lambda a: a * 2, [x]),
    lambda M, x: M.vjp(lambda a: a * 2, (x, 3)),
    lambda M, x: M.jvp(lambda a: a * 2, (x,), (x, x)),
    lambda M, x: M.jvp(lambda a, b: a * 2, (x, x), (x, x.sum())),
    lambda M, x: M.jacobian(lambda a: a.detach() * 2, x, strict=True),
    lambda M, x: M.jacobian(lambda a, b: a * 2, (x, x), strict=True),
    lambda M, x: M.jacobian(lambda a: a * 2, x, strict=True, create_graph=True),
    lambda M, x: M.jacobian(lambda a: a, x, vectorize=True, strict=True),
    lambda M, x: M.jacobian(lambda a: a, x, strategy="forward-mode", create_graph=True),
    lambda M, x: M.jacobian(lambda a: a, x, strategy="forward-mode", strict=True),
    lambda M, x: M.jacobian(lambda a: a, x, strategy="forward-mode"),
    lambda M, x: M.hessian(lambda a: (a * 2).sum(), x, strict=True),
    lambda M, x: M.hessian(lambda a: a * 2, x),
    lambda M, x: M.hessian(lambda a: (a * 2, a), x),
    lambda M, x: M.hessian(lambda a: (a * a).sum(), x, outer_jacobian_strategy="x"),
    lambda M, x: M.hvp(lambda a: (a * 2).sum(), x, x, strict=True),
    lambda M, x: M.hvp(lambda a: (a * a).sum(), x, x, strict=True, create_graph=True),
    lambda M, x: M.hvp(lambda a: (a * a * a).sum(), x, x, strict=True, create_graph=True),
    lambda M, x: M.vhp(lambda a: (a * 2).sum(), x, x, strict=True),
    lambda M, x: M.vhp(lambda a: (a * a).sum(), x, x, strict=True, create_graph=True),
    lambda M, x: M.vhp(lambda a: (a * a).sum(), x),
    lambda M, x: M.vjp(lambda a, b: (a * 2).sum(), (x, x.sum()), strict=True),
    lambda M, x: M.vjp(lambda a: a * 2, x, x, strict=True, create_graph=True),
    lambda M, x: M.jvp(lambda a, b: a * 2, (x, x), (x, x), strict=True),
    lambda M, x: M.jvp(lambda a: a * 0 + 1, (x,), (x,), strict=True),
    lambda M, x: M.jvp(lambda a: a * 2, x, x, strict=True),
]


def error_of(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the exception is what is compared
        return type(e).__name__, re.sub(r"\btorch\.", "ferrograd.", str(e))
    return None


@pytest.mark.parametrize("index", range(len(ERROR_CALLS)))
def test_parity_errors(index):
    torch = pytest.importorskip("torch")
    call = ERROR_CALLS[index]
    ours = error_of(lambda: call(F, ferrograd.tensor([1.0, 2.0], dtype=F64)))
    theirs = error_of(
        lambda: call(torch.autograd.functional, torch.tensor([1.0, 2.0], dtype=torch.float64))
    )
    assert ours == theirs
