"""Coverage-guided fuzzing of ferrograd's Python API with atheris (libFuzzer for Python).

Every input is a byte string that a FuzzedDataProvider turns into a short program: a pool of
tensors and a sequence of calls (functions, methods, indexing, in-place ops, attribute
assignments, backward / autograd.grad) with arguments drawn from the bytes - mostly small
sizes, dims and indices, sometimes huge, negative or wrong-typed ones. A call may return a
result or raise an ordinary ``Exception``; anything else (a ``PanicException``, which derives
from ``BaseException``, an abort or a segfault) is a finding, and libFuzzer stops and writes
the input to ``crash-*``.

The address space is capped (``--as-limit-gb``, default 6) so that an allocation that is not
checked fails inside the process instead of swapping the machine: a checked one becomes a
RuntimeError, an unchecked one aborts - which is exactly what this harness is looking for.

atheris is a tool, not a test dependency: ``pip install atheris``. Run from the repository
root, with the extension built (``tools/dev-build.sh``)::

    PYTHONPATH=python python tools/fuzz_atheris.py -max_total_time=1800 -print_final_stats=1

Any libFuzzer flag works (``-runs=N``, ``-max_len=...``, ``-jobs``, a corpus directory). To
replay a finding: ``PYTHONPATH=python python tools/fuzz_atheris.py crash-<hash>``.
"""

from __future__ import annotations

import math
import os
import resource
import sys
import warnings

import atheris

with atheris.instrument_imports(include=["ferrograd"]):
    import ferrograd

INTS = [0, 1, 2, 3, -1, -2, 4, 5, 2**62, 2**63, -(2**63), 2**64, 2**40, 2**31, -(2**63) - 1]
FLOATS = [0.0, 1.0, -1.5, 0.5, 2.0, math.nan, math.inf, -math.inf, -0.0, 1e308, 5e-324, 1e-30]
DTYPES = ["float32", "float64", "int64", "bool"]
STRINGS = ["", "a", "cpu", "fro", "nuc", "ij,jk->ik", "i,i->", "...", "sum"]

METHODS = sorted(
    n
    for n in dir(ferrograd.Tensor)
    if not n.startswith("_")
    and n
    not in {
        # Attributes and methods that only read properties are exercised separately or are
        # not interesting; these would write files or start processes.
        "numpy",
    }
) + [
    "__getitem__", "__setitem__", "__add__", "__radd__", "__sub__", "__rsub__", "__mul__",
    "__rmul__", "__truediv__", "__rtruediv__", "__floordiv__", "__mod__", "__pow__",
    "__rpow__", "__matmul__", "__neg__", "__abs__", "__invert__", "__and__", "__or__",
    "__xor__", "__eq__", "__lt__", "__ge__", "__bool__", "__float__", "__int__", "__index__",
    "__len__", "__repr__", "__format__", "__iadd__", "__imul__", "__isub__", "__itruediv__",
    "__iter__", "__contains__", "__reversed__",
]  # fmt: skip
FUNCTIONS = sorted(
    n
    for n in dir(ferrograd)
    if not n.startswith("_")
    and callable(getattr(ferrograd, n))
    and n not in {"save", "load", "manual_seed", "set_printoptions", "set_grad_enabled"}
    and not isinstance(getattr(ferrograd, n), type)
)
TRACE = bool(os.environ.get("FERROGRAD_FUZZ_TRACE"))  # print each call (to replay a finding)
AUTOGRAD = ["grad", "backward"]
ATTRIBUTES = ["grad", "requires_grad", "data"]
KWARGS = ["dim", "keepdim", "dtype", "alpha", "requires_grad", "retain_graph", "p", "out"]


