"""Which consent governs a teller's story, folded to a moment, and the facts rules read from a
consent's history (withdrawals, overrides, approvals). No decision is made here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from coprolib.consent.model import InForce
from coprolib.records import Consent, ConsentEvent, Story
from coprolib.records.enums import ConsentEventType


def pick_consent(contributor_id: str, story_id: str, consents: Iterable[Consent]) -> Consent | None:
    """The consent that governs one teller's story: a consent naming the story beats a blanket
    one; among equals the most recently started wins (ties broken by id)."""
    best: Consent | None = None
    for c in consents:
        if c.contributor_id != contributor_id or (c.story_ids and story_id not in c.story_ids):
            continue
        if best is None or (bool(c.story_ids), c.events[0].at, c.id) > (
            bool(best.story_ids),
            best.events[0].at,
            best.id,
        ):
            best = c
    return best


def teller_state(
    contributor_id: str, story_id: str, consents: Iterable[Consent], moment: dt.datetime
) -> InForce:
    """One teller's governing consent for one story, folded to ``moment`` for that story."""
    c = pick_consent(contributor_id, story_id, consents)
    if c is None:
        return InForce(contributor_id=contributor_id, consent=None, state=None, story_id=story_id)
    return InForce(
        contributor_id=contributor_id,
        consent=c,
        state=c.state_at(moment, story_id),
        story_id=story_id,
    )


def in_force(story: Story, consents: Iterable[Consent], moment: dt.datetime) -> tuple[InForce, ...]:
    """Each teller's governing consent for ``story``, folded to ``moment``."""
    consents = tuple(consents)
    return tuple(teller_state(cid, story.id, consents, moment) for cid in story.contributor_ids)


def _applies(ev: ConsentEvent, story_id: str | None) -> bool:
    return not ev.story_ids or (story_id is not None and story_id in ev.story_ids)


def withdrawn_at(
    consent: Consent, moment: dt.datetime, story_id: str | None = None
) -> dt.datetime | None:
    """When the withdrawal in force at ``moment`` happened (the last whole withdrawal that
    applies to ``story_id``; None if none is in force)."""
    found = None
    for ev in consent.events:
        if ev.at > moment:
            break
        if not _applies(ev, story_id):
            continue
        if ev.type is ConsentEventType.WITHDRAWN and not (ev.purposes or ev.audiences):
            found = ev.at
        elif ev.type in (ConsentEventType.GIVEN, ConsentEventType.RENEWED):
            found = None
    return found


def narrowings(consent: Consent, moment: dt.datetime) -> tuple[ConsentEvent, ...]:
    """The withdrawals up to ``moment`` that name only some stories, purposes or audiences."""
    return tuple(
        ev
        for ev in consent.events
        if ev.at <= moment
        and ev.type is ConsentEventType.WITHDRAWN
        and (ev.story_ids or ev.purposes or ev.audiences)
    )


def latest_override(consent: Consent, moment: dt.datetime) -> ConsentEvent | None:
    """The override (with reason and approver) recorded on ``consent`` by ``moment``, if any."""
    found = None
    for ev in consent.events:
        if ev.at > moment:
            break
        if ev.type is ConsentEventType.OVERRIDE:
            found = ev
    return found


def approval_for(
    consent: Consent, insight_id: str | None, digest: str | None, moment: dt.datetime
) -> tuple[bool, bool]:
    """Whether ``consent`` has an ``approved`` event by ``moment`` for this insight and text.

    Returns ``(approved_this_text, approved_some_other_text_of_this_insight)``.
    """
    exact = other = False
    for ev in consent.events:
        if ev.at > moment:
            break
        if ev.type is ConsentEventType.APPROVED and ev.insight_id == insight_id:
            if ev.text_digest == digest:
                exact = True
            else:
                other = True
    return exact, other


def quoted(values: Iterable[str]) -> str:
    """``'a', 'b'`` for messages."""
    return ", ".join(["'" + str.__str__(v) + "'" for v in values])
