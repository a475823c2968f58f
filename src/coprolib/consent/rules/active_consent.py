"""Built-in consent rule: the story's teller has given consent that is in force now.

A consent never given, refused, or not yet given at the moment of the request vetoes. (Withdrawn
and expired consents are explained by their own rules.) Copy this module to write your own rule.
"""

from __future__ import annotations

from collections.abc import Sequence

from coprolib.consent import InForce, ShareRequest
from coprolib.hookspecs import hookimpl
from coprolib.records import Story


@hookimpl
def consent_veto(story: Story, consents: Sequence[InForce], request: ShareRequest) -> str | None:
    """Veto when the (first) teller has no consent in force."""
    t = consents[0] if consents else None
    if t is None:
        return f"story {story.id}: nobody is recorded as telling it, so nobody consented"
    if t.consent is None:
        return f"story {story.id}: no consent from contributor {t.contributor_id} covers it"
    status = t.state.status if t.state is not None else "none"
    if status == "none":
        return (
            f"story {story.id}: consent {t.consent.id} was not yet given on "
            f"{request.day.isoformat()}"
        )
    if status == "refused":
        return f"story {story.id}: contributor {t.contributor_id} refused consent ({t.consent.id})"
    return None
