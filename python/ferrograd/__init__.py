"""ferrograd: PyTorch's eager autograd API with a Rust engine. ``import ferrograd as torch``.

Everything heavy lives in the Rust extension ``ferrograd._C``; this package gives it
PyTorch's namespace: dtypes, creation functions, functional aliases of tensor methods,
``no_grad`` and ``autograd``.
"""

from . import _C, autograd
from ._C import (  # noqa: A004
    Tensor,
    arange,
    bool,
    dtype,
    empty,
    float32,
    float64,
    full,
    get_num_threads,
    initial_seed,
    int64,
    is_grad_enabled,
    manual_seed,
    ones,
    rand,
    randn,
    set_num_threads,
    tensor,
    zeros,
)
from ._size import Size
from ._tensor_str import get_printoptions, printoptions, set_printoptions
from .autograd import (
    enable_grad,
    inference_mode,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)

# PyO3 names the type "ferrograd.Tensor" at C level; Python's own messages ("unsupported
# operand type(s) for +: 'Tensor' and 'str'") use that name, and PyTorch's say 'Tensor'.
# Renaming a heap type keeps its __module__, so the class still prints as ferrograd.Tensor.
Tensor.__name__ = "Tensor"

float = float32  # noqa: A001
double = float64
long = int64

__version__ = "0.1.0"


def from_numpy(ndarray):
    """A tensor sharing ``ndarray``'s memory (float64, float32, int64 or bool)."""
    return _C.from_numpy(ndarray)


def from_dlpack(ext_tensor):
    """A tensor sharing the memory of any DLPack producer (or of a DLPack capsule)."""
    if hasattr(ext_tensor, "__dlpack__"):
        device = ext_tensor.__dlpack_device__()
        if int(device[0]) != 1:
            raise BufferError(
                f"ferrograd.from_dlpack: only CPU tensors (kDLCPU = 1) can be shared, got "
                f"device {tuple(device)}"
            )
        try:
            capsule = ext_tensor.__dlpack__(max_version=(1, 0))
        except TypeError:  # a producer older than DLPack 1.0
            capsule = ext_tensor.__dlpack__()
    else:
        capsule = ext_tensor
    return _C._from_dlpack_capsule(capsule)


def as_tensor(data, dtype=None, device=None):
    """``data`` as a tensor, sharing memory where it can (tensors, NumPy arrays)."""
    if device is not None and str(device) != "cpu":
        raise RuntimeError(f"ferrograd only supports the 'cpu' device, got '{device}'")
    if isinstance(data, Tensor):
        return data if dtype is None or dtype == data.dtype else data.to(dtype)
    if type(data).__module__ == "numpy" and type(data).__name__ == "ndarray":
        if str(data.dtype) in ("float64", "float32", "int64", "bool") and data.dtype.isnative:
            if not [s for s in data.strides if s < 0 or s % data.itemsize]:
                t = _C.from_numpy(data)
                return t if dtype is None or dtype == t.dtype else t.to(dtype)
    return tensor(data, dtype=dtype)


def is_tensor(obj):
    return isinstance(obj, Tensor)


def is_floating_point(input):
    return input.is_floating_point()


def numel(input):
    return input.numel()


def get_default_dtype():
    return float32


# ---- *_like creation ------------------------------------------------------------------


def ones_like(input, *, dtype=None, requires_grad=False, **_ignored):
    return _C._like("ones", input, None, dtype, requires_grad)


def zeros_like(input, *, dtype=None, requires_grad=False, **_ignored):
    return _C._like("zeros", input, None, dtype, requires_grad)


def empty_like(input, *, dtype=None, requires_grad=False, **_ignored):
    return _C._like("empty", input, None, dtype, requires_grad)


def full_like(input, fill_value, *, dtype=None, requires_grad=False, **_ignored):
    return _C._like("full", input, fill_value, dtype, requires_grad)


def rand_like(input, *, dtype=None, requires_grad=False, **_ignored):
    return _C._like("rand", input, None, dtype, requires_grad)


def randn_like(input, *, dtype=None, requires_grad=False, **_ignored):
    return _C._like("randn", input, None, dtype, requires_grad)


# ---- functional forms of tensor methods -------------------------------------------------


def add(input, other, *, alpha=None):
    return input.add(other, alpha=alpha) if isinstance(input, Tensor) else other.add(input)


def sub(input, other, *, alpha=None):
    return input.sub(other, alpha=alpha)


def mul(input, other):
    return input.mul(other) if isinstance(input, Tensor) else other.mul(input)


def div(input, other):
    return input.div(other)


true_divide = div
multiply = mul
subtract = sub
Tensor.multiply = Tensor.mul
Tensor.multiply_ = Tensor.mul_
Tensor.subtract = Tensor.sub
Tensor.subtract_ = Tensor.sub_


def zero_(input):
    return input.zero_()


def fill_(input, value):
    return input.fill_(value)


class memory_format:
    """PyTorch's memory-format markers: ``clone`` lays its copy out row-major for
    ``contiguous_format`` and as PyTorch's ``preserve_format`` otherwise; other uses accept
    and ignore them."""

    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return f"ferrograd.{self._name}"


contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")


def pow(input, exponent):  # noqa: A001
    if isinstance(input, Tensor):
        return input.pow(exponent)
    if not isinstance(exponent, Tensor):
        # Not Python's int ** int: PyTorch has no pow overload for two numbers.
        raise TypeError(
            f"pow() received an invalid combination of arguments - got "
            f"({type(input).__name__}, {type(exponent).__name__}), but expected one of: "
            "(Tensor input, Tensor exponent), (Number self, Tensor exponent), "
            "(Tensor input, Number exponent)"
        )
    return exponent.__rpow__(input)


def neg(input):
    return input.neg()


def exp(input):
    return input.exp()


def log(input):
    return input.log()


def sqrt(input):
    return input.sqrt()


def abs(input):  # noqa: A001
    return input.abs()


def reciprocal(input):
    return input.reciprocal()


def sign(input):
    return input.sign()


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    return input.norm(p, dim, keepdim, dtype)


def reshape(input, shape):
    return input.reshape(shape)


def clone(input):
    return input.clone()


def eq(input, other):
    return input.eq(other)


def ne(input, other):
    return input.ne(other)


def lt(input, other):
    return input.lt(other)


def le(input, other):
    return input.le(other)


def gt(input, other):
    return input.gt(other)


def ge(input, other):
    return input.ge(other)


def transpose(input, dim0, dim1):
    return input.transpose(dim0, dim1)


def t(input):
    return input.t()


from . import nn, optim, utils, viz  # noqa: E402
from ._index import *  # noqa: E402,F403
from ._linalg import *  # noqa: E402,F403
from ._math import *  # noqa: E402,F403
from ._reduce import *  # noqa: E402,F403
from ._shape import *  # noqa: E402,F403
from .serialization import load, save  # noqa: E402
from .utils.data._random import Generator  # noqa: E402
