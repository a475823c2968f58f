"""Upgrading a ledger written before per-story withdrawals were events: each old
``<consent>~<story>`` withdrawal becomes a withdrawal event naming the story on the consent it
narrowed, once, audited."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from coprolib.ledger import open_ledger
from coprolib.ledger.ledger import Ledger
from coprolib.ledger.opening import connect, migrate
from coprolib.ledger.schema import MIGRATIONS
from coprolib.ledger.upgrades import STORY_NARROWING_VERSION, narrow_story_withdrawals
from coprolib.records import Consent, ConsentEvent, ConsentTerms, Contributor, Story
from coprolib.records.enums import Audience, ConsentEventType, IdentityLevel, Purpose, StorySource

T0 = dt.datetime(2025, 3, 4, 10, tzinfo=dt.UTC)
T1 = dt.datetime(2025, 9, 1, 9, tzinfo=dt.UTC)
TERMS = ConsentTerms(
    purposes=(Purpose.SERVICE_IMPROVEMENT,),
    audiences=(Audience.PARTNERS,),
    identity_level=IdentityLevel.PSEUDONYMOUS,
)


def _old_records() -> list[object]:
    """What coprolib 0.1 wrote for `withdraw --contributor p-ash --story s-2`."""
    stories = [
        Story(
            id=sid,
            contributor_ids=("p-ash",),
            text=f"A fictional account number {sid}.",
            source=StorySource.INTERVIEW,
            collected_on=T0.date(),
        )
        for sid in ("s-1", "s-2")
    ]
    given = ConsentEvent(type=ConsentEventType.GIVEN, at=T0, terms=TERMS)
    withdrawn = ConsentEvent(
        type=ConsentEventType.WITHDRAWN, at=T1, reason="not this one", recorded_by="A Worker"
    )
    return [
        Contributor(id="p-ash"),
        *stories,
        Consent(id="c-9", contributor_id="p-ash", story_ids=("s-1", "s-2"), events=(given,)),
        Consent(
            id="c-9~s-2",
            contributor_id="p-ash",
            story_ids=("s-2",),
            events=(
                ConsentEvent(
                    type=ConsentEventType.GIVEN,
                    at=T1,
                    terms=TERMS,
                    reason="the terms of consent c-9, recorded for story s-2 alone",
                ),
                withdrawn,
            ),
        ),
    ]


def test_opening_an_old_ledger_turns_story_withdrawals_into_events(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    db = connect(url)
    migrate(db, MIGRATIONS[: STORY_NARROWING_VERSION - 1])
    old = Ledger(db, actor="coprolib 0.1", keys=None)
    old.add(_old_records())
    old.close()

    with open_ledger(url) as ledger:
        c9 = ledger.get(Consent, "c-9")
        assert c9.version == 2
        last = c9.events[-1]
        assert (last.type, last.story_ids, last.at) == (ConsentEventType.WITHDRAWN, ("s-2",), T1)
        assert last.reason == "not this one"
        assert c9.state_at(T1, "s-2").status == "withdrawn"
        assert c9.state_at(T1, "s-1").status == "active"
        assert narrow_story_withdrawals(ledger) == []  # once only
        assert ledger.verify_audit().ok
    with open_ledger(url) as again:
        assert again.get(Consent, "c-9").version == 2
