"""Functional forms (`ferrograd.op(x, ...)`) of the tensor methods for indexing (`__getitem__`/`__setitem__`) and gather/scatter-style ops."""

__all__ = []
