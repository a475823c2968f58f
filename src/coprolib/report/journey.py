"""A contributor's journey: what happened to one person's stories, read from the ledger.

:func:`journey` gathers, for one contributor, every story they told (a label, when it was
collected), the consent in force for each story (folded per story by
:func:`coprolib.consent.teller_state`, so a withdrawal naming one story counts for that story
only), where each story was shared and when (the shares citing it, their destination, status and
receipts), what was retracted and when, the insights it fed and the changes (outcomes) they led
to, the feedback given and still owed, and the co-production activities the person took part in.

Only that person's data leaves this module. A story told with other people is listed with a
count of the others, never their ids or names; an insight's other supporting stories are
counted only. Free text written by staff (story titles, insight and outcome titles, activity
titles) goes through :func:`coprolib.redaction.find_spans` with the known identifiers, names and
ids of every other person connected to what is shown, and each match is replaced by
``[another person]``. An erased contributor's journey says so and holds nothing else.

:func:`render_html` lays the journey out as one accessible page (Jinja2, autoescaped, through
:func:`coprolib.report.render_template`), in a standard or an Easy Read form.
"""

from __future__ import annotations

import datetime as dt
import enum
import os
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from coprolib.consent import teller_state, withdrawn_at
from coprolib.errors import CoprolibError
from coprolib.records import (
    Activity,
    Consent,
    Contributor,
    Feedback,
    Insight,
    Involvement,
    Outcome,
    Recognition,
    Share,
    Story,
)
from coprolib.records.enums import (
    ConsentEventType,
    FeedbackKind,
    FeedbackStatus,
    PaymentMethod,
    ShareKind,
)
from coprolib.redaction import find_spans
from coprolib.report import render_template, write_atomic

if TYPE_CHECKING:
    from coprolib.config import Config
    from coprolib.ledger import Ledger, ShareStatus

__all__ = [
    "OTHER_PERSON",
    "ActivityStep",
    "ConsentStep",
    "ConsentView",
    "ContributorNotFound",
    "FeedbackStep",
    "InsightStep",
    "Journey",
    "OutcomeStep",
    "ReceiptStep",
    "ShareStep",
    "StoryStep",
    "journey",
    "render_html",
    "summary_lines",
    "write_html",
]

#: What replaces another person's name, id or known identifier in text shown on a journey.
OTHER_PERSON = "[another person]"

#: The receipt action a retraction records (see :mod:`coprolib.delivery`).
_RETRACT = "retract"
_DELIVER = "deliver"


class ContributorNotFound(CoprolibError, LookupError):
    """The ledger holds no contributor with this id."""


# --- the journey ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ConsentStep:
    """One event of the consent that applies to a story: what happened and when. ``partial``
    marks a withdrawal of some purposes or audiences only (the rest stays in force)."""

    type: ConsentEventType
    at: dt.datetime
    partial: bool = False


@attrs.frozen(kw_only=True)
class ConsentView:
    """A story's consent folded to the journey's moment for that story."""

    status: str
    consent_id: str | None = None
    version: int = 0
    purposes: tuple[str, ...] = ()
    audiences: tuple[str, ...] = ()
    identity_level: str | None = None
    quotes_allowed: bool = False
    expires: dt.date | None = None
    withdrawn_at: dt.datetime | None = None
    history: tuple[ConsentStep, ...] = ()


@attrs.frozen(kw_only=True)
class ReceiptStep:
    """What a destination said about a share (delivered or retracted), and when."""

    action: str
    at: dt.datetime


@attrs.frozen(kw_only=True)
class ShareStep:
    """A share of an insight that cites the story: where it went, its status, its receipts."""

    id: str
    insight_id: str
    destination: str
    audience: str | None
    status: str
    identity_level: str
    planned_at: dt.datetime
    delivered_at: dt.datetime | None
    retracted_at: dt.datetime | None
    receipts: tuple[ReceiptStep, ...] = ()


