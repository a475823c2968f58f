"""The consent gate: may this story go to this destination, for this purpose, now, and how much?

:func:`evaluate` is a pure function from a story, its consents and a :class:`ShareRequest` to a
:class:`Decision`. It denies by default: a share is allowed only when every teller of the story has
consent in force at the request's moment and no rule vetoes it. The rules are plugins
(``consent_veto`` hook; the built-in ones live in :mod:`coprolib.plugins`): each can veto with a
reason in plain words, none can allow what consent does not.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, cast

import attrs

from coprolib.enums import (
    Audience,
    ConsentEventType,
    DecisionBasis,
    IdentityLevel,
    Purpose,
)
from coprolib.records import (
    Consent,
    ConsentEvent,
    ConsentRef,
    ConsentState,
    ConsentTerms,
    Contributor,
    RecordError,
    Story,
)

#: ConsentRef's constructor, typed for mypy whatever it makes of the records' attrs alias.
_consent_ref = cast(Callable[..., ConsentRef], ConsentRef)

#: Identity levels by rank, for comparisons on the hot path.
_RANK = {level: i for i, level in enumerate(IdentityLevel)}

__all__ = [
    "Decision",
    "InForce",
    "Rule",
    "ShareRequest",
    "consent_rules",
    "evaluate",
    "in_force",
    "pick_consent",
]


@attrs.frozen(kw_only=True, slots=True)
class ShareRequest:
    """What someone wants to do with a story: for which purposes, to whom, where, how identified.

    ``purpose`` and ``purposes`` together name every purpose the destination will use it for;
    consent must cover all of them. ``moment`` must have a time zone.
    """

    audience: Audience
    destination: str
    moment: dt.datetime
    purpose: Purpose | None = None
    purposes: tuple[Purpose, ...] = ()
    identity_level: IdentityLevel = IdentityLevel.ANONYMOUS
    quotes: bool = False
    insight_id: str | None = None
    insight_text_digest: str | None = None
    all_purposes: tuple[Purpose, ...] = attrs.field(init=False, repr=False, eq=False)
    day: dt.date = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        if self.moment.tzinfo is None:
            raise RecordError("moment", "needs a time zone (for example 2025-03-01T10:00:00Z)")
        merged = ((self.purpose,) if self.purpose is not None else ()) + tuple(
            p for p in self.purposes if p != self.purpose
        )
        if not merged:
            raise RecordError("purpose", "a share request must name at least one purpose")
        object.__setattr__(self, "all_purposes", merged)
        object.__setattr__(self, "day", self.moment.date())


@attrs.frozen(kw_only=True, slots=True)
class InForce:
    """One teller's consent for a story as it stands at the request's moment.

    ``consent`` is None when no consent from this contributor covers the story; ``state`` is the
    consent folded to the moment (see :meth:`coprolib.records.Consent.state_at`).
    """

    contributor_id: str
    consent: Consent | None
    state: ConsentState | None
    #: The terms in force, or None when nothing is in force (derived from ``state``).
    terms: ConsentTerms | None = attrs.field(init=False, eq=False, repr=False)
    #: The consent and version relied on (None without a consent).
    ref: ConsentRef | None = attrs.field(init=False, eq=False, repr=False)
    #: How the consent decision was made (None without a consent).
    basis: DecisionBasis | None = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        state, consent = self.state, self.consent
        object.__setattr__(self, "terms", state.terms if state is not None else None)
        ref = None
        if consent is not None and state is not None:
            ref = _consent_ref(consent_id=consent.id, version=state.version)
        object.__setattr__(self, "ref", ref)
        object.__setattr__(self, "basis", consent.basis if consent is not None else None)


@attrs.frozen(kw_only=True, slots=True)
class Decision:
    """The gate's answer: allowed or not, how much was granted, why, and which consents it used.

    ``identity_level`` and ``quotes`` are what was granted (anonymous / False when refused).
    ``reasons`` are plain-words sentences: every veto when refused. ``overrides`` are the
    override events relied on (the caller audits them when the share is planned).
    """

    story_id: str
    allowed: bool
    identity_level: IdentityLevel = IdentityLevel.ANONYMOUS
    quotes: bool = False
    reasons: tuple[str, ...] = ()
    consent_refs: tuple[ConsentRef, ...] = ()
    overrides: tuple[tuple[str, ConsentEvent], ...] = ()


#: A rule: ``(story, consents, request) -> None | reason``.
Rule = Callable[[Story, Sequence[InForce], ShareRequest], "str | None"]


def pick_consent(contributor_id: str, story_id: str, consents: Iterable[Consent]) -> Consent | None:
    """The consent that governs one teller's story: a consent naming the story beats a blanket
    one; among equals the most recently started wins (ties broken by id)."""
    best: Consent | None = None
    for c in consents:
        if c.contributor_id != contributor_id or (c.story_ids and story_id not in c.story_ids):
            continue
        if best is None or (bool(c.story_ids), c.events[0].at, c.id) > (
            bool(best.story_ids),
            best.events[0].at,
            best.id,
        ):
            best = c
    return best


def in_force(story: Story, consents: Iterable[Consent], moment: dt.datetime) -> tuple[InForce, ...]:
    """Each teller's governing consent for ``story``, folded to ``moment``."""
    consents = tuple(consents)
    out = []
    for cid in story.contributor_ids:
        c = pick_consent(cid, story.id, consents)
        out.append(InForce(contributor_id=cid, consent=c, state=c.state_at(moment) if c else None))
    return tuple(out)


