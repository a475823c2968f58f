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
    for t in consents:
        terms = t.terms
        if terms is None or t.consent is None:
            continue
        if request.audience not in terms.audiences:
            only = " only" if terms.audiences else ""
            return (
                f"story {story.id}: consent {t.consent.id} allows audience "
                f"{quoted(terms.audiences)}{only}; destination '{request.destination}' is "
                f"'{request.audience}'"
            )
        missing = [p for p in request.all_purposes if p not in terms.purposes]
        if missing:
            return (
                f"story {story.id}: consent {t.consent.id} allows purposes "
                f"{quoted(terms.purposes)} only; destination '{request.destination}' also uses "
                f"it for {quoted(missing)}"
            )
    return None
