"""Shared pytest setup: ``tests/`` on ``sys.path`` (``from helpers import gradcheck``) and
the Hypothesis profiles, picked by the ``HYPOTHESIS_PROFILE`` environment variable:
``ci`` (default, ~25 examples per test) or ``dev`` (200)."""

import os
import pathlib
import sys

_TESTS = str(pathlib.Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # no profiles; test files needing hypothesis import it themselves
    pass
else:
    _common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
    settings.register_profile("ci", max_examples=25, database=None, **_common)
    settings.register_profile("dev", max_examples=200, **_common)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_modifyitems(config, items):
    # Tests marked ``slow`` run only when asked for: ``-m slow`` (only them) or
    # ``FERROGRAD_SLOW=1`` (everything, them included).
    if os.environ.get("FERROGRAD_SLOW") or "slow" in (config.getoption("markexpr") or ""):
        return
    import pytest

    skip = pytest.mark.skip(reason="slow: run with -m slow or FERROGRAD_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def pytest_configure(config):
    # Reporting a Hypothesis failure may import a package that warns on import (with
    # ``filterwarnings = error`` that would hide the failure behind an INTERNALERROR).
    config.addinivalue_line(
        "filterwarnings", "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning"
    )
