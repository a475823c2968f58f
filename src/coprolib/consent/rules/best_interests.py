"""Built-in consent rule: a best-interests decision (made for someone who lacked capacity)
never goes beyond internal audiences, unless an ``override`` event with a reason and an
approver is recorded. The planner audits every override it relies on."""

from __future__ import annotations

from collections.abc import Sequence

from coprolib.consent import InForce, ShareRequest, latest_override
from coprolib.hookspecs import hookimpl
from coprolib.records import Story
from coprolib.records.enums import Audience, DecisionBasis


@hookimpl
def consent_veto(story: Story, consents: Sequence[InForce], request: ShareRequest) -> str | None:
    """Veto a best-interests consent going past ``internal`` without an override."""
    if request.audience is Audience.INTERNAL:
        return None
    for t in consents:
        c = t.consent
        if c is None or c.basis is not DecisionBasis.BEST_INTERESTS or t.terms is None:
            continue
        if latest_override(c, request.moment) is None:
            return (
                f"story {story.id}: consent {c.id} is a best-interests decision, so it stays "
                f"internal; destination '{request.destination}' is '{request.audience}' and no "
                f"override with a reason and approver is recorded"
            )
    return None
