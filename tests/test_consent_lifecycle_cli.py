"""The consent lifecycle and corrections, driven through the command line only: approve a
review, record an override, correct a record, and see `coprolib plan` act on each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from coprolib.cli import build_cli
from tests.conftest import EXAMPLE_BUNDLE

CONFIG = """\
ledger = "sqlite:///council.db"

[destinations.board-pack]
adapter = "file"
audience = "board"
purposes = ["board_reporting", "service_improvement"]
max_identity = "pseudonymous"
quotes = true
min_contributors = 2

[destinations.board-pack.settings]
directory = "board-pack"
"""


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    for name in ("COPROLIB_LEDGER", "COPROLIB_CONFIG", "COPROLIB_KEY"):
        monkeypatch.delenv(name, raising=False)
    cli = build_cli()

    def invoke(*args: str, code: int = 0, env: dict[str, str] | None = None) -> Any:
        result = CliRunner().invoke(cli, list(args), env=env)
        assert result.exit_code == code, (args, result.output, result.exception)
        return result

    return invoke


@pytest.fixture
def council(run, tmp_path: Path):  # type: ignore[no-untyped-def]
    (tmp_path / "coprolib.toml").write_text(CONFIG)
    run("import", str(EXAMPLE_BUNDLE))
    return run


def _plan(run) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    data: dict[str, Any] = json.loads(run("plan", "--json").output)
    return data


def _not_sent(plan: dict[str, Any], insight: str) -> list[str]:
    return [
        reason for r in plan["not_sent"] if r["insight_id"] == insight for reason in r["reasons"]
    ]


def test_approval_and_override_let_the_waiting_insight_go(council) -> None:  # type: ignore[no-untyped-def]
    run = council
    before = _plan(run)
    reasons = " ".join(_not_sent(before, "i-02"))
    assert "review pending" in reasons and "no override with a reason and approver" in reasons
    assert "i-02" not in {d["insight_id"] for d in before["deliver"]}

    out = run("consent", "approve", "c-02", "--insight", "i-02", "--by", "Advocacy Hub").output
    assert "approved: insight i-02" in out
    # Approved, s-02 goes: with s-08 that is two contributors, enough for the board pack;
    # the best-interests story s-11 is still left out.
    middle = _plan(run)
    first = next(d for d in middle["deliver"] if d["insight_id"] == "i-02")
    assert set(first["story_ids"]) == {"s-02", "s-08"}

    run(
        "consent",
        "override",
        "c-11",
        "--reason",
        "The board needs this to prevent the same harm; agreed at a best-interests meeting",
        "--approver",
        "Principal Social Worker (fictional)",
    )
    after = _plan(run)
    shared = [d for d in after["deliver"] if d["insight_id"] == "i-02"]
    assert shared and set(shared[0]["story_ids"]) == {"s-02", "s-08", "s-11"}
    assert first["share_id"] in {r["share_id"] for r in after["retract"]}  # re-rendered

    timeline = run("consent", "show", "c-11").output
    assert "override; approved by Principal Social Worker (fictional)" in timeline
    shown = json.loads(run("consent", "show", "c-02", "--json").output)
    assert [e["type"] for e in shown["consent"]["events"]] == ["given", "approved", "approved"]
    assert "audit chain verified" in run("audit", "verify").output


def test_override_needs_a_best_interests_consent_and_both_reason_and_approver(council) -> None:  # type: ignore[no-untyped-def]
    run = council
    out = run("consent", "override", "c-02", "--reason", "r", "--approver", "a", code=2).output
    assert "not a best-interests decision" in out
    run("consent", "override", "c-11", "--reason", "r", code=2)  # --approver is required
    out = run("consent", "override", "c-11", "--reason", " ", "--approver", "a", code=2).output
    assert "needs a reason and an approver" in out


def test_a_changed_text_needs_a_new_approval(council, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = council
    run("consent", "approve", "c-02", "--insight", "i-02")
    run("consent", "override", "c-11", "--reason", "best interests meeting", "--approver", "PSW")
    assert any(d["insight_id"] == "i-02" for d in _plan(run)["deliver"])
    out = _correct_insight(run, tmp_path, "i-02", " Corrected after the board asked for detail.")
    assert "re-render i-02 -> board-pack" in out.output  # without s-02, whose review is pending
    after = next(d for d in _plan(run)["deliver"] if d["insight_id"] == "i-02")
    assert set(after["story_ids"]) == {"s-08", "s-11"}
    explained = run("plan", "--explain", "i-02").output
    assert "approved an earlier text of insight i-02" in explained


def _correct_insight(run, tmp_path: Path, insight_id: str, more: str) -> Any:  # type: ignore[no-untyped-def]
    lines = run("export", "--type", "insight", "--format", "jsonl").output.splitlines()
    record = next(r for r in map(json.loads, lines) if r["id"] == insight_id)
    record["summary"] += more
    (tmp_path / "fix.jsonl").write_text(json.dumps(record) + "\n")
    return run("import", "--update", "fix.jsonl")


def test_corrected_record_is_imported_and_the_next_plan_rerenders_it(
    council, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    run = council
    first = _plan(run)
    old = next(d["share_id"] for d in first["deliver"] if d["insight_id"] == "i-01")
    # Importing it again as new is refused, with the way to correct it.
    lines = run("export", "--type", "insight", "--format", "jsonl").output.splitlines()
    (tmp_path / "same.jsonl").write_text(lines[0] + "\n")
    assert "coprolib import --update" in run("import", "same.jsonl", code=2).output

    out = _correct_insight(run, tmp_path, "i-01", " Corrected: two localities, not three.").output
    assert "updated 1 record(s): insight i-01" in out
    assert "re-render i-01 -> board-pack: share sh-" in out and f"replaces {old}" in out
    again = json.loads(run("import", "--update", "fix.jsonl", "--json").output)
    assert again["updated"] == [] and again["unchanged"] == ["insight i-01"]

    after = _plan(run)
    new = next(d["share_id"] for d in after["deliver"] if d["insight_id"] == "i-01")
    assert new != old and f"share {new} replaces {old}" in out
    retracted = {r["share_id"]: r["reason"] for r in after["retract"]}
    assert "re-rendered" in retracted[old]
    audit = run("audit", "verify", "--json").output
    assert json.loads(audit)["ok"] is True


def test_a_consent_correction_is_appended_and_never_rewrites_history(
    council, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    run = council
    lines = run("export", "--type", "consent", "--format", "jsonl").output.splitlines()
    c01 = next(c for c in map(json.loads, lines) if c["id"] == "c-01")
    c01["events"][0]["terms"]["quotes_allowed"] = False  # rewriting what was agreed
    (tmp_path / "bad.jsonl").write_text(json.dumps(c01) + "\n")
    out = run("import", "--update", "bad.jsonl", code=2).output
    assert "consent 'c-01' field events[0]: events are append-only" in out

    out = run(
        "consent", "correct", "c-01", "--no-quotes", "--reason", "the form said no quotes"
    ).output
    assert "corrected: consent c-01" in out
    shown = json.loads(run("consent", "show", "c-01", "--json").output)
    assert shown["terms_now"]["quotes_allowed"] is False
    assert shown["consent"]["events"][0]["terms"]["quotes_allowed"] is True
    assert "corrected; " in run("consent", "show", "c-01").output
    i01 = next(d for d in _plan(run)["deliver"] if d["insight_id"] == "i-01")
    assert "s-01" in i01["story_ids"]

    # A withdrawn consent is never brought back by a correction or a bare renewal.
    out = run("consent", "correct", "c-03", "--no-quotes", "--reason", "typo", code=2).output
    assert "c-03 is withdrawn; a correction cannot bring it back" in out
    out = run("consent", "renew", "c-03", code=2).output
    assert "say what they agree to now" in out


def test_give_and_renew_on_the_command_line(council) -> None:  # type: ignore[no-untyped-def]
    run = council
    out = run(
        "consent", "give", "--contributor", "p-dev", "--story", "s-03",
        "--purpose", "board_reporting", "--purpose", "service_improvement",
        "--audience", "board", "--id", "c-03-again", "--by", "Healthwatch",
    ).output  # fmt: skip
    assert "given: consent c-03-again of p-dev" in out
    explained = run("plan", "--explain", "s-03").output
    assert "withdrew" not in explained
    shown = json.loads(run("consent", "show", "c-03-again", "--json").output)
    assert shown["status"] == "active" and shown["terms_now"]["audiences"] == ["board"]
    run("consent", "renew", "c-03-again", "--expires", "2030-01-31")
    shown = json.loads(run("consent", "show", "c-03-again", "--json").output)
    assert shown["terms_now"]["expires"] == "2030-01-31"
    assert shown["terms_now"]["purposes"] == ["board_reporting", "service_improvement"]
    bad = run("consent", "give", "--contributor", "p-dev", "--purpose", "fun", code=2).output
    assert "'fun' is not one of" in bad and "board_reporting" in bad
    out = run("consent", "give", "--contributor", "p-dev", "--audience", "board", code=2).output
    assert "purposes" in out
    out = run("consent", "give", "--contributor", "p-nobody", "--purpose", "policy",
              "--audience", "board", code=2).output  # fmt: skip
    assert "contributor 'p-nobody' is not in the ledger" in out


def test_plan_explain_of_an_unknown_id_exits_2(council) -> None:  # type: ignore[no-untyped-def]
    out = council("plan", "--explain", "nope", code=2).output
    assert "--explain nope: there is no story or insight with this id" in out


def test_consent_events_imported_with_update_are_appended_and_their_effect_listed(
    council, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    run = council
    shared = {d["insight_id"]: d["share_id"] for d in _plan(run)["deliver"]}
    lines = run("export", "--type", "consent", "--format", "jsonl").output.splitlines()
    c08 = next(c for c in map(json.loads, lines) if c["id"] == "c-08")
    c08["events"].append(
        {"type": "withdrawn", "at": "2026-02-01T09:00:00Z", "reason": "Recorded on paper"}
    )
    (tmp_path / "c08.jsonl").write_text(json.dumps(c08) + "\n")
    out = run("import", "--update", "c08.jsonl").output
    assert "updated 1 record(s): consent c-08" in out
    # s-08 supports i-01 (and i-02): without it i-01 is re-rendered from the others.
    assert "re-render i-01 -> board-pack" in out and f"replaces {shared['i-01']}" in out
    shown = json.loads(run("consent", "show", "c-08", "--json").output)
    assert [e["type"] for e in shown["consent"]["events"]] == ["given", "withdrawn"]
    assert shown["status"] == "withdrawn"
    after = _plan(run)
    assert shared["i-01"] in {r["share_id"] for r in after["retract"]}
