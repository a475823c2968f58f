"""Built-in consent rule: nothing before the consent's share-not-before date, nothing after it
expires (its ``expires`` date has passed, or an ``expired`` event was recorded)."""

from __future__ import annotations

from collections.abc import Sequence

from coprolib.consent import InForce, ShareRequest
from coprolib.enums import ConsentEventType
from coprolib.hookspecs import hookimpl
from coprolib.records import Story


@hookimpl
def consent_veto(story: Story, consents: Sequence[InForce], request: ShareRequest) -> str | None:
    """Veto sharing before ``share_not_before`` or after ``expires``."""
    day = request.day
    for t in consents:
        c = t.consent
        if c is None or t.state is None:
            continue
        if t.state.status == "expired":
            when = next(
                (
                    ev.at.date().isoformat()
                    for ev in reversed(c.events[: t.state.version])
                    if ev.type is ConsentEventType.EXPIRED
                ),
                "?",
            )
            return f"story {story.id}: consent {c.id} expired on {when}"
        terms = t.terms
        if terms is None:
            continue
        if terms.share_not_before is not None and day < terms.share_not_before:
            return (
                f"story {story.id}: consent {c.id} says not before "
                f"{terms.share_not_before.isoformat()} (it is {day.isoformat()})"
            )
        if terms.expires is not None and day > terms.expires:
            return f"story {story.id}: consent {c.id} expired on {terms.expires.isoformat()}"
    return None
