"""Functional forms (`ferrograd.op(x, ...)`) of the tensor methods for shape and view ops, joining and splitting, and creation functions."""

__all__ = []
