"""coprolib-webhook against a real receiver on 127.0.0.1 that verifies every signature with the
``standardwebhooks`` reference library."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from coprolib_webhook import WebhookAdapter
from coprolib_webhook.testing import Receiver
from standardwebhooks import Webhook

from coprolib.adapters import ConfigError, RetractRef, Secret, Status, build_adapter
from coprolib.testing.conformance import AdapterConformance
from coprolib.testing.fault_server import FaultServer
from coprolib.testing.shares import canonical_shares, make_share

SECRET = "whsec_" + base64.b64encode(b"test-signing-key-0123456789abcdef").decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"old-signing-key-fedcba9876543210").decode()


@pytest.fixture
def receiver() -> Receiver:
    return Receiver(SECRET)


@pytest.fixture
def server(receiver: Receiver) -> Iterator[FaultServer]:
    with FaultServer(receiver.app) as started:
        yield started


def _adapter(url: str, *secrets: str, read_timeout: float = 5.0) -> WebhookAdapter:
    return WebhookAdapter(
        {
            "url": url,
            "secrets": [Secret(s) for s in secrets or (SECRET,)],
            "http": {"read_timeout": read_timeout},
        },
        destination="test",
    )


class TestWebhookConformance(AdapterConformance):
    malformed_body_statuses = frozenset({Status.OK})

    @pytest.fixture
    def adapter(
        self, server: FaultServer, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
    ) -> Iterator[WebhookAdapter]:
        monkeypatch.setenv("TEST_WEBHOOK_SECRET", SECRET)
        self.receiver = receiver
        made = WebhookAdapter(
            {"url": f"{server.url}/hook", "secrets": ["$env:TEST_WEBHOOK_SECRET"]},
            destination="test",
        )
        yield made
        made.close()
        assert receiver.bad_signatures == 0

    def remote_keys(self, adapter: Any) -> list[str]:
        return self.receiver.keys()

    def http_adapter(self, base_url: str, *, read_timeout: float) -> WebhookAdapter:
        return _adapter(base_url, read_timeout=read_timeout)


def test_registered_by_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    made = build_adapter(
        "webhook", {"url": "https://x.invalid/h", "secrets": ["$env:HOOK_SECRET"]}, destination="d"
    )
    assert isinstance(made, WebhookAdapter)
    assert SECRET not in json.dumps(made.describe())


def test_headers_and_payload_follow_the_spec(server: FaultServer, receiver: Receiver) -> None:
    share = canonical_shares()[3]
    seen: list[Any] = []
    inner = server.app

    def spy(request: Any) -> Any:
        seen.append(request)
        return inner(request)

    server.app = spy
    with _adapter(server.url) as adapter:
        assert adapter.deliver([share])[0].ok
    request = seen[0]
    assert request.headers["webhook-id"] == share.idempotency_key
    assert request.headers["webhook-timestamp"].isdigit()
    assert request.headers["webhook-signature"].startswith("v1,")
    event = Webhook(SECRET).verify(request.body, request.headers)
    assert event["type"] == "insight.shared"
    assert set(event) == {"type", "timestamp", "data"}
    assert event["data"]["body"] == share.body
    assert receiver.stored[share.idempotency_key]["title"] == share.title


def test_feedback_and_retraction_types(server: FaultServer, receiver: Receiver) -> None:
    feedback = canonical_shares()[-1]
    with _adapter(server.url) as adapter:
        result = adapter.deliver([feedback])[0]
        adapter.retract([RetractRef(share_id=feedback.id, idempotency_key=result.idempotency_key)])
    assert receiver.types == {"feedback.shared": 1, "insight.retracted": 1}
    assert receiver.retracted == [feedback.idempotency_key]
    assert receiver.keys() == []


def test_rotation_signs_with_every_secret(server: FaultServer) -> None:
    old_receiver = Receiver(OLD_SECRET)
    new_receiver = Receiver(SECRET)
    stranger = Receiver("whsec_" + base64.b64encode(b"someone-else-entirely").decode())
    for who in (old_receiver, new_receiver, stranger):
        server.app = who.app
        with _adapter(server.url, SECRET, OLD_SECRET) as adapter:
            adapter.deliver([make_share("rotated")])
    assert old_receiver.keys() == new_receiver.keys() == ["test:rotated"]
    assert stranger.bad_signatures == 1 and stranger.keys() == []


def test_tampered_body_is_rejected_by_the_reference_library(server: FaultServer) -> None:
    with _adapter(server.url) as adapter:
        body = adapter.payload("insight.shared", {"x": 1})
        good = adapter.post("m1", body)
        assert good.status_code == 200
        headers = {"webhook-id": "m1", "webhook-timestamp": "0", "webhook-signature": "v1,AAAA"}
    bad = requests.post(server.url, data=body.encode(), headers=headers, timeout=5)
    assert bad.status_code == 401


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        ("410", Status.DISABLED),
        ("429", Status.THROTTLED),
        ("502", Status.THROTTLED),
        ("504", Status.THROTTLED),
        ("500", Status.RETRYABLE),
        ("401", Status.AUTH),
    ],
)
def test_receiver_replies_are_classified(server: FaultServer, fault: str, status: Status) -> None:
    server.force(fault)
    with _adapter(server.url) as adapter:
        assert adapter.deliver([make_share("s")])[0].status is status


def test_secret_that_is_not_whsec_base64_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        WebhookAdapter({"url": "https://x.invalid", "secrets": [Secret("", "$env:X")]})
    assert "$env:X" in str(caught.value)


def test_concurrent_batch_keeps_order(server: FaultServer, receiver: Receiver) -> None:
    shares = [make_share(f"c{i}") for i in range(40)]
    with _adapter(server.url) as adapter:
        results = adapter.deliver(shares)
    assert [r.share_id for r in results] == [s.id for s in shares]
    assert sorted(receiver.keys()) == sorted(s.idempotency_key for s in shares)
    assert os.environ.get("TEST_WEBHOOK_SECRET") is None


@pytest.mark.parametrize("size", [1, 23, 65])
def test_signing_key_outside_24_to_64_bytes_is_refused(size: int) -> None:
    raw = os.urandom(size)
    secret = Secret("whsec_" + base64.b64encode(raw).decode(), "$env:SHORT_KEY")
    with pytest.raises(ConfigError, match=f"24 to 64 bytes .*this one is {size}") as caught:
        WebhookAdapter({"url": "https://x.invalid", "secrets": [secret]})
    assert base64.b64encode(raw).decode() not in str(caught.value)


@pytest.mark.parametrize("size", [24, 64])
def test_signing_key_of_24_or_64_bytes_is_accepted(size: int) -> None:
    secret = Secret("whsec_" + base64.b64encode(os.urandom(size)).decode(), "$env:KEY")
    WebhookAdapter({"url": "https://x.invalid", "secrets": [secret]}).close()
