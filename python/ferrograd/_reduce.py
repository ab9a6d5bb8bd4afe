"""Functional forms (``ferrograd.op(x, ...)``) of the tensor methods for reductions, scans and
softmax, with PyTorch's argument names and defaults (``norm`` is in ``__init__``)."""

from ._C import Tensor

__all__ = [
    "sum",
    "mean",
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


_NO_DIM = object()

# PyTorch's overloads of sum / mean, as its argument parser lists them: (method, function).
_SUM_OVERLOADS = (
    (
        "(*, torch.dtype dtype = None)",
        "(tuple of ints dim, bool keepdim = False, *, torch.dtype dtype = None)",
    ),
    (
        "(Tensor input, *, torch.dtype dtype = None)",
        "(Tensor input, tuple of ints dim, bool keepdim = False, *, torch.dtype dtype = None, "
        "Tensor out = None)",
    ),
)
_OVERLOADS = {
    "sum": _SUM_OVERLOADS,
    "mean": (
        _SUM_OVERLOADS[0],
        (
            "(Tensor input, *, torch.dtype dtype = None, Tensor out = None)",
            _SUM_OVERLOADS[1][1],
        ),
    ),
}


def _keepdim_without_dim(name, keepdim, dtype, function):
    """PyTorch has no overload of sum / mean taking ``keepdim`` without ``dim``: its error.
    (``ferrograd.mean(x, keepdim=..., dtype=...)`` lists the keywords in that order reversed,
    as PyTorch does; it cannot see the order they were given in.)"""
    kind = type(keepdim).__name__
    if dtype is not _NO_DIM:
        if not (function and name == "mean"):
            return TypeError(f'{name}() missing 1 required positional arguments: "dim"')
        dkind = "NoneType" if dtype is None else "torch.dtype"
        got = f"Tensor, dtype={dkind}, keepdim={kind}"
    else:
        got = f"Tensor, keepdim={kind}" if function else f"keepdim={kind}, "
    expected = "".join(f" * {o}\n" for o in _OVERLOADS[name][function])
    return TypeError(
        f"{name}() received an invalid combination of arguments - got ({got}), "
        f"but expected one of:\n{expected}"
    )


def _reduce(method, input, dim, keepdim, dtype, function):
    name = method.__name__
    if dim is _NO_DIM:
        if keepdim is not _NO_DIM:
            raise _keepdim_without_dim(name, keepdim, dtype, function)
        return method(input, dtype=None if dtype is _NO_DIM else dtype)
    if dim is None:
        dim = tuple(range(input.dim()))
    keepdim = False if keepdim is _NO_DIM else keepdim
    return method(input, dim, keepdim, dtype=None if dtype is _NO_DIM else dtype)


def _dim_overload(method):
    """``x.sum(dim=None)`` is PyTorch's dim overload (SumBackward1 / MeanBackward1) over all
    dims, unlike ``x.sum()``; the binding cannot tell an explicit None from no argument, so
    an explicit None is passed on as every dim. ``keepdim`` without ``dim`` is refused, as
    PyTorch does."""

    def wrapper(self, dim=_NO_DIM, keepdim=_NO_DIM, *, dtype=_NO_DIM):
        return _reduce(method, self, dim, keepdim, dtype, function=False)

    wrapper.__name__ = method.__name__
    wrapper.__qualname__ = f"Tensor.{method.__name__}"
    wrapper.__doc__ = method.__doc__
    return wrapper


_SUM, _MEAN = Tensor.sum, Tensor.mean
Tensor.sum = _dim_overload(_SUM)
Tensor.mean = _dim_overload(_MEAN)


def sum(input, dim=_NO_DIM, keepdim=_NO_DIM, *, dtype=_NO_DIM):  # noqa: A001
    return _reduce(_SUM, input, dim, keepdim, dtype, function=True)


def mean(input, dim=_NO_DIM, keepdim=_NO_DIM, *, dtype=_NO_DIM):
    return _reduce(_MEAN, input, dim, keepdim, dtype, function=True)


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
