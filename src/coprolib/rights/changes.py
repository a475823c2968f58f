"""The consent lifecycle after the first import: giving, renewing and correcting consent, a
teller approving the words of an insight, a best-interests override, and a consent's timeline.

Each function appends one audited event to the ledger (a consent is never edited in place) and
returns the consent's new version; the next :func:`coprolib.planner.plan` acts on it. The
``coprolib consent`` commands are thin layers over these functions. Withdrawal and narrowing
live in :func:`coprolib.planner.withdraw`.

:func:`next_plan_effects` says what a change (a correction imported with ``coprolib import
--update``, or any of these events) does to the next plan, without recording anything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

import attrs

from coprolib.errors import CoprolibError
from coprolib.ledger import LedgerError
from coprolib.planner import plan
from coprolib.planner.rendering import insight_text_digest
from coprolib.records import (
    Consent,
    ConsentEvent,
    ConsentState,
    ConsentTerms,
    Contributor,
    Insight,
    RecordError,
    Story,
)
from coprolib.records.convert import unstructure
from coprolib.records.enums import (
    Audience,
    ConsentEventType,
    ConsentMethod,
    DecisionBasis,
    IdentityLevel,
    Purpose,
    Support,
)

if TYPE_CHECKING:
    from coprolib.config import Config
    from coprolib.ledger import Ledger

__all__ = [
    "ConsentLifecycleError",
    "ConsentTimeline",
    "PlanEffects",
    "approve_insight",
    "consent_timeline",
    "correct_consent",
    "give_consent",
    "next_plan_effects",
    "record_override",
    "renew_consent",
    "terms_with",
]

_make_consent = cast(Callable[..., Consent], Consent)
_make_event = cast(Callable[..., ConsentEvent], ConsentEvent)
_make_terms = cast(Callable[..., ConsentTerms], ConsentTerms)

#: The reason prefix that marks a ``renewed`` event as a correction of the terms recorded.
CORRECTION = "correction: "


class ConsentLifecycleError(CoprolibError, ValueError):
    """A lifecycle step that cannot be taken, in one line naming the record and why."""


# --- terms ----------------------------------------------------------------------------------


def terms_with(base: ConsentTerms | None, **changes: Any) -> ConsentTerms:
    """``base`` with ``changes`` applied (``None`` values are left as they were); a new set of
    terms when ``base`` is None, which then needs ``purposes`` and ``audiences``.

    Values may be the enums or their strings; a wrong one raises :class:`ConsentLifecycleError` listing
    the valid values."""
    given = {k: v for k, v in changes.items() if v is not None}
    for key, cls in (("purposes", Purpose), ("audiences", Audience)):
        if key in given:
            given[key] = tuple(_enum(cls, v, key) for v in given[key])
    if "identity_level" in given:
        given["identity_level"] = _enum(IdentityLevel, given["identity_level"], "identity_level")
    if "denied_destinations" in given:
        given["denied_destinations"] = tuple(given["denied_destinations"])
    try:
        if base is None:
            missing = [k for k in ("purposes", "audiences") if not given.get(k)]
            if missing:
                raise ConsentLifecycleError(
                    f"say what they agree to: {' and '.join(missing)} "
                    "(--purpose and --audience, repeatable)"
                )
            return _make_terms(**given)
        return cast(ConsentTerms, attrs.evolve(cast(Any, base), **given))
    except RecordError as exc:
        raise ConsentLifecycleError(f"terms: {exc.field}: {exc.message}") from None


def _enum(cls: type[Any], value: Any, field: str) -> Any:
    try:
        return cls(value)
    except ValueError:
        valid = ", ".join(m.value for m in cls)
        raise ConsentLifecycleError(f"{field}: {value!r} is not one of: {valid}") from None


# --- events ---------------------------------------------------------------------------------


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _held(ledger: Ledger, consent_id: str) -> Consent:
    """The consent, locked against other writers until the transaction ends. Read before the
    lock, a concurrent change would be missed (its new terms lost), and a time stamped before
    waiting for the lock could fall before that change's event and be refused."""
    consent = ledger.lock_consent(consent_id)
    if consent is None:
        raise ConsentLifecycleError(f"consent {consent_id!r} is not in the ledger")
    return consent


def _append(ledger: Ledger, consent: Consent, **fields: Any) -> Consent:
    """Append one event, refusing one dated before the consent's last event."""
    at: dt.datetime = fields["at"]
    last = consent.events[-1].at
    if at < last:
        raise ConsentLifecycleError(
            f"consent {consent.id}: its last event is at {last.isoformat()}; events are "
            f"append-only, so this one cannot be dated {at.isoformat()} (use a later --at)"
        )
    try:
        event = _make_event(**fields)
        return ledger.append_consent_event(consent.id, event)
    except RecordError as exc:
        raise ConsentLifecycleError(f"consent {consent.id}: {exc.field}: {exc.message}") from None
    except LedgerError as exc:
        raise ConsentLifecycleError(str(exc)) from None