@attrs.frozen(kw_only=True)
class StoryStep:
    """One of the person's stories and what became of it."""

    id: str
    label: str
    collected_on: dt.date
    source: str
    collected_by: str | None
    other_tellers: int
    consent: ConsentView
    shares: tuple[ShareStep, ...] = ()
    insight_ids: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class OutcomeStep:
    """A change an insight led to."""

    id: str
    title: str
    kind: str
    depth: str
    status: str
    status_since: dt.date
    owner: str
    due: dt.date | None = None


@attrs.frozen(kw_only=True)
class InsightStep:
    """An insight the person's stories support, with the changes it led to.
    ``other_stories`` counts the supporting stories that are not this person's."""

    id: str
    title: str
    status: str
    story_ids: tuple[str, ...]
    other_stories: int
    outcomes: tuple[OutcomeStep, ...] = ()


@attrs.frozen(kw_only=True)
class FeedbackStep:
    """Something the person was told or is owed."""

    id: str
    kind: str
    status: str
    channel: str
    due: dt.date | None
    sent_on: dt.date | None
    overdue: bool
    story_ids: tuple[str, ...] = ()
    insight_id: str | None = None
    outcome_id: str | None = None
    destination: str | None = None
    delivered_at: dt.datetime | None = None


@attrs.frozen(kw_only=True)
class ActivityStep:
    """A co-production activity the person took part in (others counted, never named)."""

    id: str
    title: str
    held_on: dt.date
    rung: int
    rung_name: str
    decisions_held_by: str
    participants: int
    #: Their own part in it, from their involvement record (None when none is recorded).
    role: str | None = None
    hours: float | None = None
    #: The recognition offered and given, in plain words, one item each.
    recognition: tuple[str, ...] = ()


def _recognition_words(r: Recognition) -> str:
    """One recognition in plain words: what, how much, offered when, given when and how."""
    what = str(r.kind).replace("_", " ")
    if r.amount_pence is not None:
        what += f" of £{r.amount_pence / 100:,.2f}"
    if r.given_on is not None:
        how = f" by {str(r.method).replace('_', ' ')}" if r.method is not PaymentMethod.NONE else ""
        return f"{what}, given on {r.given_on.isoformat()}{how}"
    if r.offered_on is not None:
        return f"{what}, offered on {r.offered_on.isoformat()}, not yet given"
    return f"{what}, offered"


@attrs.frozen(kw_only=True)
class Journey:
    """One contributor's journey at a moment. With ``erased`` every other field is empty."""

    contributor_id: str
    as_of: dt.datetime
    erased: bool = False
    display_name: str | None = None
    wants_feedback: bool = False
    feedback_channel: str | None = None
    easy_read: bool = False
    stories: tuple[StoryStep, ...] = ()
    insights: tuple[InsightStep, ...] = ()
    feedback: tuple[FeedbackStep, ...] = ()
    involvement: tuple[ActivityStep, ...] = ()

    @property
    def feedback_given(self) -> tuple[FeedbackStep, ...]:
        """Feedback sent or recorded as done."""
        done = (FeedbackStatus.SENT, FeedbackStatus.DONE)
        return tuple(f for f in self.feedback if f.status in done)

    @property
    def feedback_owed(self) -> tuple[FeedbackStep, ...]:
        """Feedback still owed, soonest due first."""
        owed = [f for f in self.feedback if f.status == FeedbackStatus.OWED]
        return tuple(sorted(owed, key=lambda f: (f.due or dt.date.max, f.id)))

    @property
    def retracted(self) -> tuple[tuple[StoryStep, ShareStep], ...]:
        """Each share of a story that was taken back (or is being taken back)."""
        return tuple(
            (story, share)
            for story in self.stories
            for share in story.shares
            if share.retracted_at is not None or share.status in ("retract_planned", "retracted")
        )

    def to_json(self) -> dict[str, Any]:
        """The journey as JSON types only (dates and times as ISO 8601 strings)."""
        data: dict[str, Any] = _plain(self)
        if self.erased:
            return {
                "contributor_id": self.contributor_id,
                "as_of": data["as_of"],
                "erased": True,
            }
        data["feedback_owed"] = [f.id for f in self.feedback_owed]
        data["retracted"] = [
            {"story_id": story.id, "share_id": share.id, "destination": share.destination}
            | {"at": share.retracted_at.isoformat() if share.retracted_at else None}
            for story, share in self.retracted
        ]
        return data


