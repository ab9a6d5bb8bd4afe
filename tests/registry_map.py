"""Which operations of ``op_table.OPS`` the Hypothesis registries of the op-family suites
cover, by kind of test (shared by ``test_api_coverage.py`` and ``tools/gen_ops_table.py``).

Each suite runs its generic tests over its registry: ``grad`` (float64 gradcheck, for the
entries with ``grad=True``), ``numpy`` (forward vs NumPy) and ``torch`` (values, grads,
dtypes, shapes vs PyTorch; skipped without it). A registry entry is named after its
operation (``exp``, ``exp_fn``, ``exp_``, ``div_floor``: the longest operation name that is
the entry's name or a prefix of it followed by ``_``), or mapped in ``SPEC_TO_OP``.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass, field

from op_table import BY_NAME

# (module, registry attribute)
REGISTRIES = [
    ("test_ops_properties", "REGISTRY"),
    ("test_math_ops", "REGISTRY"),
    ("test_reduce_ops", "REGISTRY"),
    ("test_shape_ops", "REGISTRY"),
    ("test_index_ops", "OPS"),
    ("test_linalg_ops", "REGISTRY"),
]

# Entries not named after their operation.
SPEC_TO_OP = {
    "radd_int": "add",
    "rsub_int": "sub",
    "rsub_float": "sub",
    "rmul_float": "mul",
    "rdiv_int": "div",
    "rdiv_float": "div",
    "rpow_int": "pow",
    "rpow_float": "pow",
    "rfloordiv": "floor_divide",
    "arctan_fn": "atan",
    "index_put_acc": "index_put",
    "fill_tensor": "fill_",
}

# Operations that another operation's entries also draw (test_shape_ops' "cat" entry calls
# cat, concat or concatenate).
DRAWN_WITH = {"concat": "cat", "concatenate": "cat"}

# Hypothesis tests outside the registries (test_index_ops: generated indices and values).
EXTRA = {
    "__getitem__": {
        "grad": ["test_index_ops:test_getitem_gradcheck"],
        "numpy": ["test_index_ops:test_getitem_matches_numpy"],
        "torch": ["test_index_ops:test_getitem_torch_parity"],
    },
    "__setitem__": {
        "grad": ["test_index_ops:test_setitem_gradcheck"],
        "numpy": ["test_index_ops:test_setitem_matches_numpy"],
        "torch": ["test_index_ops:test_setitem_torch_parity"],
    },
}

# Operations checked by fixed tables only (no generated inputs), and where.
FIXED_ONLY = {
    "is_contiguous": "test_shape_ops: test_is_contiguous (no values to generate)",
    "linspace": "test_shape_ops: CREATION, compared with torch",
    "logspace": "test_shape_ops: CREATION, compared with torch",
    "eye": "test_shape_ops: CREATION, compared with torch",
    "zeros": "test_shape_ops: CREATION, compared with torch",
    "ones": "test_shape_ops: CREATION, compared with torch",
    "full": "test_shape_ops: CREATION, compared with torch",
    "empty": "test_shape_ops: CREATION (values unspecified)",
    "rand": "test_shape_ops: RANDOM (dtype, shape, range, seeding)",
    "randn": "test_shape_ops: RANDOM (dtype, shape, moments, seeding)",
    "randint": "test_shape_ops: RANDOM (dtype, shape, range, seeding)",
    "randperm": "test_shape_ops: RANDOM (a permutation, seeding)",
    "normal": "test_shape_ops: RANDOM (dtype, shape, moments, seeding)",
    "bernoulli": "test_shape_ops: RANDOM (values in {0, 1}, seeding)",
    "multinomial": "test_shape_ops: test_multinomial_sampling",
    "new_zeros": "test_shape_ops: CONVERSIONS, compared with torch",
    "new_ones": "test_shape_ops: CONVERSIONS, compared with torch",
    "new_tensor": "test_shape_ops: CONVERSIONS, compared with torch",
}


# Differentiable operations whose gradient is compared with PyTorch's but not gradchecked.
GRAD_VIA_PARITY = {"float": "gradcheck needs a float64 result"}


@dataclass
class Coverage:
    grad: dict = field(default_factory=dict)  # op name -> ["module:spec", ...]
    numpy: dict = field(default_factory=dict)
    torch: dict = field(default_factory=dict)
    unmapped: list = field(default_factory=list)


def op_of(spec_name):
    """The operation a registry entry tests, or None."""
    if spec_name in SPEC_TO_OP:
        return SPEC_TO_OP[spec_name]
    best = None
    for name in BY_NAME:
        if spec_name == name or spec_name.startswith(name + "_"):
            if best is None or len(name) > len(best):
                best = name
    return best


@functools.cache
def coverage() -> Coverage:
    cov = Coverage()
    for module, attr in REGISTRIES:
        for spec in getattr(importlib.import_module(module), attr):
            op = op_of(spec.name)
            where = f"{module}:{spec.name}"
            if op is None:
                cov.unmapped.append(where)
                continue
            kinds = (
                ("grad", "numpy", "torch") if getattr(spec, "grad", True) else ("numpy", "torch")
            )
            for kind in kinds:
                getattr(cov, kind).setdefault(op, []).append(where)
    for alias, op in DRAWN_WITH.items():
        for kind in ("grad", "numpy", "torch"):
            entries = getattr(cov, kind)
            if op in entries:
                entries.setdefault(alias, []).extend(entries[op])
    for op, kinds in EXTRA.items():
        for kind, tests in kinds.items():
            getattr(cov, kind).setdefault(op, []).extend(tests)
    return cov