def give_consent(
    ledger: Ledger,
    contributor_id: str,
    terms: ConsentTerms,
    *,
    consent_id: str | None = None,
    story_ids: Iterable[str] = (),
    basis: DecisionBasis | str = DecisionBasis.OWN_CONSENT,
    support: Support | str = Support.NONE,
    supported_by: str | None = None,
    method: ConsentMethod | str = ConsentMethod.WRITTEN,
    moment: dt.datetime | None = None,
    recorded_by: str | None = None,
    reason: str | None = None,
) -> Consent:
    """Record a new consent from ``contributor_id`` for ``story_ids`` (all their stories when
    empty), starting with a ``given`` event carrying ``terms``. A consent naming a story
    governs it over a broader one. ``consent_id`` defaults to ``c-<contributor>-<n>``."""
    moment = moment or _now()
    stories = tuple(story_ids)
    with ledger.transaction():
        if ledger.get(Contributor, contributor_id) is None:
            raise ConsentLifecycleError(f"contributor {contributor_id!r} is not in the ledger")
        for sid in stories:
            story = ledger.get(Story, sid)
            if story is None or contributor_id not in story.contributor_ids:
                raise ConsentLifecycleError(
                    f"story {sid!r} is not a story told by contributor {contributor_id!r}"
                )
        if consent_id is None:
            n = 1
            while ledger.get(Consent, f"c-{contributor_id}-{n}") is not None:
                n += 1
            consent_id = f"c-{contributor_id}-{n}"
        try:
            consent = _make_consent(
                id=consent_id,
                contributor_id=contributor_id,
                story_ids=stories,
                basis=_enum(DecisionBasis, basis, "basis"),
                support=_enum(Support, support, "support"),
                supported_by=supported_by,
                method=_enum(ConsentMethod, method, "method"),
                events=(
                    _make_event(
                        type=ConsentEventType.GIVEN,
                        at=moment,
                        recorded_by=recorded_by,
                        terms=terms,
                        reason=reason,
                    ),
                ),
            )
            ledger.add(consent)
        except RecordError as exc:
            raise ConsentLifecycleError(
                f"consent {consent_id}: {exc.field}: {exc.message}"
            ) from None
        except LedgerError as exc:
            raise ConsentLifecycleError(str(exc)) from None
    return consent


def renew_consent(
    ledger: Ledger,
    consent_id: str,
    terms: ConsentTerms | None = None,
    *,
    changes: Mapping[str, Any] | None = None,
    moment: dt.datetime | None = None,
    recorded_by: str | None = None,
    reason: str | None = None,
) -> Consent:
    """Record that the contributor agreed again (``renewed``): on ``terms``, or on the terms
    last agreed with ``changes`` applied (see :func:`terms_with`). Renewing a withdrawn or
    expired consent is the person agreeing afresh, so it needs the purposes and audiences."""
    with ledger.transaction():
        consent = _held(ledger, consent_id)
        moment = moment or _now()  # stamped once the consent is ours: see _held
        state = consent.state_at(moment)
        if terms is None:
            if state.terms is None and not changes:
                raise ConsentLifecycleError(
                    f"consent {consent_id} is {state.status}: say what they agree to now "
                    "(--purpose and --audience)"
                )
            terms = terms_with(state.terms, **(changes or {}))
        return _append(
            ledger,
            consent,
            type=ConsentEventType.RENEWED,
            at=moment,
            recorded_by=recorded_by,
            terms=terms,
            reason=reason,
        )


def correct_consent(
    ledger: Ledger,
    consent_id: str,
    reason: str,
    *,
    changes: Mapping[str, Any],
    moment: dt.datetime | None = None,
    recorded_by: str | None = None,
) -> Consent:
    """Correct the terms recorded for a consent that is in force (they were written down
    wrongly): the terms in force with ``changes`` applied (see :func:`terms_with`), as a
    ``renewed`` event whose reason starts ``correction:``. The history keeps what was recorded
    before. A correction never revives a withdrawn, refused or expired consent."""
    if not reason.strip():
        raise ConsentLifecycleError(f"consent {consent_id}: a correction must say what was wrong")
    with ledger.transaction():
        consent = _held(ledger, consent_id)
        moment = moment or _now()  # stamped once the consent is ours: see _held
        state = consent.state_at(moment)
        if state.terms is None:
            raise ConsentLifecycleError(
                f"consent {consent_id} is {state.status}; a correction cannot bring it back "
                "(if they agree again, record it with `coprolib consent renew` or `give`)"
            )
        terms = terms_with(state.terms, **changes)
        if state.terms == terms:
            raise ConsentLifecycleError(
                f"consent {consent_id}: the corrected terms are the ones recorded already"
            )
        return _append(
            ledger,
            consent,
            type=ConsentEventType.RENEWED,
            at=moment,
            recorded_by=recorded_by,
            terms=terms,
            reason=CORRECTION + reason.strip(),
        )


