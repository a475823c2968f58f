"""Erasure (UK GDPR right to erasure): the tombstones that replace a person's records.

A tombstone keeps every id and reference, so the audit chain, consents, insights and share records
still line up, but holds none of the person's words or details. Erasure is not withdrawal: a
withdrawal stops future sharing; erasure removes the content for good.

What is the person's is found by reference, never by matching text: their stories are those
naming them; a share's quote is theirs when its ``story_ref`` names one of their stories, either
by id or, below "named", by its ``story N`` label (the N-th of the share's ``story_ids``).
"""

from __future__ import annotations

import re

import attrs

from coprolib.ledger.codec import ERASED
from coprolib.records import (
    Accessibility,
    Consent,
    ContactDetails,
    Contributor,
    Feedback,
    Involvement,
    LivedAnswer,
    Share,
    SharedQuote,
    Story,
)
from coprolib.records.enums import FeedbackChannel

_LABEL = re.compile(r"story (\d+)")


def erase_contributor_record(contributor: Contributor) -> Contributor:
    """The contributor with name, contact details, identifiers and notes removed."""
    return attrs.evolve(
        contributor,
        display_name=None,
        contact=ContactDetails(),
        known_identifiers=(),
        accessibility=Accessibility(
            easy_read=contributor.accessibility.easy_read,
            language=contributor.accessibility.language,
            large_print=contributor.accessibility.large_print,
        ),
        wants_feedback=False,
        feedback_channel=FeedbackChannel.NONE,
    )


def erase_story_record(story: Story) -> Story:
    """The story with its text, title, quotes and collector removed (ids, themes, dates kept)."""
    return attrs.evolve(story, text=ERASED, title=None, quotes=(), collected_by=None)


def erase_feedback_record(feedback: Feedback) -> Feedback:
    """Feedback to an erased person with the message and notes removed (what was still owed
    is cancelled first, by :func:`coprolib.feedback.owed.cancel_owed_feedback`)."""
    return attrs.evolve(feedback, message=None, note=None)


def erase_involvement_record(involvement: Involvement) -> Involvement:
    """An erased person's involvement with its notes removed; role, hours and recognition stay
    (counts and payment records, no words about the person)."""
    return attrs.evolve(involvement, notes=None)


def erase_answer_summary(answer: LivedAnswer) -> LivedAnswer:
    """A lived-experience answer drawn from an erased person's story, without its summary (which
    may carry their words)."""
    return attrs.evolve(answer, summary=None)


def erase_consent_record(consent: Consent) -> Consent:
    """The consent with its free text removed: who supported the decision, and each event's
    recorder, reason and approver. Terms, dates and the event history stay, so what was
    allowed when can still be shown."""
    events = tuple(
        attrs.evolve(
            ev,
            recorded_by=None,
            reason=ERASED if ev.reason else None,
            approver=ERASED if ev.approver else None,
        )
        for ev in consent.events
    )
    return attrs.evolve(consent, supported_by=None, events=events)


def quote_story(share: Share, story_ref: str) -> str | None:
    """The id of the story a share's quote comes from, by its ``story_ref``: a story id, or a
    ``story N`` label for the N-th of the share's stories; ``None`` when it names neither."""
    if story_ref in share.story_ids:
        return story_ref
    m = _LABEL.fullmatch(story_ref)
    if m is not None:
        n = int(m.group(1))
        if 1 <= n <= len(share.story_ids):
            return share.story_ids[n - 1]
    return None


def scrub_share(share: Share, story_ids: set[str], addressed_to_person: bool) -> Share | None:
    """The share with the erased person's quotes (found by reference) removed and, when it was
    addressed to them, its recipient and message; ``None`` when it holds nothing of theirs.
    A quote whose story cannot be resolved is removed too when the share cites one of the
    person's stories (it may be theirs)."""
    cites = bool(set(share.story_ids) & story_ids)
    quotes = []
    changed = False
    for q in share.quotes:
        source = quote_story(share, q.story_ref)
        mine = source in story_ids if source is not None else cites
        if mine and q.text != ERASED:
            quotes.append(SharedQuote(text=ERASED, story_ref=q.story_ref))
            changed = True
        else:
            quotes.append(q)
    changes: dict[str, object] = {"quotes": tuple(quotes)}
    if addressed_to_person:
        if share.recipient is not None:
            changes["recipient"] = None
            changed = True
        if share.body != ERASED or share.title != ERASED:
            changes.update(title=ERASED, body=ERASED)
            changed = True
    if not changed:
        return None
    return attrs.evolve(share, **changes)  # type: ignore[arg-type]
