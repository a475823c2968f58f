"""Built-in consent rule: the destination's audience and every purpose it serves are within
what each teller agreed to (after any narrowing withdrawals)."""

from __future__ import annotations

from collections.abc import Sequence

from coprolib.consent import InForce, ShareRequest, quoted
from coprolib.hookspecs import hookimpl
from coprolib.records import Story


@hookimpl
def consent_veto(story: Story, consents: Sequence[InForce], request: ShareRequest) -> str | None:
    """Veto an audience or purpose outside a teller's consent."""
    audience = request.audience
    wanted = request.all_purposes
    for t in consents:
        terms = t.terms
        if terms is None or t.consent is None:
            continue
        if audience not in terms.audiences:
            only = " only" if terms.audiences else ""
            return (
                f"story {story.id}: consent {t.consent.id} allows audience "
                f"{quoted(terms.audiences)}{only}; destination '{request.destination}' is "
                f"'{audience}'"
            )
        agreed = terms.purposes
        for purpose in wanted:
            if purpose not in agreed:
                missing = [p for p in wanted if p not in agreed]
                return (
                    f"story {story.id}: consent {t.consent.id} allows purposes "
                    f"{quoted(agreed)} only; destination '{request.destination}' also uses "
                    f"it for {quoted(missing)}"
                )
    return None
