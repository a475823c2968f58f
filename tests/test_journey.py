"""A contributor's journey on the fictional Northdale example: plan, deliver to the file
destination, withdraw a story, record an outcome; the journey shows each stage, as JSON, text
and HTML, holds nothing about anyone else, and says only "erased" for an erased person."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner

from coprolib.cli import build_cli
from coprolib.config import Config, load_config
from coprolib.delivery import sync
from coprolib.ledger import ShareStatus
from coprolib.outcomes.recording import add_outcome
from coprolib.planner import plan, withdraw
from coprolib.records import Contributor, Outcome, OutcomeEvent, Story
from coprolib.records.bundle import load_bundle
from coprolib.records.enums import ChangeDepth, FeedbackKind, OutcomeKind, OutcomeStatus
from coprolib.report.journey import ContributorNotFound, journey, render_html, summary_lines
from coprolib.rights.erasure import erase_person
from tests.conftest import EXAMPLE_BUNDLE, ROOT

UTC = dt.UTC
T1 = dt.datetime(2026, 11, 27, 12, tzinfo=UTC)
T2 = dt.datetime(2026, 11, 28, 9, tzinfo=UTC)
T3 = dt.datetime(2026, 11, 29, 9, tzinfo=UTC)
BOARD = "sab-board-pack"


def other_people(bundle_path: Path, contributor_id: str) -> dict[str, list[str]]:
    """Every other contributor's id, name and known identifiers, by id, from the bundle file."""
    data = json.loads(bundle_path.read_text(encoding="utf-8"))
    out = {}
    for person in data["contributors"]:
        if person["id"] == contributor_id:
            continue
        words = [person["id"], *person.get("known_identifiers", [])]
        if person.get("display_name"):
            words.append(person["display_name"])
        out[person["id"]] = words
    return out


def mentions(text: str, words: list[str]) -> list[str]:
    """The words that occur in ``text`` as whole words, in any case."""
    return [
        w for w in words if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", text, re.IGNORECASE)
    ]


def example_config(tmp_path: Path) -> Config:
    """The example's configuration with the file destination writing under ``tmp_path``."""
    config = load_config(ROOT / "examples" / "coprolib.toml")
    board = config.destinations[BOARD]
    moved = attrs.evolve(board, settings={**board.settings, "directory": str(tmp_path / "pack")})
    return attrs.evolve(config, destinations={**config.destinations, BOARD: moved})


@pytest.fixture
def lived(ledger: Any, tmp_path: Path) -> tuple[Any, Config]:
    return live_example(ledger, tmp_path)


def live_example(ledger: Any, tmp_path: Path) -> tuple[Any, Config]:
    """The example taken through each stage for p-amber: planned, delivered to the board pack,
    s-01 withdrawn and retracted there, then an outcome recorded from i-01."""
    ledger.import_bundle(load_bundle(EXAMPLE_BUNDLE))
    config = example_config(tmp_path)
    first = plan(ledger, config, moment=T1)
    assert any(s.destination == BOARD and "s-01" in s.story_ids for s in first.deliver)
    delivered = sync(ledger, config, destination=BOARD)
    assert delivered.ok and delivered.delivered > 0
    withdraw(ledger, "p-amber", story_id="s-01", reason="Changed my mind", moment=T2)
    replanned = plan(ledger, config, moment=T2 + dt.timedelta(minutes=5))
    assert replanned.retractions
    retracted = sync(ledger, config, destination=BOARD)
    assert retracted.ok and retracted.retracted > 0
    add_outcome(
        ledger,
        Outcome(
            id="o-lead",
            title="A lead professional named on every joint referral",
            kind=OutcomeKind.PRACTICE_GUIDANCE,
            depth=ChangeDepth.PRACTICE,
            insight_ids=("i-01",),
            owner="Adult Social Care practice lead",
            timeline=(OutcomeEvent(on=T3.date(), status=OutcomeStatus.AGREED),),
            due=dt.date(2027, 3, 31),
        ),
        now=T3,
    )
    return ledger, config


