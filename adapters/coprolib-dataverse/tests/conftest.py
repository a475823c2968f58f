"""Fixtures: a local Entra ID (HTTPS, its own certificate) and a local Dataverse on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from coprolib_dataverse import DataverseAdapter
from coprolib_dataverse.columns import DEFAULT_COLUMNS
from coprolib_dataverse.testing import LocalDataverse
from coprolib_entra.testing import LocalEntra

from coprolib.adapters import Secret
from coprolib.testing.fault_server import FaultServer

CLIENT_ID = "11111111-2222-4333-8444-555555555555"
CLIENT_SECRET = "local-dataverse-client-secret-Zq8~x"

#: The README's table: column -> most characters.
COLUMNS = {
    "coprolib_name": 400,
    "coprolib_body": 1_048_576,
    "coprolib_kind": 100,
    "coprolib_identitylevel": 100,
    "coprolib_domain": 100,
    "coprolib_themes": 4000,
    "coprolib_recommendation": 4000,
    "coprolib_quotes": 1_048_576,
    "coprolib_digest": 100,
    "coprolib_plannedat": 100,
    "coprolib_consentversions": 4000,
}
assert set(COLUMNS) == set(DEFAULT_COLUMNS.values())


@pytest.fixture(scope="session")
def entra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEntra]:
    with LocalEntra(Path(tmp_path_factory.mktemp("entra"))) as started:
        started.register(CLIENT_ID, CLIENT_SECRET)
        yield started


@pytest.fixture
def dataverse(entra: LocalEntra) -> Iterator[tuple[LocalDataverse, FaultServer]]:
    local = LocalDataverse(columns=COLUMNS)
    with FaultServer(local.app) as server:
        local.base_url = server.url
        local.token_check = lambda token: entra.valid(token, f"{server.url}/.default")
        yield local, server


def _settings(url: str, entra: LocalEntra, **extra: Any) -> dict[str, Any]:
    return {
        "url": url,
        "tenant_id": entra.tenant_id,
        "client_id": CLIENT_ID,
        "client_secret": Secret(CLIENT_SECRET, "$env:DATAVERSE_CLIENT_SECRET"),
        "entity_set": "coprolib_shares",
        "authority_host": entra.authority_host,
        "instance_discovery": False,
        "http": {"ca_bundle": str(entra.ca_path), **extra.pop("http", {})},
        **extra,
    }


@pytest.fixture
def make_adapter(
    dataverse: tuple[LocalDataverse, FaultServer], entra: LocalEntra
) -> Iterator[Callable[..., DataverseAdapter]]:
    made: list[DataverseAdapter] = []

    def make(**extra: Any) -> DataverseAdapter:
        clock = extra.pop("clock", None)
        kwargs = {"clock": clock} if clock else {}
        adapter = DataverseAdapter(
            _settings(dataverse[1].url, entra, **extra), destination="test", **kwargs
        )
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        adapter.close()


@pytest.fixture(scope="session")
def settings_for(entra: LocalEntra) -> Callable[..., dict[str, Any]]:
    """``settings_for(url, **extra)``: adapter settings aimed at ``url``, tokens from local Entra."""

    def build(url: str, **extra: Any) -> dict[str, Any]:
        return _settings(url, entra, **extra)

    return build


@pytest.fixture(scope="session")
def client_secret() -> str:
    """The local app registration's secret (must never appear in output)."""
    return CLIENT_SECRET
