"""Fixtures: a local CiviCRM APIv4 stand-in on 127.0.0.1 (``civicrm_standin``, tests only)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from civicrm_standin import LocalCiviCRM

from coprolib.testing.fault_server import FaultServer


@pytest.fixture
def civicrm() -> LocalCiviCRM:
    return LocalCiviCRM()


@pytest.fixture
def civicrm_server(civicrm: LocalCiviCRM) -> Iterator[FaultServer]:
    with FaultServer(civicrm.app) as server:
        yield server
