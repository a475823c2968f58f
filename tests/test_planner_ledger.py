"""The planner with a real ledger (SQLite, and PostgreSQL when available): plan records shares,
outbox jobs, feedback owed and override audits; withdraw then plan retracts; the CLI over it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from coprolib.cli import build_cli
from coprolib.config import load_config
from coprolib.feedback.owed import FeedbackNotFound, feedback_done, feedback_due
from coprolib.ledger import ShareStatus
from coprolib.planner import WithdrawalError, plan, withdraw
from coprolib.records import Consent, ConsentEvent, Feedback
from coprolib.records.bundle import load_bundle
from coprolib.records.enums import ConsentEventType, FeedbackKind, FeedbackStatus
from tests.conftest import EXAMPLE_BUNDLE, ROOT

UTC = dt.UTC
T1 = dt.datetime(2026, 11, 27, 12, tzinfo=UTC)
T2 = dt.datetime(2026, 11, 28, 9, tzinfo=UTC)
T3 = dt.datetime(2026, 11, 28, 10, tzinfo=UTC)
CONFIG = ROOT / "examples" / "coprolib.toml"


@pytest.fixture
def loaded(ledger: Any) -> Any:
    ledger.import_bundle(load_bundle(EXAMPLE_BUNDLE))
    return ledger


def _live(ledger: Any) -> dict[str, Any]:
    return {
        row.share.id: row.share
        for row in ledger.list_shares()
        if row.status in (ShareStatus.PLANNED, ShareStatus.DELIVERED)
    }


def test_plan_records_shares_jobs_and_feedback_once(loaded: Any) -> None:
    config = load_config(CONFIG)
    first = plan(loaded, config, moment=T1)
    assert len(first.deliver) == 5
    live = _live(loaded)
    assert set(live) == {s.id for s in first.deliver}
    jobs = loaded.list_jobs(status="pending")
    assert {(j.kind, j.share_id) for j in jobs} == {("deliver", s.id) for s in first.deliver}
    assert all(j.idempotency_key == live[j.share_id].idempotency_key for j in jobs)
    owed = [f for f in loaded.list(Feedback) if f.id.startswith("fb-")]
    assert len(owed) == len(first.feedback) > 0
    assert {f.kind for f in owed} == {FeedbackKind.SCHEDULED, FeedbackKind.SHARED}
    # Planning again changes nothing: no new shares, jobs or obligations.
    again = plan(loaded, config, moment=T1 + dt.timedelta(hours=1))
    assert again.deliver == () and again.retractions == () and again.feedback == ()
    assert len(loaded.list_jobs()) == len(jobs)
    assert loaded.verify_audit().ok


def test_withdraw_then_plan_retracts_and_rerenders(loaded: Any) -> None:
    config = load_config(CONFIG)
    first = plan(loaded, config, moment=T1)
    for s in first.deliver:  # the delivery engine delivered them
        loaded.set_share_status(s.id, ShareStatus.DELIVERED)
    w = withdraw(loaded, "p-amber", story_id="s-01", reason="Changed my mind", moment=T2)
    assert w.story_ids == ("s-01",) and not w.narrowing
    assert w.confirmation is not None
    confirm = loaded.get(Feedback, w.confirmation)
    assert confirm.kind is FeedbackKind.WITHDRAWAL_CONFIRMED
    # c-01 also covers s-10: only s-01 is withdrawn, by an event on c-01 naming it.
    assert w.consent_ids == ("c-01",)
    c01 = loaded.get(Consent, "c-01")
    assert c01.version == 2
    assert c01.events[-1].type is ConsentEventType.WITHDRAWN
    assert c01.events[-1].story_ids == ("s-01",)
    assert c01.state_at(T2, "s-01").status == "withdrawn"
    assert c01.state_at(T2, "s-10").status == "active"
    second = plan(loaded, config, moment=T3, stories=["s-01"])
    carried = {s.id for s in first.deliver if "s-01" in s.story_ids}
    assert {r.share_id for r in second.retractions} == carried
    for sid in carried:
        assert loaded.get_share(sid).status is ShareStatus.RETRACT_PLANNED
    retract_jobs = {j.share_id for j in loaded.list_jobs(status="pending") if j.kind == "retract"}
    assert retract_jobs == carried
    assert all("s-01" not in s.story_ids for s in second.deliver)
    assert {s.subject_id for s in second.deliver} == {"i-01", "i-04"}
    # Nothing live still carries s-01.
    assert all("s-01" not in s.story_ids for s in _live(loaded).values())
    # A full plan afterwards agrees: nothing more to do.
    third = plan(loaded, config, moment=T3 + dt.timedelta(minutes=5))
    assert third.deliver == () and third.retractions == ()


def test_retracting_an_undelivered_share_cancels_its_job(loaded: Any) -> None:
    config = load_config(CONFIG)
    first = plan(loaded, config, moment=T1)
    withdraw(loaded, "p-taylor", moment=T2)
    plan(loaded, config, moment=T3)
    (i04,) = [s for s in first.deliver if s.subject_id == "i-04"]
    assert loaded.get_share(i04.id).status is ShareStatus.CANCELLED
    (job,) = [j for j in loaded.list_jobs() if j.share_id == i04.id]
    assert job.status == "cancelled"


def test_narrowing_withdraws_one_audience_only(loaded: Any) -> None:
    config = load_config(CONFIG)
    plan(loaded, config, moment=T1)
    w = withdraw(loaded, "p-hw-officer", audiences=["partners"], moment=T2)
    assert w.narrowing and w.cancelled_feedback == ()
    result = plan(loaded, config, moment=T3)
    (r,) = [x for x in result.retractions if x.destination == "dynamics-partners"]
    assert "allows audience 'internal', 'board', 'public' only" in r.reason
    assert any(
        s.destination == "sab-board-pack" and "s-08" in s.story_ids for s in _live(loaded).values()
    )


def test_override_lets_best_interests_go_and_is_audited(loaded: Any) -> None:
    config = load_config(CONFIG)
    loaded.append_consent_event(
        "c-11",
        ConsentEvent(
            type=ConsentEventType.OVERRIDE,
            at=T1 - dt.timedelta(days=1),
            reason="The board must hear how the home treated Pat",
            approver="Independent chair, Northdale SAB",
        ),
    )
    result = plan(loaded, config, moment=T1)
    assert any(
        d.story_id == "s-11" and d.allowed
        for r in result.routed
        if r.destination == "sab-board-pack"
        for d in r.decisions
    )
    used = [e for e in loaded.audit_entries() if e.action == "consent.override_used"]
    assert used and all(e.ref.startswith("c-11->") for e in used)


def test_withdraw_errors_name_what_is_wrong(loaded: Any) -> None:
    with pytest.raises(WithdrawalError, match="not in the ledger"):
        withdraw(loaded, "p-nobody")
    with pytest.raises(WithdrawalError, match="not a story told by"):
        withdraw(loaded, "p-amber", story_id="s-02")


def test_feedback_due_and_done(loaded: Any) -> None:
    today = dt.date(2026, 11, 27)
    overdue = feedback_due(loaded, overdue=True, today=today)
    assert [f.id for f in overdue] == ["f-02"]
    done = feedback_done(loaded, "f-02", "Told Rowan the contract changed", on=today)
    assert done.status is FeedbackStatus.DONE and done.sent_on == today
    assert loaded.get(Feedback, "f-02").note == "Told Rowan the contract changed"
    assert feedback_due(loaded, overdue=True, today=today) == []
    with pytest.raises(FeedbackNotFound):
        feedback_done(loaded, "f-nope", "x")
    with pytest.raises(ValueError, match="note"):
        feedback_done(loaded, "f-02", "  ")


# --- the command line ---------------------------------------------------------------------


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COPROLIB_LEDGER", raising=False)
    monkeypatch.delenv("COPROLIB_CONFIG", raising=False)
    (tmp_path / "coprolib.toml").write_text(CONFIG.read_text())
    cli = build_cli()

    def invoke(*args: str, code: int = 0):  # type: ignore[no-untyped-def]
        result = CliRunner().invoke(cli, list(args))
        assert result.exit_code == code, (result.output, result.exception)
        return result.output

    invoke("import", str(EXAMPLE_BUNDLE))
    return invoke


def test_cli_explain_gives_each_refusal_reason(run) -> None:  # type: ignore[no-untyped-def]
    at = "--at=2026-11-27T12:00:00Z"
    assert "withdrew consent c-03" in run("plan", "--explain", "s-03", at)
    assert "expired on 2026-05-10" in run("plan", "--explain", "s-04", at)
    assert "not before 2027-03-01" in run("plan", "--explain", "s-05", at)
    assert "allows audience 'internal' only" in run("plan", "--explain", "s-06", at)
    assert "allows purposes 'training' only" in run("plan", "--explain", "s-07", at)
    assert "review pending" in run("plan", "--explain", "s-02", at)
    assert "too few contributors" in run("plan", "--explain", "i-02", at)
    assert "safeguarding disclosure" in run("plan", "--explain", "s-09", at)
    data = json.loads(run("plan", "--explain", "i-03", "--json", at))
    assert data["id"] == "i-03" and any("expired" in x for x in data["explanation"])
    # Explaining records nothing.
    assert "5 to deliver" in run("plan", "--dry-run", at)


def test_cli_withdraw_then_plan_lists_retractions(run) -> None:  # type: ignore[no-untyped-def]
    out = run("plan", "--at=2026-11-27T12:00:00Z")
    assert "5 to deliver, 0 to retract" in out
    out = run(
        "withdraw",
        "--contributor",
        "p-amber",
        "--story",
        "s-01",
        "--reason",
        "No",
        "--at=2026-11-28T09:00:00Z",
    )
    assert "withdrawn" in out and "s-01" in out
    out = run("plan", "--at=2026-11-28T10:00:00Z")
    assert "4 to retract" in out
    assert out.count("retract   sh-") == 4
    assert "p-amber withdrew consent" in out
    data = json.loads(run("plan", "--json", "--at=2026-11-28T10:05:00Z"))
    assert data["retract"] == [] and data["deliver"] == []
    out = run("withdraw", "--contributor", "p-nobody", code=2)
    assert "not in the ledger" in out


def test_cli_feedback_and_receipts(run) -> None:  # type: ignore[no-untyped-def]
    run("plan", "--at=2026-11-27T12:00:00Z")
    due = json.loads(run("feedback", "due", "--json"))
    assert any(f["kind"] == "scheduled" for f in due)
    assert "f-02" in run("feedback", "due", "--overdue")
    assert "done" in run("feedback", "done", "f-02", "--note", "Told them")
    assert "not in the ledger" in run("feedback", "done", "f-x", "--note", "x", code=2)
    text = run("consent", "receipt", "c-02")
    assert "Consent receipt c-02" in text and "How to withdraw" in text
    easy = run("consent", "receipt", "c-02", "--easy-read")
    assert "You can change your mind." in easy
    assert max(len(line) for line in easy.splitlines()) <= 60
    data = json.loads(run("consent", "receipt", "c-03", "--json"))
    assert set(data) == {"header", "processing", "parties", "events"}
    assert [e["type"] for e in data["events"]] == ["given", "withdrawn"]
    assert data["events"][-1]["state"] == "withdrawn"
    assert "not in the ledger" in run("consent", "receipt", "c-nope", code=2)


def test_recheck_at_delivery_time(loaded: Any) -> None:
    from coprolib.planner import recheck

    config = load_config(CONFIG)
    first = plan(loaded, config, moment=T1)
    (i01,) = [
        s for s in first.deliver if s.subject_id == "i-01" and s.destination == "sab-board-pack"
    ]
    assert recheck(i01, config, ledger=loaded, moment=T1).allowed
    withdraw(loaded, "p-hw-officer", moment=T2)
    again = recheck(i01, config, ledger=loaded, moment=T3)
    assert not again.allowed
    assert any("p-hw-officer withdrew consent c-08" in r for r in again.reasons)
    # Before the withdrawal happened, it was still fine.
    assert recheck(i01, config, ledger=loaded, moment=T1).allowed


def test_allowed_again_before_the_retraction_ran_calls_it_off(loaded: Any) -> None:
    config = load_config(CONFIG)
    first = plan(loaded, config, moment=T1)
    for s in first.deliver:
        loaded.set_share_status(s.id, ShareStatus.DELIVERED)
    withdraw(loaded, "p-taylor", moment=T2)
    second = plan(loaded, config, moment=T3)
    (r,) = [x for x in second.retractions if x.subject_id == "i-04"]
    terms = loaded.get(Consent, "c-07").events[0].terms
    loaded.append_consent_event(
        "c-07",
        ConsentEvent(type=ConsentEventType.RENEWED, at=T3 + dt.timedelta(hours=1), terms=terms),
    )
    plan(loaded, config, moment=T3 + dt.timedelta(hours=2))
    assert loaded.get_share(r.share_id).status is ShareStatus.DELIVERED
    assert [
        j.status for j in loaded.list_jobs() if j.share_id == r.share_id and j.kind == "retract"
    ] == ["cancelled"]
