"""The coprolib pytest plugin (``pytest11`` entry point): fixtures for plugin and adapter
authors.

Fixtures: ``fault_server`` (a started :class:`~coprolib.testing.fault_server.FaultServer` on
127.0.0.1), ``refused_url`` (a URL where connections are refused), ``canonical_shares``.
The adapter conformance suite is :class:`coprolib.testing.conformance.AdapterConformance`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.register_assert_rewrite("coprolib.testing.conformance")

from coprolib.records import Share  # noqa: E402
from coprolib.testing.fault_server import FaultServer  # noqa: E402
from coprolib.testing.fault_server import refused_url as _refused_url  # noqa: E402
from coprolib.testing.shares import canonical_shares as _canonical  # noqa: E402


@pytest.fixture
def fault_server() -> Iterator[FaultServer]:
    """A fault-injecting HTTP server on 127.0.0.1 (all knobs off until a test sets them)."""
    with FaultServer() as server:
        yield server


@pytest.fixture
def refused_url() -> str:
    """A ``http://127.0.0.1:<port>`` URL where nothing listens."""
    return _refused_url()


@pytest.fixture
def canonical_shares() -> list[Share]:
    """The canonical shares every adapter must handle (for destination ``test``)."""
    return _canonical("test")
