"""``nn.Parameter``: a Tensor subclass that modules register as a parameter."""

from __future__ import annotations

import ferrograd
from ferrograd import Tensor

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A tensor that is a module parameter: assigning it as a module attribute registers it.

    It shares ``data``'s storage (no copy) and requires grad by default. Operations on a
    parameter give plain tensors, as in PyTorch.
    """

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            data = ferrograd.empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(
                f"Parameter.__new__ expected a Tensor as data, got {type(data).__name__}"
            )
        return Tensor._make_subclass(cls, data, requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(self.detach().clone(), self.requires_grad)
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol):
        return (type(self), (self.detach().clone(), self.requires_grad))