def test_journey_shows_each_stage(lived: tuple[Any, Config]) -> None:
    ledger, config = lived
    j = journey(ledger, "p-amber", config=config, moment=T3 + dt.timedelta(hours=1))
    stories = {s.id: s for s in j.stories}
    assert set(stories) == {"s-01", "s-10"}
    s01, s10 = stories["s-01"], stories["s-10"]
    assert s01.label == "Every agency saw a piece" and s01.collected_on == dt.date(2025, 3, 4)

    # Consent per story: the withdrawal named s-01 only; c-01 still covers s-10.
    assert s01.consent.status == "withdrawn" and s01.consent.withdrawn_at == T2
    assert [e.type for e in s01.consent.history] == ["given", "withdrawn"]
    assert s10.consent.status == "active" and s10.consent.withdrawn_at is None
    assert s10.consent.consent_id == s01.consent.consent_id == "c-01"
    assert [e.type for e in s10.consent.history] == ["given"], "a withdrawal of s-01 only"

    # Shared to the board pack, delivered, then retracted, with the receipts' times.
    board = [sh for sh in s01.shares if sh.destination == BOARD]
    assert board, "s-01 went to the board pack"
    for sh in board:
        receipts = ledger.receipts_for(sh.id)
        assert sh.status == ShareStatus.RETRACTED
        assert sh.audience == "board"
        assert sh.delivered_at == receipts[0].at and sh.retracted_at == receipts[-1].at
        assert [r.action for r in sh.receipts] == ["deliver", "retract"]
    assert {(st.id, sh.id) for st, sh in j.retracted} >= {("s-01", sh.id) for sh in board}
    # s-10 was shared again, without s-01, and that share was delivered... or waits.
    assert any(sh.destination == BOARD and sh.status != "retracted" for sh in s10.shares)

    # The change it led to, through i-01, with its kind, depth, status and owner.
    (i01,) = [i for i in j.insights if i.id == "i-01"]
    assert i01.story_ids == ("s-01", "s-10") and i01.other_stories == 2
    (lead,) = [o for o in i01.outcomes if o.id == "o-lead"]
    assert (lead.kind, lead.depth, lead.status) == ("practice_guidance", "practice", "agreed")
    assert lead.owner == "Adult Social Care practice lead" and lead.due == dt.date(2027, 3, 31)

    # Feedback given (f-01 in the example) and owed, with due dates: the change update and
    # the withdrawal confirmation are owed now.
    assert [f.id for f in j.feedback_given] == ["f-01"]
    owed_kinds = {f.kind for f in j.feedback_owed}
    assert {FeedbackKind.CHANGE_UPDATE, FeedbackKind.WITHDRAWAL_CONFIRMED} <= owed_kinds
    change = [f for f in j.feedback_owed if f.outcome_id == "o-lead"]
    assert change and all(f.due is not None for f in change)

    # Involvement: the forum theatre session, others counted not named.
    (drama,) = [a for a in j.involvement if a.id == "a-drama"]
    assert drama.id == "a-drama" and drama.participants >= 4

    data = j.to_json()
    assert json.loads(json.dumps(data)) == data, "JSON types only"
    assert data["feedback_owed"] == [f.id for f in j.feedback_owed]
    # The retracted board share carried s-10 too: it was taken back for both, then s-10 was
    # shared again on its own.
    assert {r["share_id"] for r in data["retracted"]} == {sh.id for sh in board}
    assert {r["story_id"] for r in data["retracted"]} == {"s-01", "s-10"}
    text = "\n".join(summary_lines(j))
    assert "withdrawn 2026-11-28T09:00" in text and "o-lead" in text


def test_no_other_contributor_appears(lived: tuple[Any, Config]) -> None:
    ledger, config = lived
    for cid in ("p-amber", "p-rowan", "p-morgan"):
        j = journey(ledger, cid, config=config)
        out = json.dumps(j.to_json()) + render_html(j) + render_html(j, easy_read=True)
        out += "\n".join(summary_lines(j))
        for other, words in other_people(EXAMPLE_BUNDLE, cid).items():
            assert mentions(out, words) == [], f"{other} appears in {cid}'s journey"
    # s-10 is told by p-amber and p-morgan: each sees it, counted with one other.
    morgan = journey(ledger, "p-morgan")
    assert {s.id: s.other_tellers for s in morgan.stories}["s-10"] == 1


def test_staff_text_naming_someone_else_is_scrubbed(ledger: Any) -> None:
    bundle = load_bundle(EXAMPLE_BUNDLE)
    ledger.import_bundle(bundle)
    outcome = ledger.get(Outcome, "o-01")
    # A title written by staff that names the other teller of s-10 and Amber herself.
    ledger.replace(attrs.evolve(outcome, title="Morgan Tregaron and Amber asked for this"))
    j = journey(ledger, "p-amber")
    (o01,) = [o for i in j.insights for o in i.outcomes if o.id == "o-01"]
    assert o01.title == "[another person] and Amber asked for this"


