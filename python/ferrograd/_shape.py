"""Functional forms (`ferrograd.op(x, ...)`) of the tensor methods for shape and view ops,
joining and splitting, and creation functions."""

from ._C import bernoulli, cat, eye, linspace, logspace, normal, randint, randperm, stack

__all__ = [
    "bernoulli",
    "cat",
    "chunk",
    "concat",
    "concatenate",
    "diagonal",
    "eye",
    "flatten",
    "flip",
    "linspace",
    "logspace",
    "moveaxis",
    "movedim",
    "multinomial",
    "narrow",
    "normal",
    "randint",
    "randperm",
    "roll",
    "split",
    "stack",
    "swapaxes",
    "swapdims",
    "tril",
    "triu",
    "unbind",
    "unflatten",
]

concat = cat


def concatenate(tensors, axis=0, out=None):
    return cat(tensors, axis, out=out)


def flatten(input, start_dim=0, end_dim=-1):
    return input.flatten(start_dim, end_dim)


def unflatten(input, dim, sizes):
    return input.unflatten(dim, sizes)


def narrow(input, dim, start, length):
    return input.narrow(dim, start, length)


def split(tensor, split_size_or_sections, dim=0):
    return tensor.split(split_size_or_sections, dim)


def chunk(input, chunks, dim=0):
    return input.chunk(chunks, dim)


def unbind(input, dim=0):
    return input.unbind(dim)


def flip(input, dims):
    return input.flip(dims)


def roll(input, shifts, dims=None):
    return input.roll(shifts, dims)


def tril(input, diagonal=0):
    return input.tril(diagonal)


def triu(input, diagonal=0):
    return input.triu(diagonal)


def diagonal(input, offset=0, dim1=0, dim2=1):
    return input.diagonal(offset, dim1, dim2)


def movedim(input, source, destination):
    return input.movedim(source, destination)


moveaxis = movedim


def swapaxes(input, axis0, axis1):
    return input.swapaxes(axis0, axis1)


def swapdims(input, dim0, dim1):
    return input.swapdims(dim0, dim1)


def multinomial(input, num_samples, replacement=False, *, generator=None):
    return input.multinomial(num_samples, replacement)
