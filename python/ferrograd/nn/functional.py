"""``ferrograd.nn.functional``: PyTorch's functional layers, activations and losses.

Everything here is built from differentiable ferrograd ops, so gradients (of any order) come
from the engine. Where a Rust kernel pays for itself it is one op with its own backward:
convolution and pooling gather their windows with ``_C._im2col`` (backward: ``col2im``) and
multiply with the GEMM; cross entropy on 2-d logits is ``_C._cross_entropy`` (log-softmax
and NLL in one pass, ``NllLossBackward0``). Argument names, defaults, errors and warnings are
PyTorch's.
"""

from __future__ import annotations

import math
import warnings

import ferrograd
from ferrograd import _C

__all__ = [
    "linear",
    "bilinear",
    "embedding",
    "one_hot",
    "dropout",
    "layer_norm",
    "batch_norm",
    "normalize",
    "pad",
    "conv1d",
    "conv2d",
    "max_pool1d",
    "max_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "relu",
    "relu_",
    "gelu",
    "silu",
    "tanh",
    "sigmoid",
    "softmax",
    "log_softmax",
    "leaky_relu",
    "leaky_relu_",
    "elu",
    "elu_",
    "softplus",
    "logsigmoid",
    "mse_loss",
    "l1_loss",
    "smooth_l1_loss",
    "huber_loss",
    "cross_entropy",
    "nll_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
]


# ---- helpers ----------------------------------------------------------------------------


def _shape_list(shape):
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _tuple(value, n, name="argument"):
    """An int or a sequence of ``n`` ints as an ``n``-tuple."""
    if isinstance(value, (list, tuple)):
        if len(value) == 1 and n > 1:
            return tuple(value) * n
        if len(value) != n:
            raise RuntimeError(
                f"expected {name} to be a single integer value or a list of {n} values"
            )
        return tuple(int(v) for v in value)
    return (int(value),) * n


def _reduction(size_average, reduce, reduction):
    """The ``reduction`` string, honouring the deprecated ``size_average``/``reduce``."""
    if size_average is None and reduce is None:
        return reduction
    legacy = _legacy_reduction(size_average, reduce)
    warnings.warn(
        "size_average and reduce args will be deprecated, please use "
        f"reduction='{legacy}' instead.",
        stacklevel=3,
    )
    return _legacy_reduction(size_average, reduce)


def _legacy_reduction(size_average, reduce):
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if size_average and reduce:
        return "mean"
    return "sum" if reduce else "none"


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _check_reduction(reduction):
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _dtype_word(t):
    return {"float32": "Float", "float64": "Double", "int64": "Long", "bool": "Bool"}[
        str(t.dtype).rsplit(".", 1)[-1]
    ]


def _c_type(t):
    """The C++ name of a tensor's element type, as PyTorch's conv messages print it."""
    return {"Float": "float", "Double": "double", "Long": "long int", "Bool": "bool"}[
        _dtype_word(t)
    ]


def _legacy_type(t):
    return f"torch.{_dtype_word(t)}Tensor"


# ---- linear layers ----------------------------------------------------------------------


