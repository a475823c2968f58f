"""The sharepoint-list adapter against a local Graph list and a local Entra ID on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from coprolib_entra.testing import LocalEntra
from coprolib_sharepoint import SharePointListAdapter, graph
from coprolib_sharepoint.testing import LocalGraphList

from coprolib.adapters import ConfigError, PermanentError, RetractRef, Status, build_adapter
from coprolib.testing.conformance import AdapterConformance
from coprolib.testing.fault_server import FaultServer
from coprolib.testing.shares import canonical_shares, make_share

Local = tuple[LocalGraphList, FaultServer]


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def make_adapter(
    graph_list: Local, sp_settings: Callable[..., dict[str, Any]]
) -> Iterator[Callable[..., SharePointListAdapter]]:
    made: list[SharePointListAdapter] = []

    def make(**extra: Any) -> SharePointListAdapter:
        clock = extra.pop("clock", None)
        kwargs = {"clock": clock} if clock else {}
        adapter = SharePointListAdapter(
            sp_settings(graph_list[1].url, **extra), destination="test", **kwargs
        )
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        adapter.close()


class TestSharePointListConformance(AdapterConformance):
    @pytest.fixture
    def adapter(
        self,
        graph_list: Local,
        sp_settings: Callable[..., dict[str, Any]],
        client_secret: str,
        monkeypatch: pytest.MonkeyPatch,
    ) -> Iterator[SharePointListAdapter]:
        monkeypatch.setenv("GRAPH_CLIENT_SECRET", client_secret)
        self.local = graph_list[0]
        self._sp_settings = sp_settings
        config = sp_settings(graph_list[1].url)
        config["client_secret"] = "$env:GRAPH_CLIENT_SECRET"
        made = SharePointListAdapter(config, destination="test")
        yield made
        made.close()

    def remote_keys(self, adapter: Any) -> list[str]:
        return self.local.keys()

    @pytest.fixture(autouse=True)
    def _keep(self, sp_settings: Callable[..., dict[str, Any]]) -> None:
        self._settings_for = sp_settings

    def http_adapter(self, base_url: str, *, read_timeout: float) -> SharePointListAdapter:
        return SharePointListAdapter(
            self._settings_for(base_url, http={"read_timeout": read_timeout}), destination="test"
        )


def test_second_delivery_creates_nothing_new(
    graph_list: Local, make_adapter: Callable[..., SharePointListAdapter]
) -> None:
    local, _ = graph_list
    shares = canonical_shares()
    adapter = make_adapter()
    first = adapter.deliver(shares)
    assert all(r.ok for r in first), [r.message for r in first]
    assert local.created == len(shares)
    second = adapter.deliver(shares)
    assert all(r.ok for r in second), [r.message for r in second]
    assert local.created == len(shares), "a second delivery created items"
    assert local.updated == len(shares)
    assert [r.remote_id for r in first] == [r.remote_id for r in second]
    assert sorted(local.keys()) == sorted(s.idempotency_key for s in shares)


def test_twenty_shares_cost_two_requests(
    graph_list: Local, make_adapter: Callable[..., SharePointListAdapter]
) -> None:
    local, _ = graph_list
    adapter = make_adapter()
    shares = [make_share(f"g{i}") for i in range(41)]
    results = adapter.deliver(shares)
    assert all(r.ok for r in results)
    assert local.batch_sizes == [20, 20, 20, 20]  # the 41st share: one GET and one POST
    assert adapter.requests_sent == 6
    assert local.requests["batch"] == 4


def test_items_follow_the_column_mapping_and_lengths(
    graph_list: Local, make_adapter: Callable[..., SharePointListAdapter]
) -> None:
    local, _ = graph_list
    adapter = make_adapter()
    share = make_share("mapped", title="t" * 300)
    assert adapter.deliver([share])[0].ok
    fields = next(iter(local.items.values()))
    assert fields["CoprolibKey"] == share.idempotency_key
    assert len(fields["Title"]) == 255 and fields["Title"].endswith("…")
    assert fields["InsightBody"] == share.body
    assert fields["SharedOn"] == "2026-03-02T09:30:00Z"
    assert fields["Themes"] == "isolation\ntransport"


def test_unindexed_key_column_needs_the_prefer_header(
    graph_list: Local, make_adapter: Callable[..., SharePointListAdapter]
) -> None:
    local, _ = graph_list
    local.indexed = frozenset()
    refused = make_adapter().deliver([make_share("u1")])[0]
    assert refused.status is Status.PERMANENT
    assert "Index the key column" in (refused.message or "")
    assert not make_adapter().check().ok
    allowed = make_adapter(allow_unindexed_filter=True).deliver([make_share("u1")])[0]
    assert allowed.ok and local.keys() == ["test:u1"]


def test_batch_gives_per_item_results(
    graph_list: Local, make_adapter: Callable[..., SharePointListAdapter]
) -> None:
    local, _ = graph_list
    adapter = make_adapter(max_lengths={})
    shares = [make_share("p1"), make_share("p2", title="x" * 256), make_share("p3")]
    results = adapter.deliver(shares)
    assert [r.status for r in results] == [Status.OK, Status.PERMANENT, Status.OK]
    assert "exceeds 255" in (results[1].message or "")
    assert sorted(local.keys()) == ["test:p1", "test:p3"]
    wrong = make_adapter(columns={"title": "Title", "body": "NoSuchColumn"})
    assert "NoSuchColumn" in (wrong.deliver([make_share("p4")])[0].message or "")


def test_a_throttled_request_inside_a_batch_pauses_the_destination(
    graph_list: Local, make_adapter: Callable[..., SharePointListAdapter]
) -> None:
    local, _ = graph_list
    clock = FakeClock()
    adapter = make_adapter(clock=clock)
    local.throttle_items(1, retry_after="9")
    results = adapter.deliver([make_share("q1"), make_share("q2")])
    assert {r.status for r in results} == {Status.THROTTLED}
    assert adapter.paused_for() == pytest.approx(9)
    clock.now += 10
    assert all(r.ok for r in adapter.deliver([make_share("q1"), make_share("q2")]))


def test_429_pauses_the_whole_destination(
    graph_list: Local, make_adapter: Callable[..., SharePointListAdapter]
) -> None:
    local, _ = graph_list
    clock = FakeClock()
    adapter = make_adapter(clock=clock)
    local.throttle(1, retry_after="40")
    shares = [make_share(f"t{i}") for i in range(3)]
    results = adapter.deliver(shares)
    assert {r.status for r in results} == {Status.THROTTLED}
    assert results[0].retry_after == pytest.approx(40)
    seen = sum(local.requests.values())
    clock.now += 15
    paused = adapter.deliver(shares) + adapter.retract(
        [RetractRef(share_id="t0", idempotency_key="test:t0")]
    )
    assert {r.status for r in paused} == {Status.THROTTLED}
    assert paused[0].retry_after == pytest.approx(25)
    assert sum(local.requests.values()) == seen, "sent while paused"
    clock.now += 26
    assert all(r.ok for r in adapter.deliver(shares))


def test_a_401_refreshes_the_token_once(
    graph_list: Local, entra: LocalEntra, make_adapter: Callable[..., SharePointListAdapter]
) -> None:
    local, _ = graph_list
    adapter = make_adapter()
    assert adapter.deliver([make_share("a1")])[0].ok
    before = entra.token_requests
    entra.revoke_all()
    assert adapter.deliver([make_share("a2")])[0].ok
    assert entra.token_requests == before + 1
    assert local.requests["unauthorised"] == 1


def test_retract_removes_duplicates_and_missing_counts_as_done(
    graph_list: Local, make_adapter: Callable[..., SharePointListAdapter]
) -> None:
    local, _ = graph_list
    adapter = make_adapter()
    assert adapter.deliver([make_share("dup")])[0].ok
    local.items["99"] = dict(next(iter(local.items.values())))  # a duplicate made by hand
    results = adapter.retract(
        [
            RetractRef(share_id="dup", idempotency_key="test:dup"),
            RetractRef(share_id="ghost", idempotency_key="test:ghost"),
        ]
    )
    assert [r.retracted for r in results] == [True, True]
    assert local.items == {} and local.deleted == 2


def test_registered_by_entry_point_and_bad_config(
    monkeypatch: pytest.MonkeyPatch, sp_settings: Callable[..., dict[str, Any]]
) -> None:
    monkeypatch.setenv("SP_SECRET", "entry-point-secret-sp")
    config = sp_settings("https://graph.microsoft.com")
    config["client_secret"] = "$env:SP_SECRET"
    made = build_adapter("sharepoint-list", config, destination="board-list")
    assert isinstance(made, SharePointListAdapter)
    assert made.credentials.scope == "https://graph.microsoft.com/.default"
    assert "entry-point-secret-sp" not in json.dumps(made.describe())
    with pytest.raises(ConfigError, match=r"columns\.nonsense"):
        SharePointListAdapter({**config, "columns": {"nonsense": "X"}})
    with pytest.raises(ConfigError, match="batch_size"):
        SharePointListAdapter({**config, "batch_size": 21})


def test_a_refused_key_search_is_found_by_its_code_not_its_wording() -> None:
    """Graph's message may change or be translated: the code and the request decide."""
    body = {"error": {"code": "invalidRequest", "message": "Ni ellir hidlo'r maes CoprolibKey."}}
    search = graph.classify(400, {}, body, what="search")
    assert isinstance(search, PermanentError)
    assert "Index the key column" in search.message
    write = graph.classify(400, {}, body, what="write")
    assert isinstance(write, PermanentError) and "Index" not in write.message
    other = {"error": {"code": "generalException", "message": "column is not indexed"}}
    assert "Index the key column" not in graph.classify(400, {}, other, what="search").message