def _plain(value: Any) -> Any:
    """``value`` as JSON types: records as dicts, tuples as lists, dates as ISO 8601."""
    if attrs.has(type(value)):
        return {f.name: _plain(getattr(value, f.name)) for f in attrs.fields(type(value))}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


# --- building it ---------------------------------------------------------------------------


class _Scrubber:
    """Replaces other people's ids, names and known identifiers in text, with the matching
    rule shares use (:func:`coprolib.redaction.find_spans`: whole words, any case or spacing)."""

    def __init__(self, identifiers: Iterable[str]) -> None:
        self.identifiers = tuple(sorted({i for i in identifiers if i and i.strip()}))

    def __call__(self, text: str | None) -> str | None:
        if text is None or not self.identifiers:
            return text
        spans = find_spans(text, self.identifiers, recognizers=())
        if not spans:
            return text
        out: list[str] = []
        pos = 0
        for span in spans:
            out.append(text[pos : span.start])
            out.append(OTHER_PERSON)
            pos = span.end
        out.append(text[pos:])
        return "".join(out)

    def text(self, value: str) -> str:
        scrubbed = self(value)
        return value if scrubbed is None else scrubbed


def _identifiers_of(person: Contributor | None, contributor_id: str) -> list[str]:
    found = [contributor_id]
    if person is not None:
        if person.display_name:
            found.append(person.display_name)
        found.extend(person.known_identifiers)
    return found


def _applies(story_id: str, step_story_ids: Sequence[str]) -> bool:
    return not step_story_ids or story_id in step_story_ids


def _consent_view(
    contributor_id: str, story_id: str, consents: Sequence[Consent], moment: dt.datetime
) -> ConsentView:
    held = teller_state(contributor_id, story_id, consents, moment)
    if held.consent is None or held.state is None:
        return ConsentView(status="none")
    consent, state = held.consent, held.state
    terms = state.terms
    history = tuple(
        ConsentStep(
            type=ev.type,
            at=ev.at,
            partial=ev.type is ConsentEventType.WITHDRAWN and bool(ev.purposes or ev.audiences),
        )
        for ev in consent.events
        if ev.at <= moment and _applies(story_id, ev.story_ids)
    )
    return ConsentView(
        status=state.status,
        consent_id=consent.id,
        version=state.version,
        purposes=tuple(str(p) for p in terms.purposes) if terms else (),
        audiences=tuple(str(a) for a in terms.audiences) if terms else (),
        identity_level=str(terms.identity_level) if terms else None,
        quotes_allowed=bool(terms and terms.quotes_allowed),
        expires=terms.expires if terms else None,
        withdrawn_at=withdrawn_at(consent, moment, story_id),
        history=history,
    )


def _share_step(
    ledger: Ledger, share: Share, status: ShareStatus, config: Config | None
) -> ShareStep:
    receipts = tuple(ReceiptStep(action=r.action, at=r.at) for r in ledger.receipts_for(share.id))
    delivered = [r.at for r in receipts if r.action == _DELIVER]
    retracted = [r.at for r in receipts if r.action == _RETRACT]
    audience: str | None = None
    if config is not None:
        dest = config.destinations.get(share.destination)
        if dest is not None and dest.audience is not None:
            audience = str(dest.audience)
    return ShareStep(
        id=share.id,
        insight_id=share.subject_id,
        destination=share.destination,
        audience=audience,
        status=str(status),
        identity_level=str(share.identity_level),
        planned_at=share.planned_at,
        delivered_at=delivered[0] if delivered else None,
        retracted_at=retracted[-1] if retracted else None,
        receipts=receipts,
    )