def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` (``addmm`` for 2-d input, as PyTorch)."""
    if input.dim() >= 1 and weight.dim() == 2 and input.shape[-1] != weight.shape[1]:
        rows = math.prod(input.shape[:-1])
        raise RuntimeError(
            f"addmm: mat1 and mat2 shapes cannot be multiplied ({rows}x{input.shape[-1]} and "
            f"{weight.shape[1]}x{weight.shape[0]})"
        )
    if input.dtype != weight.dtype:
        raise RuntimeError(
            "mat1 and mat2 must have the same dtype, but got "
            f"{_dtype_word(input)} and {_dtype_word(weight)}"
        )
    if input.dim() == 2 and bias is not None:
        return ferrograd.addmm(bias, input, weight.t())
    out = input.matmul(weight.t())
    return out if bias is None else out + bias


def bilinear(input1, input2, weight, bias=None):
    """``y[..., o] = sum_ij x1[..., i] W[o, i, j] x2[..., j] + b[o]``."""
    if input1.shape[:-1] != input2.shape[:-1]:
        for d, (a, b) in enumerate(zip(input1.shape[:-1], input2.shape[:-1])):
            if a != b:
                raise RuntimeError(
                    f"bilinear(): input batch dimensions do not match at dim {d}: got {a} and {b}"
                )
        raise RuntimeError(
            f"bilinear(): input dimensions do not match: got {input1.dim()} and {input2.dim()}"
        )
    out_f, in1, in2 = weight.shape
    if input1.shape[-1] != in1:
        raise RuntimeError(
            f"bilinear(): input1 size does not match weight size: got {input1.shape[-1]} but "
            f"expected {in1}"
        )
    if input2.shape[-1] != in2:
        raise RuntimeError(
            f"bilinear(): input2 size does not match weight size: got {input2.shape[-1]} but "
            f"expected {in2}"
        )
    lead = input1.shape[:-1]
    x1 = input1.reshape(-1, in1)
    x2 = input2.reshape(-1, in2)
    # (N, I) @ (I, O*J) -> (N, O, J), then contract J with x2
    t = x1.matmul(weight.permute(1, 0, 2).reshape(in1, out_f * in2)).reshape(-1, out_f, in2)
    out = t.matmul(x2.unsqueeze(-1)).squeeze(-1)
    if bias is not None:
        out = out + bias
    return out.reshape(*lead, out_f)


def embedding(
    input,
    weight,
    padding_idx=None,
    max_norm=None,
    norm_type=2.0,
    scale_grad_by_freq=False,
    sparse=False,
):
    """Rows of ``weight`` picked by the integer tensor ``input``."""
    if input.dtype != ferrograd.int64:
        raise RuntimeError(
            "Expected tensor for argument #1 'indices' to have one of the following scalar "
            f"types: Long, Int; but got {_legacy_type(input)} instead (while checking "
            "arguments for embedding)"
        )
    num = weight.shape[0]
    if padding_idx is not None:
        if padding_idx > 0:
            assert padding_idx < num, "Padding_idx must be within num_embeddings"
        elif padding_idx < 0:
            assert padding_idx >= -num, "Padding_idx must be within num_embeddings"
            padding_idx = num + padding_idx
    flat = input.reshape(-1)
    if flat.numel() and (bool((flat < 0).any()) or bool((flat >= num).any())):
        raise IndexError("index out of range in self")
    if max_norm is not None:
        _embedding_renorm_(weight, flat, max_norm, norm_type)
    rows = weight.index_select(0, flat)
    if padding_idx is not None and weight.requires_grad and ferrograd.is_grad_enabled():
        # The padding row gets no gradient: route it through a detached copy.
        keep = (flat != padding_idx).unsqueeze(1)
        rows = ferrograd.where(keep, rows, rows.detach())
    return rows.reshape(*input.shape, weight.shape[1])


def _embedding_renorm_(weight, flat, max_norm, norm_type):
    with ferrograd.no_grad():
        idx = ferrograd.tensor(sorted(set(flat.tolist())), dtype=ferrograd.int64)
        rows = weight.index_select(0, idx)
        norms = rows.norm(norm_type, 1, True)
        scale = (max_norm / (norms + 1e-7)).clamp(max=1.0)
        weight.index_put_((idx,), rows * scale)


def one_hot(tensor, num_classes=-1):
    if tensor.dtype != ferrograd.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if num_classes == -1:
        num_classes = int(tensor.max().item()) + 1 if tensor.numel() else 0
    if tensor.numel() and (bool((tensor < 0).any()) or bool((tensor >= num_classes).any())):
        raise RuntimeError("Class values must be smaller than num_classes.")
    out = ferrograd.zeros(*tensor.shape, num_classes, dtype=ferrograd.int64)
    return out.scatter(-1, tensor.unsqueeze(-1), 1)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zeroes each element with probability ``p`` and scales the rest by ``1 / (1 - p)``."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        mask = ferrograd.zeros_like(input)
    else:
        mask = ferrograd.empty_like(input).bernoulli_(1.0 - p).div_(1.0 - p)
    if inplace:
        return input.mul_(mask)
    return input * mask


# ---- normalisation ----------------------------------------------------------------------


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    shape = (
        tuple(normalized_shape)
        if isinstance(normalized_shape, (list, tuple))
        else (int(normalized_shape),)
    )
    k = len(shape)
    if input.dim() < k or tuple(input.shape[input.dim() - k :]) != shape:
        raise RuntimeError(
            f"Given normalized_shape={_shape_list(shape)}, expected input with shape "
            f"[*, {_shape_list(shape)[1:-1]}], but got input of size{_shape_list(input.shape)}"
        )
    dims = tuple(range(-k, 0))
    centered = input - input.mean(dims, keepdim=True)
    var = (centered * centered).mean(dims, keepdim=True)
    out = centered / (var + eps).sqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def batch_norm(
    input,
    running_mean,
    running_var,
    weight=None,
    bias=None,
    training=False,
    momentum=0.1,
    eps=1e-5,
):
    """Normalises over every dim but dim 1 (channels), with batch statistics when training
    (updating the running ones) and the running statistics otherwise."""
    channels = input.shape[1] if input.dim() > 1 else 0
    for name, t in (("running_mean", running_mean), ("running_var", running_var)):
        if t is not None and t.numel() != channels:
            raise RuntimeError(f"{name} should contain {channels} elements not {t.numel()}")
    dims = [0] + list(range(2, input.dim()))
    shape = [1, channels] + [1] * (input.dim() - 2)
    if training:
        count = input.numel() // max(channels, 1)
        if count <= 1:
            raise ValueError(
                "Expected more than 1 value per channel when training, got input size "
                f"{input.size()}"
            )
        mean = input.mean(dims, keepdim=True)
        centered = input - mean
        var = (centered * centered).mean(dims, keepdim=True)
        if running_mean is not None:
            with ferrograd.no_grad():
                running_mean.mul_(1.0 - momentum).add_(mean.detach().reshape(-1), alpha=momentum)
                unbiased = var.detach().reshape(-1) * (count / (count - 1))
                running_var.mul_(1.0 - momentum).add_(unbiased, alpha=momentum)
        out = centered / (var + eps).sqrt()
    else:
        out = (input - running_mean.reshape(shape)) / (running_var.reshape(shape) + eps).sqrt()
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    denom = input.norm(p, dim, True).clamp(min=eps).expand_as(input)
    return input / denom


def pad(input, pad, mode="constant", value=None):
    """Constant padding: ``pad`` lists (before, after) pairs from the last dim backwards."""
    if mode != "constant":
        raise NotImplementedError(f"pad: mode '{mode}' is not supported by ferrograd yet")
    if len(pad) % 2 != 0:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.dim():
        raise RuntimeError(
            "Padding length should be less than or equal to two times the input dimension "
            f"but got padding length {len(pad)} and input of dimension {input.dim()}"
        )
    value = 0.0 if value is None else value
    out = input
    for i in range(len(pad) // 2):
        dim = input.dim() - 1 - i
        before, after = pad[2 * i], pad[2 * i + 1]
        if before < 0:
            out = out.narrow(dim, -before, out.shape[dim] + before)
            before = 0
        if after < 0:
            out = out.narrow(dim, 0, out.shape[dim] + after)
            after = 0
        parts = []
        if before:
            s = list(out.shape)
            s[dim] = before
            parts.append(ferrograd.full(s, value, dtype=out.dtype))
        parts.append(out)
        if after:
            s = list(out.shape)
            s[dim] = after
            parts.append(ferrograd.full(s, value, dtype=out.dtype))
        if len(parts) > 1:
            out = ferrograd.cat(parts, dim)
    return out


# ---- convolution and pooling ------------------------------------------------------------


def _out_size(spatial, kernel, stride, padding, dilation, ceil_mode=False):
    """Output size of a window op per spatial dim (PyTorch's rule for ``ceil_mode``: the
    last window must start inside the input or its left padding)."""
    out = []
    for size, k, s, p, d in zip(spatial, kernel, stride, padding, dilation):
        span = size + 2 * p - d * (k - 1) - 1
        o = (-(-span // s) if ceil_mode else span // s) + 1
        if ceil_mode and (o - 1) * s >= size + p:
            o -= 1
        out.append(o)
    return tuple(out)


_TABLES = {}


def _window_table(spatial, kernel, stride, padding, dilation, out_size):
    """For each (tap, output position): the flat input offset read (-1 in the padding), and
    per output position the taps inside the padded input / the input (the divisors of
    average pooling). NumPy, cached per geometry."""
    key = (spatial, kernel, stride, padding, dilation, out_size)
    hit = _TABLES.get(key)
    if hit is not None:
        return hit
    import numpy as np

    n = len(spatial)
    flat = np.zeros([math.prod(kernel), math.prod(out_size)], dtype=np.int64)
    valid = np.ones_like(flat, dtype=bool)
    in_padded = np.ones_like(flat, dtype=bool)
    taps = np.indices(kernel).reshape(n, -1)
    outs = np.indices(out_size).reshape(n, -1)
    for i in range(n):
        coord = outs[i][None, :] * stride[i] - padding[i] + taps[i][:, None] * dilation[i]
        valid &= (coord >= 0) & (coord < spatial[i])
        in_padded &= coord < spatial[i] + padding[i]
        flat = flat * spatial[i] + np.clip(coord, 0, spatial[i] - 1)
    hit = (
        np.where(valid, flat, -1),
        in_padded.sum(0).astype(np.float64),
        valid.sum(0).astype(np.float64),
    )
    _TABLES[key] = hit
    return hit


def _im2col(x, kernel, stride, padding, dilation, out_size, fill):
    """``x`` (N, C, *spatial) as (N, C, taps, positions): the window values, ``fill`` where
    a tap falls in the padding (one Rust kernel; its backward is ``col2im``)."""
    return _C._im2col(
        x, list(kernel), list(stride), list(padding), list(dilation), list(out_size), fill
    )


def _batched(input, n, name, pool=False):
    """``(input with a batch dim, whether one was added)``; PyTorch's error otherwise."""
    if input.dim() == n + 2:
        return input, False
    if input.dim() == n + 1:
        return input.unsqueeze(0), True
    if pool:
        raise RuntimeError(f"non-empty {n + 1}D or {n + 2}D (batch mode) tensor expected for input")
    raise RuntimeError(
        f"Expected {n + 1}D (unbatched) or {n + 2}D (batched) input to {name}, but got input "
        f"of size: {_shape_list(input.shape)}"
    )


def _conv_padding(padding, n, kernel, dilation, stride):
    """Per-dim (before, after) padding for an int/tuple/'valid'/'same' argument."""
    if isinstance(padding, str):
        if padding == "valid":
            return [(0, 0)] * n
        if padding != "same":
            raise ValueError(
                f"Invalid padding string '{padding}', should be one of {{'valid', 'same'}}"
            )
        if any(s != 1 for s in stride):
            raise RuntimeError("padding='same' is not supported for strided convolutions")
        out = []
        for k, d in zip(kernel, dilation):
            total = d * (k - 1)
            out.append((total // 2, total - total // 2))
        return out
    return [(p, p) for p in _tuple(padding, n, "padding")]


def _convnd(input, weight, bias, stride, padding, dilation, groups, n):
    """Convolution as ``weight @ im2col(x)`` per group (one GEMM over the batch)."""
    x, unbatched = _batched(input, n, f"conv{n}d")
    if weight.dim() != n + 2:
        raise RuntimeError(
            f"Expected {n + 2}-dimensional weight for {n + 2}-dimensional input "
            f"{_shape_list(x.shape)}, but got {weight.dim()}-dimensional weight of size "
            f"{_shape_list(weight.shape)} instead"
        )
    out_ch, in_per_group = weight.shape[0], weight.shape[1]
    kernel = tuple(weight.shape[2:])
    stride = _tuple(stride, n, "stride")
    dilation = _tuple(dilation, n, "dilation")
    pads = _conv_padding(padding, n, kernel, dilation, stride)
    if x.shape[1] != in_per_group * groups:
        raise RuntimeError(
            f"Given groups={groups}, weight of size {_shape_list(weight.shape)}, expected "
            f"input{_shape_list(x.shape)} to have {in_per_group * groups} channels, but got "
            f"{x.shape[1]} channels instead"
        )
    if bias is not None and x.dtype != bias.dtype:
        raise RuntimeError(
            f"Input type ({_c_type(x)}) and bias type ({_c_type(bias)}) should be the same"
        )
    if x.dtype != weight.dtype:
        raise RuntimeError(f"expected scalar type {_dtype_word(x)} but found {_dtype_word(weight)}")
    if any(b != a for b, a in pads):  # asymmetric ('same' with an even kernel): pad first
        flat_pad = []
        for b, a in reversed(pads):
            flat_pad += [b, a]
        x = pad(x, flat_pad)
        pads = [(0, 0)] * n
    spatial = tuple(x.shape[2:])
    padding = tuple(b for b, _ in pads)
    padded = [s + 2 * p for s, p in zip(spatial, padding)]
    effective = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    if any(p < e for p, e in zip(padded, effective)):
        raise RuntimeError(
            f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). "
            f"Kernel size: ({' x '.join(map(str, effective))}). Kernel size can't be greater "
            "than actual input size"
        )
    out_size = _out_size(spatial, kernel, stride, padding, dilation)
    cols = _im2col(x, kernel, stride, padding, dilation, out_size, 0.0)
    batch, length = x.shape[0], math.prod(out_size)
    cols = cols.reshape(batch, groups, in_per_group * math.prod(kernel), length)
    w = weight.reshape(groups, out_ch // groups, in_per_group * math.prod(kernel))
    out = w.matmul(cols).reshape(batch, out_ch, *out_size)
    if bias is not None:
        out = out + bias.reshape(out_ch, *([1] * n))
    return out.squeeze(0) if unbatched else out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 1)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 2)


def _pool_windows(input, n, name, kernel_size, stride, padding, dilation, ceil_mode, fill):
    """The windows of a pooling op: ``(x, unbatched, windows (N, C, taps, positions),
    geometry)``, with PyTorch's argument checks."""
    x, unbatched = _batched(input, n, name, pool=True)
    kernel = _tuple(kernel_size, n, "kernel_size")
    stride = kernel if stride is None or stride == [] or stride == () else _tuple(stride, n)
    padding = _tuple(padding, n, "padding")
    dilation = _tuple(dilation, n, "dilation")
    for k, p, d in zip(kernel, padding, dilation):
        if p * 2 > d * (k - 1) + 1:
            raise RuntimeError(
                "pad should be at most half of effective kernel size, but got "
                f"pad={p}, kernel_size={k} and dilation={d}"
            )
    spatial = tuple(x.shape[2:])
    out_size = _out_size(spatial, kernel, stride, padding, dilation, ceil_mode)
    if any(o <= 0 for o in out_size):
        raise RuntimeError(
            f"Given input size: ({'x'.join(map(str, x.shape[1:]))}). Calculated output size: "
            f"({'x'.join(map(str, (x.shape[1],) + out_size))}). Output size is too small"
        )
    geometry = (spatial, kernel, stride, padding, dilation, out_size)
    windows = _im2col(x, kernel, stride, padding, dilation, out_size, fill)
    return x, unbatched, windows, geometry


def _max_poolnd(input, n, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    x, unbatched, windows, geometry = _pool_windows(
        input, n, f"max_pool{n}d", kernel_size, stride, padding, dilation, ceil_mode, -math.inf
    )
    out_size = geometry[-1]
    values, which = windows.max(2)
    out = values.reshape(x.shape[0], x.shape[1], *out_size)
    if unbatched:
        out = out.squeeze(0)
    if not return_indices:
        return out
    # the flat input offset of each maximum: table[tap, position]
    table = ferrograd.tensor(_window_table(*geometry)[0])
    positions = ferrograd.arange(table.shape[1]).expand_as(which)
    indices = table.reshape(-1).take(which * table.shape[1] + positions)
    return out, indices.reshape(out.shape)


def _avg_poolnd(
    input, n, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
):
    x, unbatched, windows, geometry = _pool_windows(
        input, n, f"avg_pool{n}d", kernel_size, stride, padding, 1, ceil_mode, 0.0
    )
    out_size = geometry[-1]
    total = windows.sum(2)
    if divisor_override:
        out = total / divisor_override
    else:
        _, count_pad, count_in = _window_table(*geometry)
        counts = count_pad if count_include_pad else count_in
        if (counts == counts[0]).all():
            out = total / float(counts[0])
        else:
            out = total / ferrograd.tensor(counts.tolist(), dtype=x.dtype)
    out = out.reshape(x.shape[0], x.shape[1], *out_size)
    return out.squeeze(0) if unbatched else out


def max_pool1d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    return _max_poolnd(input, 1, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    return _max_poolnd(input, 2, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    return _avg_poolnd(input, 1, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    return _avg_poolnd(
        input, 2, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )


# ---- activations ------------------------------------------------------------------------


def relu(input, inplace=False):
    return input.relu_() if inplace else input.relu()


def relu_(input):
    return input.relu_()


def gelu(input, approximate="none"):
    return _C.gelu(input, approximate)


def silu(input, inplace=False):
    return _C.silu_(input) if inplace else _C.silu(input)


def tanh(input):
    return input.tanh()


def sigmoid(input):
    return input.sigmoid()


def leaky_relu(input, negative_slope=0.01, inplace=False):
    return (
        _C.leaky_relu_(input, negative_slope) if inplace else _C.leaky_relu(input, negative_slope)
    )


def leaky_relu_(input, negative_slope=0.01):
    return _C.leaky_relu_(input, negative_slope)


def elu(input, alpha=1.0, inplace=False):
    return _C.elu_(input, alpha) if inplace else _C.elu(input, alpha)


def elu_(input, alpha=1.0):
    return _C.elu_(input, alpha)


def softplus(input, beta=1.0, threshold=20.0):
    return _C.softplus(input, beta, threshold)


def logsigmoid(input):
    return -_C.softplus(-input, 1.0, 20.0)


def _softmax_dim(name, ndim, stacklevel):
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to "
        "include dim=X as an argument.",
        stacklevel=stacklevel,
    )
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim("softmax", input.dim(), _stacklevel)
    return input.softmax(dim, dtype=dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim("log_softmax", input.dim(), _stacklevel)
    return input.log_softmax(dim, dtype=dtype)


# ---- losses -----------------------------------------------------------------------------


def _warn_size(input, target):
    if target.size() != input.size():
        warnings.warn(
            f"Using a target size ({target.size()}) that is different to the input size "
            f"({input.size()}). This will likely lead to incorrect results due to "
            "broadcasting. Please ensure they have the same size.",
            stacklevel=3,
        )


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    reduction = _reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _warn_size(input, target)
    diff = input - target
    loss = diff * diff
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    reduction = _reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _warn_size(input, target)
    loss = (input - target).abs()
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def _smooth_l1(diff, beta):
    """``0.5 d^2 / beta`` where ``|d| < beta``, ``|d| - beta / 2`` elsewhere, written with a
    clamp so the gradient is exact on both sides."""
    a = diff.abs()
    if beta == 0.0:
        return a
    m = a.clamp(max=beta)
    return m * m * (0.5 / beta) + (a - m)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    reduction = _reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    _warn_size(input, target)
    return _reduce(_smooth_l1(input - target, beta), reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    _check_reduction(reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    _warn_size(input, target)
    loss = _smooth_l1(input - target, delta) * delta
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def _check_class_target(input, target):
    """nll_loss's checks of a class-index target against its input, in PyTorch's order."""
    if input.dim() < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.dim()})")
    if input.dim() == 1:
        _check_target_dtype(target)
        if target.dim() != 0:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        return
    if input.shape[0] != (target.shape[0] if target.dim() else 1):
        raise ValueError(
            f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
            f"({target.shape[0] if target.dim() else 1})."
        )
    if input.dim() == 2 and target.dim() > 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    expected = (input.shape[0],) + tuple(input.shape[2:])
    if input.dim() > 2 and tuple(target.shape) != expected:
        raise RuntimeError(
            f"Expected target size {_shape_list(expected)}, got {_shape_list(target.shape)}"
        )
    _check_target_dtype(target)
    if tuple(target.shape) != expected:
        raise RuntimeError(
            f"Expected target size {_shape_list(expected)}, got {_shape_list(target.shape)}"
        )


def _check_target_dtype(target):
    if target.dtype != ferrograd.int64:
        raise RuntimeError(
            f"expected target dtype to be Long or Byte, but got {_dtype_word(target)}"
        )


def _check_weight(weight, classes):
    if weight is not None and (weight.dim() != 1 or weight.numel() != classes):
        raise RuntimeError(
            f"weight tensor should be defined either for all {classes} classes or no classes "
            f"but got weight tensor of shape: {_shape_list(weight.shape)}"
        )


def _class_dim_last(x):
    """(N, C, d1, ...) -> (N * d1 * ..., C); (C,) -> (1, C); (N, C) unchanged."""
    if x.dim() == 1:
        return x.unsqueeze(0)
    if x.dim() == 2:
        return x
    return x.movedim(1, -1).reshape(-1, x.shape[1])


def _nll(logp, target, weight, ignore_index, reduction):
    """The negative log-likelihood of ``target`` under ``logp`` (log-probabilities with
    classes in dim 1). Returns ``(loss, per_sample_weight)`` so cross entropy's label
    smoothing can share the weight normalisation."""
    classes = logp.shape[1] if logp.dim() > 1 else logp.shape[0]
    _check_weight(weight, classes)
    out_shape = tuple(target.shape)
    flat_t = target.reshape(-1)
    lp = _class_dim_last(logp)
    ignored = flat_t == ignore_index
    any_ignored = bool(ignored.any()) if flat_t.numel() else False
    safe = flat_t.masked_fill(ignored, 0) if any_ignored else flat_t
    if safe.numel():
        bad = (safe < 0) | (safe >= classes)
        if bool(bad.any()):
            raise IndexError(f"Target {int(safe.masked_select(bad)[0].item())} is out of bounds.")
    picked = lp.gather(1, safe.unsqueeze(1)).squeeze(1)
    w = None
    if weight is not None:
        w = weight.index_select(0, safe)
    if any_ignored:
        keep = (~ignored).to(logp.dtype)
        w = keep if w is None else w * keep
    loss = -picked if w is None else -(picked * w)
    if reduction == "none":
        return loss.reshape(out_shape), w
    if reduction == "sum":
        return loss.sum(), w
    if w is None:
        return loss.mean(), w
    return loss.sum() / w.sum(), w


def nll_loss(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index=-100,
    reduce=None,
    reduction="mean",
):
    reduction = _reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _check_class_target(input, target)
    return _nll(input, target, weight, ignore_index, reduction)[0]


def cross_entropy(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index=-100,
    reduce=None,
    reduction="mean",
    label_smoothing=0.0,
):
    """``nll_loss(log_softmax(input, 1), target)`` for class indices; for class
    probabilities (a float target shaped like the input), ``-(target * log_softmax).sum(1)``.
    ``label_smoothing`` mixes the target with the uniform distribution, as PyTorch."""
    reduction = _reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing:g}")
    if input.dim() == 0:
        raise ValueError("Expected 1 or more dimensions (got 0)")
    class_dim = 0 if input.dim() == 1 else 1
    classes = input.shape[class_dim]
    if not input.is_floating_point():
        raise NotImplementedError(
            f"\"log_softmax_lastdim_kernel_impl\" not implemented for '{_dtype_word(input)}'"
        )
    if target.shape == input.shape and target.dtype != ferrograd.int64:
        return _cross_entropy_probs(input, target, weight, reduction, label_smoothing, class_dim)
    if target.shape == input.shape and target.dtype == ferrograd.int64 and input.dim() > 1:
        raise RuntimeError(
            "Expected floating point type for target with class probabilities, got Long"
        )
    _check_class_target(input, target)
    _check_weight(weight, classes)
    fused = _fused_cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)
    if fused is not None:
        return fused
    logp = input.log_softmax(class_dim)
    nll, w = _nll(logp, target, weight, ignore_index, reduction)
    if label_smoothing == 0.0:
        return nll
    lp = _class_dim_last(logp)
    smooth = -(lp * weight).sum(1) if weight is not None else -lp.sum(1)
    ignored = target.reshape(-1) == ignore_index
    if bool(ignored.any()):
        smooth = smooth * (~ignored).to(smooth.dtype)
    if reduction == "none":
        smooth = smooth.reshape(target.shape)
    elif reduction == "sum":
        smooth = smooth.sum()
    elif w is not None:
        smooth = smooth.sum() / w.sum()
    else:
        smooth = smooth.sum() / smooth.shape[0]
    return nll * (1.0 - label_smoothing) + smooth * (label_smoothing / classes)


def _fused_cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing):
    """The fused Rust kernel for the common case (2-d logits, class indices, no weight),
    or None where it does not apply."""
    if input.dim() != 2 or weight is not None:
        return None
    return _C._cross_entropy(input, target, ignore_index, reduction, float(label_smoothing))


def _cross_entropy_probs(input, target, weight, reduction, label_smoothing, class_dim):
    if not target.is_floating_point():
        raise RuntimeError(
            "Expected floating point type for target with class probabilities, got "
            + _dtype_word(target)
        )
    classes = input.shape[class_dim]
    _check_weight(weight, classes)
    logp = input.log_softmax(class_dim)
    if label_smoothing > 0.0:
        target = target * (1.0 - label_smoothing) + label_smoothing / classes
    prod = logp * target
    if weight is not None:
        shape = [1] * input.dim()
        shape[class_dim] = classes
        prod = prod * weight.reshape(shape)
    loss = -prod.sum(class_dim)
    if reduction == "mean":
        return loss.sum() / (input.numel() // classes if classes else 1)
    return _reduce(loss, reduction)


def binary_cross_entropy(
    input, target, weight=None, size_average=None, reduce=None, reduction="mean"
):
    reduction = _reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if target.size() != input.size():
        raise ValueError(
            f"Using a target size ({target.size()}) that is different to the input size "
            f"({input.size()}) is deprecated. Please ensure they have the same size."
        )
    if target.dtype != input.dtype:
        raise RuntimeError(f"Found dtype {_dtype_word(target)} but expected {_dtype_word(input)}")
    if input.numel() and (bool((input < 0).any()) or bool((input > 1).any())):
        raise RuntimeError("all elements of input should be between 0 and 1")
    log_p = input.log().clamp(min=-100.0)
    log_q = (1.0 - input).log().clamp(min=-100.0)
    loss = -(target * log_p + (1.0 - target) * log_q)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(
    input,
    target,
    weight=None,
    size_average=None,
    reduce=None,
    reduction="mean",
    pos_weight=None,
):
    reduction = _reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if target.size() != input.size():
        raise ValueError(
            f"Target size ({target.size()}) must be the same as input size ({input.size()})"
        )
    if not target.is_floating_point():
        raise RuntimeError(
            f"result type {_dtype_word(input)} can't be cast to the desired output type "
            f"{_dtype_word(target)}"
        )
    # (1 - t) x + lw (log(1 + exp(-x))), computed stably with m = max(-x, 0)
    m = (-input).clamp(min=0.0)
    softplus_neg = ((-m).exp() + (-input - m).exp()).log() + m
    if pos_weight is not None:
        softplus_neg = softplus_neg * ((pos_weight - 1.0) * target + 1.0)
    loss = (1.0 - target) * input + softplus_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)
