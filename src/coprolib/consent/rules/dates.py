"""Built-in consent rule: an ``expired`` event recorded on the consent says why nothing is in
force (dates in the terms themselves, share-not-before and expiry, are part of what the teller
agreed and are checked by :func:`coprolib.consent.decide`)."""

from __future__ import annotations

from collections.abc import Sequence

from coprolib.consent import InForce, ShareRequest
from coprolib.hookspecs import hookimpl
from coprolib.records import Story
from coprolib.records.enums import ConsentEventType


@hookimpl
def consent_veto(story: Story, consents: Sequence[InForce], request: ShareRequest) -> str | None:
    """Veto a consent marked expired, naming the day."""
    for t in consents:
        c = t.consent
        if c is None or t.state is None or t.state.status != "expired":
            continue
        when = next(
            (
                ev.at.date().isoformat()
                for ev in reversed(c.events[: t.state.version])
                if ev.type is ConsentEventType.EXPIRED
            ),
            "?",
        )
        return f"story {story.id}: consent {c.id} expired on {when}"
    return None
