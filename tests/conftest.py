"""Shared fixtures for coprolib's own tests."""

from __future__ import annotations

import importlib.resources
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from coprolib.plugins import reset_plugin_manager

ROOT = Path(__file__).resolve().parent.parent
# The one copy of the fictional example bundle: the package data that `coprolib demo` reads.
EXAMPLE_BUNDLE = Path(str(importlib.resources.files("coprolib.examples") / "northdale.json"))

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture
def fresh_plugins() -> Iterator[None]:
    """Reload plugins before and after a test that changes what is installed."""
    reset_plugin_manager()
    yield
    reset_plugin_manager()


#: The ledger fixtures (``ledger_target``, ``ledger``), on SQLite and PostgreSQL.
pytest_plugins = ("coprolib.testing.ledger_fixtures",)
