"""Built-in consent rule: a withdrawn consent vetoes, whether the whole consent was withdrawn or
only this story (a narrowing to some purposes or audiences is explained by the scope rule)."""

from __future__ import annotations

from collections.abc import Sequence

from coprolib.consent import InForce, ShareRequest, withdrawn_at
from coprolib.hookspecs import hookimpl
from coprolib.records import Story


@hookimpl
def consent_veto(story: Story, consents: Sequence[InForce], request: ShareRequest) -> str | None:
    """Veto when a teller's consent was withdrawn (for this story, or altogether)."""
    for t in consents:
        c = t.consent
        if c is not None and t.state is not None and t.state.status == "withdrawn":
            when = withdrawn_at(c, request.moment, story.id)
            on = f" on {when.date().isoformat()}" if when else ""
            only = any(
                story.id in ev.story_ids for ev in c.events[: t.state.version] if ev.story_ids
            )
            what = f"story {story.id} from consent {c.id}" if only else f"consent {c.id}"
            return f"story {story.id}: contributor {t.contributor_id} withdrew {what}{on}"
    return None
