"""coprolib-fhir against a FHIR R4 subset server on 127.0.0.1 that validates every resource it
receives with the ``fhir.resources`` models."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from coprolib_fhir import FhirAdapter
from coprolib_fhir.outcome import classify
from coprolib_fhir.resources import escape_token, identifier_query
from coprolib_fhir.testing import FhirServer, split_token
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.communication import Communication
from hypothesis import given, settings
from hypothesis import strategies as st

from coprolib.adapters import RetractRef, Status, build_adapter
from coprolib.testing.conformance import AdapterConformance
from coprolib.testing.fault_server import FaultServer
from coprolib.testing.shares import canonical_shares, make_share

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


FIXED = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


class TestFhirConformance(AdapterConformance):
    """The standard suite, with client-credentials auth and batch Bundles."""

    @pytest.fixture
    def adapter(
        self, fhir: FhirServer, http: FaultServer, monkeypatch: pytest.MonkeyPatch
    ) -> Iterator[FhirAdapter]:
        monkeypatch.setenv("TEST_FHIR_SECRET", CLIENT_SECRET)
        self.server = fhir
        made = make_adapter(
            http.url,
            token_url=f"{http.url}/token",
            client_id=CLIENT_ID,
            client_secret="$env:TEST_FHIR_SECRET",
        )
        yield made
        made.close()
        assert fhir.invalid == [], fhir.invalid

    def remote_keys(self, adapter: Any) -> list[str]:
        return self.server.keys()

    def http_adapter(self, base_url: str, *, read_timeout: float) -> FhirAdapter:
        return FhirAdapter(
            {"url": base_url, "http": {"read_timeout": read_timeout}}, destination="test"
        )


class TestFhirTransactionConformance(TestFhirConformance):
    """The same suite with transaction Bundles and conditional create."""

    @pytest.fixture
    def adapter(
        self, fhir: FhirServer, http: FaultServer, monkeypatch: pytest.MonkeyPatch
    ) -> Iterator[FhirAdapter]:
        monkeypatch.setenv("TEST_FHIR_TOKEN", BEARER)
        self.server = fhir
        made = make_adapter(
            http.url, bundle_type="transaction", write="create", token="$env:TEST_FHIR_TOKEN"
        )
        yield made
        made.close()
        assert fhir.invalid == [], fhir.invalid


@pytest.fixture
def adapter(http: FaultServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[FhirAdapter]:
    monkeypatch.setenv("TEST_FHIR_TOKEN", BEARER)
    made = make_adapter(http.url, token="$env:TEST_FHIR_TOKEN")
    yield made
    made.close()


def test_registered_by_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FHIR_TOKEN", BEARER)
    made = build_adapter("fhir", {"url": "https://fhir.invalid/r4", "token": "$env:FHIR_TOKEN"})
    assert isinstance(made, FhirAdapter)
    assert BEARER not in json.dumps(made.describe())


def test_every_resource_produced_validates_as_fhir(adapter: FhirAdapter) -> None:
    adapter._clock = lambda: FIXED
    for share in canonical_shares():
        resource = adapter.resource(share)
        model = Communication.model_validate(resource)
        assert model.status == "completed"
        assert model.identifier[0].value == share.idempotency_key
        assert model.identifier[0].system == adapter.config.identifier_system
        assert model.recipient[0].reference == "Organization/sab-board"
        assert model.sender.reference == "Organization/coprolib-team"
        assert model.payload[0].contentString == share.title
        assert model.payload[1].contentString == share.body
        assert model.sent == FIXED
        Bundle.model_validate(
            {"resourceType": "Bundle", "type": "batch", "entry": [adapter.entry(share)]}
        )


def test_stored_resource_carries_the_share(adapter: FhirAdapter, fhir: FhirServer) -> None:
    share = canonical_shares()[2]
    assert adapter.deliver([share])[0].ok
    [stored] = fhir.by_key(share.idempotency_key)
    texts = [p["contentString"] for p in stored["payload"]]
    assert texts[:2] == [share.title, share.body]
    assert any(share.quotes[0].text in t for t in texts)
    assert stored["category"][0]["coding"][0]["code"] == "insight"
    assert fhir.validated["Communication"] >= 1 and fhir.validated["Bundle"] == 1


def test_second_delivery_creates_nothing_new(adapter: FhirAdapter, fhir: FhirServer) -> None:
    shares = canonical_shares()
    first = adapter.deliver(shares)
    ids = dict(fhir.store)
    second = adapter.deliver(shares)
    assert all(r.ok for r in first + second)
    assert set(fhir.store) == set(ids), "no new resource ids on redelivery"
    assert [r.remote_id for r in first] == [r.remote_id for r in second]
    assert Counter(fhir.keys()) == Counter(s.idempotency_key for s in shares)


def test_update_replaces_content_in_place(adapter: FhirAdapter, fhir: FhirServer) -> None:
    old = make_share("u1")
    new = make_share("u1", body="Revised wording.", version=2)
    remote = adapter.deliver([old])[0].remote_id
    assert adapter.deliver([new])[0].remote_id == remote
    [stored] = fhir.by_key(old.idempotency_key)
    assert stored["payload"][1]["contentString"] == "Revised wording."
    assert stored["meta"]["versionId"] == "2"


def test_retraction_marks_entered_in_error_then_deletes(
    adapter: FhirAdapter, fhir: FhirServer
) -> None:
    shares = canonical_shares()[:3]
    delivered = adapter.deliver(shares)
    refs = [RetractRef(share_id=r.share_id, idempotency_key=r.idempotency_key) for r in delivered]
    results = adapter.retract(refs)
    assert all(r.ok and r.retracted for r in results)
    assert fhir.keys() == []
    assert [d["status"] for d in fhir.deleted] == ["entered-in-error"] * 3
    for gone in fhir.deleted:
        Communication.model_validate({k: v for k, v in gone.items()})
    again = adapter.retract(refs)
    assert all(r.ok and r.retracted for r in again), "retracting twice is harmless"


def test_batch_limit_is_learned_by_halving(http: FaultServer, fhir: FhirServer) -> None:
    fhir.max_entries = 7
    with make_adapter(http.url, token=None, batch_size=40) as adapter:
        fhir.static_token = fhir.client_id = None
        shares = [make_share(f"lim-{i}") for i in range(40)]
        results = adapter.deliver(shares)
        assert all(r.ok for r in results), [r.message for r in results]
        assert adapter._batch <= 7
    assert sorted(fhir.keys()) == sorted(s.idempotency_key for s in shares)


def test_throttling_gives_retry_after_and_stops_the_batch(
    http: FaultServer, fhir: FhirServer, adapter: FhirAdapter
) -> None:
    fhir.throttle(1, retry_after="9")
    adapter._batch = 2
    results = adapter.deliver([make_share(f"t-{i}") for i in range(6)])
    assert {r.status for r in results} == {Status.THROTTLED}
    assert all(r.retry_after == 9 for r in results)
    assert fhir.keys() == [], "nothing after the 429 was sent"
    assert fhir.requests["POST base"] == 1


def test_operation_outcome_in_an_entry_is_classified(
    adapter: FhirAdapter, fhir: FhirServer
) -> None:
    share = make_share("dup")
    adapter.deliver([share])
    duplicate = dict(next(iter(fhir.store.values())))
    fhir.store["999"] = {**duplicate, "id": "999"}
    results = adapter.deliver([share, make_share("fine")])
    assert results[0].status is Status.CONFLICT
    assert "multiple-matches" in (results[0].message or "")
    assert results[1].ok


def test_transaction_isolates_a_failing_share(http: FaultServer, fhir: FhirServer) -> None:
    fhir.static_token = fhir.client_id = None
    with make_adapter(http.url, bundle_type="transaction") as adapter:
        adapter.deliver([make_share("dup")])
        duplicate = dict(next(iter(fhir.store.values())))
        fhir.store["999"] = {**duplicate, "id": "999"}
        shares = [make_share("a"), make_share("dup"), make_share("b"), make_share("c")]
        results = adapter.deliver(shares)
    assert [r.status for r in results] == [Status.OK, Status.CONFLICT, Status.OK, Status.OK]


def test_bad_token_is_auth_and_client_credentials_refresh(
    http: FaultServer, fhir: FhirServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WRONG", "not-the-token")
    with make_adapter(http.url, token="$env:WRONG") as wrong:
        result = wrong.deliver([make_share("x")])[0]
        checked = wrong.check()
    assert result.status is Status.AUTH and "not-the-token" not in (result.message or "")
    assert not checked.ok and checked.status is Status.AUTH
    monkeypatch.setenv("SECRET", CLIENT_SECRET)
    with make_adapter(
        http.url, token_url=f"{http.url}/token", client_id=CLIENT_ID, client_secret="$env:SECRET"
    ) as good:
        assert good.deliver([make_share("y")])[0].ok
        fhir.revoke_tokens()
        assert good.deliver([make_share("z")])[0].ok, "a 401 fetches a new token once"
    assert fhir.requests["token"] == 2


def test_check_reports_a_server_that_is_not_r4(http: FaultServer, fhir: FhirServer) -> None:
    fhir.fhir_version = "5.0.0"
    with make_adapter(http.url, token=None) as adapter:
        checked = adapter.check()
    assert not checked.ok and "5.0.0" in checked.message


def test_server_error_outcome_diagnostics_reach_the_message(
    http: FaultServer, adapter: FhirAdapter
) -> None:
    http.force("503")
    result = adapter.deliver([make_share("e")])[0]
    assert result.status is Status.RETRYABLE and "503" in (result.message or "")


def test_issue_codes_override_http_defaults() -> None:
    def oo(code: str) -> dict[str, Any]:
        return {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code}]}

    assert classify(400, oo("throttled")) is Status.THROTTLED
    assert classify(400, oo("transient")) is Status.RETRYABLE
    assert classify(422, oo("duplicate")) is Status.CONFLICT
    assert classify(400, oo("invalid")) is Status.PERMANENT
    assert classify(403, None) is Status.AUTH
    assert classify(503, oo("invalid")) is Status.RETRYABLE


@settings(max_examples=60, deadline=None)
@given(system=st.text(min_size=1, max_size=20), value=st.text(min_size=1, max_size=30))
def test_identifier_search_round_trips_through_escaping(system: str, value: str) -> None:
    from urllib.parse import parse_qs

    query = identifier_query(system, value)
    raw = parse_qs(query, keep_blank_values=True)["identifier"][0]  # decoded once, as a server does
    assert split_token(raw) == (system, value)
    assert escape_token(value).count("|") == value.count("|")
