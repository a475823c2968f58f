"""Fixtures: a local Entra ID (HTTPS, JWT-shaped tokens with roles) and a local Graph sendMail."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from coprolib_graphmail.testing import LocalGraphMail, RolesEntra

from coprolib.adapters import Secret
from coprolib.testing.fault_server import FaultServer

TENANT_ID = "3f9d2c1b-7a6e-4d5c-9b8a-1e2f3a4b5c6d"
CLIENT_ID = "6b1e4f0a-2c3d-4e5f-8a9b-0c1d2e3f4a5b"
CLIENT_SECRET = "Qx8~fictional.GraphMail_Secret-4kT2vN9pL"
MAILBOX = "safeguarding.feedback@exampleshire.gov.uk"
OUTSIDE = "director@exampleshire.gov.uk"


@pytest.fixture(scope="session")
def entra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RolesEntra]:
    with RolesEntra(Path(tmp_path_factory.mktemp("entra")), tenant_id=TENANT_ID) as started:
        started.register(CLIENT_ID, CLIENT_SECRET)
        yield started


@pytest.fixture
def graph(entra: RolesEntra) -> Iterator[tuple[LocalGraphMail, FaultServer]]:
    entra.roles[CLIENT_ID] = ["Mail.Send"]
    local = LocalGraphMail(mailboxes=[MAILBOX, OUTSIDE], policy_scope=[MAILBOX])
    with FaultServer(local.app) as server:
        scope = f"{server.url}/.default"

        def roles(token: str) -> list[str] | None:
            if not entra.valid(token, scope):
                return None
            import base64
            import json

            part = token.split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
            return list(claims["roles"])

        local.token_roles = roles
        yield local, server


@pytest.fixture(scope="session")
def settings_for(entra: RolesEntra) -> Callable[..., dict[str, Any]]:
    """``settings_for(base_url, **extra)``: graph-mail settings aimed at a local server."""

    def build(base_url: str, **extra: Any) -> dict[str, Any]:
        return {
            "tenant_id": TENANT_ID,
            "client_id": CLIENT_ID,
            "client_secret": Secret(CLIENT_SECRET, "$env:GRAPH_MAIL_SECRET"),
            "mailbox": MAILBOX,
            "from_name": "Exampleshire Safeguarding Adults Board",
            "organisation": "Exampleshire Safeguarding Adults Board",
            "graph_url": f"{base_url}/v1.0",
            "authority_host": entra.authority_host,
            "instance_discovery": False,
            "http": {"ca_bundle": str(entra.ca_path), **extra.pop("http", {})},
            **extra,
        }

    return build
