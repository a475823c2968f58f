"""The core records: contributors, stories, consent, insights, outcomes, feedback, activities,
and the shares and receipts that record what left the library.

Every record is an attrs class: frozen, keyword-only, slotted. Constructors validate and raise
:class:`RecordError` naming the field and saying what is wrong in words a person understands.
Change a record with :func:`attrs.evolve`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs

from coprolib.errors import CoprolibError
from coprolib.records.enums import (
    AbuseType,
    Audience,
    ChangeDepth,
    ConsentEventType,
    ConsentMethod,
    DecisionBasis,
    DecisionHolder,
    FeedbackChannel,
    FeedbackKind,
    FeedbackStatus,
    IdentityLevel,
    InsightStatus,
    InvolvementRole,
    LadderRung,
    LivedVerdict,
    OutcomeKind,
    OutcomeStatus,
    PaymentMethod,
    Purpose,
    RecognitionKind,
    RiskLocation,
    RiskSource,
    SARDomain,
    ShareKind,
    StorySource,
    Support,
)


class RecordError(CoprolibError, ValueError):
    """A record failed validation. ``field`` names the offending field (may be dotted/indexed)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _nonempty(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not value.strip():
        raise RecordError(attribute.name, "must not be empty")


def _unique(values: tuple[Any, ...], what: str, field: str) -> None:
    if len(values) < 2 or len(set(values)) == len(values):
        return
    seen: set[Any] = set()
    for i, v in enumerate(values):
        if v in seen:
            raise RecordError(f"{field}[{i}]", f"{what} {v!r} appears more than once")
        seen.add(v)


def _aware(instance: Any, attribute: attrs.Attribute[Any], value: dt.datetime | None) -> None:
    if value is not None and value.tzinfo is None:
        raise RecordError(attribute.name, "needs a time zone (for example 2025-03-01T10:00:00Z)")


# --- contributors -------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ContactDetails:
    """How to reach a contributor. Personal data: encrypted at rest, never shared as insight."""

    email: str | None = None
    phone: str | None = None
    postal_address: str | None = None


@attrs.frozen(kw_only=True)
class Accessibility:
    """What a contributor needs to take part and to read what they are sent."""

    easy_read: bool = False
    language: str = "en"
    large_print: bool = False
    notes: str | None = None


@attrs.frozen(kw_only=True)
class Contributor:
    """A person with lived experience who shares stories, known by a pseudonymous id."""

    id: str = attrs.field(validator=_nonempty)
    display_name: str | None = None
    contact: ContactDetails = attrs.field(factory=ContactDetails)
    wants_feedback: bool = True
    feedback_channel: FeedbackChannel = FeedbackChannel.EMAIL
    supporting_org: str | None = None
    accessibility: Accessibility = attrs.field(factory=Accessibility)
    known_identifiers: tuple[str, ...] = ()

    def __attrs_post_init__(self) -> None:
        for i, ident in enumerate(self.known_identifiers):
            if not ident.strip():
                raise RecordError(f"known_identifiers[{i}]", "must not be empty")
        if self.wants_feedback and self.feedback_channel is FeedbackChannel.NONE:
            raise RecordError(
                "feedback_channel",
                "is 'none' but wants_feedback is true: choose how they hear back",
            )


# --- stories ------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Quote:
    """A marked quote: the character range ``[start, end)`` of its story's text."""

    id: str = attrs.field(validator=_nonempty)
    start: int
    end: int

    def __attrs_post_init__(self) -> None:
        if self.start < 0:
            raise RecordError("start", f"is {self.start}; a quote cannot start before the text")
        if self.end <= self.start:
            raise RecordError(
                "end", f"is {self.end}; a quote must end after it starts ({self.start})"
            )

    def text_in(self, story_text: str) -> str:
        """The quoted words, taken from the story's text."""
        return story_text[self.start : self.end]


@attrs.frozen(kw_only=True)
class Story:
    """A lived-experience story or professional case study, with where it came from."""

    id: str = attrs.field(validator=_nonempty)
    contributor_ids: tuple[str, ...]
    text: str = attrs.field(validator=_nonempty)
    source: StorySource
    collected_on: dt.date
    collected_by: str | None = None
    title: str | None = None
    themes: tuple[str, ...] = ()
    abuse_types: tuple[AbuseType, ...] = ()
    risk_location: RiskLocation | None = None
    risk_source: RiskSource | None = None
    quotes: tuple[Quote, ...] = ()
    disclosure: bool = False
    activity_id: str | None = None

    def __attrs_post_init__(self) -> None:
        if not self.contributor_ids:
            raise RecordError("contributor_ids", "a story needs at least one contributor")
        _unique(self.contributor_ids, "contributor", "contributor_ids")
        _unique(tuple(q.id for q in self.quotes), "quote id", "quotes")
        for i, q in enumerate(self.quotes):
            if q.end > len(self.text):
                raise RecordError(
                    f"quotes[{i}]",
                    f"quote {q.id!r} covers characters {q.start}-{q.end} but the story text "
                    f"is only {len(self.text)} characters long",
                )

    def quote(self, quote_id: str) -> str:
        """The text of the quote with this id."""
        for q in self.quotes:
            if q.id == quote_id:
                return q.text_in(self.text)
        raise KeyError(f"story {self.id!r} has no quote {quote_id!r}")


# --- consent ------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ConsentTerms:
    """What a contributor agreed to: purposes, audiences, identity, quotes, dates."""

    purposes: tuple[Purpose, ...]
    audiences: tuple[Audience, ...]
    identity_level: IdentityLevel = IdentityLevel.ANONYMOUS
    quotes_allowed: bool = False
    review_before_sharing: bool = False
    share_not_before: dt.date | None = None
    expires: dt.date | None = None
    denied_destinations: tuple[str, ...] = ()

    def __attrs_post_init__(self) -> None:
        _unique(self.purposes, "purpose", "purposes")
        _unique(self.audiences, "audience", "audiences")
        if (
            self.expires is not None
            and self.share_not_before is not None
            and self.expires < self.share_not_before
        ):
            raise RecordError(
                "expires",
                f"{self.expires.isoformat()} is before share_not_before "
                f"{self.share_not_before.isoformat()}: nothing could ever be shared",
            )


_TERMS_EVENTS = (ConsentEventType.GIVEN, ConsentEventType.RENEWED)


@attrs.frozen(kw_only=True)
class ConsentEvent:
    """One thing that happened to a consent. ``given`` and ``renewed`` carry the terms agreed;
    ``withdrawn`` may name only some stories, purposes or audiences (a narrowing: the rest of the
    consent stays in force); ``override`` needs a reason and an approver; ``approved`` records
    that the contributor reviewed an insight's text."""

    type: ConsentEventType
    at: dt.datetime = attrs.field(validator=_aware)
    recorded_by: str | None = None
    terms: ConsentTerms | None = None
    purposes: tuple[Purpose, ...] = ()
    audiences: tuple[Audience, ...] = ()
    reason: str | None = None
    approver: str | None = None
    insight_id: str | None = None
    text_digest: str | None = None
    story_ids: tuple[str, ...] = ()

    def __attrs_post_init__(self) -> None:
        if self.type in _TERMS_EVENTS and self.terms is None:
            raise RecordError("terms", f"a '{self.type}' event must say what was agreed")
        if self.type not in _TERMS_EVENTS and self.terms is not None:
            raise RecordError(
                "terms", f"only 'given' and 'renewed' events carry terms, not '{self.type}'"
            )
        if (self.purposes or self.audiences) and self.type is not ConsentEventType.WITHDRAWN:
            raise RecordError("purposes", "only a 'withdrawn' event can name purposes or audiences")
        if self.story_ids and self.type is not ConsentEventType.WITHDRAWN:
            raise RecordError("story_ids", "only a 'withdrawn' event can name stories")
        _unique(self.story_ids, "story", "story_ids")
        if self.type is ConsentEventType.OVERRIDE:
            if not (self.reason and self.reason.strip()):
                raise RecordError("reason", "an override must record why it was made")
            if not (self.approver and self.approver.strip()):
                raise RecordError("approver", "an override must record who approved it")
        if self.type is ConsentEventType.APPROVED and not (self.insight_id and self.text_digest):
            raise RecordError(
                "insight_id", "an 'approved' event must name the insight and the digest of its text"
            )


@attrs.frozen(kw_only=True)
class ConsentState:
    """A consent folded up to a moment: whether it is active and the terms then in force."""

    active: bool
    status: str
    terms: ConsentTerms | None
    version: int


@attrs.frozen(kw_only=True)
class Consent:
    """A contributor's consent for their stories (all of them, or those listed), as an
    append-only history of events. The current terms come from folding the events."""

    id: str = attrs.field(validator=_nonempty)
    contributor_id: str = attrs.field(validator=_nonempty)
    story_ids: tuple[str, ...] = ()
    basis: DecisionBasis = DecisionBasis.OWN_CONSENT
    support: Support = Support.NONE
    supported_by: str | None = None
    method: ConsentMethod = ConsentMethod.WRITTEN
    events: tuple[ConsentEvent, ...] = ()

    def __attrs_post_init__(self) -> None:
        if not self.events:
            raise RecordError("events", "a consent needs at least one event (given or refused)")
        first = self.events[0].type
        if first not in (ConsentEventType.GIVEN, ConsentEventType.REFUSED):
            raise RecordError(
                "events[0]", f"a consent starts as 'given' or 'refused', not '{first}'"
            )
        for i in range(1, len(self.events)):
            if self.events[i].at < self.events[i - 1].at:
                raise RecordError(f"events[{i}]", "events must be in time order (append-only)")
        if self.basis is DecisionBasis.SUPPORTED_DECISION and self.support is Support.NONE:
            raise RecordError("support", "a supported decision must say who supported the person")
        if self.story_ids:
            for i, ev in enumerate(self.events):
                outside = [s for s in ev.story_ids if s not in self.story_ids]
                if outside:
                    raise RecordError(
                        f"events[{i}].story_ids",
                        f"{', '.join(outside)} is not among the stories this consent covers",
                    )

    @property
    def version(self) -> int:
        """The number of events: each appended event makes a new version."""
        return len(self.events)

    def covers(self, story_id: str) -> bool:
        """Whether this consent applies to the story (an empty ``story_ids`` covers all)."""
        return not self.story_ids or story_id in self.story_ids

    def state_at(self, moment: dt.datetime, story_id: str | None = None) -> ConsentState:
        """Fold the events that happened up to ``moment`` into the terms in force then.

        With ``story_id``, a withdrawal naming stories counts only for the stories it names:
        the state is that story's. Without it, such withdrawals leave the terms as they are
        (the consent as a whole stays in force for its other stories).
        """
        terms: ConsentTerms | None = None
        status = "none"
        version = 0
        for i, ev in enumerate(self.events):
            if ev.at > moment:
                break
            version = i + 1
            if ev.story_ids and story_id not in ev.story_ids:
                continue
            if ev.type in _TERMS_EVENTS:
                terms, status = ev.terms, "active"
            elif ev.type is ConsentEventType.REFUSED:
                terms, status = None, "refused"
            elif ev.type is ConsentEventType.EXPIRED:
                terms, status = None, "expired"
            elif ev.type is ConsentEventType.WITHDRAWN:
                if terms is not None and (ev.purposes or ev.audiences):
                    purposes = tuple(p for p in terms.purposes if p not in ev.purposes)
                    audiences = tuple(a for a in terms.audiences if a not in ev.audiences)
                    if purposes and audiences:
                        terms = attrs.evolve(terms, purposes=purposes, audiences=audiences)
                        continue
                terms, status = None, "withdrawn"
        return ConsentState(active=terms is not None, status=status, terms=terms, version=version)

    def with_event(self, event: ConsentEvent) -> Consent:
        """A new version of this consent with ``event`` appended."""
        return attrs.evolve(self, events=(*self.events, event))


# --- insights and outcomes ----------------------------------------------------------------


@attrs.frozen(kw_only=True)
class EvidenceRef:
    """A story that supports an insight, and the quotes from it the insight would use."""

    story_id: str = attrs.field(validator=_nonempty)
    quote_ids: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class Insight:
    """Prevention learning written by people from one or more stories."""

    id: str = attrs.field(validator=_nonempty)
    title: str = attrs.field(validator=_nonempty)
    summary: str = attrs.field(validator=_nonempty)
    recommendation: str
    domain: SARDomain
    themes: tuple[str, ...] = ()
    evidence: tuple[EvidenceRef, ...] = ()
    status: InsightStatus = InsightStatus.DRAFT
    authored_by: str | None = None
    created_on: dt.date | None = None

    def __attrs_post_init__(self) -> None:
        _unique(tuple(e.story_id for e in self.evidence), "story", "evidence")

    @property
    def story_ids(self) -> tuple[str, ...]:
        """The ids of the supporting stories."""
        return tuple(e.story_id for e in self.evidence)


@attrs.frozen(kw_only=True)
class OutcomeEvent:
    """One dated step in an outcome's timeline."""

    on: dt.date
    status: OutcomeStatus
    note: str | None = None
    by: str | None = None
    evidence: tuple[str, ...] = ()

    def __attrs_post_init__(self) -> None:
        if self.status is OutcomeStatus.NOT_ADOPTED and not (self.note and self.note.strip()):
            raise RecordError("note", "'not adopted' needs the reason, so contributors hear why")


@attrs.frozen(kw_only=True)
class Outcome:
    """A change that one or more insights led to, with its dated timeline."""

    id: str = attrs.field(validator=_nonempty)
    title: str = attrs.field(validator=_nonempty)
    kind: OutcomeKind
    depth: ChangeDepth
    insight_ids: tuple[str, ...]
    owner: str = attrs.field(validator=_nonempty)
    timeline: tuple[OutcomeEvent, ...]
    description: str | None = None
    due: dt.date | None = None

    def __attrs_post_init__(self) -> None:
        if not self.insight_ids:
            raise RecordError("insight_ids", "an outcome must name the insight(s) that led to it")
        _unique(self.insight_ids, "insight", "insight_ids")
        if not self.timeline:
            raise RecordError("timeline", "an outcome needs at least one dated status")
        for i in range(1, len(self.timeline)):
            if self.timeline[i].on < self.timeline[i - 1].on:
                raise RecordError(f"timeline[{i}]", "timeline entries must be in date order")

    @property
    def status(self) -> OutcomeStatus:
        """The latest status in the timeline."""
        return self.timeline[-1].status


# --- feedback and activities --------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Feedback:
    """Something a contributor is owed or was told: when, how, and about which share/outcome."""

    id: str = attrs.field(validator=_nonempty)
    contributor_id: str = attrs.field(validator=_nonempty)
    kind: FeedbackKind
    channel: FeedbackChannel
    status: FeedbackStatus = FeedbackStatus.OWED
    due: dt.date | None = None
    story_ids: tuple[str, ...] = ()
    insight_id: str | None = None
    share_id: str | None = None
    outcome_id: str | None = None
    destination: str | None = None
    message: str | None = None
    created_at: dt.datetime | None = attrs.field(default=None, validator=_aware)
    sent_on: dt.date | None = None
    note: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.status in (FeedbackStatus.SENT, FeedbackStatus.DONE) and self.sent_on is None:
            raise RecordError(
                "sent_on", f"feedback marked '{self.status}' must say when it was sent"
            )


@attrs.frozen(kw_only=True)
class Activity:
    """A co-production activity, with its rung on the ladder and who held the decisions."""

    id: str = attrs.field(validator=_nonempty)
    title: str = attrs.field(validator=_nonempty)
    held_on: dt.date
    rung: LadderRung
    decisions_held_by: DecisionHolder
    described_as: str | None = None
    participants: int = 0
    contributor_ids: tuple[str, ...] = ()
    notes: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.participants < 0:
            raise RecordError("participants", "cannot be negative")


# --- how far off the bar, and involvement over time ---------------------------------------


@attrs.frozen(kw_only=True)
class Proposal:
    """What professionals proposed before hearing lived experience ("what could we have done to
    prevent this?"), for which case studies or activity, when, and by which group."""

    id: str = attrs.field(validator=_nonempty)
    title: str = attrs.field(validator=_nonempty)
    proposed_by: str = attrs.field(validator=_nonempty)
    proposed_on: dt.date
    story_ids: tuple[str, ...] = ()
    activity_id: str | None = None

    def __attrs_post_init__(self) -> None:
        _unique(self.story_ids, "story", "story_ids")


@attrs.frozen(kw_only=True)
class LivedAnswer:
    """What lived experience said: of a proposal (``confirmed``, ``changed``, ``overturned``),
    or something nobody proposed (``new``, with no ``proposal_id``); linked to the stories or
    activity it came from and the insights it went into."""

    id: str = attrs.field(validator=_nonempty)
    verdict: LivedVerdict
    heard_on: dt.date
    proposal_id: str | None = None
    summary: str | None = None
    story_ids: tuple[str, ...] = ()
    activity_id: str | None = None
    insight_ids: tuple[str, ...] = ()

    def __attrs_post_init__(self) -> None:
        if self.verdict is LivedVerdict.NEW and self.proposal_id is not None:
            raise RecordError(
                "proposal_id", "a 'new' answer is something nobody proposed: leave it empty"
            )
        if self.verdict is not LivedVerdict.NEW and not (
            self.proposal_id and self.proposal_id.strip()
        ):
            raise RecordError(
                "proposal_id",
                f"a '{self.verdict}' answer must name the proposal it answers "
                "(or use 'new' for something nobody proposed)",
            )
        _unique(self.story_ids, "story", "story_ids")
        _unique(self.insight_ids, "insight", "insight_ids")


@attrs.frozen(kw_only=True)
class Recognition:
    """Recognition or payment for a person's time: offered (when, how much), and given (when).
    ``amount_pence`` is in pence; a payment or voucher says how it was paid."""

    kind: RecognitionKind
    offered_on: dt.date | None = None
    given_on: dt.date | None = None
    amount_pence: int | None = None
    method: PaymentMethod = PaymentMethod.NONE

    def __attrs_post_init__(self) -> None:
        if self.amount_pence is not None and self.amount_pence < 0:
            raise RecordError("amount_pence", f"is {self.amount_pence}; it cannot be negative")
        money = (RecognitionKind.PAYMENT, RecognitionKind.VOUCHER, RecognitionKind.EXPENSES)
        if self.kind in money and self.amount_pence is None:
            raise RecordError("amount_pence", f"a '{self.kind}' must say how much (in pence)")
        if self.kind in money and self.given_on is not None and self.method is PaymentMethod.NONE:
            raise RecordError("method", f"a '{self.kind}' that was given must say how it was paid")
        if (
            self.offered_on is not None
            and self.given_on is not None
            and self.given_on < self.offered_on
        ):
            raise RecordError(
                "given_on",
                f"{self.given_on.isoformat()} is before it was offered "
                f"({self.offered_on.isoformat()})",
            )


@attrs.frozen(kw_only=True)
class Involvement:
    """One person's part in one activity: their role, hours, the recognition offered and given,
    and the organisation that supported them. Kept in the ledger: it leaves it (exports, other
    systems) only when ``agreed_to_share`` records that the person agreed, and the board report
    shows it only as counts."""

    id: str = attrs.field(validator=_nonempty)
    contributor_id: str = attrs.field(validator=_nonempty)
    activity_id: str = attrs.field(validator=_nonempty)
    role: InvolvementRole = InvolvementRole.PARTICIPANT
    hours: float | None = None
    supporting_org: str | None = None
    recognition: tuple[Recognition, ...] = ()
    agreed_to_share: bool = False
    notes: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.hours is not None and not 0 <= self.hours <= 24 * 7:
            raise RecordError("hours", f"is {self.hours}; give the hours taken part (0 to 168)")


# --- what leaves the library --------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ConsentRef:
    """A consent and the version of it a share relied on."""

    consent_id: str
    version: int


@attrs.frozen(kw_only=True)
class SharedQuote:
    """A quote as it leaves the library, after redaction to the granted identity level."""

    text: str
    story_ref: str


@attrs.frozen(kw_only=True)
class Recipient:
    """Where a feedback share goes: only what the chosen channel needs."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    postal_address: str | None = None
    easy_read: bool = False
    language: str = "en"


@attrs.frozen(kw_only=True)
class Share:
    """The projection of an insight (or feedback message) for one destination, holding only what
    consent allows, with the consent versions relied on and a digest of the content."""

    id: str = attrs.field(validator=_nonempty)
    kind: ShareKind
    destination: str
    subject_id: str
    identity_level: IdentityLevel
    title: str
    body: str
    idempotency_key: str
    digest: str
    planned_at: dt.datetime = attrs.field(validator=_aware)
    domain: SARDomain | None = None
    themes: tuple[str, ...] = ()
    recommendation: str | None = None
    quotes: tuple[SharedQuote, ...] = ()
    story_ids: tuple[str, ...] = ()
    contributor_count: int = 0
    consent_refs: tuple[ConsentRef, ...] = ()
    feedback_kind: FeedbackKind | None = None
    channel: FeedbackChannel | None = None
    recipient: Recipient | None = None


@attrs.frozen(kw_only=True)
class Receipt:
    """What a destination said when a share was delivered or retracted."""

    share_id: str
    destination: str
    idempotency_key: str
    action: str
    at: dt.datetime = attrs.field(validator=_aware)
    remote_id: str | None = None


#: The record types a bundle holds, by the key each is listed under.
BUNDLE_TYPES: dict[str, type[Any]] = {
    "contributors": Contributor,
    "stories": Story,
    "consents": Consent,
    "insights": Insight,
    "outcomes": Outcome,
    "feedback": Feedback,
    "activities": Activity,
    "proposals": Proposal,
    "answers": LivedAnswer,
    "involvements": Involvement,
}

#: The JSONL ``type`` name of each record type.
RECORD_NAMES: dict[type[Any], str] = {
    Contributor: "contributor",
    Story: "story",
    Consent: "consent",
    Insight: "insight",
    Outcome: "outcome",
    Feedback: "feedback",
    Activity: "activity",
    Proposal: "proposal",
    LivedAnswer: "lived_answer",
    Involvement: "involvement",
}