class Program:
    def __init__(self, data: bytes):
        self.fdp = atheris.FuzzedDataProvider(data)
        x = ferrograd.tensor([[1.0, -2.0, 3.0], [0.5, 0.0, -1.5]], requires_grad=True)
        self.pool = [
            x,
            x * 2,
            (x * x).sum(),
            ferrograd.arange(6),
            ferrograd.tensor([True, False, True]),
            ferrograd.ones(2, 3, dtype=ferrograd.float64),
            ferrograd.tensor(2.5),
            ferrograd.zeros(0, 3),
            ferrograd.ones(3, 2).t(),
            ferrograd.ones(1, 3).expand(4, 3),
            ferrograd.tensor([[0, 1], [2, 0]]),
        ]

    def pick(self, seq):
        return seq[self.fdp.ConsumeIntInRange(0, len(seq) - 1)]

    def value(self, depth=0):
        kind = self.fdp.ConsumeIntInRange(0, 11)
        if kind <= 2:
            return self.fdp.ConsumeIntInRange(-3, 6)
        if kind == 3:
            return self.pick(INTS)
        if kind == 4:
            return self.pick(FLOATS) if self.fdp.ConsumeBool() else self.fdp.ConsumeFloat()
        if kind <= 6:
            return self.pick(self.pool)
        if kind == 7:
            return getattr(ferrograd, self.pick(DTYPES))
        if kind == 8 and depth < 2:
            n = self.fdp.ConsumeIntInRange(0, 3)
            items = [self.value(depth + 1) for _ in range(n)]
            return tuple(items) if self.fdp.ConsumeBool() else items
        if kind == 9:
            return self.pick([None, True, False, Ellipsis, slice(None, None, -1)])
        if kind == 10:
            a, b, c = (self.fdp.ConsumeIntInRange(-4, 4) for _ in range(3))
            return slice(a, b, c or None)
        return self.pick(STRINGS)

    def call(self):
        kind = self.fdp.ConsumeIntInRange(0, 5)
        args = [self.value() for _ in range(self.fdp.ConsumeIntInRange(0, 3))]
        kwargs = {}
        if self.fdp.ConsumeIntInRange(0, 3) == 0:
            kwargs[self.pick(KWARGS)] = self.value()
        target = self.pick(self.pool)
        if kind <= 2:
            fn = getattr(target, self.pick(METHODS))
        elif kind <= 4:
            fn = getattr(ferrograd, self.pick(FUNCTIONS))
        elif self.fdp.ConsumeBool():
            fn = getattr(ferrograd.autograd, self.pick(AUTOGRAD))
        else:
            name, value = self.pick(ATTRIBUTES), self.value()
            if TRACE:
                print(f"setattr({target!r}, {name!r}, {value!r})", flush=True)
            return setattr(target, name, value)
        if not callable(fn):
            return fn
        if TRACE:
            print(f"{getattr(fn, '__qualname__', fn)}(*{args!r}, **{kwargs!r})", flush=True)
        return fn(*args, **kwargs)

    def run(self):
        for _ in range(self.fdp.ConsumeIntInRange(1, 8)):
            try:
                result = self.call()
            except Exception:
                continue
            if isinstance(result, ferrograd.Tensor):
                self.pool.append(result)
                # Every result must also print and convert without panicking. (Not tolist of
                # an empty tensor of shape (2**31, 0): 2**31 empty lists, slow in PyTorch too.)
                outer = math.prod(d for d in result.shape[:-1] if d) if result.dim() else 1
                convert = [repr, ferrograd.Tensor.sum]
                if outer < 10**6:
                    convert.append(ferrograd.Tensor.tolist)
                for f in convert:
                    try:
                        f(result)
                    except Exception:
                        pass


def test_one_input(data: bytes):
    try:
        Program(data).run()
    finally:
        ferrograd.set_grad_enabled(True)


def main():
    argv = list(sys.argv)
    gb = 6
    for a in list(argv):
        if a.startswith("--as-limit-gb="):
            gb = float(a.split("=", 1)[1])
            argv.remove(a)
    limit = int(gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    warnings.simplefilter("ignore")  # deprecation notices of odd calls are not findings
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