def approve_insight(
    ledger: Ledger,
    consent_id: str,
    insight_id: str,
    *,
    moment: dt.datetime | None = None,
    recorded_by: str | None = None,
) -> Consent:
    """Record that the teller read and approved the current words of ``insight_id``: an
    ``approved`` event carrying the insight id and the digest of its text
    (:func:`coprolib.planner.insight_text_digest`), which the review rule checks. If the words
    change later, the approval no longer matches and the review is pending again."""
    with ledger.transaction():
        consent = _held(ledger, consent_id)
        moment = moment or _now()  # stamped once the consent is ours: see _held
        insight = ledger.get(Insight, insight_id)
        if insight is None:
            raise ConsentLifecycleError(f"insight {insight_id!r} is not in the ledger")
        theirs = [
            sid
            for sid in insight.story_ids
            if consent.covers(sid) and _told(ledger, sid, consent.contributor_id)
        ]
        if not theirs:
            raise ConsentLifecycleError(
                f"insight {insight_id} cites no story of {consent.contributor_id} that consent "
                f"{consent_id} covers: there is nothing of theirs in it to approve"
            )
        state = consent.state_at(moment)
        if not state.active:
            raise ConsentLifecycleError(
                f"consent {consent_id} is {state.status}: nothing of theirs is shared, so "
                "there is nothing to approve"
            )
        return _append(
            ledger,
            consent,
            type=ConsentEventType.APPROVED,
            at=moment,
            recorded_by=recorded_by,
            insight_id=insight_id,
            text_digest=insight_text_digest(insight),
        )


def _told(ledger: Ledger, story_id: str, contributor_id: str) -> bool:
    story = ledger.get(Story, story_id)
    return story is not None and contributor_id in story.contributor_ids


def record_override(
    ledger: Ledger,
    consent_id: str,
    reason: str,
    approver: str,
    *,
    moment: dt.datetime | None = None,
    recorded_by: str | None = None,
) -> Consent:
    """Record a best-interests override: the decision, made for someone who lacked capacity,
    may go beyond internal audiences. ``reason`` and ``approver`` are required; the planner
    audits every override it relies on. Only a ``best_interests`` consent takes one."""
    if not reason.strip() or not approver.strip():
        raise ConsentLifecycleError(
            f"consent {consent_id}: an override needs a reason and an approver"
        )
    with ledger.transaction():
        consent = _held(ledger, consent_id)
        moment = moment or _now()  # stamped once the consent is ours: see _held
        if consent.basis is not DecisionBasis.BEST_INTERESTS:
            raise ConsentLifecycleError(
                f"consent {consent_id} is {consent.basis}, not a best-interests decision: "
                "only those need an override"
            )
        return _append(
            ledger,
            consent,
            type=ConsentEventType.OVERRIDE,
            at=moment,
            recorded_by=recorded_by,
            reason=reason.strip(),
            approver=approver.strip(),
        )


# --- reading --------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ConsentTimeline:
    """A consent, every event in order with its version, and its state at ``moment``."""

    consent: Consent
    state: ConsentState
    moment: dt.datetime

    def lines(self) -> list[str]:
        """The timeline in plain words, one event a line."""
        c = self.consent
        covers = ", ".join(c.story_ids) or "all their stories"
        out = [
            f"consent {c.id} of {c.contributor_id} ({c.basis}, {c.method}), covering {covers}",
            f"  now: {self.state.status}, version {self.state.version}",
        ]
        out += [
            f"  story {sid}: {c.state_at(self.moment, sid).status}"
            for sid in c.story_ids
            if any(sid in ev.story_ids for ev in c.events)
        ]
        for version, ev in enumerate(c.events, 1):
            out.append(f"  v{version} {ev.at.isoformat()} {_event_words(ev)}")
        return out

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {
            "consent": unstructure(self.consent),
            "status": self.state.status,
            "active": self.state.active,
            "version": self.state.version,
            "terms_now": unstructure(self.state.terms) if self.state.terms else None,
            "moment": self.moment.isoformat(),
        }


