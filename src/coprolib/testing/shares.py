"""Canonical shares for adapter tests: unicode, long text, quotes, every identity level, insight
and feedback kinds. All content is fictional."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from typing import Any

from coprolib.config import Config, parse_config
from coprolib.ledger.types import JobKind
from coprolib.planner import World, route
from coprolib.records import (
    Consent,
    ConsentEvent,
    ConsentRef,
    ConsentTerms,
    Contributor,
    EvidenceRef,
    Insight,
    Recipient,
    Share,
    SharedQuote,
    Story,
    convert,
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
    story_ids: tuple[str, ...] | None = None,
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
        story_ids=story_ids if story_ids is not None else (f"story-{share_id}",),
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


CONSENT_ID = "consent-fictional-1"
STORY_ID = "story-fictional-1"
CONTRIBUTOR_ID = "contributor-fictional-1"


_SEED_TERMS = ConsentTerms(
    purposes=(Purpose.SERVICE_IMPROVEMENT, Purpose.BOARD_REPORTING),
    audiences=(Audience.BOARD, Audience.PARTNERS),
    identity_level=IdentityLevel.ANONYMOUS,
)


def _seed_story(given_at: dt.datetime) -> Story:
    return Story(
        id=STORY_ID,
        contributor_ids=(CONTRIBUTOR_ID,),
        text="A fictional account: the day centre closed and nobody called.",
        source=StorySource.WORKSHOP,
        collected_on=given_at.date(),
    )


def _seed_consent(given_at: dt.datetime, terms: ConsentTerms) -> Consent:
    return Consent(
        id=CONSENT_ID,
        contributor_id=CONTRIBUTOR_ID,
        story_ids=(STORY_ID,),
        events=(ConsentEvent(type=ConsentEventType.GIVEN, at=given_at, terms=terms),),
    )


def seed_consent(ledger: Any, *, given_at: dt.datetime = PLANNED_AT) -> None:
    """Add one fictional contributor, story and consent (board and partners, service improvement
    and board reporting, anonymous) that :func:`outbox_shares` rely on."""
    ledger.add(
        [
            Contributor(id=CONTRIBUTOR_ID),
            _seed_story(given_at),
            _seed_consent(given_at, _SEED_TERMS),
        ]
    )


def _seed_world(insights: list[Insight]) -> World:
    terms = _SEED_TERMS
    return World.from_records(
        stories=[_seed_story(PLANNED_AT)],
        consents=[_seed_consent(PLANNED_AT, terms)],
        insights=insights,
        contributors=[Contributor(id=CONTRIBUTOR_ID)],
    )


def outbox_insights(count: int, prefix: str = "share") -> list[Insight]:
    """``count`` agreed insights citing the story from :func:`seed_consent`."""
    return [
        Insight(
            id=f"insight-{prefix}-{i}",
            title=f"Connect services around the person ({prefix} {i})",
            summary="Agencies met only after a crisis; a single named contact would have helped.",
            recommendation="Name one lead contact.",
            domain=SARDomain.INTERAGENCY_WORKING,
            themes=("isolation", "transport"),
            evidence=(EvidenceRef(story_id=STORY_ID),),
            status=InsightStatus.AGREED,
        )
        for i in range(count)
    ]


def outbox_config(*destinations: str, adapter: str = "file") -> Config:
    """A configuration in which each named destination carries insights to the board for
    service improvement: what the consent from :func:`seed_consent` allows."""
    return parse_config(
        "\n".join(
            f'[destinations."{name}"]\nadapter = "{adapter}"\naudience = "board"\n'
            'purposes = ["service_improvement"]\n'
            for name in destinations
        )
    )


def outbox_shares(count: int, destination: str, prefix: str = "share") -> list[Share]:
    """``count`` anonymous shares for ``destination``, rendered by the planner from
    :func:`outbox_insights` and relying on the consent from :func:`seed_consent`, so that the
    check just before sending (with :func:`outbox_config`) lets them go."""
    insights = outbox_insights(count, prefix)
    routed = route(
        _seed_world(insights), outbox_config(destination).destinations.values(), PLANNED_AT
    )
    return [r.share for r in routed if r.share is not None]


def plan_into(ledger: Any, shares: list[Share]) -> None:
    """Record the shares as planned, with the insights they render, and enqueue a delivery job
    for each, in one transaction (the ledger needs :func:`seed_consent` first)."""
    made: dict[str, int] = {}  # prefix -> how many outbox_insights made
    for share in shares:
        found = re.fullmatch(r"insight-(.+)-(\d+)", share.subject_id)
        if found:
            made[found[1]] = max(made.get(found[1], 0), int(found[2]) + 1)
    wanted = {s.subject_id for s in shares}
    with ledger.transaction():
        for prefix, count in sorted(made.items()):
            missing = [
                i
                for i in outbox_insights(count, prefix)
                if i.id in wanted and ledger.get(Insight, i.id) is None
            ]
            if missing:
                ledger.add(missing)
        for share in shares:
            ledger.put_share(share)
            ledger.enqueue_job(JobKind.DELIVER, share.destination, share.id, share.idempotency_key)


def share_json(share: Share) -> str:
    """A share as canonical JSON (for comparing what a remote received)."""
    return json.dumps(convert.unstructure(share), sort_keys=True, ensure_ascii=False)
