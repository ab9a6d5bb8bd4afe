"""Coverage of issue 3's everyday tensor API, from the data in ``tests/op_table.py``.

1. Every operation exists in exactly the forms PyTorch has (``ferrograd.name``,
   ``Tensor.name``, ``Tensor.name_``, ``ferrograd.name_``, ``nn.functional.name[_]``), no
   more and no fewer, except the gaps the table names (``Op.missing``), which must still be
   gaps (so the table stays true when one is filled). The table's forms are checked against
   ``hasattr(torch, ...)`` where PyTorch is installed.
2. Every call in the table, which passes PyTorch's argument names as keywords, runs; where
   PyTorch is installed it gives PyTorch's value, dtype and shape (dtype and shape for random
   ops).
3. Every operation is covered by the Hypothesis registries of the op-family suites (gradcheck,
   forward vs NumPy, PyTorch parity), or is listed in ``FIXED_ONLY`` with the reason, and every
   registry entry maps to an operation of the table.
"""

from __future__ import annotations

import importlib.util
import pathlib
import warnings

import ferrograd
import numpy as np
import pytest
from helpers import dtype_name, to_numpy
from op_table import BY_NAME, FAMILIES, OPS, fixtures
from registry_map import FIXED_ONLY, GRAD_VIA_PARITY, coverage

FORM_CHARS = "fmiInN"


def _torch():
    return pytest.importorskip("torch")


def has_form(L, name, form):
    """Whether ``L`` (ferrograd or torch) has ``name`` in ``form`` (one of FORM_CHARS)."""
    if form == "f":
        obj = getattr(L, name, None)
        # torch.float / ferrograd.float are dtypes, not the conversion.
        return callable(obj) and not isinstance(obj, L.dtype)
    if form == "m":
        return hasattr(L.Tensor, name)
    if form == "i":
        return hasattr(L.Tensor, name + "_")
    if form == "I":
        return callable(getattr(L, name + "_", None))
    if form == "n":
        return hasattr(L.nn.functional, name)
    return hasattr(L.nn.functional, name + "_")


def forms_of(L, name):
    return "".join(c for c in FORM_CHARS if has_form(L, name, c))


def test_table_is_well_formed():
    assert len(set(BY_NAME)) == len(OPS), "duplicate names"
    for op in OPS:
        assert op.family in FAMILIES, op.name
        assert op.forms and set(op.forms) <= set(FORM_CHARS), op.name
        assert set(op.missing) <= set(op.forms), op.name
        assert op.calls, f"{op.name}: no keyword call"
        for alias in op.aliases:
            assert alias in BY_NAME, alias


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_forms_match_torch(op):
    torch = _torch()
    assert forms_of(torch, op.name) == op.forms


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_forms_exist_exactly_where_torch_has_them(op):
    want = "".join(c for c in op.forms if c not in op.missing)
    assert forms_of(ferrograd, op.name) == want


def test_operators():
    x, y = ferrograd.tensor([1.0, 2.0]), ferrograd.tensor([2.0, 2.0])
    m = ferrograd.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert (x == y).tolist() == [False, True] and (x != y).tolist() == [True, False]
    assert (x < y).tolist() == [True, False] and (x <= y).tolist() == [True, True]
    assert (x > y).tolist() == [False, False] and (x >= y).tolist() == [False, True]
    assert (x @ m).tolist() == [7.0, 10.0]
    assert (-x).tolist() == [-1.0, -2.0] and abs(-x).tolist() == [1.0, 2.0]
    assert (x // y).tolist() == [0.0, 1.0] and (x % y).tolist() == [1.0, 0.0]
    assert (2**x).tolist() == [2.0, 4.0]
    assert (~(x > 1)).tolist() == [True, False]
    assert ((x > 1) & (y > 1)).tolist() == [False, True]
    assert ((x > 1) | (y > 3)).tolist() == [False, True]


CALLS = [(op, call) for op in OPS for call in op.calls]


def _run(L, op, call):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return eval(call, fixtures(L))  # noqa: S307 -- fixed expressions of the table


def _flatten(result):
    if isinstance(result, (tuple, list)):
        return [r for item in result for r in _flatten(item)]
    return [result]


@pytest.mark.parametrize("op,call", CALLS, ids=[f"{op.name}: {c}" for op, c in CALLS])
def test_keyword_call_runs(op, call):
    for r in _flatten(_run(ferrograd, op, call)):
        assert isinstance(r, (ferrograd.Tensor, bool, int, float, str)), type(r)


@pytest.mark.parametrize("op,call", CALLS, ids=[f"{op.name}: {c}" for op, c in CALLS])
def test_keyword_call_matches_torch(op, call):
    torch = _torch()
    got, want = _flatten(_run(ferrograd, op, call)), _flatten(_run(torch, op, call))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        if not isinstance(w, torch.Tensor):
            assert g == w
            continue
        assert isinstance(g, ferrograd.Tensor)
        assert dtype_name(g.dtype) == dtype_name(w.dtype)
        assert tuple(g.shape) == tuple(w.shape)
        assert g.requires_grad == w.requires_grad
        if not op.random:
            np.testing.assert_allclose(
                to_numpy(g), to_numpy(w), rtol=1e-6, atol=1e-6, equal_nan=True
            )


# ---- property-test coverage -------------------------------------------------------------


def test_every_registry_entry_maps_to_an_operation():
    cov = coverage()
    assert not cov.unmapped, f"registry entries without an operation: {cov.unmapped}"


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_operation_is_property_tested(op):
    cov = coverage()
    if op.name in FIXED_ONLY:
        assert not cov.numpy.get(op.name), f"{op.name} is in a registry: drop it from FIXED_ONLY"
        return
    assert cov.numpy.get(op.name), f"{op.name}: in no NumPy-forward registry"
    assert cov.torch.get(op.name), f"{op.name}: in no PyTorch-parity registry"
    if op.grad and op.name not in GRAD_VIA_PARITY:
        assert cov.grad.get(op.name), f"{op.name}: differentiable but not gradchecked"


def test_docs_table_is_up_to_date():
    """docs/ops.md is what tools/gen_ops_table.py writes from this data."""
    root = pathlib.Path(__file__).resolve().parent.parent
    spec = importlib.util.spec_from_file_location("gen_ops_table", root / "tools/gen_ops_table.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert (root / "docs" / "ops.md").read_text() == gen.render(), (
        "docs/ops.md is stale: run PYTHONPATH=python python tools/gen_ops_table.py"
    )
