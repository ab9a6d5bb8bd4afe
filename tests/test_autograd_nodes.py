"""grad_fn nodes as Python objects (issue 4): one class per node name, the ``_saved_*``
attributes PyTorch exposes, and PyTorch's errors for misuse of the autograd surface
(grads of tensors that do not require grad, unused inputs, backward twice, custom backward
returning wrong grads, inference tensors in recorded computation, modified saved tensors).
Each is compared with PyTorch where it is installed and with fixed expectations always.
"""

from __future__ import annotations

import ferrograd
import numpy as np
import pytest

BACKWARD_TWICE = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward."
)
INFERENCE_SAVED = (
    "Inference tensors cannot be saved for backward. Please do not use Tensors created in "
    "inference mode in computation tracked by autograd. To work around this, you can make a "
    "clone to get a normal tensor and use it in autograd, or use `torch.no_grad()` instead of "
    "`torch.inference_mode()`."
)
INFERENCE_INPLACE = (
    "Inplace update to inference tensor outside InferenceMode is not allowed.You can make a "
    "clone to get a normal tensor before doing inplace update.See "
    "https://github.com/pytorch/rfcs/pull/17 for more details."
)
MODIFIED = (
    "one of the variables needed for gradient computation has been modified by an inplace "
    "operation: [torch.FloatTensor [2, 3]]{origin} is at version {v}; expected version 0 "
    "instead. Hint: enable anomaly detection to find the operation that failed to compute its "
    "gradient, with torch.autograd.set_detect_anomaly(True, check_nan=False)."
)


def torch_or_none():
    try:
        import torch
    except ImportError:
        return None
    return torch


def error_of(fn):
    with pytest.raises(Exception) as info:
        fn()
    return info.type.__name__, str(info.value)


# ---- node classes ----------------------------------------------------------------------------


NODE_TYPES = [
    ("x * y", "MulBackward0", "MulBackward0"),
    ("x + 1", "AddBackward0", "AddBackward0"),
    ("x.exp()", "ExpBackward0", "ExpBackward0"),
    ("x.sum()", "SumBackward0", "SumBackward0"),
    ("x.t()", "TBackward0", "TBackward0"),
    ("x.next_functions_leaf", "AccumulateGrad", "torch::autograd::AccumulateGrad"),
    ("setitem", "CopySlices", "torch::autograd::CopySlices"),
    ("copy_", "CopyBackwards", "torch::autograd::CopyBackwards"),
]


def _node_of(L, code):
    x = L.ones(2, 3, requires_grad=True)
    y = L.ones(2, 3, requires_grad=True)
    if code == "x.next_functions_leaf":
        return (x * 2).grad_fn.next_functions[0][0]
    if code == "setitem":
        z = x * 1
        z[0] = 5.0
        return z.grad_fn
    if code == "copy_":
        z = x * 1
        z.copy_(L.zeros(2, 3))
        return z.grad_fn
    return eval(code, {"x": x, "y": y}).grad_fn


@pytest.mark.parametrize("code,type_name,name", NODE_TYPES, ids=[c[0] for c in NODE_TYPES])
def test_node_class_is_named_after_the_node(code, type_name, name):
    fn = _node_of(ferrograd, code)
    assert type(fn).__name__ == type_name
    assert fn.name() == name
    assert repr(fn).startswith(f"<{type_name} object at 0x")
    assert isinstance(fn, ferrograd.autograd.graph.Node)
    # One class per name, shared by every node of that name.
    assert type(_node_of(ferrograd, code)) is type(fn)
    torch = torch_or_none()
    if torch is not None:
        tfn = _node_of(torch, code)
        assert (type(tfn).__name__, tfn.name()) == (type(fn).__name__, fn.name())