def journey(
    ledger: Ledger,
    contributor_id: str,
    *,
    config: Config | None = None,
    moment: dt.datetime | None = None,
) -> Journey:
    """The journey of ``contributor_id`` as the ledger holds it at ``moment`` (default now, UTC).

    Consent is folded to ``moment``; feedback owed is overdue when its due date is before
    ``moment``'s date. ``config`` (optional) adds each share destination's audience. Every read
    goes through an indexed ledger filter, so the cost follows the person's own records, not the
    size of the ledger. Raises :class:`ContributorNotFound` for an unknown id.
    """
    moment = moment or dt.datetime.now(dt.UTC)
    person = ledger.get(Contributor, contributor_id)
    if person is None:
        raise ContributorNotFound(f"contributor {contributor_id!r}: not in the ledger")
    if ledger.is_erased(Contributor, contributor_id):
        return Journey(contributor_id=contributor_id, as_of=moment, erased=True)

    stories = [
        s
        for s in ledger.list(Story, contributor=contributor_id)
        if contributor_id in s.contributor_ids
    ]
    own_ids = {s.id for s in stories}
    consents = [
        c for c in ledger.consents_of([contributor_id]) if c.contributor_id == contributor_id
    ]

    insights: dict[str, Insight] = {}
    story_insights: dict[str, list[str]] = {}
    for story in stories:
        for insight in ledger.list(Insight, story=story.id):
            insights.setdefault(insight.id, insight)
            story_insights.setdefault(story.id, []).append(insight.id)
    outcomes: dict[str, list[Outcome]] = {
        iid: list(ledger.list(Outcome, insight=iid)) for iid in insights
    }
    feedback = [
        f
        for f in ledger.list(Feedback, contributor=contributor_id)
        if f.contributor_id == contributor_id
    ]
    parts = {
        i.activity_id: i
        for i in ledger.list(Involvement, contributor=contributor_id)
        if i.contributor_id == contributor_id
    }
    listed = {
        a.id: a
        for a in ledger.list(Activity, contributor=contributor_id)
        if contributor_id in a.contributor_ids
    }
    listed.update(ledger.get_many(Activity, set(parts) - set(listed)))
    activities = sorted(listed.values(), key=lambda a: (a.held_on, a.id))

    # Everyone else whose records touch what is shown: their ids, names and identifiers are
    # taken out of any text the journey shows.
    other_story_ids = {sid for i in insights.values() for sid in i.story_ids} - own_ids
    others: set[str] = {cid for s in stories for cid in s.contributor_ids}
    others.update(cid for a in activities for cid in a.contributor_ids)
    for other_story in ledger.get_many(Story, other_story_ids).values():
        others.update(other_story.contributor_ids)
    others.discard(contributor_id)
    people = ledger.get_many(Contributor, others)
    scrub = _Scrubber(ident for cid in others for ident in _identifiers_of(people.get(cid), cid))

    story_steps = []
    for story in stories:
        shares = [
            _share_step(ledger, row.share, row.status, config)
            for row in ledger.list_shares(story_id=story.id)
            if row.share.kind is ShareKind.INSIGHT
        ]
        story_steps.append(
            StoryStep(
                id=story.id,
                label=scrub.text(story.title or f"Story collected on {_day(story.collected_on)}"),
                collected_on=story.collected_on,
                source=str(story.source),
                collected_by=scrub(story.collected_by),
                other_tellers=len(story.contributor_ids) - 1,
                consent=_consent_view(contributor_id, story.id, consents, moment),
                shares=tuple(shares),
                insight_ids=tuple(story_insights.get(story.id, ())),
            )
        )

    insight_steps = tuple(
        InsightStep(
            id=insight.id,
            title=scrub.text(insight.title),
            status=str(insight.status),
            story_ids=tuple(sid for sid in insight.story_ids if sid in own_ids),
            other_stories=sum(1 for sid in insight.story_ids if sid not in own_ids),
            outcomes=tuple(
                OutcomeStep(
                    id=o.id,
                    title=scrub.text(o.title),
                    kind=str(o.kind),
                    depth=str(o.depth),
                    status=str(o.status),
                    status_since=o.timeline[-1].on,
                    owner=scrub.text(o.owner),
                    due=o.due,
                )
                for o in outcomes[insight.id]
            ),
        )
        for insight in insights.values()
    )

    feedback_shares = ledger.get_shares(f.share_id for f in feedback if f.share_id)
    today = moment.date()
    feedback_steps = []
    for f in feedback:
        delivered_at = None
        if f.share_id in feedback_shares:
            sent = [r.at for r in ledger.receipts_for(f.share_id) if r.action == _DELIVER]
            delivered_at = sent[0] if sent else None
        feedback_steps.append(
            FeedbackStep(
                id=f.id,
                kind=str(f.kind),
                status=str(f.status),
                channel=str(f.channel),
                due=f.due,
                sent_on=f.sent_on,
                overdue=f.status is FeedbackStatus.OWED and f.due is not None and f.due < today,
                story_ids=tuple(s for s in f.story_ids if s in own_ids),
                insight_id=f.insight_id,
                outcome_id=f.outcome_id,
                destination=f.destination,
                delivered_at=delivered_at,
            )
        )

    involvement = tuple(
        ActivityStep(
            id=a.id,
            title=scrub.text(a.title),
            held_on=a.held_on,
            rung=int(a.rung),
            rung_name=a.rung.name.lower(),
            decisions_held_by=str(a.decisions_held_by),
            participants=max(a.participants, len(a.contributor_ids)),
            role=str(parts[a.id].role).replace("_", " ") if a.id in parts else None,
            hours=parts[a.id].hours if a.id in parts else None,
            recognition=tuple(
                _recognition_words(r) for r in (parts[a.id].recognition if a.id in parts else ())
            ),
        )
        for a in activities
    )
    return Journey(
        contributor_id=contributor_id,
        as_of=moment,
        display_name=person.display_name,
        wants_feedback=person.wants_feedback,
        feedback_channel=str(person.feedback_channel),
        easy_read=person.accessibility.easy_read or person.accessibility.large_print,
        stories=tuple(story_steps),
        insights=insight_steps,
        feedback=tuple(feedback_steps),
        involvement=involvement,
    )


