"""Functional forms (``ferrograd.op(x, ...)``) of the tensor methods for reductions, scans and
softmax, with PyTorch's argument names and defaults (``sum``, ``mean`` and ``norm`` are in
``__init__``)."""

from ._C import Tensor

__all__ = [
    "prod",
    "max",
    "min",
    "amax",
    "amin",
    "argmax",
    "argmin",
    "var",
    "std",
    "logsumexp",
    "cumsum",
    "cumprod",
    "softmax",
    "log_softmax",
    "all",
    "any",
]


def prod(input, dim=None, keepdim=None, *, dtype=None):
    return input.prod(dim, keepdim, dtype=dtype)


def _extreme(name, input, dim, keepdim, other):
    # With a tensor as `other` (or as the second positional argument) the method delegates
    # to ferrograd.maximum / minimum.
    if other is not None:
        if dim is not None or keepdim is not None:
            raise TypeError(
                f"{name}() received an invalid combination of arguments - got "
                "(Tensor, Tensor, ...), but expected one of:\n"
                " * (Tensor input, *, Tensor out = None)\n"
                " * (Tensor input, Tensor other, *, Tensor out = None)\n"
                " * (Tensor input, int dim, bool keepdim = False, *, tuple of Tensors out = None)\n"
            )
        if not isinstance(other, Tensor):
            raise TypeError(
                f"{name}(): argument 'other' must be Tensor, not {type(other).__name__}"
            )
        dim = other
    return getattr(input, name)(dim, keepdim)


def max(input, dim=None, keepdim=None, *, other=None):  # noqa: A001
    """``max(input)``, ``max(input, dim, keepdim=False)`` or ``max(input, other)``."""
    return _extreme("max", input, dim, keepdim, other)


def min(input, dim=None, keepdim=None, *, other=None):  # noqa: A001
    """``min(input)``, ``min(input, dim, keepdim=False)`` or ``min(input, other)``."""
    return _extreme("min", input, dim, keepdim, other)


def amax(input, dim=(), keepdim=False):
    return input.amax(dim, keepdim)


def amin(input, dim=(), keepdim=False):
    return input.amin(dim, keepdim)


def argmax(input, dim=None, keepdim=False):
    return input.argmax(dim, keepdim)


def argmin(input, dim=None, keepdim=False):
    return input.argmin(dim, keepdim)


def var(input, dim=None, unbiased=None, keepdim=None, *, correction=None):
    return input.var(dim, unbiased, keepdim, correction=correction)


def std(input, dim=None, unbiased=None, keepdim=None, *, correction=None):
    return input.std(dim, unbiased, keepdim, correction=correction)


def logsumexp(input, dim, keepdim=False):
    return input.logsumexp(dim, keepdim)


def cumsum(input, dim, *, dtype=None):
    return input.cumsum(dim, dtype=dtype)


def cumprod(input, dim, *, dtype=None):
    return input.cumprod(dim, dtype=dtype)


def softmax(input, dim, dtype=None):
    return input.softmax(dim, dtype)


def log_softmax(input, dim, dtype=None):
    return input.log_softmax(dim, dtype)


def all(input, dim=None, keepdim=None):  # noqa: A001
    return input.all(dim, keepdim)


def any(input, dim=None, keepdim=None):  # noqa: A001
    return input.any(dim, keepdim)
