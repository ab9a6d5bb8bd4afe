"""Render tensors as text, character for character like PyTorch's ``repr``.

This module is deliberately self-contained: it imports nothing from
``ferrograd`` and only relies on this small duck-typed interface of the
tensor object ``t`` handed to :func:`tensor_repr`:

* ``t.shape`` (tuple of ints), ``t.numel()``, ``t.dim()``
* ``t.dtype`` with ``str(t.dtype)`` such as ``"ferrograd.float64"`` and
  ``t.dtype.is_floating_point``
* ``t.tolist()`` (nested lists, or a Python scalar for a 0-d tensor)
* ``t._summarized_list(edgeitems)``: like ``tolist()`` but every dimension
  longer than ``2 * edgeitems`` keeps only its first and last ``edgeitems``
  entries (only called when the tensor is large enough to be summarised)
* ``t.requires_grad`` and ``t.grad_fn`` (``None`` or an object with
  ``.name()``)

The layout rules are those of PyTorch's printer: a shared formatter decides
between integer-valued (``1.``), fixed-point (``1.2346``) and scientific
(``1.2346e+05``) notation for the whole tensor and pads every element to a
common width; rows of a 1-d tensor wrap at ``linewidth``; big tensors are
summarised with ``...``; and suffixes such as ``dtype=`` or ``grad_fn=`` are
appended, moving to a new line when they would overflow ``linewidth``.  That
last decision measures a dtype as ``torch.<name>``, so the output equals
PyTorch's repr with ``torch.`` replaced by ``ferrograd.``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator
from typing import Any

__all__ = [
    "PRINT_OPTS",
    "get_printoptions",
    "printoptions",
    "set_printoptions",
    "tensor_repr",
]


@dataclasses.dataclass
class _PrintOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


PRINT_OPTS = _PrintOptions()

# profile name -> (precision, threshold, edgeitems, linewidth)
_PROFILES = {
    "default": (4, 1000, 3, 80),
    "short": (2, 1000, 2, 80),
    "full": (4, math.inf, 3, 80),
}

# Dtypes whose name is never printed for a non-empty tensor, besides the
# default floating dtype.
_IMPLIED_DTYPES = ("int64", "bool")
_DEFAULT_DTYPE = "float32"
# Module name whose length is used when deciding where dtype suffixes wrap.
_WRAP_MODULE = "torch"


def set_printoptions(
    precision=None,
    threshold=None,
    edgeitems=None,
    linewidth=None,
    profile=None,
    sci_mode=None,
) -> None:
    """Set the printing options, with the semantics of ``torch.set_printoptions``.

    ``profile`` ("default", "short" or "full"; other names are ignored) is
    applied first, then any explicitly given option overrides it.
    ``sci_mode`` is always reset: ``None`` (the default) lets the printer
    choose, ``True``/``False`` force scientific notation on or off.
    """
    if profile is not None and profile in _PROFILES:
        (
            PRINT_OPTS.precision,
            PRINT_OPTS.threshold,
            PRINT_OPTS.edgeitems,
            PRINT_OPTS.linewidth,
        ) = _PROFILES[profile]
    if precision is not None:
        PRINT_OPTS.precision = precision
    if threshold is not None:
        PRINT_OPTS.threshold = threshold
    if edgeitems is not None:
        PRINT_OPTS.edgeitems = edgeitems
    if linewidth is not None:
        PRINT_OPTS.linewidth = linewidth
    PRINT_OPTS.sci_mode = sci_mode


def get_printoptions() -> dict[str, Any]:
    """Current options as a dict that can be passed back to set_printoptions."""
    return dataclasses.asdict(PRINT_OPTS)


@contextlib.contextmanager
def printoptions(**kwargs) -> Iterator[None]:
    """Temporarily change the print options inside a ``with`` block."""
    saved = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**saved)


def _dtype_name(dtype: Any) -> str:
    """``"ferrograd.float64"`` -> ``"float64"``."""
    return str(dtype).rsplit(".", 1)[-1]


class _Formatter:
    """Chooses one notation and one column width for all elements of a tensor."""

    def __init__(self, values: list, floating: bool) -> None:
        self.floating = floating
        self.int_mode = True
        self.sci_mode = False
        self.width = 1
        precision = PRINT_OPTS.precision

        if not floating:
            for v in values:
                self.width = max(self.width, len(str(v)))
            return

        finite = [v for v in values if v != 0 and math.isfinite(v)]
        if not finite:
            # Only zeros, nans and infs: keep the defaults (int mode, width 1),
            # and the sci_mode option is not consulted.
            return

        magnitudes = [abs(v) for v in finite]
        smallest = min(magnitudes)
        largest = max(magnitudes)
        self.int_mode = all(v.is_integer() for v in finite)
        if PRINT_OPTS.sci_mode is None:
            self.sci_mode = largest / smallest > 1000.0 or largest > 1.0e8 or smallest < 1.0e-4
        else:
            self.sci_mode = PRINT_OPTS.sci_mode

        if self.sci_mode:
            texts = (f"{v:.{precision}e}" for v in finite)
        elif self.int_mode:
            # room for the trailing "." that marks a floating value
            texts = (f"{v:.0f}." for v in finite)
        else:
            texts = (f"{v:.{precision}f}" for v in finite)
        for text in texts:
            self.width = max(self.width, len(text))

    def format(self, value) -> str:
        if not self.floating:
            text = str(value)
        elif self.sci_mode:
            text = f"{value:{self.width}.{PRINT_OPTS.precision}e}"
        elif self.int_mode:
            text = f"{value:.0f}"
            if math.isfinite(value):
                text += "."
        else:
            text = f"{value:.{PRINT_OPTS.precision}f}"
        return text.rjust(self.width)


def _convert(data, cast):
    """Apply ``cast`` to every leaf of a nested list (or to a scalar)."""
    if isinstance(data, (list, tuple)):
        return [_convert(item, cast) for item in data]
    return cast(data)


def _flatten(data, out: list) -> list:
    if isinstance(data, list):
        for item in data:
            _flatten(item, out)
    else:
        out.append(data)
    return out


def _render(data, shape, indent: int, summarize: bool, fmt: _Formatter) -> str:
    """Render nested ``data`` whose (unsummarised) shape is ``shape``.

    When ``summarize`` is set, every dimension longer than ``2 * edgeitems``
    holds only its first and last ``edgeitems`` entries in ``data``, and an
    ellipsis is inserted between the two halves.
    """
    if not shape:
        return fmt.format(data)

    edge = PRINT_OPTS.edgeitems
    cut = summarize and shape[0] > 2 * edge
    if len(shape) == 1:
        items = [fmt.format(v) for v in data]
        if cut:
            items = items[:edge] + [" ..."] + items[edge:]
        per_line = max(1, math.floor((PRINT_OPTS.linewidth - indent) / (fmt.width + 2)))
        lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"

    parts = [_render(sub, shape[1:], indent + 1, summarize, fmt) for sub in data]
    if cut:
        parts = parts[:edge] + ["..."] + parts[edge:]
    separator = "," + "\n" * (len(shape) - 1) + " " * (indent + 1)
    return "[" + separator.join(parts) + "]"


def _tensor_body(t, shape: tuple, indent: int) -> str:
    """The bracketed contents of a non-empty tensor."""
    floating = bool(t.dtype.is_floating_point)
    if floating:
        cast = float
    elif _dtype_name(t.dtype) == "bool":
        cast = bool
    else:
        cast = int

    summarize = t.numel() > PRINT_OPTS.threshold
    if shape and summarize:
        if not PRINT_OPTS.edgeitems:
            return "[...]"
        data = t._summarized_list(PRINT_OPTS.edgeitems)
    else:
        data = t.tolist()
    data = _convert(data, cast)

    fmt = _Formatter(_flatten(data, []), floating)
    return _render(data, shape, indent, summarize, fmt)


def _add_suffixes(text: str, suffixes: list, indent: int) -> str:
    """Append ``, suffix`` items and the closing parenthesis.

    ``suffixes`` holds ``(suffix, measured_length)`` pairs.  A suffix moves
    to its own line (indented under the opening bracket) when it would make
    the current line longer than ``linewidth``.  The length bookkeeping
    (including the ``+ 1`` and the case without a newline, where ``rfind``
    yields -1) follows PyTorch exactly.
    """
    pieces = [text]
    line_len = len(text) - text.rfind("\n") + 1
    for suffix, length in suffixes:
        if line_len + length + 2 > PRINT_OPTS.linewidth:
            pieces.append(",\n" + " " * indent + suffix)
            line_len = indent + length
        else:
            pieces.append(", " + suffix)
            line_len += length + 2
    pieces.append(")")
    return "".join(pieces)


def _grad_fn_name(grad_fn) -> str:
    name = grad_fn.name() if hasattr(grad_fn, "name") else type(grad_fn).__name__
    return str(name).rsplit("::", 1)[-1]


def tensor_repr(t, *, default_dtype=None) -> str:
    """Return ``repr(t)`` exactly as PyTorch would print the same tensor.

    ``default_dtype`` (a dtype object or its name) is the dtype that does not
    need a ``dtype=`` suffix; it defaults to float32.
    """
    prefix = "tensor("
    indent = len(prefix)
    shape = tuple(int(n) for n in t.shape)
    dtype_text = str(t.dtype)
    dtype_name = _dtype_name(t.dtype)
    default_name = _DEFAULT_DTYPE if default_dtype is None else _dtype_name(default_dtype)

    show_dtype = dtype_name != default_name
    if t.numel() == 0:
        # Like NumPy, spell out the shape unless it is (0,); with no elements
        # to look at, any non-default dtype (int64 and bool too) is shown.
        show_size = len(shape) != 1
        body = "[]"
    else:
        show_size = not PRINT_OPTS.edgeitems
        show_dtype = show_dtype and dtype_name not in _IMPLIED_DTYPES
        body = _tensor_body(t, shape, indent)

    texts = []
    if show_size:
        texts.append(f"size={shape}")
    if show_dtype:
        texts.append(f"dtype={dtype_text}")
    grad_fn = t.grad_fn
    if grad_fn is not None:
        texts.append(f"grad_fn=<{_grad_fn_name(grad_fn)}>")
    elif t.requires_grad:
        texts.append("requires_grad=True")

    # Line breaks between suffixes are decided as if the dtype were spelled
    # ``torch.<name>``, so the result equals PyTorch's repr of the same tensor
    # with "torch." replaced by the dtype's own module prefix.
    dtype_len = len(f"dtype={_WRAP_MODULE}.{dtype_name}")
    suffixes = [
        (text, dtype_len if show_dtype and text == f"dtype={dtype_text}" else len(text))
        for text in texts
    ]
    return _add_suffixes(prefix + body, suffixes, indent)
