"""Fixtures: a FHIR-subset server on 127.0.0.1 behind coprolib's fault-injecting HTTP server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from coprolib_fhir import FhirAdapter
from coprolib_fhir.server import FhirServer

from coprolib.testing.fault_server import FaultServer

CLIENT_ID = "coprolib-test-client"
CLIENT_SECRET = "fictional-client-secret-8f2c"
BEARER = "fictional-static-bearer-41d7"


@pytest.fixture
def fhir() -> FhirServer:
    return FhirServer(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token=BEARER)


@pytest.fixture
def http(fhir: FhirServer) -> Iterator[FaultServer]:
    with FaultServer(fhir.app) as started:
        yield started


def make_adapter(base: str, **settings: Any) -> FhirAdapter:
    """An adapter at ``base``/fhir with test settings (override any)."""
    values: dict[str, Any] = {
        "url": f"{base}/fhir",
        "recipients": ["Organization/sab-board"],
        "sender": "Organization/coprolib-team",
        "http": {"read_timeout": 5.0},
    }
    values.update(settings)
    return FhirAdapter(values, destination="test")
