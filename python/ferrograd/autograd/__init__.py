"""``ferrograd.autograd``: ``backward``, ``grad`` and grad modes; the engine is in Rust."""

from .. import _C
from .._C import Tensor
from . import anomaly_mode, function, grad_mode, graph
from .anomaly_mode import detect_anomaly, set_detect_anomaly
from .function import Function, FunctionCtx, once_differentiable
from .grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)

__all__ = [
    "anomaly_mode",
    "function",
    "functional",
    "grad_mode",
    "graph",
    "gradcheck",
    "gradgradcheck",
    "FunctionCtx",
    "is_inference_mode_enabled",
    "backward",
    "grad",
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "is_grad_enabled",
    "inference_mode",
    "Function",
    "once_differentiable",
    "detect_anomaly",
    "set_detect_anomaly",
]


def _as_list(x):
    if x is None:
        return None
    if isinstance(x, Tensor):
        return [x]
    return list(x)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulates d(tensors)/d(leaves) into the leaves' ``.grad``."""
    tensors = _as_list(tensors)
    grads = _as_list(grad_tensors)
    _C._run_backward(tensors, grads, retain_graph, create_graph, _as_list(inputs))


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph=None,
    create_graph=False,
    only_inputs=True,
    allow_unused=None,
    is_grads_batched=False,
    materialize_grads=False,
):
    """Returns the gradients of ``outputs`` with respect to ``inputs`` (a tuple)."""
    if is_grads_batched:
        raise RuntimeError("autograd.grad(is_grads_batched=True) is not supported yet")
    if materialize_grads and allow_unused is False:
        raise ValueError(
            "Expected allow_unused to be True or not passed when materialize_grads=True, "
            "but got: allow_unused=False."
        )
    if allow_unused is None:
        allow_unused = materialize_grads
    outs = _as_list(outputs)
    ins = _as_list(inputs)
    result = _C._run_grad(
        outs, ins, _as_list(grad_outputs), retain_graph, create_graph, allow_unused
    )
    if materialize_grads:
        from .. import zeros_like

        result = [zeros_like(i) if g is None else g for g, i in zip(result, ins)]
    return tuple(result)


from . import functional  # noqa: E402
from .gradcheck import gradcheck, gradgradcheck  # noqa: E402
