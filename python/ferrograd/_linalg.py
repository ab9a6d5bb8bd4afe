"""Functional forms of the linear-algebra and dim-reordering tensor methods."""

from ._C import einsum

__all__ = [
    "matmul",
    "mm",
    "bmm",
    "mv",
    "dot",
    "outer",
    "addmm",
    "einsum",
    "permute",
    "unsqueeze",
    "squeeze",
]


def matmul(input, other):
    return input.matmul(other)


def mm(input, mat2):
    return input.mm(mat2)


def bmm(input, mat2):
    return input.bmm(mat2)


def mv(input, vec):
    return input.mv(vec)


def dot(input, tensor):
    return input.dot(tensor)


def outer(input, vec2):
    return input.outer(vec2)


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    return input.addmm(mat1, mat2, beta=beta, alpha=alpha)


def permute(input, dims):
    return input.permute(dims)


def unsqueeze(input, dim):
    return input.unsqueeze(dim)


def squeeze(input, dim=None):
    return input.squeeze(dim)