def _event_words(ev: ConsentEvent) -> str:
    parts = [str(ev.type)]
    if ev.reason and ev.reason.startswith(CORRECTION) and ev.type is ConsentEventType.RENEWED:
        parts = ["corrected"]
    t = ev.terms
    if t is not None:
        parts.append(
            f"{', '.join(map(str, t.purposes))} for {', '.join(map(str, t.audiences))}, "
            f"{t.identity_level}, quotes {'yes' if t.quotes_allowed else 'no'}"
            + (", review first" if t.review_before_sharing else "")
            + (f", not before {t.share_not_before}" if t.share_not_before else "")
            + (f", until {t.expires}" if t.expires else "")
        )
    if ev.purposes or ev.audiences:
        parts.append("only " + ", ".join([*map(str, ev.purposes), *map(str, ev.audiences)]))
    if ev.story_ids:
        parts.append("story " + ", ".join(ev.story_ids) + " only")
    if ev.insight_id:
        parts.append(f"insight {ev.insight_id} (text {(ev.text_digest or '')[:12]})")
    if ev.approver:
        parts.append(f"approved by {ev.approver}")
    if ev.reason:
        parts.append(f"reason: {ev.reason}")
    if ev.recorded_by:
        parts.append(f"recorded by {ev.recorded_by}")
    return "; ".join(parts)


def consent_timeline(
    ledger: Ledger, consent_id: str, moment: dt.datetime | None = None
) -> ConsentTimeline:
    """The consent ``consent_id`` with its events and its state at ``moment`` (default now)."""
    moment = moment or _now()
    consent = _held(ledger, consent_id)
    return ConsentTimeline(consent=consent, state=consent.state_at(moment), moment=moment)


# --- what a change does to the next plan ----------------------------------------------------


@attrs.frozen(kw_only=True)
class PlanEffects:
    """What the next plan would do for the insights a change touches: shares re-rendered (a
    new version replacing a live one), newly delivered, retracted, and the insights looked at."""

    insights: tuple[str, ...]
    rerender: tuple[tuple[str, str, str, str], ...]  # (insight, destination, new share, old)
    deliver: tuple[tuple[str, str, str], ...]  # (insight, destination, new share)
    retract: tuple[tuple[str, str, str, str], ...]  # (insight, destination, old share, reason)

    def lines(self) -> list[str]:
        """One line per effect, for the command line."""
        out = [
            f"re-render {i} -> {d}: share {new} replaces {old}" for i, d, new, old in self.rerender
        ]
        out += [f"deliver   {i} -> {d}: share {new}" for i, d, new in self.deliver]
        out += [f"retract   {i} -> {d}: share {old}: {why}" for i, d, old, why in self.retract]
        return out

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {
            "insights": list(self.insights),
            "rerender": [
                {"insight_id": i, "destination": d, "share_id": n, "replaces": o}
                for i, d, n, o in self.rerender
            ],
            "deliver": [
                {"insight_id": i, "destination": d, "share_id": n} for i, d, n in self.deliver
            ],
            "retract": [
                {"insight_id": i, "destination": d, "share_id": o, "reason": r}
                for i, d, o, r in self.retract
            ],
        }


def next_plan_effects(
    ledger: Ledger,
    config: Config,
    *,
    stories: Iterable[str] = (),
    insights: Iterable[str] = (),
    moment: dt.datetime | None = None,
) -> PlanEffects:
    """Plan, without recording anything, the insights citing ``stories`` and the ``insights``
    named, and say which shares would be re-rendered, delivered or retracted."""
    stories, insights = tuple(stories), tuple(insights)
    if not (stories or insights) or not config.insight_destinations():
        return PlanEffects(insights=(), rerender=(), deliver=(), retract=())
    result = plan(ledger, config, stories=stories, insights=insights, moment=moment, apply=False)
    replaced: dict[tuple[str, str], str] = {}
    retract = []
    new_by_pair = {(s.subject_id, s.destination): s.id for s in result.deliver}
    for r in result.retractions:
        pair = (r.subject_id, r.destination)
        if pair in new_by_pair:
            replaced[pair] = r.share_id
        else:
            retract.append((r.subject_id, r.destination, r.share_id, r.reason))
    rerender = tuple(
        (i, d, new, replaced[(i, d)]) for (i, d), new in new_by_pair.items() if (i, d) in replaced
    )
    deliver = tuple((i, d, new) for (i, d), new in new_by_pair.items() if (i, d) not in replaced)
    looked = sorted({r.insight_id for r in result.routed})
    return PlanEffects(
        insights=tuple(looked), rerender=rerender, deliver=deliver, retract=tuple(retract)
    )
