"""Custom differentiable operations: ``class F(ferrograd.autograd.Function)``.

``forward(ctx, *args)`` runs under ``no_grad``; ``F.apply(*args)`` then records one node
(named ``FBackward``) whose backward calls ``F.backward(ctx, *grad_outputs)``. The node lives
in the Rust engine; this module only shapes the ctx object, as PyTorch's ``FunctionCtx``.
"""

import functools

from .. import _C
from .grad_mode import is_grad_enabled, no_grad

__all__ = ["Function", "FunctionCtx", "once_differentiable"]


class FunctionCtx:
    """The ``ctx`` passed to ``forward`` and ``backward``."""

    def __init__(self, needs_input_grad=()):
        self.needs_input_grad = needs_input_grad
        self.to_save = None
        self.dirty_tensors = None
        self.non_differentiable = None
        self.materialize_grads = True
        self._saved = None

    def save_for_backward(self, *tensors):
        for t in tensors:
            if t is not None and not isinstance(t, _C.Tensor):
                raise TypeError(
                    "save_for_backward can only save variables, but argument "
                    f"{tensors.index(t)} is of type {type(t).__name__}"
                )
        self.to_save = tensors

    def save_for_forward(self, *tensors):
        self._saved_for_forward = tensors

    def mark_dirty(self, *args):
        self.dirty_tensors = args

    def mark_non_differentiable(self, *args):
        self.non_differentiable = args

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)

    @property
    def saved_tensors(self):
        if self._saved is None:
            return ()
        return self._saved.unpack()


class _FunctionMeta(type):
    def __init__(cls, name, bases, attrs):
        super().__init__(name, bases, attrs)
        # PyTorch exposes the node class as F._backward_cls; only its name matters here.
        cls._backward_name = f"{name}Backward"


class Function(metaclass=_FunctionMeta):
    """Base class of custom autograd operations (``forward``/``backward`` static methods)."""

    def __init__(self, *args, **kwargs):
        raise RuntimeError(
            "Legacy autograd function with non-static forward method is deprecated. "
            "Please use new-style autograd function with static forward method."
        )

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError(
            "You must implement the forward function for custom autograd.Function."
        )

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError(
            "You must implement either the backward or vjp method for your custom "
            "autograd.Function to use it with backward mode AD."
        )

    vjp = backward

    @classmethod
    def apply(cls, *args, **kwargs):
        needs = tuple(isinstance(a, _C.Tensor) and a.requires_grad for a in args)
        ctx = FunctionCtx(needs)
        with no_grad():
            if cls.setup_context is not Function.setup_context:
                output = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, output)
            else:
                output = cls.forward(ctx, *args, **kwargs)
        if isinstance(output, list):
            output = tuple(output)
        return _C._function_record(cls, ctx, args, output)


_TWICE = "trying to differentiate twice a function that was marked with @once_differentiable"


class _DelayedError(Function):
    """Aliases its inputs; differentiating through it raises (PyTorch's ``DelayedError``)."""

    @staticmethod
    def forward(ctx, *outputs):
        return outputs if len(outputs) != 1 else outputs[0]

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError(_TWICE)


_DelayedError._backward_name = "torch::autograd::Error"


def once_differentiable(fn):
    """Marks a backward as not differentiable again: it runs without recording, and when
    ``create_graph`` would have recorded it (a grad it got requires grad) its results are
    routed through a node that raises if they are differentiated, as in PyTorch."""

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with no_grad():
            outputs = fn(ctx, *args)
        if not is_grad_enabled():
            return outputs
        if not any(isinstance(a, _C.Tensor) and a.requires_grad for a in args):
            return outputs
        single = not isinstance(outputs, tuple)
        outputs = (outputs,) if single else outputs

        def fake_requires_grad(v):
            if isinstance(v, _C.Tensor):
                v = v.detach()
                v.requires_grad = True
            return v

        wrapped = _DelayedError.apply(*[fake_requires_grad(v) for v in outputs])
        if single:
            return wrapped
        return wrapped if len(outputs) != 1 else (wrapped,)

    return wrapper
