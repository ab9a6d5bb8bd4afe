"""``SGD`` with momentum, dampening, Nesterov momentum, weight decay and ``maximize``."""

from __future__ import annotations

import ferrograd

from ._functional import fused_step
from .optimizer import Optimizer, required

__all__ = ["SGD"]


class SGD(Optimizer):
    def __init__(
        self,
        params,
        lr=1e-3,
        momentum=0,
        dampening=0,
        weight_decay=0,
        nesterov=False,
        *,
        maximize=False,
        foreach=None,
        differentiable=False,
        fused=None,
    ):
        if lr is not required and lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
            foreach=foreach,
            differentiable=differentiable,
            fused=fused,
        )
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = None
        if closure is not None:
            with ferrograd.enable_grad():
                loss = closure()
        with ferrograd.no_grad():
            for group in self.param_groups:
                lr, momentum = group["lr"], group["momentum"]
                dampening, nesterov = group["dampening"], group["nesterov"]
                weight_decay, maximize = group["weight_decay"], group["maximize"]
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if momentum != 0 and buf is None:
                        # the first step starts the buffer at the (decayed) gradient
                        state["momentum_buffer"] = buf = ferrograd.zeros_like(p)
                        first = True
                    else:
                        first = False
                    fused_step(
                        "sgd",
                        p,
                        p.grad,
                        [buf] if buf is not None else [],
                        lr,
                        momentum,
                        dampening,
                        weight_decay,
                        nesterov,
                        maximize,
                        first,
                    )
        return loss
