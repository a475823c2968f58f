"""Built-in consent rule: a withdrawn consent vetoes (narrowing withdrawals are applied to the
terms and explained by the scope rule)."""

from __future__ import annotations

from collections.abc import Sequence

from coprolib.consent import InForce, ShareRequest, withdrawn_at
from coprolib.hookspecs import hookimpl
from coprolib.records import Story


@hookimpl
def consent_veto(story: Story, consents: Sequence[InForce], request: ShareRequest) -> str | None:
    """Veto when a teller's consent was withdrawn."""
    for t in consents:
        if t.consent is not None and t.state is not None and t.state.status == "withdrawn":
            when = withdrawn_at(t.consent, request.moment)
            on = f" on {when.date().isoformat()}" if when else ""
            return (
                f"story {story.id}: contributor {t.contributor_id} withdrew consent "
                f"{t.consent.id}{on}"
            )
    return None
