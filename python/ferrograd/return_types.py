"""Named results of ops that return several tensors, like ``torch.return_types``.

Each is a ``namedtuple`` (index it, unpack it or read its fields) that prints as PyTorch's::

    ferrograd.return_types.max(
    values=tensor([3., 4.]),
    indices=tensor([1, 1]))
"""

from collections import namedtuple

__all__ = ["max", "min"]


def _return_type(name, fields):
    base = namedtuple(name, fields)

    def __repr__(self):
        body = ",\n".join(f"{f}={v!r}" for f, v in zip(self._fields, self))
        return f"{__name__}.{name}(\n{body})"

    return type(name, (base,), {"__slots__": (), "__repr__": __repr__, "__module__": __name__})


max = _return_type("max", ("values", "indices"))  # noqa: A001
min = _return_type("min", ("values", "indices"))  # noqa: A001
