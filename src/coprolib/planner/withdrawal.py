"""Withdrawal: append a withdrawal event to a contributor's consents; the next plan retracts."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

import attrs

from coprolib.config import Config
from coprolib.consent import pick_consent
from coprolib.errors import CoprolibError
from coprolib.feedback.owed import owe_feedback
from coprolib.planner._records import evolve, make_event, make_feedback, utc_now
from coprolib.records import Consent, Contributor, Feedback, Story
from coprolib.records.enums import Audience, ConsentEventType, FeedbackKind, FeedbackStatus, Purpose

if TYPE_CHECKING:
    from coprolib.ledger import Ledger


@attrs.frozen(kw_only=True)
class Withdrawal:
    """What :func:`withdraw` changed: the consents that got a withdrawal event, the stories
    affected, the feedback obligations cancelled and the confirmation owed."""

    contributor_id: str
    consent_ids: tuple[str, ...]
    story_ids: tuple[str, ...]
    narrowing: bool
    cancelled_feedback: tuple[str, ...] = ()
    confirmation: str | None = None


class WithdrawalError(CoprolibError, ValueError):
    """A withdrawal that names nothing to withdraw."""


def withdraw(
    ledger: Ledger,
    contributor_id: str,
    story_id: str | None = None,
    reason: str | None = None,
    purposes: Iterable[Purpose | str] = (),
    audiences: Iterable[Audience | str] = (),
    *,
    moment: dt.datetime | None = None,
    recorded_by: str | None = None,
    config: Config | None = None,
) -> Withdrawal:
    """Append a withdrawal event to the contributor's consents: all of them, or with
    ``story_id`` the one governing that story, the event naming the story (a narrowing: the
    consent stays in force for their other stories). Naming ``purposes`` / ``audiences`` narrows
    to the rest instead of withdrawing everything. The next :func:`plan` retracts what was
    shared, and the check just before sending refuses it from the moment it is recorded. Obligations to tell them about shares are cancelled
    and a ``withdrawal_confirmed`` feedback is owed (if they want to hear back)."""
    moment = moment or utc_now()
    ps = tuple(Purpose(p) for p in purposes)
    auds = tuple(Audience(a) for a in audiences)
    with ledger.transaction():
        person = ledger.get(Contributor, contributor_id)
        if person is None:
            raise WithdrawalError(f"contributor {contributor_id!r} is not in the ledger")
        consents = [
            c
            for c in ledger.list(Consent, contributor=contributor_id)
            if c.contributor_id == contributor_id and (story_id is None or c.covers(story_id))
        ]
        if story_id is not None:
            story = ledger.get(Story, story_id)
            if story is None or contributor_id not in story.contributor_ids:
                raise WithdrawalError(
                    f"story {story_id!r} is not a story told by contributor {contributor_id!r}"
                )
        if not consents:
            what = f" covering story {story_id}" if story_id else ""
            raise WithdrawalError(f"contributor {contributor_id} has no consent{what} to withdraw")
        # One story of a consent that covers several (or all of theirs): the withdrawal names
        # the story, so the same consent gets a new version and every reader sees it.
        scoped = (story_id,) if story_id is not None else ()
        ids = []
        for c in consents:
            if story_id is not None and c is not pick_consent(contributor_id, story_id, consents):
                continue
            event = make_event(
                type=ConsentEventType.WITHDRAWN,
                at=max(moment, c.events[-1].at),
                recorded_by=recorded_by,
                reason=reason,
                purposes=ps,
                audiences=auds,
                story_ids=scoped if c.story_ids != scoped else (),
            )
            ledger.append_consent_event(c.id, event)
            ids.append(c.id)
        told = [
            s.id
            for s in ledger.list(Story, contributor=contributor_id)
            if contributor_id in s.contributor_ids
        ]
        affected = (
            (story_id,)
            if story_id is not None
            else tuple(s for s in told if any(c.covers(s) for c in consents))
        )
        cancelled: list[str] = []
        confirmation = None
        if not (ps or auds):
            for fb in ledger.list(Feedback, contributor=contributor_id):
                if (
                    fb.contributor_id == contributor_id
                    and fb.status is FeedbackStatus.OWED
                    and fb.kind in (FeedbackKind.SCHEDULED, FeedbackKind.SHARED)
                    and fb.story_ids
                    and set(fb.story_ids) <= set(affected)
                ):
                    ledger.replace(
                        evolve(
                            fb,
                            status=FeedbackStatus.CANCELLED,
                            note=f"withdrawn on {moment.date().isoformat()}",
                        )
                    )
                    cancelled.append(fb.id)
        if person.wants_feedback:
            days = config.feedback.scheduled_days if config else 7
            key = f"{contributor_id}\x1fwithdrawal\x1f{story_id}\x1f{moment.isoformat()}"
            fid = "fb-" + hashlib.sha256(key.encode()).hexdigest()[:16]
            scope_words = f"story {story_id}" if story_id else "all your stories"
            narrowed = ", ".join([*map(str, ps), *map(str, auds)])
            msg = (
                f"We have recorded that you no longer want {scope_words} used"
                + (f" for {narrowed}" if narrowed else "")
                + ". Anything already shared will be taken back, and we will confirm when it is."
            )
            (owed,) = owe_feedback(
                ledger,
                [
                    make_feedback(
                        id=fid,
                        contributor_id=contributor_id,
                        kind=FeedbackKind.WITHDRAWAL_CONFIRMED,
                        channel=person.feedback_channel,
                        due=moment.date() + dt.timedelta(days=days),
                        story_ids=affected,
                        message=msg,
                        created_at=moment,
                    )
                ],
            )
            confirmation = owed.id  # withdrawing twice owes one confirmation
    return Withdrawal(
        contributor_id=contributor_id,
        consent_ids=tuple(ids),
        story_ids=affected,
        narrowing=bool(ps or auds),
        cancelled_feedback=tuple(cancelled),
        confirmation=confirmation,
    )
