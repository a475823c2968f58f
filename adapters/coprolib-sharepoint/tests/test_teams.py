"""The teams-workflow adapter against a local Workflows webhook on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from coprolib_sharepoint import TeamsWorkflowAdapter
from coprolib_sharepoint.cards import DEFAULT_MAX_BYTES, fit_message
from coprolib_sharepoint.teams import ACCEPTED
from coprolib_sharepoint.testing import TEAMS_LIMIT, LocalTeamsWorkflow
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coprolib.adapters import RetractRef, Secret, Status, build_adapter
from coprolib.records import SharedQuote
from coprolib.testing.conformance import AdapterConformance
from coprolib.testing.fault_server import FaultServer
from coprolib.testing.shares import canonical_shares, make_share

Local = tuple[LocalTeamsWorkflow, FaultServer]


def _adapter(url: str, **extra: Any) -> TeamsWorkflowAdapter:
    return TeamsWorkflowAdapter(
        {"webhook_url": Secret(url, "$env:TEAMS_WEBHOOK_URL"), "board": "Northdale SAB", **extra},
        destination="test",
    )


class TestTeamsWorkflowConformance(AdapterConformance):
    malformed_body_statuses = frozenset({Status.OK})

    @pytest.fixture
    def adapter(
        self, workflow: Local, monkeypatch: pytest.MonkeyPatch
    ) -> Iterator[TeamsWorkflowAdapter]:
        local, server = workflow
        self.local = local
        monkeypatch.setenv("TEAMS_WEBHOOK_URL", local.url(server.url))
        made = TeamsWorkflowAdapter(
            {"webhook_url": "$env:TEAMS_WEBHOOK_URL", "board": "Northdale SAB"},
            destination="test",
        )
        yield made
        made.close()
        assert not local.rejected, local.rejected
        assert not local.failed_runs, local.failed_runs

    def remote_keys(self, adapter: Any) -> list[str]:
        return self.local.keys("announcement")

    def http_adapter(self, base_url: str, *, read_timeout: float) -> TeamsWorkflowAdapter:
        return _adapter(
            f"{base_url}/workflows/x?sig=fault-test", http={"read_timeout": read_timeout}
        )


def test_every_canonical_card_fits_and_the_long_one_is_shortened(workflow: Local) -> None:
    local, server = workflow
    with _adapter(local.url(server.url)) as adapter:
        results = adapter.deliver(canonical_shares())
    assert all(r.ok for r in results), [r.message for r in results]
    assert len(local.messages) == len(canonical_shares())
    assert all(m["bytes"] <= DEFAULT_MAX_BYTES < TEAMS_LIMIT for m in local.messages)
    long_card = next(m for m in local.messages if m["key"] == "test:canon-long")
    texts = [block.get("text", "") for block in long_card["card"]["body"]]
    assert any(t.endswith("…") for t in texts)
    assert any("Shortened to fit Teams" in t for t in texts)
    assert long_card["bytes"] > DEFAULT_MAX_BYTES - 200, "shortened no more than needed"


def test_an_oversized_card_is_accepted_and_its_run_fails(workflow: Local) -> None:
    local, server = workflow
    with _adapter(local.url(server.url), max_card_bytes=28 * 1024) as adapter:
        share = make_share("huge", body="é" * 40_000)
        sent = adapter.message(share)
        assert len(sent) <= 28 * 1024
    # Without the fitting, the trigger still answers 202, and the flow run fails later.
    raw = json.dumps({"type": "message", "attachments": [{"contentType": "x", "content": {}}]})
    accepted = requests.post(
        local.url(server.url), data=raw.encode() + b" " * TEAMS_LIMIT, timeout=5
    )
    assert accepted.status_code == 202
    assert local.failed_runs == [("Request Entity too large", len(raw) + TEAMS_LIMIT)]
    assert local.messages == [] and not local.rejected


def test_a_202_is_recorded_as_accepted_not_posted(workflow: Local) -> None:
    local, server = workflow
    with _adapter(local.url(server.url)) as adapter:
        result = adapter.deliver([make_share("acc")])[0]
        again = adapter.deliver([make_share("acc")])[0]
    assert result.ok and result.message == ACCEPTED
    assert "accepted" in ACCEPTED and "run history" in ACCEPTED and "posted" not in ACCEPTED
    assert again.ok and again.message == "already accepted by the workflow"
    assert local.keys() == ["test:acc"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=st.text(min_size=1, max_size=3000),
    body=st.text(max_size=60_000),
    quotes=st.lists(st.text(min_size=1, max_size=5000), max_size=4),
    limit=st.integers(min_value=4096, max_value=28 * 1024),
)
def test_cards_never_exceed_the_limit(title: str, body: str, quotes: list[str], limit: int) -> None:
    share = make_share(
        "prop",
        title=title,
        body=body,
        quotes=tuple(SharedQuote(text=q, story_ref="s") for q in quotes),
    )
    encoded = fit_message(share, board="Northdale SAB", max_bytes=limit)
    assert len(encoded) <= limit
    card = json.loads(encoded)["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard"
    facts = next(b for b in card["body"] if b["type"] == "FactSet")["facts"]
    assert {"title": "Reference", "value": "test:prop"} in facts
    shown = " ".join(b.get("text", "") for b in card["body"])
    if len(encoded) < len(fit_message(share, board="Northdale SAB", max_bytes=10**9)):
        assert "Shortened to fit Teams" in shown


def test_delivering_again_posts_nothing_and_an_update_is_announced(workflow: Local) -> None:
    local, server = workflow
    with _adapter(local.url(server.url)) as adapter:
        first = adapter.deliver([make_share("again")])[0]
        second = adapter.deliver([make_share("again")])[0]
        changed = adapter.deliver([make_share("again", body="Revised.", version=2)])[0]
    assert first.ok and second.ok and changed.ok
    assert second.message == "already accepted by the workflow"
    assert local.keys() == ["test:again", "test:again"]


def test_the_journal_survives_a_restart(workflow: Local, tmp_path: Path) -> None:
    local, server = workflow
    state = str(tmp_path / "teams-state.jsonl")
    with _adapter(local.url(server.url), state_file=state) as adapter:
        assert adapter.deliver([make_share("kept")])[0].ok
    with _adapter(local.url(server.url), state_file=state) as restarted:
        assert restarted.deliver([make_share("kept")])[0].ok
        assert "test:kept" in restarted.announced()
    assert local.keys() == ["test:kept"]


def test_retraction_posts_a_withdrawal_card_and_a_compensating_action(workflow: Local) -> None:
    local, server = workflow
    with _adapter(local.url(server.url)) as adapter:
        share = make_share("gone", title="A title that must not be repeated")
        delivered = adapter.deliver([share])[0]
        result = adapter.retract(
            [RetractRef(share_id=share.id, idempotency_key=delivered.idempotency_key)]
        )[0]
    assert result.status is Status.OK and not result.retracted
    assert result.compensating_action and "test:gone" in result.compensating_action
    assert local.keys("withdrawal") == ["test:gone"]
    withdrawal = next(m for m in local.messages if m["kind"] == "withdrawal")
    assert "A title that must not be repeated" not in json.dumps(withdrawal["card"])


@pytest.mark.parametrize(
    ("status", "expected"),
    [("429", Status.THROTTLED), ("410", Status.DISABLED), ("500", Status.RETRYABLE)],
)
def test_webhook_replies_are_classified(workflow: Local, status: str, expected: Status) -> None:
    local, server = workflow
    server.force(status)
    with _adapter(local.url(server.url)) as adapter:
        assert adapter.deliver([make_share("c")])[0].status is expected


def test_a_wrong_signature_is_auth_and_the_url_never_shows(workflow: Local) -> None:
    local, server = workflow
    url = local.url(server.url).replace(local.signature, "forged")
    with _adapter(url) as adapter:
        result = adapter.deliver([make_share("s")])[0]
        described = json.dumps(adapter.describe())
    assert result.status is Status.AUTH
    assert "forged" not in (result.message or "") and "forged" not in described


def test_registered_by_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEAMS_URL", "https://prod-00.uksouth.logic.azure.com/workflows/abc?sig=s3")
    made = build_adapter("teams-workflow", {"webhook_url": "$env:TEAMS_URL"}, destination="t")
    assert isinstance(made, TeamsWorkflowAdapter)
    assert not type(made).capabilities.can_retract
    assert "sig=s3" not in json.dumps(made.describe())
