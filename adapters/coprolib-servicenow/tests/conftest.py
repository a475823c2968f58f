"""Fixtures: a local ServiceNow instance on 127.0.0.1 (OAuth, Import Set API, Table API)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from coprolib_servicenow import ServiceNowAdapter
from coprolib_servicenow.testing import README_COLUMNS, LocalServiceNow

from coprolib.adapters import Secret
from coprolib.testing.fault_server import FaultServer

#: Shaped like an Application Registry client id (32 hex) and secret (fictional).
CLIENT_ID = "8f2c61d4a9b34e0c9d7e5f1a2b3c4d5e"
CLIENT_SECRET = "q7N!zR2#vL9$wK4%tP6&yH8*"


@pytest.fixture
def instance() -> Iterator[tuple[LocalServiceNow, FaultServer]]:
    local = LocalServiceNow(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, columns=README_COLUMNS
    )
    with FaultServer(local.app) as server:
        yield local, server


def _settings(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "instance_url": url,
        "client_id": CLIENT_ID,
        "client_secret": Secret(CLIENT_SECRET, "$env:SERVICENOW_CLIENT_SECRET"),
        **extra,
    }


@pytest.fixture(scope="session")
def settings_for() -> Callable[..., dict[str, Any]]:
    """``settings_for(url, **extra)``: adapter settings aimed at ``url`` (secret pre-resolved)."""
    return _settings


@pytest.fixture
def make_adapter(
    instance: tuple[LocalServiceNow, FaultServer],
) -> Iterator[Callable[..., ServiceNowAdapter]]:
    made: list[ServiceNowAdapter] = []

    def make(**extra: Any) -> ServiceNowAdapter:
        kwargs = {k: extra.pop(k) for k in ("clock", "wall") if k in extra}
        adapter = ServiceNowAdapter(
            _settings(instance[1].url, **extra), destination="test", **kwargs
        )
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        adapter.close()
