"""The one consent decision: may this story go to this destination, for these purposes, at this
identity level, now? (:func:`decide`)

Default deny: every teller of the story needs consent in force for that story at the request's
moment whose terms cover the request (audience, every purpose, the destination, the dates): that
is what they agreed, checked here and nowhere else, so it holds whatever plugins are installed.
On top of it every ``consent_veto`` plugin (the built-in rules are plugins like any other:
disclosure, review before sharing, best interests, several tellers, and the reasons a consent
is not in force) is asked through pluggy and may veto with a reason in plain words; a rule that
raises is a veto naming its plugin (raised under ``COPROLIB_STRICT_PLUGINS=1``). No rule can
allow what consent does not. Everything that asks "may this go?" (the planner,
``plan --explain``, consent receipts, the check just before sending, withdrawal and erasure,
the report) asks this function; :class:`DecisionCache` keeps its results, keyed by the story,
the request and the consent versions, so asking again is cheap and can never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from coprolib.consent.folding import in_force, latest_override, quoted
from coprolib.consent.model import Decision, InForce, ShareRequest
from coprolib.plugins import failed_plugin, get_plugin_manager, report_failure
from coprolib.records import Consent, ConsentEvent, ConsentRef, ConsentTerms, Story
from coprolib.records.enums import Audience, DecisionBasis, IdentityLevel

#: Identity levels by rank (anonymous < pseudonymous < named).
_RANK = {level: i for i, level in enumerate(IdentityLevel)}


def outside_terms(
    story_id: str, consent_id: str, terms: ConsentTerms, request: ShareRequest
) -> str | None:
    """Why ``request`` is outside what one teller agreed (``terms``), or None if it is within:
    the audience, every purpose the destination uses it for, a destination they refused, and
    the share-not-before and expiry dates."""
    dest = request.destination
    if request.audience not in terms.audiences:
        only = " only" if terms.audiences else ""
        return (
            f"story {story_id}: consent {consent_id} allows audience {quoted(terms.audiences)}"
            f"{only}; destination '{dest}' is '{request.audience}'"
        )
    missing = [p for p in request.all_purposes if p not in terms.purposes]
    if missing:
        return (
            f"story {story_id}: consent {consent_id} allows purposes {quoted(terms.purposes)} "
            f"only; destination '{dest}' also uses it for {quoted(missing)}"
        )
    if dest in terms.denied_destinations:
        return f"story {story_id}: consent {consent_id} says never to share with '{dest}'"
    day = request.day
    if terms.share_not_before is not None and day < terms.share_not_before:
        return (
            f"story {story_id}: consent {consent_id} says not before "
            f"{terms.share_not_before.isoformat()} (it is {day.isoformat()})"
        )
    if terms.expires is not None and day > terms.expires:
        return f"story {story_id}: consent {consent_id} expired on {terms.expires.isoformat()}"
    return None


def vetoes(story: Story, tellers: Sequence[InForce], request: ShareRequest) -> list[str]:
    """Every rule's reason to refuse, in the order pluggy calls the rules (a failing rule is a
    veto naming the plugin: a broken rule refuses rather than allows)."""
    hook = get_plugin_manager().hook.consent_veto
    try:
        found = hook(story=story, consents=tellers, request=request)
    except Exception as exc:
        rule = failed_plugin(hook, exc) or "a consent rule"
        report_failure(rule, hook.name, exc)
        return [
            f"story {story.id}: consent rule {rule} failed ({type(exc).__name__}: {exc}); refused"
        ]
    return [str(reason) for reason in found if reason]


def decide(
    story: Story,
    consents: Iterable[Consent],
    request: ShareRequest,
    *,
    tellers: Sequence[InForce] | None = None,
    cache: DecisionCache | None = None,
) -> Decision:
    """Decide whether ``story`` may be shared as ``request`` asks, given ``consents``.

    ``consents`` may hold any consents (those not covering the story are ignored); a caller that
    already folded them may pass ``tellers`` instead. The identity level and quotes granted are
    the least that the request and every teller's terms allow. ``cache`` reuses an earlier
    answer to the same question (same story, request and consent versions).
    """
    if tellers is None:
        tellers = in_force(story, consents, request.moment)
    if cache is not None:
        return cache.decide(story, request, tellers)
    return _decide(story, request, tellers)


def _decide(story: Story, request: ShareRequest, tellers: Sequence[InForce]) -> Decision:
    reasons = vetoes(story, tellers, request)
    if not tellers and not reasons:
        reasons.append(f"story {story.id}: nobody is recorded as telling it, so nobody consented")
    level = request.identity_level
    quotes = request.quotes
    refs: list[ConsentRef] = []
    for t in tellers:
        terms = t.terms
        ref = t.ref
        if ref is not None:
            refs.append(ref)
        if terms is None:
            if not reasons:
                reasons.append(
                    f"story {story.id}: contributor {t.contributor_id} has no consent in force"
                )
            continue
        outside = outside_terms(story.id, ref.consent_id if ref else "?", terms, request)
        if outside:
            reasons.append(outside)
            continue
        if _RANK[terms.identity_level] < _RANK[level]:
            level = terms.identity_level
        if not terms.quotes_allowed:
            quotes = False
    if reasons:
        return Decision(
            story_id=story.id, allowed=False, reasons=tuple(reasons), consent_refs=tuple(refs)
        )
    overrides: tuple[tuple[str, ConsentEvent], ...] = ()
    if request.audience is not Audience.INTERNAL:
        for t in tellers:
            if t.basis is DecisionBasis.BEST_INTERESTS and t.consent is not None:
                ev = latest_override(t.consent, request.moment)
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


class DecisionCache:
    """Decisions already made, keyed by the story, the request and the version of every
    teller's governing consent: a changed consent (any appended event) is a new key, so a
    cached answer is never stale. Bounded; make one per run (a plan, a sync)."""

    def __init__(self, maxsize: int = 100_000) -> None:
        self.maxsize = maxsize
        self._seen: dict[tuple[Any, ...], Decision] = {}
        self.hits = 0

    def decide(self, story: Story, request: ShareRequest, tellers: Sequence[InForce]) -> Decision:
        """The decision for ``story`` and ``request`` with these folded ``tellers``."""
        key = (
            story,
            request,
            tuple(
                (t.contributor_id, t.consent.id if t.consent else None, t.consent.version)
                if t.consent is not None
                else (t.contributor_id, None, 0)
                for t in tellers
            ),
        )
        hit = self._seen.get(key)
        if hit is not None:
            self.hits += 1
            return hit
        decision = _decide(story, request, tellers)
        if len(self._seen) >= self.maxsize:
            self._seen.clear()
        self._seen[key] = decision
        return decision
