"""Small, clearly fictional records for the ledger tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from coprolib.records import (
    Consent,
    ConsentEvent,
    ConsentTerms,
    ContactDetails,
    Contributor,
    EvidenceRef,
    Feedback,
    Insight,
    Quote,
    Recipient,
    Share,
    SharedQuote,
    Story,
)
from coprolib.records.enums import (
    Audience,
    ConsentEventType,
    FeedbackChannel,
    FeedbackKind,
    IdentityLevel,
    InsightStatus,
    Purpose,
    SARDomain,
    ShareKind,
    StorySource,
)

T0 = dt.datetime(2025, 3, 1, 10, 0, tzinfo=dt.UTC)


def contributor(cid: str = "p-1", **kw: Any) -> Contributor:
    """A fictional contributor with contact details and identifiers."""
    kw.setdefault("display_name", f"Zephyrine Quillfeather {cid}")
    kw.setdefault("contact", ContactDetails(email=f"{cid}@example.invalid", phone="07700 900123"))
    kw.setdefault("known_identifiers", (f"Quillfeather-{cid}", "Larkspur Close"))
    return Contributor(id=cid, **kw)


def story(
    sid: str = "s-1",
    contributors: tuple[str, ...] = ("p-1",),
    themes: tuple[str, ...] = ("trust",),
    text: str | None = None,
    **kw: Any,
) -> Story:
    """A fictional story with one quote."""
    body = text or f"Marigold-{sid} said the night team never rang back about the flat."
    return Story(
        id=sid,
        contributor_ids=contributors,
        text=body,
        source=StorySource.INTERVIEW,
        collected_on=dt.date(2025, 2, 1),
        themes=themes,
        quotes=(Quote(id="q1", start=0, end=10),),
        **kw,
    )


def terms(*purposes: Purpose, expires: dt.date | None = None) -> ConsentTerms:
    """Consent terms for the purposes, internal and partner audiences."""
    return ConsentTerms(
        purposes=purposes or (Purpose.TRAINING,),
        audiences=(Audience.INTERNAL, Audience.PARTNERS),
        identity_level=IdentityLevel.PSEUDONYMOUS,
        quotes_allowed=True,
        expires=expires,
    )


def consent(
    cid: str = "c-1",
    person: str = "p-1",
    stories: tuple[str, ...] = (),
    *purposes: Purpose,
    expires: dt.date | None = None,
) -> Consent:
    """A consent given at T0."""
    ev = ConsentEvent(type=ConsentEventType.GIVEN, at=T0, terms=terms(*purposes, expires=expires))
    return Consent(id=cid, contributor_id=person, story_ids=stories, events=(ev,))


def withdrawal(at: dt.datetime, *purposes: Purpose) -> ConsentEvent:
    """A (possibly partial) withdrawal."""
    return ConsentEvent(type=ConsentEventType.WITHDRAWN, at=at, purposes=purposes)


def insight(iid: str = "i-1", stories: tuple[str, ...] = ("s-1",), **kw: Any) -> Insight:
    """An agreed insight from the stories."""
    kw.setdefault("status", InsightStatus.AGREED)
    return Insight(
        id=iid,
        title="Ring back the same day",
        summary="People gave up waiting.",
        recommendation="Same-day call back",
        domain=SARDomain.INTERAGENCY_WORKING,
        themes=("trust",),
        evidence=tuple(EvidenceRef(story_id=s) for s in stories),
        **kw,
    )


def feedback(fid: str = "f-1", person: str = "p-1", **kw: Any) -> Feedback:
    """Feedback owed to a contributor."""
    return Feedback(
        id=fid,
        contributor_id=person,
        kind=FeedbackKind.SCHEDULED,
        channel=FeedbackChannel.EMAIL,
        **kw,
    )


def share(
    sh: str = "sh-1",
    destination: str = "files",
    stories: tuple[str, ...] = ("s-1",),
    quote: str = "Marigold-s",
    **kw: Any,
) -> Share:
    """A planned insight share quoting a story."""
    return Share(
        id=sh,
        kind=ShareKind.INSIGHT,
        destination=destination,
        subject_id="i-1",
        identity_level=IdentityLevel.ANONYMOUS,
        title="Ring back",
        body="People waited.",
        idempotency_key=f"key-{sh}",
        digest="d" * 64,
        planned_at=T0,
        quotes=(SharedQuote(text=quote, story_ref=stories[0] if stories else "x"),),
        story_ids=stories,
        **kw,
    )


def recipient_share(sh: str, person: str) -> Share:
    """A feedback share addressed to a contributor."""
    return Share(
        id=sh,
        kind=ShareKind.FEEDBACK,
        destination="notify",
        subject_id=f"f-{person}",
        identity_level=IdentityLevel.NAMED,
        title="We shared your story",
        body="Thank you.",
        idempotency_key=f"key-{sh}",
        digest="e" * 64,
        planned_at=T0,
        recipient=Recipient(name="Zephyrine", email=f"{person}@example.invalid"),
    )
