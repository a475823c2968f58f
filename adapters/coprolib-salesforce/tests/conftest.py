"""Fixtures: a local Salesforce org on 127.0.0.1 (tokens, REST API subset, limits)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from coprolib_salesforce import SalesforceAdapter
from coprolib_salesforce.testing import README_FIELDS, LocalSalesforce

from coprolib.adapters import Secret
from coprolib.testing.fault_server import FaultServer

#: Shaped like a connected app's consumer key and secret (fictional).
CLIENT_ID = "3MVG9rZjd7MXFdLhzV4tq1Wl5mQe.fVbXo0pA2kT8sYc6nB3uR_Hj7GdLwE9iKqP1xZvNaYbCc4D"
CLIENT_SECRET = "8F3C1A9E27B64D05C1E8A7F2B9D3E6C4A1F0B7E2D9C8A3F6E5B4D1C0A9F8E7D6"


@pytest.fixture
def org() -> Iterator[tuple[LocalSalesforce, FaultServer]]:
    local = LocalSalesforce(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, fields=list(README_FIELDS)
    )
    with FaultServer(local.app) as server:
        local.base_url = server.url
        yield local, server


def _settings(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "instance_url": url,
        "client_id": CLIENT_ID,
        "client_secret": Secret(CLIENT_SECRET, "$env:SALESFORCE_CLIENT_SECRET"),
        **extra,
    }


@pytest.fixture
def make_adapter(
    org: tuple[LocalSalesforce, FaultServer],
) -> Iterator[Callable[..., SalesforceAdapter]]:
    made: list[SalesforceAdapter] = []

    def make(**extra: Any) -> SalesforceAdapter:
        clock = extra.pop("clock", None)
        kwargs = {"clock": clock} if clock else {}
        adapter = SalesforceAdapter(_settings(org[1].url, **extra), destination="test", **kwargs)
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        adapter.close()


@pytest.fixture(scope="session")
def settings_for() -> Callable[..., dict[str, Any]]:
    """``settings_for(url, **extra)``: adapter settings aimed at ``url`` (secret pre-resolved)."""
    return _settings
