"""Autograd behaviour users rely on: flags, .grad, grad_fn graphs, backward and grad, grad
modes, aliasing through .data / detach(), in-place ops and the version counter, and that
long graphs are freed without recursion.

Every behaviour has a test with fixed expected values or messages (always run) and, where
PyTorch is installed, a test that runs the same code under PyTorch and compares.
"""

from __future__ import annotations

import gc
import re
import threading

import ferrograd
import pytest
from ferrograd import autograd

LEAF_INPLACE = "a leaf Variable that requires grad is being used in an in-place operation."
BACKWARD_TWICE = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward."
)
NOT_LEAF_FLAG = (
    "you can only change requires_grad flags of leaf variables. If you want to use a computed "
    "variable in a subgraph that doesn't require differentiation use "
    "var_no_grad = var.detach()."
)
MODIFIED_PREFIX = (
    "one of the variables needed for gradient computation has been modified by an inplace "
    "operation: "
)


def error_of(fn):
    """(exception type, message) of calling fn, which must raise an ordinary Exception."""
    with pytest.raises(Exception) as info:
        fn()
    return info.type, str(info.value)


def torch_or_skip():
    return pytest.importorskip("torch")


def live_nodes():
    gc.collect()
    return ferrograd._C._live_nodes()


def graph_names(fn):
    """grad_fn graph as nested (name, input_nr, children) tuples, None for missing edges."""
    if fn is None:
        return None
    return (fn.name(), tuple((graph_names(f), nr) for f, nr in fn.next_functions))


# ---- requires_grad, is_leaf ---------------------------------------------------------------


def test_requires_grad_defaults_and_setter():
    x = ferrograd.ones(2)
    assert x.requires_grad is False
    x.requires_grad = True
    assert x.requires_grad is True
    assert (x * 2).requires_grad is True
    x.requires_grad = False
    assert (x * 2).requires_grad is False
    assert ferrograd.ones(2, requires_grad=True).requires_grad is True


def test_requires_grad_underscore_returns_self():
    x = ferrograd.zeros(3)
    assert x.requires_grad_() is x
    assert x.requires_grad is True
    assert x.requires_grad_(False) is x
    assert x.requires_grad is False
    y = ferrograd.ones(2, requires_grad=True) * 2
    assert y.requires_grad_(True) is y


def test_requires_grad_cannot_be_cleared_on_a_non_leaf():
    y = ferrograd.ones(2, requires_grad=True) * 2

    def clear_attr():
        y.requires_grad = False

    assert error_of(clear_attr) == (RuntimeError, NOT_LEAF_FLAG)
    assert error_of(lambda: y.requires_grad_(False)) == (RuntimeError, NOT_LEAF_FLAG)
    assert y.requires_grad


def test_is_leaf():
    x = ferrograd.ones(2, requires_grad=True)
    c = ferrograd.ones(2)
    assert x.is_leaf and c.is_leaf
    assert not (x * 2).is_leaf
    assert (c * 2).is_leaf  # no input requires grad: nothing recorded
    assert x.detach().is_leaf
    with ferrograd.no_grad():
        assert (x * 2).is_leaf


def test_flags_match_torch():
    torch = torch_or_skip()

    def flags(lib):
        x = lib.ones(2, requires_grad=True)
        c = lib.ones(2)
        with lib.no_grad():
            n = x * 2
        tensors = [x, c, x * 2, c * 2, x.detach(), x.data, n, (x * 2).sum()]
        return [(t.requires_grad, t.is_leaf, t.grad_fn is None) for t in tensors]

    assert flags(ferrograd) == flags(torch)


# ---- .grad ----------------------------------------------------------------------------------


def test_grad_is_none_until_backward_and_can_be_set():
    x = ferrograd.tensor([1.0, 2.0], requires_grad=True)
    assert x.grad is None
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]
    assert x.grad.requires_grad is False
    x.grad = ferrograd.tensor([5.0, 6.0])
    assert x.grad.tolist() == [5.0, 6.0]
    (x * 3).sum().backward()  # accumulates into the assigned grad
    assert x.grad.tolist() == [8.0, 9.0]
    x.grad = None
    assert x.grad is None


