"""Helpers for the ``coprolib serve`` tests: a ledger holding the fictional Northdale example and
the API served by uvicorn on 127.0.0.1 on a free port, in a thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
import uvicorn

from coprolib.config import Config, parse_config
from coprolib.ledger.api_store import create_token
from coprolib.records.bundle import load_bundle
from tests.conftest import EXAMPLE_BUNDLE, ROOT

#: Every scope, for a token that may do anything.
ALL_SCOPES = ("read", "records:write", "consent:write", "feedback:write")


def northdale_config(extra: str = "") -> Config:
    """The example's configuration (its destinations), with ``extra`` TOML appended."""
    text = (ROOT / "examples" / "coprolib.toml").read_text(encoding="utf-8")
    return parse_config(text + "\n" + extra, "coprolib.toml")


def fill(target: Any, *tokens: tuple[str, tuple[str, ...]]) -> dict[str, str]:
    """Import the example into the ledger at ``target`` and create ``tokens``; their values."""
    with target.open(actor="test") as ledger:
        ledger.import_bundle(load_bundle(EXAMPLE_BUNDLE))
        return {name: create_token(ledger, name, scopes) for name, scopes in tokens}


@contextmanager
def serving(target: Any, config: Config | None = None) -> Iterator[str]:
    """Serve the ledger at ``target`` with uvicorn on 127.0.0.1; yields the base URL."""
    from coprolib.serve import create_app

    app = create_app(target.url, config or northdale_config(), schema=target.schema)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}


def ledger_state(target: Any) -> tuple[Any, ...]:
    """What a refused request must leave as it was: the audit head, every record, consent
    event, share and answered request."""
    return (
        target.raw("SELECT value FROM coprolib_meta WHERE key = 'audit_head'"),
        target.raw("SELECT count(*) FROM records"),
        target.raw("SELECT count(*) FROM consent_events"),
        target.raw("SELECT count(*) FROM shares"),
        target.raw("SELECT count(*) FROM api_replays"),
        target.raw("SELECT count(*) FROM api_tokens"),
    )


def get(
    base: str, path: str, token: str | None = None, headers: dict[str, str] | None = None
) -> requests.Response:
    """GET ``path`` with ``token`` (bounded in time)."""
    h = {**(bearer(token) if token else {}), **(headers or {})}
    return requests.get(base + path, headers=h, timeout=30)


def post(
    base: str, path: str, token: str | None = None, headers: dict[str, str] | None = None, **kw: Any
) -> requests.Response:
    """POST ``path`` with ``token`` (bounded in time)."""
    h = {**(bearer(token) if token else {}), **(headers or {})}
    return requests.post(base + path, headers=h, timeout=30, **kw)


def assert_problem(response: requests.Response, status: int, field: str | None = None) -> None:
    """``response`` is an RFC 9457 problem with ``status`` naming ``field``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    doc = response.json()
    assert doc["status"] == status and doc["title"] and doc["detail"]
    if field is not None:
        assert doc["field"] == field, doc
