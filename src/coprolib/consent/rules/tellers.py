"""Built-in consent rule: a story told by several people needs every teller's consent."""

from __future__ import annotations

from collections.abc import Sequence

from coprolib.consent import InForce, ShareRequest
from coprolib.hookspecs import hookimpl
from coprolib.records import Story


@hookimpl
def consent_veto(story: Story, consents: Sequence[InForce], request: ShareRequest) -> str | None:
    """Veto when any teller other than the first has no consent in force."""
    if len(consents) < 2:
        return None
    missing = [t for t in consents[1:] if t.terms is None]
    if not missing:
        return None
    who = ", ".join(
        f"{t.contributor_id} ({t.state.status if t.consent and t.state else 'no consent'})"
        for t in missing
    )
    return (
        f"story {story.id} was told by {len(consents)} people and every one must consent; "
        f"not in force for: {who}"
    )
