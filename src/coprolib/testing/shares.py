"""Canonical shares for adapter tests: unicode, long text, quotes, every identity level, insight
and feedback kinds. All content is fictional."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from coprolib import convert
from coprolib.enums import (
    FeedbackChannel,
    FeedbackKind,
    IdentityLevel,
    SARDomain,
    ShareKind,
)
from coprolib.records import ConsentRef, Recipient, Share, SharedQuote

PLANNED_AT = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)

_UNICODE = (
    "Cymraeg: Mae'r gwasanaeth yn gwrando. Ελληνικά, русский, 日本語のテキスト, "
    "العربية (right to left), emoji 🫶🏽 and combining e\u0301, zero\u200bwidth, tab\there."
)
_QUOTES = "She said \"they listened\", then 'nobody rang back' — “curly” and ‘single’ quotes."
_LONG = " ".join(
    f"Paragraph {i}: the day centre closed early and transport was not arranged, so the "
    "person waited alone; a joined-up call between agencies would have prevented it."
    for i in range(400)
)


def digest_of(share_fields: dict[str, object]) -> str:
    """A stable SHA-256 digest of a share's content fields."""
    text = json.dumps(share_fields, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def make_share(
    share_id: str,
    *,
    destination: str = "test",
    title: str = "Connect services around the person",
    body: str = "Agencies met only after a crisis; a single named contact would have helped.",
    identity_level: IdentityLevel = IdentityLevel.ANONYMOUS,
    kind: ShareKind = ShareKind.INSIGHT,
    quotes: tuple[SharedQuote, ...] = (),
    consent_id: str = "c-1",
    consent_version: int = 1,
    recipient: Recipient | None = None,
    version: int = 1,
) -> Share:
    """One share with a stable idempotency key ``<destination>:<share_id>`` and content digest."""
    content = {"title": title, "body": body, "quotes": [q.text for q in quotes], "v": version}
    return Share(
        id=share_id,
        kind=kind,
        destination=destination,
        subject_id=f"insight-{share_id}" if kind is ShareKind.INSIGHT else f"feedback-{share_id}",
        identity_level=identity_level,
        title=title,
        body=body,
        idempotency_key=f"{destination}:{share_id}",
        digest=digest_of(content),
        planned_at=PLANNED_AT,
        domain=SARDomain.INTERAGENCY_WORKING if kind is ShareKind.INSIGHT else None,
        themes=("isolation", "transport") if kind is ShareKind.INSIGHT else (),
        recommendation="Name one lead contact." if kind is ShareKind.INSIGHT else None,
        quotes=quotes,
        story_ids=(f"story-{share_id}",),
        contributor_count=1,
        consent_refs=(ConsentRef(consent_id=consent_id, version=consent_version),),
        feedback_kind=FeedbackKind.SHARED if kind is ShareKind.FEEDBACK else None,
        channel=FeedbackChannel.EMAIL if kind is ShareKind.FEEDBACK else None,
        recipient=recipient,
    )


def canonical_shares(destination: str = "test") -> list[Share]:
    """The shares every adapter must deliver, retract and deliver again without duplicates."""
    quote = SharedQuote(text="I felt like a box being ticked.", story_ref="story-q")
    return [
        make_share("canon-anonymous", destination=destination),
        make_share(
            "canon-pseudonymous",
            destination=destination,
            identity_level=IdentityLevel.PSEUDONYMOUS,
            title="Contributor P-17 on waiting for help",
        ),
        make_share(
            "canon-named",
            destination=destination,
            identity_level=IdentityLevel.NAMED,
            title="Alex Fictional (who chose to be named) on peer support",
            quotes=(quote,),
        ),
        make_share("canon-unicode", destination=destination, title="Ünïcödé ✓ 安全", body=_UNICODE),
        make_share("canon-long", destination=destination, body=_LONG),
        make_share(
            "canon-quotes",
            destination=destination,
            title="Quotes \"double\", 'single', <angle> & ampersand",
            body=_QUOTES + "\nSecond line,with,commas\r\nand a CRLF.",
            quotes=(SharedQuote(text=_QUOTES, story_ref="story-quotes"), quote),
        ),
        make_share(
            "canon-feedback",
            destination=destination,
            kind=ShareKind.FEEDBACK,
            title="Your story was shared with the Safeguarding Adults Board",
            body="On 2 March your story was shared at the board meeting. Thank you.",
            recipient=Recipient(name="Sam Example", email="sam@example.invalid", easy_read=True),
        ),
    ]


def share_json(share: Share) -> str:
    """A share as canonical JSON (for comparing what a remote received)."""
    return json.dumps(convert.unstructure(share), sort_keys=True, ensure_ascii=False)
