"""``Adagrad`` with learning-rate decay."""

from __future__ import annotations

import ferrograd

from ._functional import fused_step
from .optimizer import Optimizer

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    def __init__(
        self,
        params,
        lr=1e-2,
        lr_decay=0,
        weight_decay=0,
        initial_accumulator_value=0,
        eps=1e-10,
        foreach=None,
        *,
        maximize=False,
        differentiable=False,
        fused=None,
    ):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(
                f"Invalid initial_accumulator_value value: {initial_accumulator_value}"
            )
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            eps=eps,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            fused=fused,
        )
        super().__init__(params, defaults)
        # Adagrad creates its state up front, as PyTorch does.
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                state["step"] = ferrograd.tensor(0.0)
                state["sum"] = ferrograd.full_like(p, initial_accumulator_value)

    def step(self, closure=None):
        loss = None
        if closure is not None:
            with ferrograd.enable_grad():
                loss = closure()
        with ferrograd.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    state = self.state[p]
                    state["step"] += 1
                    fused_step(
                        "adagrad",
                        p,
                        p.grad,
                        [state["sum"]],
                        group["lr"],
                        group["lr_decay"],
                        group["eps"],
                        group["weight_decay"],
                        group["maximize"],
                        state["step"].item(),
                    )
        return loss
