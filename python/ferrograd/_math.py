"""Functional forms (`ferrograd.op(x, ...)`) of the tensor methods for pointwise math, activations, comparisons and logic."""

__all__ = []
