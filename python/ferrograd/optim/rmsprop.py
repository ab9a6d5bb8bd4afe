"""``RMSprop``, optionally centered and with momentum."""

from __future__ import annotations

import ferrograd

from ._functional import fused_step
from .optimizer import Optimizer

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    def __init__(
        self,
        params,
        lr=1e-2,
        alpha=0.99,
        eps=1e-8,
        weight_decay=0,
        momentum=0,
        centered=False,
        capturable=False,
        foreach=None,
        maximize=False,
        differentiable=False,
    ):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = dict(
            lr=lr,
            momentum=momentum,
            alpha=alpha,
            eps=eps,
            centered=centered,
            weight_decay=weight_decay,
            capturable=capturable,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = None
        if closure is not None:
            with ferrograd.enable_grad():
                loss = closure()
        with ferrograd.no_grad():
            for group in self.param_groups:
                momentum, centered = group["momentum"], group["centered"]
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    state = self.state[p]
                    if len(state) == 0:
                        state["step"] = ferrograd.tensor(0.0)
                        state["square_avg"] = ferrograd.zeros_like(p)
                        if momentum > 0:
                            state["momentum_buffer"] = ferrograd.zeros_like(p)
                        if centered:
                            state["grad_avg"] = ferrograd.zeros_like(p)
                    state["step"] += 1
                    bufs = [state["square_avg"]]
                    bufs.append(state["momentum_buffer"] if momentum > 0 else None)
                    bufs.append(state["grad_avg"] if centered else None)
                    fused_step(
                        "rmsprop",
                        p,
                        p.grad,
                        bufs,
                        group["lr"],
                        group["alpha"],
                        group["eps"],
                        group["weight_decay"],
                        momentum,
                        centered,
                        group["maximize"],
                    )
        return loss
