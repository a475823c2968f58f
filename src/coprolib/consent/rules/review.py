"""Built-in consent rule: where the contributor asked to review the words before sharing, an
``approved`` event must match this insight and the digest of its current text."""

from __future__ import annotations

from collections.abc import Sequence

from coprolib.consent import InForce, ShareRequest, approval_for
from coprolib.hookspecs import hookimpl
from coprolib.records import Story


@hookimpl
def consent_veto(story: Story, consents: Sequence[InForce], request: ShareRequest) -> str | None:
    """Veto until the teller approved this insight's current text."""
    for t in consents:
        terms = t.terms
        c = t.consent
        if terms is None or c is None or not terms.review_before_sharing:
            continue
        if request.insight_id is None:
            return (
                f"story {story.id}: consent {c.id} asks {t.contributor_id} to review the words "
                f"before sharing; this share names no insight text to approve"
            )
        exact, other = approval_for(
            c, request.insight_id, request.insight_text_digest, request.moment
        )
        if exact:
            continue
        if other:
            return (
                f"story {story.id}: consent {c.id} asks {t.contributor_id} to review the words; "
                f"they approved an earlier text of insight {request.insight_id}, which has "
                f"changed since (review pending)"
            )
        return (
            f"story {story.id}: consent {c.id} asks {t.contributor_id} to review the words "
            f"before sharing; insight {request.insight_id} is not yet approved (review pending)"
        )
    return None
