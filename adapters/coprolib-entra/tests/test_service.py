"""ServiceClient: the request plumbing the Dataverse and Graph adapters share, against a real
local HTTP server."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest
from coprolib_entra.service import ServiceClient

from coprolib.adapters import AdapterError, PermanentError, ThrottledError
from coprolib.adapters.http import HttpClient
from coprolib.testing.fault_server import FaultServer, Reply, Request


class Tokens:
    def __init__(self) -> None:
        self.refreshes = 0

    def token(self, *, refresh: bool = False) -> str:
        self.refreshes += refresh
        return f"token-{self.refreshes}"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def classify(status: int, headers: Mapping[str, str], body: bytes, *, what: str) -> AdapterError:
    if status == 429:
        return ThrottledError(f"{what}: slow down", retry_after=float(headers["Retry-After"]))
    return PermanentError(f"{what}: {status} {body.decode()}")


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as started:
        yield started


def client(server: FaultServer, tokens: Tokens, clock: Clock) -> ServiceClient:
    http = HttpClient(base_url=server.url, token_source=tokens)
    return ServiceClient(
        service="Test Service",
        http=http,
        classify=classify,
        redact=lambda text: text.replace("hunter2", "***"),
        clock=clock,
    )


def test_a_401_refreshes_the_token_once_and_both_requests_count(server: FaultServer) -> None:
    tokens, seen = Tokens(), []

    def app(request: Request) -> Reply:
        seen.append(request.headers["authorization"])
        return Reply(status=401) if len(seen) == 1 else Reply.json(200, {"ok": True})

    server.app = app
    service = client(server, tokens, Clock())
    response = service.send("GET", "/thing", what="read")
    assert response.json() == {"ok": True}
    assert seen == ["Bearer token-0", "Bearer token-1"]
    assert service.requests_sent == 2


def test_errors_are_classified_redacted_and_a_429_pauses_the_destination(
    server: FaultServer,
) -> None:
    clock, hits = Clock(), []

    def answer(reply: Reply) -> None:
        def app(request: Request) -> Reply:
            hits.append(request.path)
            return reply

        server.app = app

    service = client(server, Tokens(), clock)
    answer(Reply(status=400, body=b"bad secret hunter2"))
    with pytest.raises(PermanentError) as caught:
        service.send("POST", "/thing", what="write", json={})
    assert caught.value.message == "write: 400 bad secret ***"
    assert service.paused_for() == 0

    answer(Reply(status=429, headers={"Retry-After": "30"}))
    with pytest.raises(ThrottledError):
        service.send("GET", "/thing", what="read")
    assert service.paused_for() == pytest.approx(30)
    before = len(hits), service.requests_sent
    clock.now += 10
    with pytest.raises(ThrottledError, match="Test Service asked us to wait") as paused:
        service.send("GET", "/thing", what="read")
    assert paused.value.retry_after == pytest.approx(20)
    assert (len(hits), service.requests_sent) == before == (2, 2)
    clock.now += 20
    answer(Reply.json(200, {}))
    assert service.send("GET", "/thing", what="read").status_code == 200
