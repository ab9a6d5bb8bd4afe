"""Gradient clipping: ``clip_grad_norm_`` and ``clip_grad_value_``."""

from __future__ import annotations

import math

import ferrograd
from ferrograd import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scales all gradients together so that their joint ``norm_type``-norm is at most
    ``max_norm``; returns that norm (before clipping) as a tensor."""
    grads = _grads(parameters)
    max_norm = float(max_norm)
    norm_type = float(norm_type)
    if not grads:
        return ferrograd.tensor(0.0)
    with ferrograd.no_grad():
        norms = [g.norm(norm_type) for g in grads]
        if norm_type == math.inf:
            total = ferrograd.stack([n.to(grads[0].dtype) for n in norms]).max()
        else:
            total = ferrograd.stack([n.to(grads[0].dtype) for n in norms]).norm(norm_type)
        value = float(total.item())
        if error_if_nonfinite and not math.isfinite(value):
            raise RuntimeError(
                f"The total norm of order {norm_type} for gradients from `parameters` is "
                "non-finite, so it cannot be clipped. To disable this error and scale the "
                "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`"
            )
        coef = max_norm / (value + 1e-6)
        if coef < 1.0 or math.isnan(coef):
            for g in grads:
                g.mul_(coef)
    return total


def clip_grad_value_(parameters, clip_value, foreach=None):
    clip_value = float(clip_value)
    with ferrograd.no_grad():
        for g in _grads(parameters):
            g.clamp_(min=-clip_value, max=clip_value)