def test_erased_contributor_shows_nothing_personal(ledger: Any, tmp_path: Path) -> None:
    ledger.import_bundle(load_bundle(EXAMPLE_BUNDLE))
    config = example_config(tmp_path)
    plan(ledger, config, moment=T1)
    before = journey(ledger, "p-rowan")
    assert before.stories and not before.erased
    erase_person(ledger, "p-rowan", config, moment=T2, compact=False)
    j = journey(ledger, "p-rowan", moment=T3)
    assert j.erased and j.stories == () and j.feedback == () and j.insights == ()
    assert j.to_json() == {"contributor_id": "p-rowan", "as_of": T3.isoformat(), "erased": True}
    html = render_html(j) + render_html(j, easy_read=True)
    words = ["Rowan", "Pellow", "Brackenfield", "Rock bottom", "s-02", "s-12", "c-02"]
    assert mentions(html, words) == []
    assert "erased" in html and "delete your records" in html
    assert summary_lines(j) == ["p-rowan: erased; nothing personal is held"]


def test_unknown_contributor_is_a_clear_error(ledger: Any) -> None:
    with pytest.raises(ContributorNotFound, match="'p-nobody': not in the ledger"):
        journey(ledger, "p-nobody")


def test_cli_journey(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "coprolib.toml").write_text(
        (ROOT / "examples" / "coprolib.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    runner = CliRunner()
    cli = build_cli()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(cli, list(args))
        assert result.exit_code == code, result.output
        return result.output

    run("import", str(EXAMPLE_BUNDLE))
    run("plan", "--at", "2026-11-27T12:00:00Z")
    run("withdraw", "--contributor", "p-amber", "--story", "s-01", "--at", "2026-11-28T09:00:00Z")
    out = run("journey", "p-amber", "--at", "2026-11-29T00:00:00Z")
    assert "story s-01 'Every agency saw a piece'" in out
    assert "consent: withdrawn (c-01 v2), withdrawn 2026-11-28T09:00+00:00" in out
    data = json.loads(run("journey", "p-amber", "--json"))
    assert [s["id"] for s in data["stories"]] == ["s-01", "s-10"]
    out = run("journey", "p-rowan", "--html", "rowan.html", "--easy-read")
    assert "wrote rowan.html" in out
    page = (tmp_path / "rowan.html").read_text(encoding="utf-8")
    assert '<html lang="en-GB">' in page and 'class="easy"' in page
    assert "Northdale Safeguarding Adults Board" in page, "the organisation from the config"
    assert "not in the ledger" in run("journey", "p-nobody", code=2)
    assert "--easy-read needs --html" in run("journey", "p-amber", "--easy-read", code=2)


def test_contributor_record_is_not_touched(ledger: Any) -> None:
    ledger.import_bundle(load_bundle(EXAMPLE_BUNDLE))
    before = ledger.get(Contributor, "p-amber")
    entries = len(list(ledger.audit_entries()))
    journey(ledger, "p-amber")
    assert ledger.get(Contributor, "p-amber") == before
    assert len(list(ledger.audit_entries())) == entries, "reading a journey writes nothing"


def test_page_escapes_what_staff_wrote(ledger: Any) -> None:
    ledger.import_bundle(load_bundle(EXAMPLE_BUNDLE))
    story = ledger.get(Story, "s-01")
    ledger.replace(attrs.evolve(story, title='<script>alert("x")</script> & <b>bold</b>'))
    for easy in (False, True):
        html = render_html(journey(ledger, "p-amber"), easy_read=easy)
        assert "<script>" not in html and "<b>" not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;" in html


def test_journey_shows_their_roles_and_recognition(lived: tuple[Any, Config]) -> None:
    from coprolib.report.journey import journey, render_html, summary_lines

    ledger, config = lived
    j = journey(ledger, "p-amber", config=config)
    by_activity = {a.id: a for a in j.involvement}
    assert by_activity["a-training"].role == "trainer"
    assert by_activity["a-training"].recognition == (
        "payment of £120.00, given on 2026-05-30 by bank transfer",
    )
    assert by_activity["a-drama"].role == "participant"
    text = "\n".join(summary_lines(j))
    assert "as trainer" in text and "recognition: payment of £60.00" in text
    assert "Your role" in render_html(j) and "You were the trainer." in render_html(
        j, easy_read=True
    )
    assert j.to_json()["involvement"][0]["recognition"]
