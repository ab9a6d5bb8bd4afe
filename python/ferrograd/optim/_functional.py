"""The per-parameter update rules, PyTorch's single-tensor formulas.

``fused_step(kind, param, grad, buffers, *hyper)`` runs one update of one parameter in one
call into Rust (``_C._optim_step``), which reads the gradient and updates the parameter and
its state buffers in a single pass. The Python versions below are the same formulas written
with tensor ops: the reference the Rust kernels are tested against, and the path for
layouts the kernels do not take (non-contiguous parameters, mixed dtypes).
"""

from __future__ import annotations

import math

from ferrograd import _C

__all__ = ["fused_step"]


def _sgd(p, grad, bufs, lr, momentum, dampening, weight_decay, nesterov, maximize, first):
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad.add(p, alpha=weight_decay)
    if momentum != 0:
        buf = bufs[0]
        if first:
            buf.copy_(grad)
        else:
            buf.mul_(momentum).add_(grad, alpha=1 - dampening)
        grad = grad.add(buf, alpha=momentum) if nesterov else buf
    p.add_(grad, alpha=-lr)


def _adam(p, grad, bufs, lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled, step):
    if maximize:
        grad = -grad
    if weight_decay != 0:
        if decoupled:
            p.mul_(1 - lr * weight_decay)
        else:
            grad = grad.add(p, alpha=weight_decay)
    exp_avg, exp_avg_sq = bufs[0], bufs[1]
    exp_avg.add_(grad - exp_avg, alpha=1 - beta1)  # lerp_(grad, 1 - beta1)
    exp_avg_sq.mul_(beta2).add_(grad * grad, alpha=1 - beta2)
    bias_correction1 = 1 - beta1**step
    bias_correction2_sqrt = math.sqrt(1 - beta2**step)
    step_size = lr / bias_correction1
    second = exp_avg_sq
    if amsgrad:
        bufs[2].copy_(bufs[2].maximum(exp_avg_sq))
        second = bufs[2]
    denom = (second.sqrt() / bias_correction2_sqrt).add_(eps)
    p.add_(exp_avg / denom, alpha=-step_size)


def _rmsprop(p, grad, bufs, lr, alpha, eps, weight_decay, momentum, centered, maximize):
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad.add(p, alpha=weight_decay)
    square_avg, buf, grad_avg = bufs
    square_avg.mul_(alpha).add_(grad * grad, alpha=1 - alpha)
    if centered:
        grad_avg.add_(grad - grad_avg, alpha=1 - alpha)
        avg = (square_avg - grad_avg * grad_avg).sqrt()
    else:
        avg = square_avg.sqrt()
    avg = avg.add_(eps)
    if momentum > 0:
        buf.mul_(momentum).add_(grad / avg)
        p.add_(buf, alpha=-lr)
    else:
        p.add_(grad / avg, alpha=-lr)


def _adagrad(p, grad, bufs, lr, lr_decay, eps, weight_decay, maximize, step):
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad.add(p, alpha=weight_decay)
    clr = lr / (1 + (step - 1) * lr_decay)
    state_sum = bufs[0]
    state_sum.add_(grad * grad)
    std = state_sum.sqrt().add_(eps)
    p.add_(grad / std, alpha=-clr)


_PYTHON = {"sgd": _sgd, "adam": _adam, "rmsprop": _rmsprop, "adagrad": _adagrad}


def _fusable(p, grad, bufs):
    dtype = p.dtype
    return (
        p.is_floating_point()
        and p.is_contiguous()
        and grad.dtype == dtype
        and grad.shape == p.shape
        and all(b is None or (b.dtype == dtype and b.is_contiguous()) for b in bufs)
    )


def fused_step(kind, p, grad, bufs, *hyper):
    """One update of ``p`` (under ``no_grad``): Rust when the layouts allow, else Python."""
    if _fusable(p, grad, bufs):
        _C._optim_step(kind, p, grad, bufs, [float(h) for h in hyper])
    else:
        _PYTHON[kind](p, grad, bufs, *hyper)