# --- the page ------------------------------------------------------------------------------

#: Plain words for the values a journey shows (the Easy Read page and the standard page).
_WORDS: dict[str, str] = {
    # consent
    "active": "You said yes",
    "withdrawn": "You said stop",
    "refused": "You said no",
    "expired": "Your yes has ended",
    "none": "We have no record of your yes",
    # share status
    "planned": "Waiting to be sent",
    "delivered": "Sent",
    "retract_planned": "Being taken back",
    "retracted": "Taken back",
    "cancelled": "Not sent",
    "dead": "Could not be sent",
    # outcome status
    "proposed": "Suggested",
    "agreed": "Agreed",
    "in_progress": "Being done",
    "implemented": "Done",
    "evidenced": "Done, and shown to work",
    "not_adopted": "Not going ahead",
    # feedback status
    "owed": "We still owe you this",
    "sent": "Sent to you",
    "done": "Told to you",
}

#: The feedback kinds in words a person understands.
_FEEDBACK_WORDS: dict[str, str] = {
    FeedbackKind.SCHEDULED: "What we will share from your story",
    FeedbackKind.SHARED: "What happened with your story",
    FeedbackKind.CHANGE_UPDATE: "What has changed because of your story",
    FeedbackKind.NOT_DONE: "What was not done, and why",
    FeedbackKind.WITHDRAWAL_CONFIRMED: "We have recorded that you said stop",
}


#: Who a destination's audience is, in plain words (Easy Read).
_AUDIENCE_WORDS: dict[str, str] = {
    "internal": "staff in the organisation that heard your story",
    "partners": "partner organisations",
    "board": "the Safeguarding Adults Board",
    "public": "the public",
}


def _place(share: ShareStep) -> str:
    """Where a share went, in plain words: its audience when known, else its name."""
    if share.audience in _AUDIENCE_WORDS:
        return f"{_AUDIENCE_WORDS[share.audience]} ({share.destination})"
    return share.destination


def _owed_lines(journey_: Journey) -> list[tuple[str, dt.date | None, bool]]:
    """What is still owed, each kind and due date once (Easy Read says it once)."""
    seen: dict[tuple[str, dt.date | None], bool] = {}
    for f in journey_.feedback_owed:
        key = (f.kind, f.due)
        seen[key] = seen.get(key, False) or f.overdue
    return [(kind, due, late) for (kind, due), late in seen.items()]


