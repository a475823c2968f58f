"""The consent re-check immediately before sending: one function, :func:`consent_reason`.

A share was allowed when it was planned; consent can change before it is sent (DESIGN invariant
1). Fast path: every consent the share relied on is still at the version used at planning and in
force now (dates included), so the planning decision stands. Otherwise the consent gate
(:func:`coprolib.consent.evaluate`) is asked again for each story, with the destination's
request; anything but "allowed, at least the identity level and quotes already rendered" cancels
the share with the reason.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from coprolib.enums import ShareKind
from coprolib.records import Consent, Feedback, Insight, Share, Story


class ConsentCache:
    """Consents read once for a batch about to be sent, each with the reason (or None) it
    refuses sharing now. Make a new one for every batch: the re-check must stay fresh."""

    def __init__(self, ledger: Any, now: dt.datetime) -> None:
        self.ledger = ledger
        self.now = now
        self._seen: dict[str, tuple[Consent | None, str | None]] = {}

    def lookup(self, consent_id: str) -> tuple[Consent | None, str | None]:
        """The consent (None if gone) and why, in its current state, it refuses sharing now."""
        if consent_id not in self._seen:
            consent = self.ledger.get(Consent, consent_id)
            self._seen[consent_id] = (consent, _refusal(consent_id, consent, self.now))
        return self._seen[consent_id]


def _refusal(consent_id: str, consent: Consent | None, now: dt.datetime) -> str | None:
    if consent is None:
        return f"consent {consent_id} no longer exists"
    state = consent.state_at(now)
    if not state.active or state.terms is None:
        return f"consent {consent_id} is {state.status} now"
    terms = state.terms
    if terms.expires is not None and now.date() > terms.expires:
        return f"consent {consent_id} expired on {terms.expires.isoformat()}"
    if terms.share_not_before is not None and now.date() < terms.share_not_before:
        return f"consent {consent_id} allows sharing from {terms.share_not_before}"
    return None


def consent_reason(
    ledger: Any,
    share: Share,
    destination: Any,
    now: dt.datetime,
    cache: ConsentCache | None = None,
) -> str | None:
    """Why ``share`` must not be sent to ``destination`` now, or None if consent still allows it.

    ``destination`` is the :class:`coprolib.config.Destination` it goes to. Feedback shares to a
    contributor about their own story carry no consent refs: they need no sharing consent, but
    one planned from a feedback obligation is checked with
    :func:`coprolib.feedback_owed.feedback_refusal` (not sent once the obligation is no longer
    owed, nor, except the withdrawal confirmation, after they withdrew). ``cache`` shares
    consent reads across one batch.
    """
    if not share.consent_refs:
        if share.kind is ShareKind.FEEDBACK:
            return _feedback_reason(ledger, share, now)
        return "the share records no consent"
    cache = cache or ConsentCache(ledger, now)
    changed = False
    for ref in share.consent_refs:
        consent, refusal = cache.lookup(ref.consent_id)
        if consent is not None and consent.version != ref.version:
            changed = True
        elif refusal is not None:
            return refusal
    if not changed:
        return None
    return _evaluate_again(ledger, share, destination, now)


def _feedback_reason(ledger: Any, share: Share, now: dt.datetime) -> str | None:
    from coprolib.feedback_owed import feedback_refusal

    feedback = ledger.get(Feedback, share.subject_id)
    if feedback is None:  # a feedback share not planned from an obligation (put there by hand)
        return None
    return feedback_refusal(ledger, feedback, now, share=share)


def _evaluate_again(ledger: Any, share: Share, destination: Any, now: dt.datetime) -> str | None:
    try:
        from coprolib.consent import evaluate
        from coprolib.planner import request_for
    except ImportError:
        return "consent changed since planning; plan again"
    if destination is None:
        return "consent changed since planning and the destination is not configured"
    insight = ledger.get(Insight, share.subject_id) if share.kind is ShareKind.INSIGHT else None
    request = request_for(destination, insight, now)
    for story_id in share.story_ids:
        story = ledger.get(Story, story_id)
        if story is None:
            return f"story {story_id} no longer exists"
        decision = evaluate(story, ledger.consents_for_story(story_id), request)
        if not decision.allowed:
            return "; ".join(decision.reasons) or f"story {story_id}: consent no longer allows"
        if decision.identity_level < share.identity_level:
            return (
                f"story {story_id}: consent now allows only {decision.identity_level} "
                f"identity, the share was rendered {share.identity_level}; plan again"
            )
        if share.quotes and not decision.quotes:
            return f"story {story_id}: consent no longer allows quotes; plan again"
    return None
