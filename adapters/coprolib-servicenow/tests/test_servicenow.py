"""coprolib-servicenow against a local ServiceNow instance on 127.0.0.1 (OAuth client
credentials, Import Set API with a coalescing transform map, insertMultiple, Table API)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest
from coprolib_servicenow import ServiceNowAdapter
from coprolib_servicenow.errors import classify
from coprolib_servicenow.testing import LocalServiceNow
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coprolib.adapters import ConfigError, RetractRef, Secret, Status, build_adapter
from coprolib.records import Share
from coprolib.testing.conformance import AdapterConformance
from coprolib.testing.fault_server import FaultServer
from coprolib.testing.shares import canonical_shares, make_share

Instance = tuple[LocalServiceNow, FaultServer]


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
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


class TestServiceNowConformance(AdapterConformance):
    @pytest.fixture
    def adapter(
        self,
        instance: Instance,
        settings_for: Callable[..., dict[str, Any]],
        monkeypatch: pytest.MonkeyPatch,
    ) -> Iterator[ServiceNowAdapter]:
        self.local = instance[0]
        config = settings_for(instance[1].url)
        monkeypatch.setenv("SERVICENOW_CLIENT_SECRET", config["client_secret"].reveal())
        config["client_secret"] = "$env:SERVICENOW_CLIENT_SECRET"
        made = ServiceNowAdapter(config, destination="test")
        yield made
        made.close()

    def remote_keys(self, adapter: Any) -> list[str]:
        return self.local.keys()

    @pytest.fixture(autouse=True)
    def _settings(self, settings_for: Callable[..., dict[str, Any]]) -> None:
        self._settings_for = settings_for

    def http_adapter(self, base_url: str, *, read_timeout: float) -> ServiceNowAdapter:
        return ServiceNowAdapter(
            self._settings_for(base_url, http={"read_timeout": read_timeout}), destination="test"
        )


class TestServiceNowConformanceProductionKeys(TestServiceNowConformance):
    """The kit again with keys shaped as in production."""

    def shares(self) -> list[Share]:
        return [keyed(s, production_key(s.id)) for s in canonical_shares(self.destination)]

    def make_share(self, share_id: str, **fields: Any) -> Share:
        share = make_share(share_id, destination=self.destination, **fields)
        return keyed(share, production_key(share_id))


def test_one_share_is_one_import_and_a_repeat_coalesces(
    instance: Instance, make_adapter: Callable[..., ServiceNowAdapter]
) -> None:
    local, _ = instance
    adapter = make_adapter()
    share = keyed(canonical_shares()[2], production_key("a"))
    first = adapter.deliver([share])[0]
    second = adapter.deliver([attrs.evolve(share, title="Revised title")])[0]
    third = adapter.deliver([attrs.evolve(share, title="Revised title")])[0]
    assert first.ok and second.ok and third.ok
    assert third.message == "unchanged at ServiceNow"
    assert local.requests["import"] == 3 and local.created == 1
    assert first.remote_id == second.remote_id and len(first.remote_id or "") == 32
    record = local.target[first.remote_id or ""]
    assert record["u_coprolib_key"] == share.idempotency_key
    assert record["u_title"] == "Revised title"
    assert record["u_planned_at"] == "2026-03-02 09:30:00"
    assert record["u_quotes"] == "I felt like a box being ticked."


def test_a_batch_is_one_insert_multiple_and_splits_at_200(
    instance: Instance, make_adapter: Callable[..., ServiceNowAdapter]
) -> None:
    local, _ = instance
    adapter = make_adapter()
    shares = [keyed(make_share(f"b{i}"), production_key(f"b{i}")) for i in range(201)]
    results = adapter.deliver(shares)
    assert [r.share_id for r in results] == [s.id for s in shares]
    assert all(r.ok for r in results), {r.message for r in results}
    assert local.batch_sizes == [200, 1] and local.requests["import"] == 0
    assert adapter.requests_sent == 4, "one insertMultiple and one read of its rows per batch"
    assert sorted(local.keys()) == sorted(s.idempotency_key for s in shares)
    assert all(r.remote_id in local.target for r in results)


def test_asynchronous_insert_multiple_is_accepted_and_says_so(
    instance: Instance, make_adapter: Callable[..., ServiceNowAdapter]
) -> None:
    local, _ = instance
    local.insert_multiple_synchronous = False
    results = make_adapter().deliver([make_share("p1"), make_share("p2")])
    assert all(r.ok and r.remote_id is None for r in results)
    assert "transforms it later" in (results[0].message or "")


def test_without_coalesce_check_fails_and_names_the_fix(
    instance: Instance, make_adapter: Callable[..., ServiceNowAdapter]
) -> None:
    local, _ = instance
    local.coalesce = False
    adapter = make_adapter()
    checked = adapter.check()
    assert not checked.ok and checked.status is Status.PERMANENT
    assert "tick Coalesce" in checked.message
    share = make_share("dup")
    adapter.deliver([share])
    adapter.deliver([share])
    assert local.keys().count(share.idempotency_key) == 2, "what the check warns about"


def test_check_without_read_on_transform_entries_still_passes(
    instance: Instance, make_adapter: Callable[..., ServiceNowAdapter]
) -> None:
    local, _ = instance
    local.transform_entries_readable = False
    checked = make_adapter().check()
    assert checked.ok and "could not be confirmed" in checked.message


@pytest.mark.parametrize("key", [production_key("c"), "test:canon-x", "a^b^OR^c"])
def test_retract_twice_and_never_delivered_succeed(
    instance: Instance, make_adapter: Callable[..., ServiceNowAdapter], key: str
) -> None:
    local, _ = instance
    adapter = make_adapter()
    delivered = adapter.deliver([keyed(make_share("r"), key)])[0]
    by_key = RetractRef(share_id="r", idempotency_key=key)
    first = adapter.retract([ref(delivered)])[0]
    second = adapter.retract([ref(delivered)])[0]
    third = adapter.retract([by_key])[0]
    never = adapter.retract([RetractRef(share_id="n", idempotency_key=production_key("never"))])[0]
    for result in (first, second, third, never):
        assert result.status is Status.OK and result.retracted, result.message
    assert first.message is None
    assert second.message == third.message == never.message == "already deleted at ServiceNow"
    assert local.deleted == 1 and local.keys() == []


def test_retract_by_key_finds_only_that_key(
    instance: Instance, make_adapter: Callable[..., ServiceNowAdapter]
) -> None:
    local, _ = instance
    adapter = make_adapter()
    for key in ("a^b", "a^bc", "a"):
        assert adapter.deliver([keyed(make_share(key), key)])[0].ok
    assert adapter.retract([RetractRef(share_id="x", idempotency_key="a^b")])[0].retracted
    assert sorted(local.keys()) == ["a", "a^bc"]


def test_rate_limit_rule_pauses_for_retry_after(
    instance: Instance, make_adapter: Callable[..., ServiceNowAdapter]
) -> None:
    local, _ = instance
    clock = FakeClock()
    adapter = make_adapter(clock=clock)
    local.rate_limit(1, rule="0f1e2d3c4b5a69788796a5b4c3d2e1f0")
    assert adapter.deliver([make_share("q1")])[0].ok
    throttled = adapter.deliver([make_share("q2")])[0]
    assert throttled.status is Status.THROTTLED
    assert throttled.retry_after is not None and 0 < throttled.retry_after <= 3600
    assert "0f1e2d3c4b5a69788796a5b4c3d2e1f0" in (throttled.message or "")
    sent = adapter.requests_sent
    assert adapter.retract([ref(throttled)])[0].status is Status.THROTTLED
    assert adapter.requests_sent == sent, "nothing is sent while paused"
    local.rate_limit(None)
    clock.now += 3601
    assert adapter.deliver([make_share("q2")])[0].ok


def test_429_without_retry_after_waits_for_the_reset_time() -> None:
    error = classify(
        429,
        {"X-RateLimit-Reset": "1767229200", "X-RateLimit-Limit": "500"},
        b'{"error": {"message": "Rate limit exceeded", "detail": "x"}, "status": "failure"}',
        what="import",
        wall=lambda: 1767229200 - 125.0,
    )
    assert error.status is Status.THROTTLED and error.retry_after == 125.0
    assert "Rate limit exceeded" in error.message


def test_client_credentials_grant_not_enabled_is_auth(
    instance: Instance, make_adapter: Callable[..., ServiceNowAdapter]
) -> None:
    local, _ = instance
    local.client_credentials_enabled = False
    adapter = make_adapter()
    result = adapter.deliver([make_share("t")])[0]
    checked = adapter.check()
    assert result.status is Status.AUTH and checked.status is Status.AUTH
    for text in (result.message or "", checked.message):
        assert local.client_secret not in text


def test_expired_token_is_refreshed_once(
    instance: Instance, make_adapter: Callable[..., ServiceNowAdapter]
) -> None:
    local, _ = instance
    adapter = make_adapter()
    assert adapter.deliver([make_share("s1")])[0].ok
    local.revoke_all()
    assert adapter.deliver([make_share("s2")])[0].ok
    assert local.token_requests == 2


def test_delete_refused_by_acl_is_auth_not_done(
    instance: Instance, make_adapter: Callable[..., ServiceNowAdapter]
) -> None:
    local, _ = instance
    adapter = make_adapter()
    delivered = adapter.deliver([make_share("acl")])[0]
    local.delete_allowed = False
    result = adapter.retract([ref(delivered)])[0]
    assert result.status is Status.AUTH and not result.retracted
    assert "ACL Exception Delete Failed" in (result.message or "")


def test_faults_during_retract_and_check_are_classified(
    instance: Instance, make_adapter: Callable[..., ServiceNowAdapter]
) -> None:
    _, server = instance
    adapter = make_adapter(http={"read_timeout": 0.5})
    delivered = adapter.deliver([keyed(make_share("f"), production_key("f"))])[0]
    server.slow_seconds = 1.0
    for fault in ("reset", "500", "slow"):
        server.force(fault)
        assert adapter.retract([ref(delivered)])[0].status is Status.RETRYABLE, fault
        server.force(fault)
        checked = adapter.check()
        assert not checked.ok and checked.status is Status.RETRYABLE, (fault, checked.message)
    assert adapter.retract([ref(delivered)])[0].retracted
    assert adapter.check().ok


def test_long_text_is_cut_to_the_column_with_an_ellipsis(
    instance: Instance, make_adapter: Callable[..., ServiceNowAdapter]
) -> None:
    local, _ = instance
    result = make_adapter().deliver([make_share("long", title="Word " * 100)])[0]
    title = local.target[result.remote_id or ""]["u_title"]
    assert len(title) == 255 and title.endswith("…")


def test_settings_are_checked(settings_for: Callable[..., dict[str, Any]]) -> None:
    with pytest.raises(ConfigError, match="key column"):
        ServiceNowAdapter(
            settings_for("https://x.service-now.com", columns={"title": "u_coprolib_key"})
        )
    with pytest.raises(ConfigError, match="staging_table"):
        ServiceNowAdapter(settings_for("https://x.service-now.com", staging_table="U Import"))
    with pytest.raises(ConfigError, match="https"):
        ServiceNowAdapter(settings_for("http://x.service-now.com"))


def test_registered_by_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SN_SECRET", "fictional-servicenow-secret")
    made = build_adapter(
        "servicenow",
        {
            "instance_url": "https://exampleshire.service-now.com",
            "client_id": "8f2c61d4a9b34e0c9d7e5f1a2b3c4d5e",
            "client_secret": "$env:SN_SECRET",
        },
    )
    assert isinstance(made, ServiceNowAdapter)
    assert "fictional-servicenow-secret" not in json.dumps(made.describe())
    assert isinstance(made.config.client_secret, Secret)


_KEYS = st.text(
    alphabet=st.one_of(
        st.characters(blacklist_categories=("Cs", "Cc")), st.sampled_from(list("^=/.%?#&+:'\"\\ "))
    ),
    min_size=1,
    max_size=255,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(key=_KEYS)
def test_any_key_is_delivered_once_and_retracted(
    instance: Instance, make_adapter: Callable[..., ServiceNowAdapter], key: str
) -> None:
    local, _ = instance
    adapter = make_adapter()
    share = keyed(make_share("p"), key)
    assert adapter.deliver([share])[0].ok
    assert adapter.deliver([share])[0].ok
    assert local.keys().count(key) == 1
    result = adapter.retract([RetractRef(share_id="p", idempotency_key=key)])[0]
    assert result.ok and result.retracted, result.message
    assert local.keys().count(key) == 0
    adapter.close()


def test_doctor_reports_the_instance_and_names_the_fix(
    instance: Instance,
    settings_for: Callable[..., dict[str, Any]],
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from coprolib.cli.doctor import Severity, run_checks

    local, server = instance
    secret = settings_for(server.url)["client_secret"].reveal()
    monkeypatch.setenv("SERVICENOW_CLIENT_SECRET", secret)
    config = tmp_path / "coprolib.toml"
    config.write_text(
        f'ledger = "sqlite:///{tmp_path}/coprolib.db"\n'
        "[destinations.council-itsm]\n"
        'adapter = "servicenow"\naudience = "partners"\npurposes = ["service_improvement"]\n'
        "[destinations.council-itsm.settings]\n"
        f'instance_url = "{server.url}"\nclient_id = "{local.client_id}"\n'
        'client_secret = "$env:SERVICENOW_CLIENT_SECRET"\n',
        encoding="utf-8",
    )
    [found] = [f for f in run_checks(config) if f.where == "destinations.council-itsm"]
    assert found.severity is Severity.OK, found.message
    local.coalesce = False
    [found] = [f for f in run_checks(config) if f.where == "destinations.council-itsm"]
    assert found.problem and "tick Coalesce" in found.message
    assert secret not in found.message + (found.fix or "")