def test_grad_assignment_errors():
    x = ferrograd.ones(2, requires_grad=True)

    def assign(g):
        def go():
            x.grad = g

        return go

    assert error_of(assign(ferrograd.ones(3))) == (
        RuntimeError,
        "attempting to assign a gradient of size '[3]' to a tensor of size '[2]'. "
        "Please ensure that the gradient and the tensor are the same size",
    )
    dtype_tail = (
        ". The gradient must match the tensor's grad_dtype (defaults to the tensor's dtype). "
        "You can set the tensor's grad_dtype attribute with a specific dtype, or None to allow "
        "any dtype. Set grad_dtype with caution. Diverging the dtypes of a tensor and its "
        "gradient may break downstream systems that assume they match."
    )
    assert error_of(assign(ferrograd.ones(2, dtype=ferrograd.float64))) == (
        RuntimeError,
        "attempting to assign a gradient with dtype 'double' to a tensor with grad_dtype "
        "'Float'" + dtype_tail,
    )
    assert error_of(assign(ferrograd.ones(2, dtype=ferrograd.int64))) == (
        RuntimeError,
        "attempting to assign a gradient with dtype 'long int' to a tensor with grad_dtype "
        "'Float'" + dtype_tail,
    )
    assert error_of(assign(3)) == (
        TypeError,
        "assigned grad expected to be a Tensor or None but got grad of type int",
    )
    assert x.grad is None


@pytest.mark.parametrize(
    "grad",
    [
        "lib.ones(3)",
        "lib.ones(2, dtype=lib.float64)",
        "lib.ones(2, dtype=lib.int64)",
        "lib.ones(2, dtype=lib.bool)",
        "lib.ones(3, dtype=lib.float64)",
        "3",
        "[1.0, 2.0]",
    ],
)
def test_grad_assignment_errors_match_torch(grad):
    torch = torch_or_skip()

    def attempt(lib):
        x = lib.ones(2, requires_grad=True)

        def go():
            x.grad = eval(grad, {"lib": lib})

        return error_of(go)

    assert attempt(ferrograd) == attempt(torch)


# ---- grad_fn, next_functions, AccumulateGrad ------------------------------------------------


def test_grad_fn_name_and_next_functions():
    x = ferrograd.ones(2, 2, requires_grad=True)
    y = x + 2
    assert y.grad_fn.name() == "AddBackward0"
    nf = y.grad_fn.next_functions
    assert isinstance(nf, tuple) and len(nf) == 2
    (acc, nr0), (none, nr1) = nf
    assert acc.name() == "torch::autograd::AccumulateGrad"
    assert (nr0, none, nr1) == (0, None, 0)
    assert acc.next_functions == ()
    assert re.fullmatch(r"\(\(<AccumulateGrad object at 0x[0-9a-f]+>, 0\), \(None, 0\)\)", repr(nf))
    assert x.grad_fn is None


def test_accumulate_grad_variable_is_the_leaf():
    x = ferrograd.tensor([1.0, 2.0], requires_grad=True)
    acc = (x * 3).grad_fn.next_functions[0][0]
    v = acc.variable
    assert v.data_ptr() == x.data_ptr()
    assert v.requires_grad and v.is_leaf
    assert v.tolist() == [1.0, 2.0]
    # The same node serves every use of the leaf.
    assert (x + 1).grad_fn.next_functions[0][0] == acc
    with pytest.raises(AttributeError, match="'MulBackward0' object has no attribute 'variable'"):
        (x * 3).grad_fn.variable  # noqa: B018


GRAPH_EXPRESSIONS = [
    "x + 2",
    "x * x",
    "2 - x",
    "(x * 2).sum()",
    "(x * w + w).mean()",
    "((x + 1) * (w - 1)).exp()",
    "x / 3",
    "x ** 2",
    "2 ** x",
    "-x",
    "x.reshape(4).sum(0)",
    "x.t()",
    "x.double()",
    "x.norm()",
    "(x * 2).view(4) * w.view(4)",
]


@pytest.mark.parametrize("expr", GRAPH_EXPRESSIONS)
def test_graph_structure_matches_torch(expr):
    torch = torch_or_skip()

    def graph(lib):
        x = lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        w = lib.tensor([[0.5, 1.5], [2.5, 3.5]], requires_grad=True)
        return graph_names(eval(expr, {"x": x, "w": w}).grad_fn)

    assert graph(ferrograd) == graph(torch)


def test_grad_fn_repr_and_fixed_structure():
    x = ferrograd.ones(2, requires_grad=True)
    y = (x * 2).sum()
    assert re.fullmatch(r"<SumBackward0 object at 0x[0-9a-f]+>", repr(y.grad_fn))
    assert graph_names(y.grad_fn) == (
        "SumBackward0",
        (
            (
                (
                    "MulBackward0",
                    (
                        (("torch::autograd::AccumulateGrad", ()), 0),
                        (None, 0),
                    ),
                ),
                0,
            ),
        ),
    )


