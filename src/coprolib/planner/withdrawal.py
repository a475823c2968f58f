"""Withdrawal: append a withdrawal event to a contributor's consents; the next plan retracts."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

import attrs

from coprolib.config import Config
from coprolib.consent import pick_consent
from coprolib.enums import Audience, ConsentEventType, FeedbackKind, FeedbackStatus, Purpose
from coprolib.errors import CoprolibError
from coprolib.feedback_owed import owe_feedback
from coprolib.planner._records import evolve, make_consent, make_event, make_feedback, utc_now
from coprolib.records import Consent, Contributor, Feedback, Story

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
    """Append a withdrawal event to the contributor's consents (those covering ``story_id``, or
    all). Naming ``purposes`` / ``audiences`` narrows instead of withdrawing everything. The next
    :func:`plan` retracts what was shared. Obligations to tell them about shares are cancelled
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
        event = make_event(
            type=ConsentEventType.WITHDRAWN,
            at=moment,
            recorded_by=recorded_by,
            reason=reason,
            purposes=ps,
            audiences=auds,
        )
        ids = []
        specific = [c for c in consents if c.story_ids == (story_id,)]
        if story_id is not None and not specific:
            # The consent covering the story covers others too (or all): withdraw this one story
            # by recording a consent for it alone (the same terms, then withdrawn), which governs
            # it from now (a consent naming one story beats a broader one).
            governing = pick_consent(contributor_id, story_id, consents)
            for c in [governing] if governing is not None else []:
                state = c.state_at(moment)
                if state.terms is None:
                    continue
                derived = make_consent(
                    id=f"{c.id}~{story_id}",
                    contributor_id=contributor_id,
                    story_ids=(story_id,),
                    basis=c.basis,
                    support=c.support,
                    supported_by=c.supported_by,
                    method=c.method,
                    events=(
                        make_event(
                            type=ConsentEventType.GIVEN,
                            at=moment,
                            recorded_by=recorded_by,
                            terms=state.terms,
                            reason=f"the terms of consent {c.id}, recorded for story "
                            f"{story_id} alone so that it can be withdrawn on its own",
                        ),
                        event,
                    ),
                )
                ledger.add(derived)
                ids.append(derived.id)
        else:
            for c in specific if story_id is not None else consents:
                if c.events and c.events[-1].at > moment:
                    event = evolve(event, at=c.events[-1].at)
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
