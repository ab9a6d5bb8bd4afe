"""``ferrograd.nn``: PyTorch's neural-network building blocks (``import ferrograd.nn as nn``)."""

from . import functional, init, utils
from .modules import *  # noqa: F403
from .modules import __all__ as _modules_all
from .parameter import Parameter

__all__ = ["Parameter", "functional", "init", "utils"] + list(_modules_all)