# ---- backward -------------------------------------------------------------------------------


def test_backward_with_gradient_is_a_vector_jacobian_product():
    x = ferrograd.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x * ferrograd.tensor([1.0, 10.0, 100.0])
    y.backward(ferrograd.tensor([1.0, 0.5, 0.25]))
    # dy_i/dx_i = 2 x_i c_i
    assert x.grad.tolist() == [2.0, 20.0, 150.0]


def test_backward_gradient_dtype_is_cast_to_the_input_dtype():
    x = ferrograd.tensor([1.0, 2.0], requires_grad=True)
    (x * 2).backward(ferrograd.tensor([1.0, 10.0], dtype=ferrograd.float64))
    assert x.grad.dtype is ferrograd.float32
    assert x.grad.tolist() == [2.0, 20.0]


def test_gradients_accumulate_across_backward_calls():
    x = ferrograd.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    assert x.grad.tolist() == [5.0, 7.0]
    x.grad.zero_()
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]


def test_retain_graph_allows_a_second_backward():
    x = ferrograd.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [6.0, 12.0]
    assert error_of(y.backward) == (RuntimeError, BACKWARD_TWICE)
    assert x.grad.tolist() == [6.0, 12.0]


def test_backward_twice_through_saved_tensors_fails_with_torch_message():
    x = ferrograd.ones(2, requires_grad=True)
    y = x.exp().sum()
    y.backward()
    assert error_of(y.backward) == (RuntimeError, BACKWARD_TWICE)
    # A graph without saved tensors can be run again (as in PyTorch).
    z = (x + 1).sum()
    z.backward()
    z.backward()


def test_backward_semantics_match_torch():
    torch = torch_or_skip()

    def run(lib):
        out = []
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = (x * x * x).sum()
        y.backward(retain_graph=True)
        out.append(x.grad.tolist())
        y.backward()
        out.append(x.grad.tolist())
        out.append(error_of(y.backward))
        z = x * lib.tensor([1.0, 10.0, 100.0])
        z.backward(lib.tensor([0.5, 0.25, 2.0]))
        out.append(x.grad.tolist())
        out.append(error_of(lambda: (x * 2).backward()))
        out.append(error_of(lambda: (x * 2).backward(lib.ones(4))))
        return out

    assert run(ferrograd) == run(torch)


# ---- higher derivatives ---------------------------------------------------------------------


def test_second_derivative_with_create_graph():
    x = ferrograd.tensor(2.0, requires_grad=True)
    (g,) = autograd.grad(x**3, x, create_graph=True)
    assert g.item() == 12.0
    assert g.requires_grad and g.grad_fn is not None
    (g2,) = autograd.grad(g, x)
    assert g2.item() == 12.0  # d2/dx2 x**3 = 6x


def test_hessian_vector_product():
    x = ferrograd.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = ferrograd.tensor([1.0, 0.0, 2.0])
    (g,) = autograd.grad((x**3).sum(), x, create_graph=True)
    assert g.tolist() == [3.0, 12.0, 27.0]
    (hv,) = autograd.grad((g * v).sum(), x)
    assert hv.tolist() == [6.0, 0.0, 36.0]  # diag(6x) @ v


def test_backward_create_graph_leaves_a_differentiable_grad():
    x = ferrograd.tensor(2.0, requires_grad=True)
    (x**3).backward(create_graph=True)
    g = x.grad
    assert g.item() == 12.0 and g.requires_grad
    x.grad = None
    g.backward()
    assert x.grad.item() == 12.0


def test_higher_derivatives_match_torch():
    torch = torch_or_skip()

    def run(lib):
        x = lib.tensor([0.5, 1.5, -2.0], requires_grad=True)
        y = (x.exp() * x * x).sum()
        (g,) = lib.autograd.grad(y, x, create_graph=True)
        (h,) = lib.autograd.grad((g * lib.tensor([1.0, -1.0, 0.5])).sum(), x, create_graph=True)
        (t,) = lib.autograd.grad(h.sum(), x)
        return [g.tolist(), h.tolist(), t.tolist()]

    ours, theirs = run(ferrograd), run(torch)
    for a, b in zip(ours, theirs):
        assert a == pytest.approx(b, rel=1e-5)


# ---- autograd.grad --------------------------------------------------------------------------