# --- rules from plugins ---------------------------------------------------------------------


_cache: list[Any] = [None, None, ()]  # plugin manager, its consent_veto impls, the rules


def _bind(function: Callable[..., Any], argnames: Sequence[str]) -> Rule:
    names = tuple(argnames)
    if names == ("story", "consents", "request"):
        return function

    def call(story: Story, consents: Sequence[InForce], request: ShareRequest) -> str | None:
        values = {"story": story, "consents": consents, "request": request}
        result: str | None = function(*[values[n] for n in names])
        return result

    return call


def consent_rules() -> tuple[tuple[str, Rule], ...]:
    """Every ``consent_veto`` implementation as ``(plugin name, function)``, in registration order.

    Rules are called directly (not through pluggy's caller) so that one failing rule is
    reported as a veto and the others still run; the list is rebuilt when plugins change.
    """
    from coprolib.plugin_host import get_plugin_manager

    pm = get_plugin_manager()
    caller = pm.hook.consent_veto
    # pluggy keeps the implementations in a list it mutates in place; comparing with our copy
    # avoids copying it on every decision (the public get_hookimpls() is the fallback).
    current = getattr(caller, "_hookimpls", None)
    if current is None:
        current = caller.get_hookimpls()
    if _cache[0] is pm and _cache[1] == current:
        rules: tuple[tuple[str, Rule], ...] = _cache[2]
        return rules
    impls = list(caller.get_hookimpls())
    rules = tuple(
        (pm.get_name(impl.plugin) or repr(impl.plugin), _bind(impl.function, impl.argnames))
        for impl in reversed(impls)
    )
    _cache[:] = [pm, impls, rules]
    return rules


# --- evaluation -----------------------------------------------------------------------------


#: Modules whose ``consent_veto`` is one of the built-in rules :func:`_terms_allow` fuses.
BUILTIN_RULE_MODULES = frozenset(
    f"coprolib.plugins.rule_{n}"
    for n in (
        "disclosure",
        "active_consent",
        "tellers",
        "withdrawn",
        "dates",
        "scope",
        "destination",
        "best_interests",
        "review",
    )
)
_extras: dict[int, tuple[Sequence[tuple[str, Rule]], tuple[tuple[str, Rule], ...]]] = {}


def _non_builtin(rules: Sequence[tuple[str, Rule]]) -> tuple[tuple[str, Rule], ...]:
    """The rules that are not built-in (cached per rules list)."""
    hit = _extras.get(id(rules))
    if hit is not None and hit[0] is rules:
        return hit[1]
    extra = tuple((n, r) for n, r in rules if n not in BUILTIN_RULE_MODULES)
    if len(_extras) > 64:
        _extras.clear()
    _extras[id(rules)] = (rules, extra)
    return extra


def _terms_allow(story: Story, tellers: Sequence[InForce], request: ShareRequest) -> bool:
    """True only when none of the built-in rules could veto: every teller has active terms that
    cover the request, and nothing needs a closer look (review, best interests, disclosure).

    This is the hot path: when it says yes the built-in rules are skipped, because each of them
    would return None; when it says no they run and give their reasons.
    """
    if story.disclosure or not tellers:
        return False
    audience = request.audience
    day = request.day
    for t in tellers:
        terms = t.terms
        if terms is None or terms.review_before_sharing:
            return False
        if audience not in terms.audiences or request.destination in terms.denied_destinations:
            return False
        snb = terms.share_not_before
        if snb is not None and day < snb:
            return False
        exp = terms.expires
        if exp is not None and day > exp:
            return False
        agreed = terms.purposes
        for p in request.all_purposes:
            if p not in agreed:
                return False
        if t.basis is DecisionBasis.BEST_INTERESTS and audience is not Audience.INTERNAL:
            return False
    return True


