"""Fixtures: a local Entra ID, a local Graph list and a local Teams Workflows webhook."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from coprolib_entra.testing import LocalEntra
from coprolib_sharepoint.sharepoint import DEFAULT_COLUMNS, DEFAULT_MAX_LENGTHS
from coprolib_sharepoint.testing import LocalGraphList, LocalTeamsWorkflow

from coprolib.adapters import Secret
from coprolib.testing.fault_server import FaultServer

CLIENT_ID = "aaaaaaaa-2222-4333-8444-555555555555"
CLIENT_SECRET = "local-graph-client-secret-Wv7~p"

#: The README's list: column -> most characters.
COLUMNS = {column: DEFAULT_MAX_LENGTHS.get(column, 255) for column in DEFAULT_COLUMNS.values()}


@pytest.fixture(scope="session")
def entra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEntra]:
    with LocalEntra(Path(tmp_path_factory.mktemp("entra"))) as started:
        started.register(CLIENT_ID, CLIENT_SECRET)
        yield started


@pytest.fixture
def graph_list(entra: LocalEntra) -> Iterator[tuple[LocalGraphList, FaultServer]]:
    local = LocalGraphList(columns=COLUMNS)
    with FaultServer(local.app) as server:
        local.token_check = lambda token: entra.valid(token, f"{server.url}/.default")
        yield local, server


@pytest.fixture(scope="session")
def sp_settings(entra: LocalEntra) -> Callable[..., dict[str, Any]]:
    """``sp_settings(base_url, **extra)``: sharepoint-list settings aimed at a local server."""
    local = LocalGraphList(columns={})

    def build(base_url: str, **extra: Any) -> dict[str, Any]:
        return {
            "site_id": local.site_id,
            "list_id": local.list_id,
            "tenant_id": entra.tenant_id,
            "client_id": CLIENT_ID,
            "client_secret": Secret(CLIENT_SECRET, "$env:GRAPH_CLIENT_SECRET"),
            "graph_url": f"{base_url}/v1.0",
            "authority_host": entra.authority_host,
            "instance_discovery": False,
            "http": {"ca_bundle": str(entra.ca_path), **extra.pop("http", {})},
            **extra,
        }

    return build


@pytest.fixture(scope="session")
def client_secret() -> str:
    """The local app registration's secret."""
    return CLIENT_SECRET


@pytest.fixture
def workflow() -> Iterator[tuple[LocalTeamsWorkflow, FaultServer]]:
    local = LocalTeamsWorkflow()
    with FaultServer(local.app) as server:
        yield local, server
