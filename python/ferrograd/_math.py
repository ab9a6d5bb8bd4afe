"""Functional forms (`ferrograd.op(x, ...)`) of the tensor methods for pointwise math,
activations, comparisons and logic.

Most are type-checked functions of ``ferrograd._C`` (so ``ferrograd.exp(1.0)`` raises
PyTorch's TypeError); the rest delegate to the tensor method. Activations that PyTorch keeps
out of its top-level namespace (``gelu``, ``silu``, ``softplus``, ``elu``, ``leaky_relu`` and
their in-place forms) are importable from this module for ``nn.functional``, but are not
exported.
"""

from ._C import (  # noqa: A004
    Tensor,
    abs,
    absolute,
    acos,
    arccos,
    arcsin,
    arctan,
    arctan2,
    asin,
    atan,
    atan2,
    bitwise_not,
    ceil,
    clamp,
    cos,
    cosh,
    elu,
    elu_,
    erf,
    exp,
    expm1,
    fix,
    floor,
    frac,
    isfinite,
    isinf,
    isnan,
    leaky_relu,
    leaky_relu_,
    log,
    log1p,
    log2,
    log10,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    maximum,
    minimum,
    neg,
    negative,
    reciprocal,
    relu,
    rsqrt,
    sgn,
    sigmoid,
    sign,
    silu,
    silu_,
    sin,
    sinh,
    softplus,
    sqrt,
    square,
    tan,
    tanh,
    trunc,
    where,
)
from ._C import gelu as _gelu

__all__ = [
    "abs",
    "abs_",
    "absolute",
    "acos",
    "acos_",
    "arccos",
    "arccos_",
    "arcsin",
    "arcsin_",
    "arctan",
    "arctan2",
    "arctan_",
    "asin",
    "asin_",
    "atan",
    "atan2",
    "atan_",
    "bitwise_and",
    "bitwise_not",
    "bitwise_or",
    "bitwise_xor",
    "ceil",
    "ceil_",
    "clamp",
    "clamp_",
    "clamp_max",
    "clamp_max_",
    "clamp_min",
    "clamp_min_",
    "clip",
    "clip_",
    "cos",
    "cos_",
    "cosh",
    "cosh_",
    "div",
    "divide",
    "erf",
    "erf_",
    "exp",
    "exp_",
    "expm1",
    "expm1_",
    "fix",
    "fix_",
    "floor",
    "floor_",
    "floor_divide",
    "frac",
    "frac_",
    "greater",
    "greater_equal",
    "isfinite",
    "isinf",
    "isnan",
    "less",
    "less_equal",
    "log",
    "log10",
    "log10_",
    "log1p",
    "log1p_",
    "log2",
    "log2_",
    "log_",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "maximum",
    "minimum",
    "neg",
    "neg_",
    "negative",
    "negative_",
    "not_equal",
    "reciprocal",
    "reciprocal_",
    "relu",
    "relu_",
    "remainder",
    "round",
    "round_",
    "rsqrt",
    "rsqrt_",
    "sgn",
    "sigmoid",
    "sigmoid_",
    "sign",
    "sin",
    "sin_",
    "sinh",
    "sinh_",
    "sqrt",
    "sqrt_",
    "square",
    "square_",
    "tan",
    "tan_",
    "tanh",
    "tanh_",
    "true_divide",
    "trunc",
    "trunc_",
    "where",
]

# `Tensor.div` / `div_` are bound in src/python/tensor.rs without `rounding_mode`; the
# `divide` / `divide_` methods of this family take it, and PyTorch's `div` is `divide`.
Tensor.div = Tensor.divide
Tensor.div_ = Tensor.divide_

_ABSENT = object()


def div(input, other, *, rounding_mode=_ABSENT):
    # An explicit ``rounding_mode=None`` selects PyTorch's rounding-mode overload (its node
    # is DivBackward2), so "not given" and None differ.
    if rounding_mode is _ABSENT:
        return input.divide(other)
    return input.divide(other, rounding_mode=rounding_mode)


divide = div


def true_divide(input, other):
    return input.divide(other)


def floor_divide(input, other):
    return input.floor_divide(other)


def remainder(input, other):
    if isinstance(input, Tensor):
        return input.remainder(other)
    return other.__rmod__(input)


def bitwise_and(input, other):
    return input.bitwise_and(other) if isinstance(input, Tensor) else other.bitwise_and(input)


def bitwise_or(input, other):
    return input.bitwise_or(other) if isinstance(input, Tensor) else other.bitwise_or(input)


def bitwise_xor(input, other):
    return input.bitwise_xor(other) if isinstance(input, Tensor) else other.bitwise_xor(input)


def clip(input, min=None, max=None):  # noqa: A002
    return clamp(input, min, max)


def clamp_(input, min=None, max=None):  # noqa: A002
    return input.clamp_(min, max)


clip_ = clamp_


def clamp_min(input, min):  # noqa: A002
    return input.clamp_min(min)


def clamp_min_(input, min):  # noqa: A002
    return input.clamp_min_(min)


def clamp_max(input, max):  # noqa: A002
    return input.clamp_max(max)


def clamp_max_(input, max):  # noqa: A002
    return input.clamp_max_(max)


def round(input, *, decimals=0):  # noqa: A001
    return input.round(decimals=decimals)


def round_(input, *, decimals=0):
    return input.round_(decimals=decimals)


def greater(input, other):
    return input.greater(other)


def greater_equal(input, other):
    return input.greater_equal(other)


def less(input, other):
    return input.less(other)


def less_equal(input, other):
    return input.less_equal(other)


def not_equal(input, other):
    return input.not_equal(other)


def _inplace(name):
    def fn(input):
        return getattr(input, name)()

    fn.__name__ = fn.__qualname__ = name
    return fn


# PyTorch's functional in-place forms (``torch.exp_(x)``).
exp_ = _inplace("exp_")
expm1_ = _inplace("expm1_")
log_ = _inplace("log_")
log1p_ = _inplace("log1p_")
log2_ = _inplace("log2_")
log10_ = _inplace("log10_")
sqrt_ = _inplace("sqrt_")
rsqrt_ = _inplace("rsqrt_")
square_ = _inplace("square_")
sin_ = _inplace("sin_")
cos_ = _inplace("cos_")
tan_ = _inplace("tan_")
asin_ = _inplace("asin_")
acos_ = _inplace("acos_")
atan_ = _inplace("atan_")
arcsin_ = _inplace("arcsin_")
arccos_ = _inplace("arccos_")
arctan_ = _inplace("arctan_")
sinh_ = _inplace("sinh_")
cosh_ = _inplace("cosh_")
tanh_ = _inplace("tanh_")
sigmoid_ = _inplace("sigmoid_")
relu_ = _inplace("relu_")
erf_ = _inplace("erf_")
floor_ = _inplace("floor_")
ceil_ = _inplace("ceil_")
trunc_ = _inplace("trunc_")
fix_ = _inplace("fix_")
frac_ = _inplace("frac_")
neg_ = _inplace("neg_")
negative_ = _inplace("negative_")
reciprocal_ = _inplace("reciprocal_")
abs_ = _inplace("abs_")


def gelu(input, approximate="none"):
    return _gelu(input, approximate)


# Not exported (PyTorch has them in ``torch.nn.functional`` / ``torch._C._nn`` only).
_ACTIVATIONS = (gelu, silu, silu_, softplus, elu, elu_, leaky_relu, leaky_relu_)