def evaluate(
    story: Story,
    consents: Iterable[Consent],
    request: ShareRequest,
    contributors: Mapping[str, Contributor] | None = None,
    *,
    rules: Sequence[tuple[str, Rule]] | None = None,
    tellers: Sequence[InForce] | None = None,
) -> Decision:
    """Decide whether ``story`` may be shared as ``request`` asks, given ``consents``.

    ``consents`` may hold any consents (those not covering the story are ignored). Default deny:
    every teller needs consent in force, and every rule (``rules``, default: every registered
    ``consent_veto`` plugin) may veto. ``contributors`` is accepted for rules that need it and
    for callers' symmetry; the built-in rules do not. ``tellers`` lets a caller that already
    folded the consents (the planner) skip doing it again.
    """
    del contributors  # the decision depends on consent only
    if tellers is None:
        tellers = in_force(story, consents, request.moment)
    if rules is None:
        rules = consent_rules()
    run: Sequence[tuple[str, Rule]]
    if _terms_allow(story, tellers, request):
        run = _non_builtin(rules)
        if not run:
            # The common case, kept lean: no rule can veto and no override is involved
            # (_terms_allow says no to best-interests consents going beyond internal).
            level = request.identity_level
            quotes = request.quotes
            for t in tellers:
                terms = t.terms
                if _RANK[terms.identity_level] < _RANK[level]:  # type: ignore[union-attr]
                    level = terms.identity_level  # type: ignore[union-attr]
                if not terms.quotes_allowed:  # type: ignore[union-attr]
                    quotes = False
            return Decision(
                story_id=story.id,
                allowed=True,
                identity_level=level,
                quotes=quotes,
                consent_refs=tuple([t.ref for t in tellers]),  # type: ignore[misc]
            )
    else:
        run = rules
    reasons: list[str] = []
    for name, rule in run:
        try:
            veto = rule(story, tellers, request)
        except Exception as exc:  # a broken rule refuses rather than allows
            veto = f"story {story.id}: rule {name} failed ({type(exc).__name__}: {exc}); refused"
        if veto:
            reasons.append(veto)
    level = request.identity_level
    quotes = request.quotes
    refs: list[ConsentRef] = []
    for t in tellers:
        terms = t.terms
        if terms is None:
            if not reasons:
                reasons.append(
                    f"story {story.id}: contributor {t.contributor_id} has no consent in force"
                )
            continue
        if not reasons and run is rules:
            backstop = _backstop(story.id, t, terms, request)
            if backstop:
                reasons.append(backstop)
        if _RANK[terms.identity_level] < _RANK[level]:
            level = terms.identity_level
        if not terms.quotes_allowed:
            quotes = False
        refs.append(t.ref)  # type: ignore[arg-type]
    if reasons:
        return Decision(
            story_id=story.id, allowed=False, reasons=tuple(reasons), consent_refs=tuple(refs)
        )
    overrides: tuple[tuple[str, ConsentEvent], ...] = ()
    if request.audience is not Audience.INTERNAL:
        for t in tellers:
            if t.basis is DecisionBasis.BEST_INTERESTS and t.consent is not None:
                ev = _override(t.consent, request.moment)
                if ev is not None:
                    overrides = (*overrides, (t.consent.id, ev))
    return Decision(
        story_id=story.id,
        allowed=True,
        identity_level=level,
        quotes=quotes,
        consent_refs=tuple(refs),
        overrides=overrides,
    )


def _backstop(story_id: str, t: InForce, terms: ConsentTerms, request: ShareRequest) -> str | None:
    """The terms themselves, checked even if a built-in rule was unregistered: default deny."""
    ok = (
        request.audience in terms.audiences
        and request.destination not in terms.denied_destinations
        and (terms.share_not_before is None or request.day >= terms.share_not_before)
        and (terms.expires is None or request.day <= terms.expires)
    )
    if ok:
        agreed = terms.purposes
        for p in request.all_purposes:
            if p not in agreed:
                ok = False
                break
    if not ok:
        cid = t.consent.id if t.consent is not None else "?"
        return f"story {story_id}: the terms of consent {cid} do not allow this share"
    return None


def _override(consent: Consent, moment: dt.datetime) -> ConsentEvent | None:
    """The latest override event on ``consent`` up to ``moment``."""
    found = None
    for ev in consent.events:
        if ev.at > moment:
            break
        if ev.type is ConsentEventType.OVERRIDE:
            found = ev
    return found


def latest_override(consent: Consent, moment: dt.datetime) -> ConsentEvent | None:
    """The override (with reason and approver) recorded on ``consent`` by ``moment``, if any."""
    return _override(consent, moment)


def approval_for(
    consent: Consent, insight_id: str | None, digest: str | None, moment: dt.datetime
) -> tuple[bool, bool]:
    """Whether ``consent`` has an ``approved`` event by ``moment`` for this insight and text.

    Returns ``(approved_this_text, approved_some_other_text_of_this_insight)``.
    """
    exact = other = False
    for ev in consent.events:
        if ev.at > moment:
            break
        if ev.type is ConsentEventType.APPROVED and ev.insight_id == insight_id:
            if ev.text_digest == digest:
                exact = True
            else:
                other = True
    return exact, other


def withdrawn_at(consent: Consent, moment: dt.datetime) -> dt.datetime | None:
    """When the withdrawal in force at ``moment`` happened (the last whole withdrawal)."""
    found = None
    for ev in consent.events:
        if ev.at > moment:
            break
        if ev.type is ConsentEventType.WITHDRAWN:
            found = ev.at
        elif ev.type in (ConsentEventType.GIVEN, ConsentEventType.RENEWED):
            found = None
    return found


def quoted(values: Iterable[str]) -> str:
    """``'a', 'b'`` for messages."""
    return ", ".join(["'" + str.__str__(v) + "'" for v in values])