def test_autograd_grad_returns_a_tuple_and_leaves_grad_alone():
    x = ferrograd.tensor([1.0, 2.0], requires_grad=True)
    w = ferrograd.tensor([3.0, 4.0], requires_grad=True)
    gx, gw = autograd.grad((x * w).sum(), [x, w])
    assert gx.tolist() == [3.0, 4.0] and gw.tolist() == [1.0, 2.0]
    assert x.grad is None and w.grad is None
    r = autograd.grad((x * w).sum(), x)
    assert isinstance(r, tuple) and len(r) == 1
    (g,) = autograd.grad(x * 2, x, grad_outputs=ferrograd.tensor([1.0, 3.0]))
    assert g.tolist() == [2.0, 6.0]


def test_autograd_grad_allow_unused_and_errors():
    x = ferrograd.ones(2, requires_grad=True)
    unused = ferrograd.ones(2, requires_grad=True)
    gx, gu = autograd.grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert gx.tolist() == [2.0, 2.0] and gu is None
    gx, gu = autograd.grad((x * 2).sum(), [x, unused], allow_unused=True, materialize_grads=True)
    assert gu.tolist() == [0.0, 0.0]
    assert error_of(lambda: autograd.grad((x * 2).sum(), [x, unused])) == (
        RuntimeError,
        "The differentiated Tensor at index 1 appears to not have been used in the graph. "
        "Set allow_unused=True if this is the desired behavior.",
    )
    assert error_of(lambda: autograd.grad((x * 2).sum(), [x, ferrograd.ones(2)])) == (
        RuntimeError,
        "One of the differentiated Tensors does not require grad",
    )
    c = ferrograd.ones(2)
    assert error_of(lambda: autograd.grad((c * 2).sum(), [c])) == (
        RuntimeError,
        "element 0 of tensors does not require grad and does not have a grad_fn",
    )
    y = x.exp().sum()
    autograd.grad(y, x)
    assert error_of(lambda: autograd.grad(y, x)) == (RuntimeError, BACKWARD_TWICE)


AUTOGRAD_GRAD_CASES = [
    "lib.autograd.grad((x * w).sum(), [x, w])",
    "lib.autograd.grad((x * 2).sum(), [x, w])",
    "lib.autograd.grad((x * 2).sum(), [w, x])",
    "lib.autograd.grad((x * 2).sum(), [x, w], allow_unused=True)",
    "lib.autograd.grad((x * 2).sum(), [x, c])",
    "lib.autograd.grad((c * 2).sum(), [c])",
    "lib.autograd.grad((c * 2).sum(), [x])",
    "lib.autograd.grad(x * 2, x)",
    "lib.autograd.grad(x * 2, x, grad_outputs=lib.ones(3))",
    "lib.autograd.grad([(x * 2).sum(), (x * w).sum()], [x])",
]


