"""``ferrograd.autograd.graph``: the backward graph's node class.

``Node`` is the base class of every ``grad_fn``; each node name (``MulBackward0``, ...) has
its own subclass, made on first use, as in PyTorch (``type(y.grad_fn).__name__``).
"""

from .._C import Node

__all__ = ["Node"]
