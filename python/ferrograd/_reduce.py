"""Functional forms (`ferrograd.op(x, ...)`) of the tensor methods for reductions, scans and softmax."""

__all__ = []
