"""coprolib-salesforce against a local Salesforce org on 127.0.0.1 (tokens, upsert by External
ID, sObject Collections, delete, query, describe, request limits)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest
from coprolib_salesforce import SalesforceAdapter
from coprolib_salesforce.testing import FieldSpec, LocalSalesforce, id18
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coprolib.adapters import ConfigError, RetractRef, Status, build_adapter
from coprolib.records import Share
from coprolib.testing.conformance import AdapterConformance
from coprolib.testing.fault_server import FaultServer
from coprolib.testing.shares import canonical_shares, make_share

Org = tuple[LocalSalesforce, FaultServer]


def production_key(name: str) -> str:
    """A key shaped as the planner makes them: ``coprolib-<40 hex>``."""
    return "coprolib-" + hashlib.sha256(name.encode()).hexdigest()[:40]


def keyed(share: Share, key: str) -> Share:
    return attrs.evolve(share, idempotency_key=key)


def ref(result: Any) -> RetractRef:
    return RetractRef(
        share_id=result.share_id, idempotency_key=result.idempotency_key, remote_id=result.remote_id
    )


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


class TestSalesforceConformance(AdapterConformance):
    """The kit's own keys (``test:<id>``): a ``:`` is not sent in a URL path, so these go
    through sObject Collections and a SOQL query."""

    @pytest.fixture
    def adapter(
        self,
        org: Org,
        settings_for: Callable[..., dict[str, Any]],
        monkeypatch: pytest.MonkeyPatch,
    ) -> Iterator[SalesforceAdapter]:
        self.local = org[0]
        config = settings_for(org[1].url)
        monkeypatch.setenv("SALESFORCE_CLIENT_SECRET", config["client_secret"].reveal())
        config["client_secret"] = "$env:SALESFORCE_CLIENT_SECRET"
        made = SalesforceAdapter(config, destination="test")
        yield made
        made.close()

    def remote_keys(self, adapter: Any) -> list[str]:
        return self.local.keys()

    @pytest.fixture(autouse=True)
    def _settings(self, settings_for: Callable[..., dict[str, Any]]) -> None:
        self._settings_for = settings_for

    def http_adapter(self, base_url: str, *, read_timeout: float) -> SalesforceAdapter:
        return SalesforceAdapter(
            self._settings_for(base_url, http={"read_timeout": read_timeout}), destination="test"
        )


class TestSalesforceConformanceProductionKeys(TestSalesforceConformance):
    """The kit again with keys shaped as in production: sent by URL path, one request each."""

    def shares(self) -> list[Share]:
        return [keyed(s, production_key(s.id)) for s in canonical_shares(self.destination)]

    def make_share(self, share_id: str, **fields: Any) -> Share:
        return keyed(
            make_share(share_id, destination=self.destination, **fields), production_key(share_id)
        )


def test_production_keys_upsert_by_path_and_keep_one_record(
    org: Org, make_adapter: Callable[..., SalesforceAdapter]
) -> None:
    local, _ = org
    adapter = make_adapter()
    share = keyed(canonical_shares()[0], production_key("a"))
    first = adapter.deliver([share])[0]
    second = adapter.deliver([attrs.evolve(share, title="Revised title")])[0]
    assert first.ok and second.ok, (first.message, second.message)
    assert local.requests["PATCH"] == 2 and local.requests["collection"] == 0
    assert local.created == 1 and local.updated == 1
    assert first.remote_id == second.remote_id and len(first.remote_id or "") == 18
    assert first.remote_id == id18((first.remote_id or "")[:15])
    [record] = local.records.values()
    assert record["Coprolib_Key__c"] == share.idempotency_key
    assert record["Name"] == "Revised title"


def test_retraction_suffix_keys_and_hostile_keys(
    org: Org, make_adapter: Callable[..., SalesforceAdapter]
) -> None:
    """The planner's re-delivery key (``coprolib-<hex>-<timestamp>``) goes by path; keys holding
    ``/``, ``.json`` or quotes go through Collections and a query, and still keep one record."""
    local, _ = org
    adapter = make_adapter()
    keys = [
        production_key("b") + "-20260302T093000",
        "board/ins-7",
        "coprolib-report.json",
        'O\'Brien \\ "quoted" 100% ?#&+:',
    ]
    shares = [keyed(make_share(f"h{i}"), k) for i, k in enumerate(keys)]
    for _ in range(2):
        for share in shares:
            assert adapter.deliver([share])[0].ok
    assert sorted(local.keys()) == sorted(keys)
    retracted = adapter.retract(
        [RetractRef(share_id=s.id, idempotency_key=s.idempotency_key) for s in shares]
    )
    assert all(r.ok and r.retracted for r in retracted), [r.message for r in retracted]
    assert local.keys() == []


@pytest.mark.parametrize("key", [production_key("c"), "test:canon-x"])
def test_retract_twice_and_retract_never_delivered_succeed(
    org: Org, make_adapter: Callable[..., SalesforceAdapter], key: str
) -> None:
    local, _ = org
    adapter = make_adapter()
    delivered = adapter.deliver([keyed(make_share("r"), key)])[0]
    assert delivered.ok
    first = adapter.retract([ref(delivered)])[0]
    second = adapter.retract([ref(delivered)])[0]
    never = adapter.retract([RetractRef(share_id="n", idempotency_key=production_key("never"))])[0]
    for result in (first, second, never):
        assert result.status is Status.OK and result.retracted, result.message
    assert second.message == never.message == "already deleted at Salesforce"
    assert local.deleted == 1 and local.keys() == []


def test_a_batch_is_one_collection_request_and_splits_at_200(
    org: Org, make_adapter: Callable[..., SalesforceAdapter]
) -> None:
    local, _ = org
    adapter = make_adapter()
    shares = [keyed(make_share(f"b{i}"), production_key(f"b{i}")) for i in range(201)]
    results = adapter.deliver(shares)
    assert [r.share_id for r in results] == [s.id for s in shares]
    assert all(r.ok for r in results), {r.message for r in results}
    assert local.collection_sizes == [200, 1]
    assert adapter.requests_sent == 2 and local.requests["PATCH"] == 0
    assert sorted(local.keys()) == sorted(s.idempotency_key for s in shares)
    assert len({r.remote_id for r in results}) == 201


def test_stand_in_refuses_more_than_200_records(org: Org) -> None:
    local, server = org
    import requests

    token = requests.post(
        f"{server.url}/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": local.client_id,
            "client_secret": local.client_secret,
        },
        timeout=5,
    ).json()["access_token"]
    records = [
        {"attributes": {"type": local.sobject}, "Coprolib_Key__c": f"k{i}"} for i in range(201)
    ]
    reply = requests.patch(
        f"{server.url}/services/data/v62.0/composite/sobjects/{local.sobject}/Coprolib_Key__c",
        json={"allOrNone": False, "records": records},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert reply.status_code == 400
    assert reply.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    with_key_in_body = requests.patch(
        f"{server.url}/services/data/v62.0/sobjects/{local.sobject}/Coprolib_Key__c/k1",
        json={"Coprolib_Key__c": "k1"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert with_key_in_body.status_code == 400
    assert with_key_in_body.json()[0]["errorCode"] == "INVALID_FIELD"


def test_one_bad_record_fails_alone(
    org: Org, make_adapter: Callable[..., SalesforceAdapter]
) -> None:
    local, _ = org
    # Claims Name holds 200 characters where the org's Name holds 80: the long title fails.
    adapter = make_adapter(max_lengths={"Name": 200})
    shares = [
        keyed(make_share("ok1"), production_key("ok1")),
        keyed(make_share("long", title="T" * 120), production_key("long")),
        keyed(make_share("ok2"), production_key("ok2")),
    ]
    results = adapter.deliver(shares)
    assert [r.status for r in results] == [Status.OK, Status.PERMANENT, Status.OK]
    assert "STRING_TOO_LONG" in (results[1].message or "")
    assert sorted(local.keys()) == sorted([shares[0].idempotency_key, shares[2].idempotency_key])


def test_request_limit_exceeded_pauses_the_destination(
    org: Org, make_adapter: Callable[..., SalesforceAdapter]
) -> None:
    local, _ = org
    clock = FakeClock()
    adapter = make_adapter(clock=clock, limit_pause=600)
    local.limit_after(0)
    share = keyed(make_share("l"), production_key("l"))
    first = adapter.deliver([share])[0]
    assert first.status is Status.THROTTLED and first.retry_after == 600
    assert "REQUEST_LIMIT_EXCEEDED" in (first.message or "")
    sent = adapter.requests_sent
    assert adapter.deliver([share])[0].status is Status.THROTTLED
    assert adapter.retract([ref(first)])[0].status is Status.THROTTLED
    assert adapter.requests_sent == sent, "nothing is sent while paused"
    local.limit_after(None)
    clock.now += 601
    assert adapter.deliver([share])[0].ok


def test_429_and_retry_after(org: Org, make_adapter: Callable[..., SalesforceAdapter]) -> None:
    _, server = org
    adapter = make_adapter()
    adapter.check()  # signs in first, so the 429 meets the REST call
    server.retry_after = "12"
    server.force("429")
    result = adapter.deliver([keyed(make_share("t"), production_key("t"))])[0]
    assert result.status is Status.THROTTLED and result.retry_after == 12
    assert adapter.paused_for() > 10


def test_expired_session_is_refreshed_once(
    org: Org, make_adapter: Callable[..., SalesforceAdapter]
) -> None:
    local, _ = org
    adapter = make_adapter()
    assert adapter.deliver([keyed(make_share("s1"), production_key("s1"))])[0].ok
    local.revoke_all()
    assert adapter.deliver([keyed(make_share("s2"), production_key("s2"))])[0].ok
    assert local.token_requests == 2


def test_wrong_secret_is_auth_and_never_shown(
    org: Org, settings_for: Callable[..., dict[str, Any]]
) -> None:
    from coprolib.adapters import Secret

    wrong = "0" * 64
    adapter = SalesforceAdapter(
        {**settings_for(org[1].url), "client_secret": Secret(wrong)}, destination="test"
    )
    with adapter:
        result = adapter.deliver([make_share("w")])[0]
        checked = adapter.check()
    assert result.status is Status.AUTH and checked.status is Status.AUTH
    assert wrong not in (result.message or "") + checked.message


def test_faults_during_retract_and_check_are_classified(
    org: Org, make_adapter: Callable[..., SalesforceAdapter]
) -> None:
    _, server = org
    adapter = make_adapter(http={"read_timeout": 0.5})
    delivered = adapter.deliver([keyed(make_share("f"), production_key("f"))])[0]
    for fault, status in (
        ("reset", Status.RETRYABLE),
        ("503", Status.RETRYABLE),
        ("slow", Status.RETRYABLE),
    ):
        server.slow_seconds = 1.0
        server.force(fault)
        assert adapter.retract([ref(delivered)])[0].status is status, fault
        server.force(fault)
        checked = adapter.check()
        assert not checked.ok and checked.status is status, (fault, checked.message)
    assert adapter.retract([ref(delivered)])[0].retracted
    assert adapter.check().ok


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"unique": False}, "Unique and case sensitive"),
        ({"case_sensitive": False}, "Unique and case sensitive"),
        ({"external_id": False}, "not marked External ID"),
    ],
)
def test_check_names_what_to_fix_on_the_object(
    org: Org, make_adapter: Callable[..., SalesforceAdapter], change: dict[str, bool], words: str
) -> None:
    local, _ = org
    key = local.fields["coprolib_key__c"]
    for name, value in change.items():
        setattr(key, name, value)
    result = make_adapter().check()
    assert not result.ok and result.status is Status.PERMANENT
    assert words in result.message


def test_check_names_a_missing_object_permission(
    org: Org, make_adapter: Callable[..., SalesforceAdapter]
) -> None:
    local, _ = org
    local.object_rights["deletable"] = False
    result = make_adapter().check()
    assert not result.ok and "cannot delete Coprolib_Share__c" in result.message
    local.object_rights["deletable"] = True
    local.fields["body__c"] = FieldSpec(name="Body__c", length=10, updateable=False)
    assert "cannot edit Body__c" in make_adapter().check().message


def test_unknown_external_id_field_is_permanent_not_gone(
    org: Org, make_adapter: Callable[..., SalesforceAdapter]
) -> None:
    adapter = make_adapter(external_id_field="Other_Key__c")
    result = adapter.retract([RetractRef(share_id="x", idempotency_key=production_key("x"))])[0]
    assert result.status is Status.PERMANENT and not result.retracted
    assert "Provided external ID field does not exist" in (result.message or "")


def test_settings_are_checked(settings_for: Callable[..., dict[str, Any]]) -> None:
    with pytest.raises(ConfigError, match="api_version"):
        SalesforceAdapter(settings_for("https://x.my.salesforce.com", api_version="v45.0"))
    with pytest.raises(ConfigError, match="External ID field"):
        SalesforceAdapter(
            settings_for("https://x.my.salesforce.com", fields={"title": "Coprolib_Key__c"})
        )
    with pytest.raises(ConfigError, match="https"):
        SalesforceAdapter(settings_for("http://x.my.salesforce.com"))
    with pytest.raises(ConfigError, match="batch_size"):
        SalesforceAdapter(settings_for("https://x.my.salesforce.com", batch_size=201))


def test_registered_by_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SF_SECRET", "fictional-secret-value-123")
    made = build_adapter(
        "salesforce",
        {
            "instance_url": "https://exampleshire.my.salesforce.com",
            "client_id": "3MVG9example",
            "client_secret": "$env:SF_SECRET",
        },
        destination="crm",
    )
    assert isinstance(made, SalesforceAdapter)
    assert "fictional-secret-value-123" not in json.dumps(made.describe())


_HOSTILE = st.sampled_from(list("/.%?#&+:'\"\\ ^=*<>"))
_KEYS = st.text(
    alphabet=st.one_of(st.characters(blacklist_categories=("Cs", "Cc")), _HOSTILE),
    min_size=1,
    max_size=255,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(key=_KEYS)
def test_any_key_is_delivered_once_and_retracted(
    org: Org, make_adapter: Callable[..., SalesforceAdapter], key: str
) -> None:
    local, _ = org
    adapter = make_adapter()
    share = keyed(make_share("p"), key)
    assert adapter.deliver([share])[0].ok
    assert adapter.deliver([share])[0].ok
    assert local.keys().count(key) == 1
    result = adapter.retract([RetractRef(share_id="p", idempotency_key=key)])[0]
    assert result.ok and result.retracted, result.message
    assert local.keys().count(key) == 0
    adapter.close()


def test_doctor_reports_the_org_and_names_the_fix(
    org: Org,
    settings_for: Callable[..., dict[str, Any]],
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from coprolib.cli.doctor import Severity, run_checks

    local, server = org
    secret = settings_for(server.url)["client_secret"].reveal()
    monkeypatch.setenv("SALESFORCE_CLIENT_SECRET", secret)
    config = tmp_path / "coprolib.toml"
    config.write_text(
        f'ledger = "sqlite:///{tmp_path}/coprolib.db"\n'
        "[destinations.council-crm]\n"
        'adapter = "salesforce"\naudience = "partners"\npurposes = ["service_improvement"]\n'
        "[destinations.council-crm.settings]\n"
        f'instance_url = "{server.url}"\nclient_id = "{local.client_id}"\n'
        'client_secret = "$env:SALESFORCE_CLIENT_SECRET"\n',
        encoding="utf-8",
    )
    [found] = [f for f in run_checks(config) if f.where == "destinations.council-crm"]
    assert found.severity is Severity.OK, found.message
    local.fields["coprolib_key__c"].case_sensitive = False
    [found] = [f for f in run_checks(config) if f.where == "destinations.council-crm"]
    assert found.problem and "Unique and case sensitive" in found.message
    assert secret not in found.message + (found.fix or "")


def test_unknown_object_is_never_read_as_already_deleted(
    org: Org, make_adapter: Callable[..., SalesforceAdapter]
) -> None:
    """Salesforce answers NOT_FOUND both for a missing record and for a wrong object name."""
    adapter = make_adapter(sobject="Coprolib_Shares__c")
    result = adapter.retract([RetractRef(share_id="x", idempotency_key=production_key("x"))])[0]
    assert result.status is Status.PERMANENT and not result.retracted
    assert "no object Coprolib_Shares__c" in (result.message or "")
    right = make_adapter()
    gone = [RetractRef(share_id=f"g{i}", idempotency_key=production_key(f"g{i}")) for i in range(3)]
    assert all(right.retract([g])[0].retracted for g in gone)
    assert org[0].requests["describe"] == 1, "confirmed once for three deletes"


def test_a_batch_retraction_is_a_query_and_a_collection_delete(
    org: Org, make_adapter: Callable[..., SalesforceAdapter]
) -> None:
    local, _ = org
    adapter = make_adapter()
    shares = [keyed(make_share(f"d{i}"), production_key(f"d{i}")) for i in range(201)]
    delivered = adapter.deliver(shares)
    sent = adapter.requests_sent
    refs = [ref(r) for r in delivered[:150]] + [
        RetractRef(share_id=f"n{i}", idempotency_key=production_key(f"never{i}")) for i in range(51)
    ]
    results = adapter.retract(refs)
    assert [r.share_id for r in results] == [r.share_id for r in refs]
    assert all(r.ok and r.retracted for r in results), {r.message for r in results}
    assert [r.message for r in results].count("already deleted at Salesforce") == 51
    assert sorted(local.keys()) == sorted(s.idempotency_key for s in shares[150:])
    # Groups of 200 and 1: the second holds only a never-delivered key, so nothing to delete.
    assert local.requests["collection delete"] == 1 and local.collection_sizes[-1] == 150
    queries = local.requests["query"]
    assert queries <= 3, "IN lists of keys, cut only to keep each URI short"
    assert adapter.requests_sent - sent == queries + 1, "instead of 201 deletes"
    again = adapter.retract(refs)
    assert all(r.retracted and r.message == "already deleted at Salesforce" for r in again)


def test_long_hostile_keys_are_queried_in_chunks_under_the_uri_limit(
    org: Org, make_adapter: Callable[..., SalesforceAdapter]
) -> None:
    local, _ = org
    adapter = make_adapter()
    keys = [f"{i:02d}/" + "é'\\" * 84 for i in range(30)]  # 255 characters, 3x-6x when encoded
    shares = [keyed(make_share(f"u{i}"), k) for i, k in enumerate(keys)]
    assert all(len(k) == 255 for k in keys)
    assert all(r.ok for r in adapter.deliver(shares))
    results = adapter.retract(
        [RetractRef(share_id=s.id, idempotency_key=s.idempotency_key) for s in shares]
    )
    assert all(r.retracted for r in results), {r.message for r in results}
    assert local.keys() == []
    assert local.requests["query"] > 1, "split into several queries"


def test_check_reports_the_api_requests_left(
    org: Org, make_adapter: Callable[..., SalesforceAdapter]
) -> None:
    local, _ = org
    checked = make_adapter().check()
    assert checked.ok and "API requests left in the last 24 hours" in checked.message
    local.daily_allowance = 2  # the describe and the limits calls use it up
    checked = make_adapter().check()
    assert not checked.ok and checked.status is Status.THROTTLED
    assert "0 of 2 API requests left" in checked.message
