"""Built-in consent rule: a story that discloses current risk is a safeguarding concern; it goes
to the safeguarding process, never out as an insight."""

from __future__ import annotations

from collections.abc import Sequence

from coprolib.consent import InForce, ShareRequest
from coprolib.hookspecs import hookimpl
from coprolib.records import Story


@hookimpl
def consent_veto(story: Story, consents: Sequence[InForce], request: ShareRequest) -> str | None:
    """Veto any share of a story flagged as a safeguarding disclosure."""
    if story.disclosure:
        return (
            f"story {story.id} is flagged as a safeguarding disclosure: it is handled as a "
            f"safeguarding concern and never shared as an insight"
        )
    return None
