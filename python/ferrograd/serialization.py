"""``ferrograd.save`` / ``ferrograd.load``: tensors and nested containers in an open format.

The format is a NumPy ``.npz`` archive (a zip of ``.npy`` files), readable by anything that
reads NumPy files:

- ``__ferrograd__.npy``: a uint8 array holding UTF-8 JSON, ``{"format": "ferrograd",
  "version": 1, "root": NODE}``;
- ``t0.npy``, ``t1.npy``, ...: one array per tensor (float32, float64, int64 or bool).

A NODE is one of ``{"type": "tensor", "key": "t0", "requires_grad": bool, "parameter":
bool}``, ``{"type": "dict", "items": [[KEY_NODE, NODE], ...], "ordered": bool}``,
``{"type": "list"|"tuple", "items": [NODE, ...]}``, ``{"type": "int"|"bool"|"str", "value":
...}``, ``{"type": "float", "value": "<repr>"}`` (so inf and nan survive), ``{"type":
"none"}`` or ``{"type": "dtype", "value": "float32"}``. Dict keys are nodes too, so the
integer keys of an optimiser's state survive.

Loading never unpickles (``allow_pickle=False``) and checks the structure, so a malicious or
damaged file can only raise ``RuntimeError``, never run code.
"""

from __future__ import annotations

import io
import json
import os
from collections import OrderedDict

import ferrograd
from ferrograd import Tensor

__all__ = ["save", "load"]

_HEADER = "__ferrograd__"
_DTYPES = ("float32", "float64", "int64", "bool")
_VERSION = 1


def _dtype_name(dtype):
    return str(dtype).rsplit(".", 1)[-1]


def _encode(obj, arrays):
    import numpy as np

    if isinstance(obj, Tensor):
        key = f"t{len(arrays)}"
        data = np.asarray(obj.detach().numpy(), dtype=_dtype_name(obj.dtype))
        arrays[key] = data.reshape(tuple(obj.shape))  # (size-0 shapes survive)
        node = {"type": "tensor", "key": key, "requires_grad": bool(obj.requires_grad)}
        from .nn.parameter import Parameter

        if isinstance(obj, Parameter):
            node["parameter"] = True
        return node
    if obj is None:
        return {"type": "none"}
    if isinstance(obj, bool):
        return {"type": "bool", "value": obj}
    if isinstance(obj, int):
        return {"type": "int", "value": obj}
    if isinstance(obj, float):
        return {"type": "float", "value": repr(obj)}
    if isinstance(obj, str):
        return {"type": "str", "value": obj}
    if isinstance(obj, ferrograd.dtype):
        return {"type": "dtype", "value": _dtype_name(obj)}
    if isinstance(obj, dict):
        return {
            "type": "dict",
            "ordered": isinstance(obj, OrderedDict),
            "items": [[_encode(k, arrays), _encode(v, arrays)] for k, v in obj.items()],
        }
    if isinstance(obj, (list, tuple)):
        kind = "tuple" if isinstance(obj, tuple) else "list"
        return {"type": kind, "items": [_encode(v, arrays) for v in obj]}
    raise TypeError(
        f"ferrograd.save: cannot save an object of type {type(obj).__name__}; supported are "
        "tensors, dicts, lists, tuples, numbers, strings, None and dtypes"
    )


def save(obj, f, pickle_module=None, pickle_protocol=None, _use_new_zipfile_serialization=True):
    """Saves ``obj`` (tensors, nested dicts/lists/tuples of them, numbers, strings) to ``f``,
    a path or a writable binary file, in the ``.npz`` format described in this module."""
    import numpy as np

    arrays = {}
    root = _encode(obj, arrays)
    header = json.dumps({"format": "ferrograd", "version": _VERSION, "root": root})
    arrays[_HEADER] = np.frombuffer(header.encode("utf-8"), dtype=np.uint8)
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as fh:
            np.savez(fh, **arrays)
    else:
        np.savez(f, **arrays)


class _Corrupt(Exception):
    pass


def _decode(node, arrays, depth=0):
    if depth > 1000:
        raise _Corrupt("nesting is too deep")
    if not isinstance(node, dict) or not isinstance(node.get("type"), str):
        raise _Corrupt("malformed structure entry")
    kind = node["type"]
    if kind == "tensor":
        key = node.get("key")
        if not isinstance(key, str) or key not in arrays:
            raise _Corrupt(f"missing tensor data {key!r}")
        arr = arrays[key]
        if arr.dtype.name not in _DTYPES:
            raise _Corrupt(f"unsupported array dtype {arr.dtype}")
        t = ferrograd.tensor(arr, dtype=getattr(ferrograd, arr.dtype.name))
        if node.get("parameter"):
            from .nn.parameter import Parameter

            return Parameter(t, bool(node.get("requires_grad", True)))
        if node.get("requires_grad"):
            t.requires_grad_(True)
        return t
    if kind == "none":
        return None
    if kind in ("bool", "int", "str"):
        value = node.get("value")
        expected = {"bool": bool, "int": int, "str": str}[kind]
        if not isinstance(value, expected) or (kind == "int" and isinstance(value, bool)):
            raise _Corrupt(f"malformed {kind} entry")
        return value
    if kind == "float":
        try:
            return float(node.get("value"))
        except (TypeError, ValueError):
            raise _Corrupt("malformed float entry") from None
    if kind == "dtype":
        name = node.get("value")
        if name not in _DTYPES:
            raise _Corrupt(f"unknown dtype {name!r}")
        return getattr(ferrograd, name)
    items = node.get("items")
    if not isinstance(items, list):
        raise _Corrupt(f"malformed {kind} entry")
    if kind == "dict":
        out = OrderedDict() if node.get("ordered") else {}
        for pair in items:
            if not isinstance(pair, list) or len(pair) != 2:
                raise _Corrupt("malformed dict item")
            key = _decode(pair[0], arrays, depth + 1)
            try:
                out[key] = _decode(pair[1], arrays, depth + 1)
            except TypeError:
                raise _Corrupt("unhashable dict key") from None
        return out
    if kind in ("list", "tuple"):
        values = [_decode(v, arrays, depth + 1) for v in items]
        return tuple(values) if kind == "tuple" else values
    raise _Corrupt(f"unknown entry type {kind!r}")


def load(f, map_location=None, pickle_module=None, *, weights_only=True, mmap=None, **kwargs):
    """Loads what :func:`save` wrote. ``map_location`` and ``weights_only`` are accepted for
    compatibility (everything is on the CPU, and nothing but data is ever loaded)."""
    import numpy as np

    name = os.fspath(f) if isinstance(f, (str, os.PathLike)) else getattr(f, "name", "<file>")
    try:
        if isinstance(f, (str, os.PathLike)):
            with open(f, "rb") as fh:
                data = fh.read()
        else:
            data = f.read()
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
        if _HEADER not in arrays:
            raise _Corrupt("no ferrograd header (not a file written by ferrograd.save)")
        header = json.loads(arrays.pop(_HEADER).tobytes().decode("utf-8"))
        if not isinstance(header, dict) or header.get("format") != "ferrograd":
            raise _Corrupt("not a ferrograd save file")
        if header.get("version") != _VERSION:
            raise _Corrupt(f"unsupported format version {header.get('version')!r}")
        return _decode(header.get("root"), arrays)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except Exception as e:  # whatever a damaged archive makes NumPy/zipfile/json raise
        raise RuntimeError(
            f"ferrograd.load: '{name}' is not a valid ferrograd save file or is truncated "
            f"({type(e).__name__}: {e})"
        ) from None