def test_custom_function_node_class():
    class Double(ferrograd.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    y = Double.apply(ferrograd.ones(2, requires_grad=True))
    assert type(y.grad_fn).__name__ == "DoubleBackward"
    assert y.grad_fn.name() == "DoubleBackward"


def test_unknown_attribute_is_an_attribute_error():
    fn = (ferrograd.ones(2, requires_grad=True) * 2).grad_fn
    with pytest.raises(AttributeError, match="'MulBackward0' object has no attribute 'nope'"):
        fn.nope  # noqa: B018
    with pytest.raises(AttributeError, match="has no attribute '_saved_nope'"):
        fn._saved_nope  # noqa: B018
    assert not hasattr(fn, "_saved_result")


# ---- _saved_* attributes --------------------------------------------------------------------

# Expressions over x, y (2x3), m (3x4), all requiring grad; the attributes ferrograd exposes
# must exist in PyTorch with equal values.
SAVED_EXPRS = [
    "x * y",
    "x * y.detach()",
    "x * 2",
    "x * 2.5",
    "x / y",
    "x / 2",
    "x + y",
    "x.add(y, alpha=2.5)",
    "x - y",
    "x ** 2",
    "x ** 2.5",
    "x.abs() ** y",
    "2 ** x",
    "x.exp()",
    "x.abs().log()",
    "x.sin()",
    "x.abs().sqrt()",
    "x.sigmoid()",
    "x.tanh()",
    "x.relu()",
    "x.abs()",
    "x.mm(m)",
    "x @ m",
    "x.mv(m[:, 0])",
    "x[0].dot(y[0])",
    "torch.addmm(y, x, m[:, :3])",
    "x.sum()",
    "x.sum(1)",
    "x.sum(1, keepdim=True)",
    "x.mean()",
    "x.mean(0)",
    "x.prod()",
    "x.prod(1)",
    "x.max()",
    "x.max(1)[0]",
    "x.amax(1)",
    "x.softmax(1)",
    "x.log_softmax(1)",
    "x.var()",
    "x.var(0)",
    "x.std(1, keepdim=True)",
    "x.norm()",
    "x.logsumexp(1)",
    "x.cumsum(1)",
    "x.cumprod(1)",
    "x.view(6)",
    "x.expand(2, 2, 3)",
    "x.transpose(0, 1)",
    "x.permute(1, 0)",
    "x.clamp(-0.5, 0.5)",
    "x.clamp(min=0)",
    "torch.where(x > 0, x, y)",
    "torch.maximum(x, y)",
    "torch.atan2(x, y)",
    "torch.nn.functional.leaky_relu(x, 0.2)",
    "torch.nn.functional.softplus(x)",
]

X = [[0.5, -1.25, 2.0], [-0.75, 1.5, 0.25]]
Y = [[1.5, 0.5, -2.0], [0.75, -1.0, 3.0]]


def _saved_attrs(L, expr):
    x = L.tensor(X, requires_grad=True)
    y = L.tensor(Y, requires_grad=True)
    m = L.arange(12.0).reshape(3, 4).requires_grad_()
    out = eval(expr, {"torch": L, "x": x, "y": y, "m": m})
    fn = out.grad_fn
    names = sorted(a for a in dir(fn) if a.startswith("_saved_"))
    return fn, names, out


def _plain(v):
    """A comparable form of a saved value (tensors: dtype name, shape, values)."""
    if hasattr(v, "tolist") and hasattr(v, "dtype"):
        return ("tensor", str(v.dtype).split(".")[-1], tuple(v.shape), v.tolist())
    if isinstance(v, tuple):
        return tuple(_plain(e) for e in v)
    return v


@pytest.mark.parametrize("expr", SAVED_EXPRS)
def test_saved_attributes_match_torch(expr):
    fn, names, _ = _saved_attrs(ferrograd, expr)
    assert names, f"{type(fn).__name__} exposes no _saved_* attribute"
    torch = torch_or_none()
    if torch is None:
        pytest.skip("PyTorch is not installed")
    tfn, tnames, _ = _saved_attrs(torch, expr)
    assert type(fn).__name__ == type(tfn).__name__
    assert set(names) <= set(tnames), set(names) - set(tnames)
    for a in names:
        ours, theirs = _plain(getattr(fn, a)), _plain(getattr(tfn, a))
        if isinstance(ours, tuple) and ours[:1] == ("tensor",):
            assert ours[:3] == theirs[:3], a
            flat = np.asarray(ours[3], dtype=np.float64).ravel()
            want = np.asarray(theirs[3], dtype=np.float64).ravel()
            np.testing.assert_allclose(flat, want, rtol=1e-6, atol=1e-7, err_msg=a)
        else:
            assert ours == theirs, (a, ours, theirs)


SAVED_FIXED = [
    ("x * y", {"_saved_self": X, "_saved_other": Y}),
    ("x * y.detach()", {"_saved_self": None, "_saved_other": Y}),
    ("x * 2", {"_saved_self": None, "_saved_other": 2}),
    ("x ** 2", {"_saved_self": X, "_saved_exponent": 2}),
    ("x ** 2.5", {"_saved_exponent": 2.5}),
    ("x.mm(m)", {"_saved_self": X, "_saved_mat2": [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]}),
    ("x + y", {"_saved_alpha": 1}),
    ("x.sum(1)", {"_saved_dim": (1,), "_saved_keepdim": False, "_saved_self_sym_sizes": (2, 3)}),
    ("x.softmax(1)", {"_saved_dim": 1}),
    ("x.var()", {"_saved_dim": None}),
]


@pytest.mark.parametrize("expr,want", SAVED_FIXED, ids=[c[0] for c in SAVED_FIXED])
def test_saved_attributes_fixed(expr, want):
    fn, names, _ = _saved_attrs(ferrograd, expr)
    assert set(want) <= set(names)
    for a, v in want.items():
        got = getattr(fn, a)
        if isinstance(got, ferrograd.Tensor):
            got = got.tolist()
        assert got == v, a


def test_saved_result_is_the_output_attached_to_its_node():
    x = ferrograd.tensor([0.0, 1.0], requires_grad=True)
    y = x.exp()
    r = y.grad_fn._saved_result
    assert r.tolist() == y.tolist()
    assert r.grad_fn == y.grad_fn and type(r.grad_fn).__name__ == "ExpBackward0"
    # A saved input is the input itself (same data, same history).
    z = x * x
    assert z.grad_fn._saved_self.data_ptr() == x.data_ptr()
    assert z.grad_fn._saved_self.requires_grad


def test_saved_values_after_backward():
    x = ferrograd.ones(3, requires_grad=True)
    y = x * x
    fn = y.grad_fn
    y.sum().backward()
    typ, msg = error_of(lambda: fn._saved_self)
    assert (typ, msg) == ("RuntimeError", BACKWARD_TWICE)
    torch = torch_or_none()
    if torch is not None:
        tx = torch.ones(3, requires_grad=True)
        ty = tx * tx
        ty.sum().backward()
        assert error_of(lambda: ty.grad_fn._saved_self) == (typ, msg)
    # retain_graph keeps them.
    y = x * x
    y.sum().backward(retain_graph=True)
    assert y.grad_fn._saved_self.tolist() == [1.0, 1.0, 1.0]


def test_reading_a_saved_tensor_checks_its_version():
    x = ferrograd.ones(2, 3, requires_grad=True)
    a = x * 1
    fn = (a * a).grad_fn
    a.add_(1.0)
    typ, msg = error_of(lambda: fn._saved_self)
    assert typ == "RuntimeError"
    assert msg == MODIFIED.format(origin=", which is output 0 of Add,", v=1)


# ---- misuse: PyTorch's errors -----------------------------------------------------------------


class _Fns:
    """Custom Functions with broken backward passes (built per library)."""

    def __init__(self, L):
        class TooFew(L.autograd.Function):
            @staticmethod
            def forward(ctx, a, b):
                return a * b

            @staticmethod
            def backward(ctx, g):
                return g

        class TooMany(L.autograd.Function):
            @staticmethod
            def forward(ctx, a):
                return a * 2

            @staticmethod
            def backward(ctx, g):
                return g, g

        class WrongShape(L.autograd.Function):
            @staticmethod
            def forward(ctx, a):
                return a * 2

            @staticmethod
            def backward(ctx, g):
                return L.ones(4)

        class SavesArg(L.autograd.Function):
            @staticmethod
            def forward(ctx, a, b):
                ctx.save_for_backward(b)
                return a * 2

            @staticmethod
            def backward(ctx, g):
                return g, None

        self.TooFew, self.TooMany, self.WrongShape, self.SavesArg = (
            TooFew,
            TooMany,
            WrongShape,
            SavesArg,
        )


def _inference(L):
    with L.inference_mode():
        return L.ones(2, 3)


# name: (code run with L, x (2x3, requires grad), i (an inference tensor), F; expected)
MISUSE = {
    "grad of a tensor without grad": (
        "y = L.ones(3); L.autograd.grad((y * 2).sum(), y)",
        ("RuntimeError", "element 0 of tensors does not require grad and does not have a grad_fn"),
    ),
    "grad wrt a tensor without grad": (
        "L.autograd.grad((x * 2).sum(), [x, L.ones(3)])",
        ("RuntimeError", "One of the differentiated Tensors does not require grad"),
    ),
    "unused input": (
        "L.autograd.grad((x * 2).sum(), [x, L.ones(2, requires_grad=True)])",
        (
            "RuntimeError",
            "The differentiated Tensor at index 1 appears to not have been used in the graph. "
            "Set allow_unused=True if this is the desired behavior.",
        ),
    ),
    "backward twice": (
        "y = (x * x).sum(); y.backward(); y.backward()",
        ("RuntimeError", BACKWARD_TWICE),
    ),
    "grad twice": (
        "y = (x.exp()).sum(); L.autograd.grad(y, x); L.autograd.grad(y, x)",
        ("RuntimeError", BACKWARD_TWICE),
    ),
    "custom backward: too few grads": (
        "F.TooFew.apply(x, x).sum().backward()",
        (
            "RuntimeError",
            "function TooFewBackward returned an incorrect number of gradients (expected 2, got 1)",
        ),
    ),
    "custom backward: too many grads": (
        "F.TooMany.apply(x).sum().backward()",
        (
            "RuntimeError",
            "function TooManyBackward returned an incorrect number of gradients "
            "(expected 1, got 2)",
        ),
    ),
    "custom backward: wrong shape": (
        "F.WrongShape.apply(x).sum().backward()",
        (
            "RuntimeError",
            "Function WrongShapeBackward returned an invalid gradient at index 0 - got [4] but "
            "expected shape compatible with [2, 3]",
        ),
    ),
    "inference tensor saved by mul": ("i * x", ("RuntimeError", INFERENCE_SAVED)),
    "inference tensor saved by mm": ("x.mm(i.t())", ("RuntimeError", INFERENCE_SAVED)),
    "inference tensor saved by div": ("x / i", ("RuntimeError", INFERENCE_SAVED)),
    "inference tensor saved by a Function": (
        "F.SavesArg.apply(x, i)",
        ("RuntimeError", INFERENCE_SAVED),
    ),
    "inference tensor saved by an in-place op": (
        "(x * 1).mul_(i)",
        ("RuntimeError", INFERENCE_SAVED),
    ),
    "in-place on an inference tensor": ("i.add_(1)", ("RuntimeError", INFERENCE_INPLACE)),
    "in-place on an inference tensor with a grad operand": (
        "i.mul_(x)",
        ("RuntimeError", INFERENCE_INPLACE),
    ),
    "zero_ on an inference tensor": ("i.zero_()", ("RuntimeError", INFERENCE_INPLACE)),
    "setitem on an inference tensor": ("i[0] = 1.0", ("RuntimeError", INFERENCE_INPLACE)),
    "requires_grad on an inference tensor": (
        "i.requires_grad_()",
        (
            "RuntimeError",
            "Setting requires_grad=True on inference tensor outside InferenceMode is not allowed.",
        ),
    ),
    "saved tensor modified: Add": (
        "y = x * 1; z = y * y; y.add_(1); z.sum().backward()",
        ("RuntimeError", MODIFIED.format(origin=", which is output 0 of Add,", v=1)),
    ),
    "saved tensor modified: Clamp1": (
        "y = x * 1; z = y * y; y.clamp_(0, 1); z.sum().backward()",
        ("RuntimeError", MODIFIED.format(origin=", which is output 0 of Clamp1,", v=1)),
    ),
    "saved tensor modified: Fill2": (
        "y = x * 1; z = y * y; y.fill_(1.0); z.sum().backward()",
        ("RuntimeError", MODIFIED.format(origin=", which is output 0 of Fill2,", v=1)),
    ),
    "saved tensor modified: CopySlices": (
        "y = x * 1; z = y * y; y[0] = 1.0; z.sum().backward()",
        (
            "RuntimeError",
            MODIFIED.format(origin=", which is output 0 of torch::autograd::CopySlices,", v=1),
        ),
    ),
    "saved output modified: Exp": (
        "y = x.exp(); y.add_(1); y.sum().backward()",
        ("RuntimeError", MODIFIED.format(origin=", which is output 0 of Exp,", v=1)),
    ),
    "saved leaf modified": (
        "z = x * x; x.detach().add_(1); z.sum().backward()",
        ("RuntimeError", MODIFIED.format(origin="", v=1)),
    ),
}


def _run_misuse(L, code):
    ns = {"L": L, "x": L.ones(2, 3, requires_grad=True), "i": _inference(L), "F": _Fns(L)}
    return error_of(lambda: exec(code, ns))


@pytest.mark.parametrize("case", list(MISUSE))
def test_misuse_errors(case):
    code, want = MISUSE[case]
    got = _run_misuse(ferrograd, code)
    assert got == want
    torch = torch_or_none()
    if torch is not None:
        assert _run_misuse(torch, code) == got


def test_modified_output_of_a_custom_function_names_the_function():
    def run(L):
        class Scale(L.autograd.Function):
            @staticmethod
            def forward(ctx, a):
                ctx.mark_dirty(a)
                return a.mul_(2)

            @staticmethod
            def backward(ctx, g):
                return g * 2

        x = L.ones(2, 3, requires_grad=True)
        y = x * 1
        z = y * y
        Scale.apply(y)
        return error_of(z.sum().backward)

    got = run(ferrograd)
    # PyTorch bumps a dirty tensor's version once more after forward: 2 here.
    assert got == ("RuntimeError", MODIFIED.format(origin=", which is output 0 of Scale,", v=2))
    torch = torch_or_none()
    if torch is not None:
        assert run(torch) == got


def test_inference_tensors_are_fine_where_not_saved():
    x = ferrograd.ones(2, 3, requires_grad=True)
    i = _inference(ferrograd)
    y = i + x  # AddBackward0 saves nothing
    assert type(y.grad_fn).__name__ == "AddBackward0"
    y.sum().backward()
    assert x.grad.tolist() == [[1.0] * 3] * 2
    assert (i * 2).tolist() == [[2.0] * 3] * 2  # nothing recorded
    assert not i.clone().is_inference()
    with ferrograd.inference_mode():
        i.add_(1)  # in-place inside inference mode is fine
    assert i.tolist() == [[2.0] * 3] * 2


# ---- once_differentiable --------------------------------------------------------------------


def _once_differentiable_run(L):
    from importlib import import_module

    once_differentiable = import_module(L.__name__ + ".autograd.function").once_differentiable

    class Sq(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = L.tensor([1.0, 2.0], requires_grad=True)
    # The incoming grad does not require grad: the result is plain data.
    (g,) = L.autograd.grad(Sq.apply(x).sum(), x, create_graph=True)
    plain = (g.tolist(), g.requires_grad, g.grad_fn is None)
    # It does: the result is differentiable only into an error.
    v = L.ones(2, requires_grad=True)
    (g,) = L.autograd.grad(Sq.apply(x), x, grad_outputs=v, create_graph=True)
    marked = (g.tolist(), g.requires_grad, g.grad_fn.name(), type(g.grad_fn).__name__)
    return plain, marked, error_of(g.sum().backward)


def test_once_differentiable():
    got = _once_differentiable_run(ferrograd)
    assert got == (
        ([2.0, 4.0], False, True),
        ([2.0, 4.0], True, "torch::autograd::Error", "Error"),
        (
            "RuntimeError",
            "trying to differentiate twice a function that was marked with @once_differentiable",
        ),
    )
    torch = torch_or_none()
    if torch is not None:
        assert _once_differentiable_run(torch) == got
