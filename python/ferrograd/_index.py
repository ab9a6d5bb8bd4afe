"""Functional forms (`ferrograd.op(x, ...)`) of the tensor methods for indexing
(`__getitem__`/`__setitem__`) and gather/scatter-style ops, with PyTorch's argument names."""

__all__ = [
    "gather",
    "index_add",
    "index_fill",
    "index_put",
    "index_put_",
    "index_select",
    "masked_fill",
    "masked_select",
    "scatter",
    "scatter_add",
    "take",
]


def index_select(input, dim, index):
    return input.index_select(dim, index)


def gather(input, dim, index, *, sparse_grad=False):
    return input.gather(dim, index, sparse_grad=sparse_grad)


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    return input.scatter(dim, index, src, value=value, reduce=reduce)


def scatter_add(input, dim, index, src):
    return input.scatter_add(dim, index, src)


def masked_fill(input, mask, value):
    return input.masked_fill(mask, value)


def masked_select(input, mask):
    return input.masked_select(mask)


def index_add(input, dim, index, source, *, alpha=1):
    return input.index_add(dim, index, source, alpha=alpha)


def index_fill(input, dim, index, value):
    return input.index_fill(dim, index, value)


def take(input, index):
    return input.take(index)


def index_put(input, indices, values, accumulate=False):
    return input.index_put(indices, values, accumulate)


def index_put_(input, indices, values, accumulate=False):
    return input.index_put_(indices, values, accumulate)
