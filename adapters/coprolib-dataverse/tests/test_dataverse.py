"""coprolib-dataverse against a local Dataverse subset and a local Entra ID on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from coprolib_dataverse import DataverseAdapter, batch
from coprolib_dataverse.adapter import key_from_value, key_value
from coprolib_dataverse.errors import RowMissingError, classify
from coprolib_dataverse.testing import UNREADABLE_IN_KEYS, LocalDataverse
from coprolib_entra.testing import LocalEntra
from hypothesis import given
from hypothesis import strategies as st

from coprolib.adapters import ConfigError, RetractRef, Status, build_adapter
from coprolib.testing.conformance import AdapterConformance
from coprolib.testing.fault_server import FaultServer
from coprolib.testing.shares import canonical_shares, make_share

Local = tuple[LocalDataverse, FaultServer]


def stored(local: LocalDataverse) -> list[str]:
    """The idempotency key of every row, read back from the key column."""
    values = local.keys()
    return [key_from_value(value) for value in values]


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestDataverseConformance(AdapterConformance):
    @pytest.fixture
    def adapter(
        self,
        dataverse: Local,
        settings_for: Callable[..., dict[str, Any]],
        client_secret: str,
        monkeypatch: pytest.MonkeyPatch,
    ) -> Iterator[DataverseAdapter]:
        monkeypatch.setenv("DATAVERSE_CLIENT_SECRET", client_secret)
        self.local = dataverse[0]
        config = settings_for(dataverse[1].url)
        config["client_secret"] = "$env:DATAVERSE_CLIENT_SECRET"
        made = DataverseAdapter(config, destination="test")
        yield made
        made.close()

    def remote_keys(self, adapter: Any) -> list[str]:
        return stored(self.local)

    @pytest.fixture(autouse=True)
    def _settings(self, settings_for: Callable[..., dict[str, Any]]) -> None:
        self._settings_for = settings_for

    def http_adapter(self, base_url: str, *, read_timeout: float) -> DataverseAdapter:
        return DataverseAdapter(
            self._settings_for(base_url, http={"read_timeout": read_timeout}), destination="test"
        )


def test_second_delivery_creates_nothing_new(
    dataverse: Local, make_adapter: Callable[..., DataverseAdapter]
) -> None:
    local, _ = dataverse
    shares = canonical_shares()
    adapter = make_adapter()
    first = adapter.deliver(shares)
    assert all(r.ok for r in first), [r.message for r in first]
    assert local.created == len(shares) and local.updated == 0
    second = adapter.deliver(shares)
    assert all(r.ok for r in second), [r.message for r in second]
    assert local.created == len(shares), "a second delivery created rows"
    assert local.updated == len(shares)
    assert sorted(stored(local)) == sorted(s.idempotency_key for s in shares)
    assert [r.remote_id for r in first] == [r.remote_id for r in second]
    assert all(r.remote_id for r in first)


def test_rows_follow_the_column_mapping(
    dataverse: Local, make_adapter: Callable[..., DataverseAdapter]
) -> None:
    local, _ = dataverse
    share = canonical_shares()[2]
    adapter = make_adapter(
        columns={
            "title": "coprolib_name",
            "quotes": "coprolib_quotes",
            "planned_at": "coprolib_plannedat",
        }
    )
    assert adapter.deliver([share])[0].ok
    row = local.rows[key_value(share.idempotency_key)]["row"]
    assert row == {
        "coprolib_idempotencykey": key_value(share.idempotency_key),
        "coprolib_name": share.title,
        "coprolib_quotes": share.quotes[0].text,
        "coprolib_plannedat": "2026-03-02T09:30:00Z",
    }


def test_a_batch_is_one_request_and_splits_at_1000(
    dataverse: Local, make_adapter: Callable[..., DataverseAdapter]
) -> None:
    local, _ = dataverse
    adapter = make_adapter(columns={"title": "coprolib_name"})
    shares = [make_share(f"b{i}") for i in range(1001)]
    results = adapter.deliver(shares)
    assert [r.share_id for r in results] == [s.id for s in shares]
    assert all(r.ok for r in results)
    assert local.batch_sizes == [1000, 1]
    assert local.requests["PATCH"] == 0
    assert adapter.requests_sent == 2
    assert len(stored(local)) == 1001


def test_batch_gives_per_item_results_and_continues_after_an_error(
    dataverse: Local, make_adapter: Callable[..., DataverseAdapter]
) -> None:
    local, _ = dataverse
    adapter = make_adapter(max_lengths={})
    shares = [make_share("ok-1"), make_share("too-long", title="x" * 401), make_share("ok-2")]
    results = adapter.deliver(shares)
    assert [r.status for r in results] == [Status.OK, Status.PERMANENT, Status.OK]
    assert results[1].message is not None and "0x80044331" in results[1].message
    assert sorted(stored(local)) == ["test:ok-1", "test:ok-2"]
    assert local.requests["batch"] == 1


def test_long_text_is_cut_to_the_column_length(
    dataverse: Local, make_adapter: Callable[..., DataverseAdapter]
) -> None:
    local, _ = dataverse
    adapter = make_adapter()
    share = make_share("long-title", title="y" * 1000)
    assert adapter.deliver([share])[0].ok
    name = local.rows[key_value(share.idempotency_key)]["row"]["coprolib_name"]
    assert len(name) == 400 and name.endswith("…")


def test_server_without_continue_on_error_stops_at_first_failure(dataverse: Local) -> None:
    local, server = dataverse
    local.token_check = None
    url = f"{server.url}/api/data/v9.2/coprolib_shares"
    operations = [
        batch.Operation(method="PATCH", url=f"{url}(coprolib_idempotencykey='a')", body={}),
        batch.Operation(method="PATCH", url=f"{url}(coprolib_idempotencykey='b')", body={"no": 1}),
        batch.Operation(method="PATCH", url=f"{url}(coprolib_idempotencykey='c')", body={}),
    ]
    content_type, body = batch.build(operations)
    headers = {"Content-Type": content_type, "Authorization": "Bearer x"}
    reply = requests.post(
        f"{server.url}/api/data/v9.2/$batch", data=body, headers=headers, timeout=5
    )
    parts = batch.parse(reply.headers["Content-Type"], reply.content)
    assert [p.status for p in parts] == [204, 400]
    assert parts[1].json()["error"]["code"] == "0x0"
    assert stored(local) == ["a"]
    assert "Preference-Applied" not in reply.headers
    assert reply.status_code == 400, "without continue-on-error a failed request fails the batch"


def test_batch_response_parser_reads_change_sets() -> None:
    body = (
        b"--batchresponse_1\r\nContent-Type: multipart/mixed; boundary=changesetresponse_2\r\n\r\n"
        b"--changesetresponse_2\r\nContent-Type: application/http\r\n"
        b"Content-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\n"
        b"HTTP/1.1 204 No Content\r\nOData-EntityId: https://x/api/data/v9.2/t(00000000-0000-4000-8000-00000000000a)\r\n\r\n\r\n"
        b"--changesetresponse_2--\r\n"
        b"--batchresponse_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        b'HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n\r\n{"error":{"code":"0x0","message":"bad"}}\r\n'
        b"--batchresponse_1--\r\n"
    )
    parts = batch.parse("multipart/mixed; boundary=batchresponse_1", body)
    assert [p.status for p in parts] == [204, 400]
    assert parts[0].headers["odata-entityid"].endswith("00000000000a)")
    assert parts[1].json() == {"error": {"code": "0x0", "message": "bad"}}
    with pytest.raises(batch.BatchFormatError):
        batch.parse("multipart/mixed; boundary=batchresponse_1", body[:-30])
    with pytest.raises(ValueError, match="at most 1000"):
        batch.build([batch.Operation(method="DELETE", url="u")] * 1001)


def test_429_pauses_the_whole_destination(
    dataverse: Local, make_adapter: Callable[..., DataverseAdapter]
) -> None:
    local, _ = dataverse
    clock = FakeClock()
    adapter = make_adapter(clock=clock)
    local.throttle(1, retry_after="30")
    shares = [make_share(f"t{i}") for i in range(3)]
    results = adapter.deliver(shares)
    assert {r.status for r in results} == {Status.THROTTLED}
    assert all(r.retry_after == pytest.approx(30) for r in results)
    seen = sum(local.requests.values())
    clock.now += 10
    paused = adapter.deliver(shares) + adapter.deliver(shares[:1])
    assert {r.status for r in paused} == {Status.THROTTLED}
    assert paused[0].retry_after == pytest.approx(20)
    retracted = adapter.retract([RetractRef(share_id="t0", idempotency_key="test:t0")])
    assert retracted[0].status is Status.THROTTLED
    assert sum(local.requests.values()) == seen, "sent while the destination was paused"
    clock.now += 21
    assert all(r.ok for r in adapter.deliver(shares))


def test_a_throttled_request_inside_a_batch_pauses_the_destination(
    dataverse: Local, make_adapter: Callable[..., DataverseAdapter]
) -> None:
    local, _ = dataverse
    clock = FakeClock()
    adapter = make_adapter(clock=clock)
    local.throttle_items(1, retry_after="45")
    results = adapter.deliver([make_share("i1"), make_share("i2")])
    assert [r.status for r in results] == [Status.THROTTLED, Status.OK]
    assert results[0].retry_after == pytest.approx(45)
    assert adapter.paused_for() == pytest.approx(45)
    assert stored(local) == ["test:i2"]
    clock.now += 46
    assert all(r.ok for r in adapter.deliver([make_share("i1"), make_share("i2")]))


def test_token_is_cached_and_renewed_before_it_expires(
    dataverse: Local, entra: LocalEntra, make_adapter: Callable[..., DataverseAdapter]
) -> None:
    clock = FakeClock()
    entra.expires_in = 3600
    adapter = make_adapter(clock=clock)
    before = entra.token_requests
    for i in range(3):
        assert adapter.deliver([make_share(f"c{i}")])[0].ok
    assert entra.token_requests == before + 1
    clock.now += 3600 - 300 + 1  # inside the five-minute margin before expiry
    assert adapter.deliver([make_share("c-late")])[0].ok
    assert entra.token_requests == before + 2
    assert dataverse[0].requests["unauthorised"] == 0


def test_a_401_refreshes_the_token_once(
    dataverse: Local, entra: LocalEntra, make_adapter: Callable[..., DataverseAdapter]
) -> None:
    local, _ = dataverse
    adapter = make_adapter()
    assert adapter.deliver([make_share("r1")])[0].ok
    before = entra.token_requests
    entra.revoke_all()
    assert adapter.deliver([make_share("r2")])[0].ok
    assert entra.token_requests == before + 1
    assert local.requests["unauthorised"] == 1


def test_a_token_that_keeps_failing_is_an_auth_result(
    dataverse: Local, make_adapter: Callable[..., DataverseAdapter]
) -> None:
    local, _ = dataverse
    local.token_check = lambda token: False
    adapter = make_adapter()
    result = adapter.deliver([make_share("never")])[0]
    assert result.status is Status.AUTH
    assert local.requests["unauthorised"] == 2


def test_wrong_client_secret_is_auth_and_never_echoed(
    dataverse: Local, settings_for: Callable[..., dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    from coprolib.adapters import Secret

    config = settings_for(dataverse[1].url)
    config["client_secret"] = Secret("not-the-secret-9f2", "$env:X")
    with DataverseAdapter(config, destination="test") as adapter:
        result = adapter.deliver([make_share("x")])[0]
        checked = adapter.check()
    assert result.status is Status.AUTH and not checked.ok
    assert "invalid_client" in (result.message or "")
    for text in (result.message or "", checked.message, caplog.text):
        assert "not-the-secret-9f2" not in text


def test_dataverse_errors_map_to_classes(
    dataverse: Local, make_adapter: Callable[..., DataverseAdapter]
) -> None:
    wrong_table = make_adapter(entity_set="coprolib_nothere")
    result = wrong_table.deliver([make_share("w")])[0]
    assert result.status is Status.PERMANENT
    assert "0x8006088a" in (result.message or "") and "entity_set" in (result.message or "")
    checked = wrong_table.check()
    assert not checked.ok and checked.status is Status.PERMANENT
    wrong_column = make_adapter(columns={"title": "coprolib_title"})
    result = wrong_column.deliver([make_share("w")])[0]
    assert result.status is Status.PERMANENT
    assert "Could not find a property named 'coprolib_title'" in (result.message or "")


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (429, "0x80072322", Status.THROTTLED),
        (400, "0x80072326", Status.THROTTLED),
        (403, "0x80040220", Status.AUTH),
        (412, "0x80040237", Status.CONFLICT),
        (400, "0x80040237", Status.CONFLICT),
        (404, "0x8006088a", Status.PERMANENT),
        (503, "", Status.RETRYABLE),
        (400, "0x80044331", Status.PERMANENT),
    ],
)
def test_error_codes(status: int, code: str, expected: Status) -> None:
    body = json.dumps({"error": {"code": code, "message": "m"}}) if code else ""
    error = classify(status, {"Retry-After": "12"}, body, what="upsert")
    assert error.status is expected
    if expected is Status.THROTTLED:
        assert error.retry_after == 12


def test_retract_deletes_and_a_missing_row_counts_as_retracted(
    dataverse: Local, make_adapter: Callable[..., DataverseAdapter]
) -> None:
    local, _ = dataverse
    adapter = make_adapter()
    shares = [make_share("d1"), make_share("d2")]
    delivered = adapter.deliver(shares)
    refs = [RetractRef(share_id=r.share_id, idempotency_key=r.idempotency_key) for r in delivered]
    refs.append(RetractRef(share_id="ghost", idempotency_key="test:ghost"))
    results = adapter.retract(refs)
    assert [r.retracted for r in results] == [True, True, True]
    assert results[2].message == "already deleted at Dataverse"
    assert stored(local) == [] and local.deleted == 2
    single = adapter.retract([refs[0]])[0]
    assert single.ok and single.retracted


def test_registered_by_entry_point(
    monkeypatch: pytest.MonkeyPatch, settings_for: Callable[..., dict[str, Any]]
) -> None:
    monkeypatch.setenv("DV_SECRET", "entry-point-secret")
    config = settings_for("https://contoso.crm11.dynamics.com")
    config["client_secret"] = "$env:DV_SECRET"
    made = build_adapter("dataverse", config, destination="board-crm")
    assert isinstance(made, DataverseAdapter)
    assert "entry-point-secret" not in json.dumps(made.describe())
    assert made.record_url("a'b:c") == (
        "https://contoso.crm11.dynamics.com/api/data/v9.2/"
        "coprolib_shares(coprolib_idempotencykey='a~27b~3Ac')"
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"columns": {"nonsense": "coprolib_x"}}, "columns.nonsense"),
        ({"columns": {"title": "coprolib_idempotencykey"}}, "key column"),
        ({"batch_size": 1001}, "batch_size"),
        ({"entity_set": "bad name"}, "entity_set"),
    ],
)
def test_bad_config_names_the_field(
    settings_for: Callable[..., dict[str, Any]], change: dict[str, Any], field: str
) -> None:
    config = settings_for("https://contoso.crm11.dynamics.com")
    config.update(change)
    with pytest.raises(ConfigError, match=field):
        DataverseAdapter(config, destination="board-crm")


@given(st.text())
def test_key_values_round_trip_and_hold_no_unreadable_character(key: str) -> None:
    value = key_value(key)
    assert key_from_value(value) == key
    assert not set(value) & UNREADABLE_IN_KEYS and "'" not in value
    assert value.isascii() and value.isprintable()


def test_planner_keys_are_stored_unchanged() -> None:
    key = "coprolib-64aa313bec500aa673263de69f4bcc0add876931-20260302T093000"
    assert key_value(key) == key
    assert key_value("board-crm:ins-7") == "board-crm~3Ains-7"


def test_stand_in_refuses_key_values_dataverse_cannot_read(dataverse: Local) -> None:
    local, server = dataverse
    local.token_check = None
    url = f"{server.url}/api/data/v9.2/coprolib_shares"
    for raw in ("test:ins-7", "a/b", "50%25", "x+y", "q%3F"):
        reply = requests.patch(
            f"{url}(coprolib_idempotencykey='{raw}')",
            json={},
            headers={"Authorization": "Bearer x"},
            timeout=5,
        )
        assert reply.status_code == 400, raw
        assert reply.json()["error"]["code"] == "0x80060888"
    assert local.keys() == []


def test_adapter_writes_a_readable_key_value(
    dataverse: Local, make_adapter: Callable[..., DataverseAdapter]
) -> None:
    share = make_share("ins-7", destination="board-crm")
    assert make_adapter().deliver([share])[0].ok
    assert dataverse[0].keys() == ["board-crm~3Ains-7"]


def test_delete_of_a_row_already_gone_is_0x80060891_and_counts_as_retracted(
    dataverse: Local, make_adapter: Callable[..., DataverseAdapter]
) -> None:
    local, server = dataverse
    adapter = make_adapter()
    check = local.token_check
    local.token_check = None
    reply = requests.delete(
        f"{server.url}/api/data/v9.2/coprolib_shares(coprolib_idempotencykey='gone')",
        headers={"Authorization": "Bearer x"},
        timeout=5,
    )
    assert reply.status_code == 404 and reply.json()["error"]["code"] == "0x80060891"
    error = classify(reply.status_code, reply.headers, reply.content, what="delete")
    assert isinstance(error, RowMissingError)
    local.token_check = check
    ref = RetractRef(share_id="gone", idempotency_key="coprolib-" + "0" * 40)
    single = adapter.retract([ref])
    batched = adapter.retract([ref, RetractRef(share_id="g2", idempotency_key="test:g2")])
    assert all(r.ok and r.retracted for r in single + batched), [
        r.message for r in single + batched
    ]