@pytest.mark.parametrize("call", AUTOGRAD_GRAD_CASES)
def test_autograd_grad_matches_torch(call):
    torch = torch_or_skip()

    def run(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        w = lib.tensor([3.0, 4.0], requires_grad=True)
        c = lib.tensor([5.0, 6.0])
        try:
            result = eval(call, {"lib": lib, "x": x, "w": w, "c": c})
        except Exception as e:
            return type(e), str(e)
        return [None if g is None else g.tolist() for g in result]

    assert run(ferrograd) == run(torch)


# ---- detach() and .data ---------------------------------------------------------------------


def test_detach_shares_storage_and_version_counter():
    x = ferrograd.tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    assert d.requires_grad is False and d.grad_fn is None and d.is_leaf
    assert d.data_ptr() == x.data_ptr()
    v = x._version
    d.add_(1.0)
    assert x.tolist() == [2.0, 3.0]
    assert x._version == v + 1  # seen by autograd


def test_data_shares_storage_but_not_the_version_counter():
    x = ferrograd.tensor([1.0, 2.0], requires_grad=True)
    d = x.data
    assert d.requires_grad is False and d.is_leaf
    assert d.data_ptr() == x.data_ptr()
    v = x._version
    d.mul_(10.0)
    assert x.tolist() == [10.0, 20.0]
    assert x._version == v  # hidden from autograd


def test_mutation_through_data_is_not_detected_but_through_detach_is():
    x = ferrograd.tensor([0.0, 1.0], requires_grad=True)
    y = x.exp()  # saves its output y
    z = y * y  # saves y twice
    y.data.mul_(2.0)
    z.sum().backward()  # silently uses the doubled values, as PyTorch does
    # dz/dx = 2y * y with every saved y doubled: 8 exp(2x)
    assert x.grad.tolist() == pytest.approx([8.0, 8.0 * 2.718281828459045**2], rel=1e-6)

    y = x.exp()
    z = y * y
    y.detach().add_(1.0)
    typ, msg = error_of(z.sum().backward)
    assert typ is RuntimeError and msg.startswith(MODIFIED_PREFIX)
    assert "is at version 1; expected version 0 instead." in msg


def test_aliasing_matches_torch():
    torch = torch_or_skip()

    def run(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        v0 = x._version
        x.detach().add_(1.0)
        v1 = x._version
        x.data.mul_(3.0)
        v2 = x._version
        return [x.tolist(), v1 - v0, v2 - v1]

    assert run(ferrograd) == run(torch)


# ---- grad modes -----------------------------------------------------------------------------


def test_no_grad_context_and_decorator():
    x = ferrograd.ones(2, requires_grad=True)
    assert ferrograd.is_grad_enabled()
    with ferrograd.no_grad():
        assert not ferrograd.is_grad_enabled()
        y = x * 2
    assert ferrograd.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None

    @ferrograd.no_grad()
    def f(t):
        assert not ferrograd.is_grad_enabled()
        return t * 2

    assert f.__name__ == "f"
    assert not f(x).requires_grad
    assert ferrograd.is_grad_enabled()


def test_no_grad_restores_the_mode_after_an_exception():
    with pytest.raises(ValueError):
        with ferrograd.no_grad():
            raise ValueError("boom")
    assert ferrograd.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x = ferrograd.ones(2, requires_grad=True)
    with ferrograd.no_grad():
        with ferrograd.enable_grad():
            assert ferrograd.is_grad_enabled()
            assert (x * 2).requires_grad
        assert not ferrograd.is_grad_enabled()
        assert not (x * 2).requires_grad

        @ferrograd.enable_grad()
        def g():
            return (x * 2).requires_grad

        assert g() is True
        assert not ferrograd.is_grad_enabled()


def test_set_grad_enabled_function_context_and_decorator():
    x = ferrograd.ones(2, requires_grad=True)
    try:
        ferrograd.set_grad_enabled(False)
        assert not ferrograd.is_grad_enabled()
        assert not (x * 2).requires_grad
    finally:
        ferrograd.set_grad_enabled(True)
    assert ferrograd.is_grad_enabled()
    with ferrograd.set_grad_enabled(False):
        assert not ferrograd.is_grad_enabled()
        with ferrograd.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not ferrograd.is_grad_enabled()
    assert ferrograd.is_grad_enabled()

    @ferrograd.set_grad_enabled(False)
    def h():
        return ferrograd.is_grad_enabled()

    assert ferrograd.is_grad_enabled()  # decorating does not change the mode
    assert h() is False
    assert ferrograd.is_grad_enabled()
    assert autograd.is_grad_enabled is ferrograd.is_grad_enabled or autograd.is_grad_enabled()


def test_grad_mode_is_thread_local():
    seen = []

    def worker():
        seen.append(ferrograd.is_grad_enabled())
        with ferrograd.no_grad():
            seen.append(ferrograd.is_grad_enabled())

    with ferrograd.no_grad():
        t = threading.Thread(target=worker)
        t.start()
        t.join()
        assert not ferrograd.is_grad_enabled()
    assert seen == [True, False]
    assert ferrograd.is_grad_enabled()


# ---- in-place ops ---------------------------------------------------------------------------

INPLACE_OPS = {
    "add_": lambda t: t.add_(1.0),
    "sub_": lambda t: t.sub_(1.0),
    "mul_": lambda t: t.mul_(2.0),
    "div_": lambda t: t.div_(2.0),
    "zero_": lambda t: t.zero_(),
    "fill_": lambda t: t.fill_(3.0),
}


def _iadd(t):
    t += 1.0


def _isub(t):
    t -= 1.0


def _imul(t):
    t *= 2.0


def _idiv(t):
    t /= 2.0


INPLACE_OPS.update({"+=": _iadd, "-=": _isub, "*=": _imul, "/=": _idiv})
INPLACE_EXPECTED = {
    "add_": [2.0, 3.0],
    "sub_": [0.0, 1.0],
    "mul_": [2.0, 4.0],
    "div_": [0.5, 1.0],
    "zero_": [0.0, 0.0],
    "fill_": [3.0, 3.0],
    "+=": [2.0, 3.0],
    "-=": [0.0, 1.0],
    "*=": [2.0, 4.0],
    "/=": [0.5, 1.0],
}


@pytest.mark.parametrize("op", list(INPLACE_OPS))
def test_inplace_on_a_leaf_requiring_grad_is_refused(op):
    x = ferrograd.tensor([1.0, 2.0], requires_grad=True)
    assert error_of(lambda: INPLACE_OPS[op](x)) == (RuntimeError, LEAF_INPLACE)
    assert x.tolist() == [1.0, 2.0] and x._version == 0


@pytest.mark.parametrize("op", list(INPLACE_OPS))
def test_inplace_on_a_leaf_under_no_grad_updates_it(op):
    x = ferrograd.tensor([1.0, 2.0], requires_grad=True)
    with ferrograd.no_grad():
        INPLACE_OPS[op](x)
    assert x.tolist() == INPLACE_EXPECTED[op]
    assert x.is_leaf and x.requires_grad and x.grad_fn is None
    assert x._version == 1


@pytest.mark.parametrize("op", list(INPLACE_OPS))
def test_inplace_on_a_leaf_matches_torch(op):
    torch = torch_or_skip()

    def run(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        err = error_of(lambda: INPLACE_OPS[op](x))
        with lib.no_grad():
            INPLACE_OPS[op](x)
        return [err, x.tolist(), x.is_leaf, x.requires_grad, x._version]

    assert run(ferrograd) == run(torch)


def test_sgd_step_under_no_grad():
    w = ferrograd.tensor([1.0, -2.0], requires_grad=True)
    lr = 0.25
    for _ in range(2):
        w.grad = None
        (w * w).sum().backward()
        with ferrograd.no_grad():
            w -= lr * w.grad
    # w <- w - lr * 2w = w / 2, twice
    assert w.tolist() == [0.25, -0.5]
    assert w.is_leaf and w.requires_grad and w.grad_fn is None


def test_sgd_step_through_data():
    w = ferrograd.tensor([1.0, -2.0], requires_grad=True)
    ptr = w.data_ptr()
    (w * w).sum().backward()
    w.data -= 0.25 * w.grad
    assert w.tolist() == [0.5, -1.0]
    assert w.data_ptr() == ptr
    assert w._version == 0  # .data writes are invisible to autograd
    w.data.add_(1.0)
    assert w.tolist() == [1.5, 0.0]


def test_sgd_steps_match_torch():
    torch = torch_or_skip()

    def run(lib):
        w = lib.tensor([1.0, -2.0, 0.5], requires_grad=True)
        x = lib.tensor([0.5, 1.0, -1.5])
        history = []
        for step in range(3):
            loss = ((w * x).sum() - 1.0) ** 2
            loss.backward()
            if step % 2:
                w.data -= 0.1 * w.grad
            else:
                with lib.no_grad():
                    w -= 0.1 * w.grad
            w.grad.zero_()
            history.append((loss.item(), w.tolist(), w._version))
        return history

    ours, theirs = run(ferrograd), run(torch)
    for (l1, w1, v1), (l2, w2, v2) in zip(ours, theirs):
        assert l1 == pytest.approx(l2, rel=1e-6)
        assert w1 == pytest.approx(w2, rel=1e-6)
        assert v1 == v2


def test_modifying_a_saved_tensor_makes_backward_fail():
    x = ferrograd.ones(3, requires_grad=True)
    y = x.exp()
    z = (y * y).sum()
    y.add_(1.0)
    typ, msg = error_of(z.backward)
    assert typ is RuntimeError
    assert msg.startswith(MODIFIED_PREFIX + "[torch.FloatTensor [3]], which is output 0 of "), msg
    assert "is at version 1; expected version 0 instead. Hint: enable anomaly detection" in msg


# PyTorch 2.x wording, checked exactly against the installed torch below.
MODIFIED_CASES = {
    # The name is that of the tensor's grad_fn now: the in-place op's (Add), not Exp.
    "exp output": (
        "y = x.exp(); z = (y * y).sum(); y.add_(1.0)",
        "[torch.FloatTensor [3]], which is output 0 of Add",
    ),
    "mul input": (
        "y = x * 2; z = (y * y).sum(); y.mul_(2.0)",
        "[torch.FloatTensor [3]], which is output 0 of Mul",
    ),
    "zeroed": (
        "y = x + 1; z = (y * y).sum(); y.zero_()",
        "[torch.FloatTensor [3]], which is output 0 of Zero",
    ),
}
MODIFIED_TAIL = (
    ", is at version 1; expected version 0 instead. Hint: enable anomaly detection to find "
    "the operation that failed to compute its gradient, with "
    "torch.autograd.set_detect_anomaly(True, check_nan=False)."
)


@pytest.mark.parametrize("case", list(MODIFIED_CASES))
def test_modified_saved_tensor_message_exact(case):
    code, middle = MODIFIED_CASES[case]
    ns = {"x": ferrograd.ones(3, requires_grad=True)}
    exec(code, ns)
    assert error_of(ns["z"].backward) == (RuntimeError, MODIFIED_PREFIX + middle + MODIFIED_TAIL)


@pytest.mark.parametrize("case", list(MODIFIED_CASES))
def test_modified_saved_tensor_message_matches_torch(case):
    torch = torch_or_skip()
    code = MODIFIED_CASES[case][0]

    def run(lib):
        ns = {"x": lib.ones(3, requires_grad=True)}
        exec(code, ns)
        return error_of(ns["z"].backward)

    assert run(ferrograd) == run(torch)


@pytest.mark.parametrize(
    "op, name",
    [
        ("add_", "AddBackward0"),
        ("sub_", "SubBackward0"),
        ("mul_", "MulBackward0"),
        ("div_", "DivBackward0"),
        ("+=", "AddBackward0"),
        ("-=", "SubBackward0"),
        ("*=", "MulBackward0"),
        ("/=", "DivBackward0"),
        ("zero_", "ZeroBackward0"),
    ],
)
def test_inplace_on_a_non_leaf_records_the_op(op, name):
    x = ferrograd.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1.0
    INPLACE_OPS[op](y)
    assert y.grad_fn.name() == name
    assert y._version == 1
    assert not y.is_leaf
    (y * ferrograd.tensor([1.0, 10.0])).sum().backward()
    expected = {
        "AddBackward0": [1.0, 10.0],
        "SubBackward0": [1.0, 10.0],
        "MulBackward0": [2.0, 20.0],
        "DivBackward0": [0.5, 5.0],
        "ZeroBackward0": [0.0, 0.0],
    }[name]
    assert x.grad.tolist() == expected


def test_inplace_with_a_tensor_operand_differentiates_both():
    x = ferrograd.tensor([1.0, 2.0], requires_grad=True)
    w = ferrograd.tensor([3.0, 4.0], requires_grad=True)
    y = x * 1.0
    y.mul_(w)
    y.add_(x)
    y.sum().backward()
    assert x.grad.tolist() == [4.0, 5.0]
    assert w.grad.tolist() == [1.0, 2.0]


@pytest.mark.parametrize("op", [op for op in INPLACE_OPS if op != "fill_"])
def test_inplace_on_a_non_leaf_matches_torch(op):
    torch = torch_or_skip()

    def run(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 1.0
        INPLACE_OPS[op](y)
        name, version = y.grad_fn.name(), y._version
        (y * lib.tensor([1.0, 10.0])).sum().backward()
        return [name, version, y.tolist(), x.grad.tolist()]

    assert run(ferrograd) == run(torch)


def test_fill_on_a_non_leaf_gives_a_zero_grad():
    x = ferrograd.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1.0
    y.fill_(3.0)
    assert y.tolist() == [3.0, 3.0] and y._version == 1
    (y * x).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]  # only through the second factor


def test_fill_node_name_matches_torch():
    x = ferrograd.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1.0
    y.fill_(3.0)
    assert y.grad_fn.name() == "FillBackward2"


FILL_TENSOR_CASES = [
    # (dst, value, dst requires grad, value requires grad)
    ("float32", "float32", True, True),
    ("float32", "float64", True, False),
    ("float64", "float32", False, True),
    ("float32", "int64", True, False),
    ("int64", "float64", False, False),
    ("bool", "float32", False, False),
]


@pytest.mark.parametrize("dst, val, dst_grad, val_grad", FILL_TENSOR_CASES)
def test_fill_with_a_zero_dim_tensor_matches_torch(dst, val, dst_grad, val_grad):
    """``fill_(tensor)``: FillBackward3, the value's grad is the sum of the grad, the old
    values' grad is zero; dtypes cast as PyTorch."""
    torch = pytest.importorskip("torch")

    def run(L):
        x = L.tensor([[0.5, -1.0, 2.0], [3.0, 0.0, -2.5]], dtype=getattr(L, dst))
        v = L.tensor(2.75, dtype=getattr(L, val))
        if dst_grad:
            x.requires_grad_()
        if val_grad:
            v.requires_grad_()
        y = x * 1 if dst_grad else x
        out = y.fill_(v)
        assert out is y
        res = [y.tolist(), str(y.dtype).split(".")[-1], y._version, y.requires_grad]
        if y.requires_grad:
            res.append(y.grad_fn.name())
            res.append([f.name() if f else None for f, _ in y.grad_fn.next_functions])
            w = L.arange(6.0).reshape(2, 3).to(y.dtype)
            (y * w).sum().backward()
            res.append(x.grad.tolist() if dst_grad and x.grad is not None else None)
            res.append(v.grad.tolist() if v.grad is not None else None)
        return res

    assert run(ferrograd) == run(torch)


@pytest.mark.parametrize(
    "value, msg",
    [
        (
            lambda L: L.ones(1),
            "fill_ only supports 0-dimension value tensor but got tensor with 1 dimensions.",
        ),
        (
            lambda L: L.ones(2, 2),
            "fill_ only supports 0-dimension value tensor but got tensor with 2 dimensions.",
        ),
    ],
)
def test_fill_with_a_tensor_that_is_not_zero_dim_is_refused(value, msg):
    x = ferrograd.zeros(2)
    assert error_of(lambda: x.fill_(value(ferrograd))) == (RuntimeError, msg)
    assert x._version == 0


@pytest.mark.parametrize("value", ["a", None])
def test_fill_with_a_non_number_is_a_type_error_as_torch(value):
    torch = pytest.importorskip("torch")
    got = error_of(lambda: ferrograd.zeros(2).fill_(value))
    want = error_of(lambda: torch.zeros(2).fill_(value))
    assert got == want


def test_inplace_through_a_view_of_a_leaf_is_refused():
    x = ferrograd.ones(2, requires_grad=True)
    v = x.view(2)
    assert error_of(lambda: v.add_(1.0)) == (
        RuntimeError,
        "a view of a leaf Variable that requires grad is being used in an in-place operation.",
    )


def test_version_counter_bumps_on_every_inplace_write():
    x = ferrograd.zeros(2)
    assert x._version == 0
    for i, op in enumerate(INPLACE_OPS, start=1):
        INPLACE_OPS[op](x)
        assert x._version == i, op
    view = x.view(1, 2)
    view.add_(1.0)
    assert x._version == view._version == len(INPLACE_OPS) + 1
    y = x + 1  # out of place: a fresh counter
    assert y._version == 0


def test_version_counter_matches_torch():
    torch = torch_or_skip()

    def run(lib):
        x = lib.zeros(2)
        out = []
        for op in INPLACE_OPS.values():
            op(x)
            out.append(x._version)
        v = x.view(1, 2)
        v.mul_(2.0)
        out.append((x._version, v._version, x.detach()._version, x.data._version))
        return out

    assert run(ferrograd) == run(torch)


# ---- long graphs and freeing ----------------------------------------------------------------

CHAIN = 100_000


def _long_chain(result):
    before = live_nodes()
    x = ferrograd.ones(3, requires_grad=True)
    y = x
    for _ in range(CHAIN):
        y = y * 1.0001
    result["during"] = live_nodes() - before
    y.sum().backward()
    result["grad"] = x.grad.tolist()
    del y
    result["after"] = live_nodes() - before


def test_long_chain_backpropagates_and_is_freed():
    result = {}
    _long_chain(result)
    assert result["during"] == CHAIN + 1  # one MulBackward0 per op and the AccumulateGrad
    expected = 1.0001**CHAIN
    assert result["grad"] == pytest.approx([expected] * 3, rel=1e-2)
    assert result["after"] == 0


def test_long_chain_in_a_thread_with_a_small_stack():
    result = {}
    previous = threading.stack_size(512 * 1024)
    try:
        t = threading.Thread(target=_long_chain, args=(result,))
        t.start()
        t.join()
    finally:
        threading.stack_size(previous)
    assert result.get("after") == 0, result
    assert result["grad"] == pytest.approx([1.0001**CHAIN] * 3, rel=1e-2)


def test_long_chain_dropped_without_backward_is_freed():
    before = live_nodes()
    x = ferrograd.ones(3, requires_grad=True)
    y = x
    for _ in range(CHAIN):
        y = y + 1.0
    assert live_nodes() - before == CHAIN + 1
    del y, x
    assert live_nodes() == before


def test_graph_is_freed_after_backward_and_dropping_outputs():
    before = live_nodes()
    x = ferrograd.tensor([1.0, 2.0], requires_grad=True)
    w = ferrograd.tensor([3.0, 4.0], requires_grad=True)
    h = (x * w).exp()
    loss = (h * h + x).mean()
    assert live_nodes() > before
    loss.backward()
    assert x.grad is not None and w.grad is not None
    del loss, h
    # Only the leaves' accumulate nodes, which live as long as the leaves, may remain.
    assert live_nodes() - before <= 2
    del x, w
    assert live_nodes() == before


def test_saved_outputs_do_not_keep_their_graph_alive():
    before = live_nodes()
    x = ferrograd.ones(4, requires_grad=True)
    y = x.exp()  # saves its own output
    z = y.exp()
    del x, y, z
    assert live_nodes() == before
