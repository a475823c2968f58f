"""Erasure (UK GDPR right to erasure): the tombstones that replace a person's records.

A tombstone keeps every id and reference, so the audit chain, consents, insights and share records
still line up, but holds none of the person's words or details. Erasure is not withdrawal: a
withdrawal stops future sharing; erasure removes the content for good.
"""

from __future__ import annotations

import attrs

from coprolib.enums import FeedbackChannel
from coprolib.ledger.codec import ERASED
from coprolib.records import (
    Accessibility,
    ContactDetails,
    Contributor,
    Feedback,
    Share,
    SharedQuote,
    Story,
)


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
    """The story with its text, title and quotes removed (ids, themes and dates kept)."""
    return attrs.evolve(story, text=ERASED, title=None, quotes=())


def erase_feedback_record(feedback: Feedback) -> Feedback:
    """Feedback owed to an erased person, with the message and notes removed."""
    return attrs.evolve(feedback, message=None, note=None)


def scrub_share(
    share: Share,
    story_ids: set[str],
    texts: list[str],
    contact: set[str],
    addressed_to_person: bool,
) -> Share | None:
    """The share with the erased person's quotes and contact details removed, or ``None`` when
    it holds nothing of theirs. A quote is theirs when it names one of their stories or its
    text occurs in one of their stories; a recipient when the share was addressed to them."""
    quotes = []
    changed = False
    for q in share.quotes:
        mine = q.story_ref in story_ids or any(q.text and q.text in t for t in texts)
        if mine and q.text != ERASED:
            quotes.append(SharedQuote(text=ERASED, story_ref=q.story_ref))
            changed = True
        else:
            quotes.append(q)
    recipient = share.recipient
    if recipient is not None and (
        addressed_to_person
        or {recipient.email, recipient.phone, recipient.postal_address} & contact
    ):
        recipient = None
        changed = True
    if not changed:
        return None
    return attrs.evolve(share, quotes=tuple(quotes), recipient=recipient)