def _words(value: object) -> str:
    text = str(value)
    return _WORDS.get(text, text.replace("_", " "))


def _day(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return ""
    day = value.date() if isinstance(value, dt.datetime) else value
    return f"{day.day} {day:%B %Y}"


def _when(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    return f"{_day(value)}, {value:%H:%M} UTC"


def render_html(
    journey_: Journey,
    *,
    easy_read: bool = False,
    organisation: str | None = None,
) -> str:
    """The journey as one self-contained HTML page: the standard layout, or with ``easy_read``
    large print, plain words and one idea a line. No scripts and nothing loaded from elsewhere;
    it prints on A4."""
    __version__ = metadata.version("coprolib")
    page = "journey/easy.html.j2" if easy_read else "journey/page.html.j2"
    html = render_template(
        page,
        j=journey_,
        organisation=organisation,
        version=__version__,
        words=_words,
        feedback_words=lambda kind: _FEEDBACK_WORDS.get(str(kind), str(kind).replace("_", " ")),
        day=_day,
        when=_when,
        place=_place,
        owed_lines=_owed_lines(journey_),
    )
    return str(html) + "\n"


def write_html(
    journey_: Journey,
    path: str | os.PathLike[str],
    *,
    easy_read: bool = False,
    organisation: str | None = None,
) -> Path:
    """Render the journey and write it to ``path`` atomically. Returns the path written."""
    html = render_html(journey_, easy_read=easy_read, organisation=organisation)
    return write_atomic(path, html)


def summary_lines(journey_: Journey) -> list[str]:
    """The journey as short lines of text (what ``coprolib journey ID`` prints)."""
    j = journey_
    if j.erased:
        return [f"{j.contributor_id}: erased; nothing personal is held"]
    lines = [f"Journey of {j.contributor_id} as of {j.as_of.isoformat(timespec='minutes')}"]
    for s in j.stories:
        others = f", told with {s.other_tellers} other(s)" if s.other_tellers else ""
        lines.append(f"story {s.id} {s.label!r}: collected {s.collected_on.isoformat()}{others}")
        consent = f"  consent: {s.consent.status}"
        if s.consent.consent_id:
            consent += f" ({s.consent.consent_id} v{s.consent.version})"
        if s.consent.withdrawn_at:
            consent += f", withdrawn {s.consent.withdrawn_at.isoformat(timespec='minutes')}"
        lines.append(consent)
        for sh in s.shares:
            line = f"  shared {sh.insight_id} to {sh.destination}: {sh.status}"
            if sh.delivered_at:
                line += f", delivered {sh.delivered_at.isoformat(timespec='minutes')}"
            if sh.retracted_at:
                line += f", retracted {sh.retracted_at.isoformat(timespec='minutes')}"
            lines.append(line)
    for i in j.insights:
        more = f" + {i.other_stories} other stories" if i.other_stories else ""
        lines.append(f"insight {i.id} {i.title!r} ({i.status}) from {', '.join(i.story_ids)}{more}")
        for o in i.outcomes:
            lines.append(
                f"  outcome {o.id} {o.title!r}: {o.kind}, {o.depth}, {o.status}, owner {o.owner}"
            )
    for f in j.feedback_given:
        sent = f.sent_on.isoformat() if f.sent_on else "?"
        lines.append(f"feedback given {f.id}: {f.kind} on {sent}")
    for f in j.feedback_owed:
        due = f" due {f.due.isoformat()}" if f.due else ""
        late = " (overdue)" if f.overdue else ""
        lines.append(f"feedback owed {f.id}: {f.kind}{due}{late}")
    for a in j.involvement:
        lines.append(
            f"activity {a.id} {a.title!r} on {a.held_on.isoformat()} (rung {a.rung}, {a.rung_name})"
            + (f", as {a.role}" if a.role else "")
        )
        lines.extend(f"  recognition: {r}" for r in a.recognition)
    return lines
