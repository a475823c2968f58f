"""Built-in consent rule: a destination the contributor said no to never receives the story."""

from __future__ import annotations

from collections.abc import Sequence

from coprolib.consent import InForce, ShareRequest
from coprolib.hookspecs import hookimpl
from coprolib.records import Story


@hookimpl
def consent_veto(story: Story, consents: Sequence[InForce], request: ShareRequest) -> str | None:
    """Veto a destination listed in a teller's ``denied_destinations``."""
    for t in consents:
        terms = t.terms
        if (
            terms is not None
            and t.consent is not None
            and request.destination in terms.denied_destinations
        ):
            return (
                f"story {story.id}: consent {t.consent.id} says never to share with "
                f"'{request.destination}'"
            )
    return None
