"""Grad-mode context managers (thread-local, like PyTorch's), usable as decorators."""

import functools

from .. import _C

__all__ = [
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "is_grad_enabled",
    "inference_mode",
    "is_inference_mode_enabled",
]

is_inference_mode_enabled = _C.is_inference_mode_enabled

is_grad_enabled = _C.is_grad_enabled


class _GradModeContext:
    """Base: a context manager that is also a decorator (a fresh context per call)."""

    _enabled = True

    def __enter__(self):
        self._prev = _C.is_grad_enabled()
        _C._set_grad_enabled(self._enabled)

    def __exit__(self, exc_type, exc_value, traceback):
        _C._set_grad_enabled(self._prev)
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return func(*args, **kwargs)

        return wrapper

    def clone(self):
        return self.__class__()


class no_grad(_GradModeContext):
    """Disables gradient recording inside the block (or the decorated function)."""

    _enabled = False

    def __init__(self):
        pass  # no arguments, as PyTorch's (and no super() call: entering is on hot paths)


class enable_grad(_GradModeContext):
    """Enables gradient recording inside the block (or the decorated function)."""

    _enabled = True


class set_grad_enabled(_GradModeContext):
    """``set_grad_enabled(mode)``: sets grad mode now; as a context manager, restores it."""

    def __init__(self, mode: bool):
        self._prev = _C.is_grad_enabled()
        self._enabled = bool(mode)
        _C._set_grad_enabled(self._enabled)

    def __enter__(self):
        pass

    def __exit__(self, exc_type, exc_value, traceback):
        _C._set_grad_enabled(self._prev)
        return False

    def __call__(self, func):
        _C._set_grad_enabled(self._prev)

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(self._enabled):
                return func(*args, **kwargs)

        return wrapper

    def clone(self):
        return self.__class__(self._enabled)


class inference_mode(_GradModeContext):
    """Like ``no_grad``, and tensors made inside may never join a graph later."""

    def __init__(self, mode=True):
        self.mode = bool(mode)

    def __enter__(self):
        self._prev = _C.is_grad_enabled()
        self._prev_inference = _C.is_inference_mode_enabled()
        if self.mode:
            _C._set_grad_enabled(False)
        _C._set_inference_mode(self.mode)

    def __exit__(self, exc_type, exc_value, traceback):
        _C._set_grad_enabled(self._prev)
        _C._set_inference_mode(self._prev_inference)
        return False

    def __call__(self, func):
        mode = self.mode

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with inference_mode(mode):
                return func(*args, **kwargs)

        return wrapper

    def clone(self):
        return self.__class__(self.mode)
