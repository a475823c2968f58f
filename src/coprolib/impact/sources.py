"""Measuring impact from a loaded bundle or from a ledger."""

from __future__ import annotations

from typing import Any

from coprolib.impact.board import contributor_involvement
from coprolib.impact.measures import measure
from coprolib.impact.result import ContributorInvolvement, Impact
from coprolib.records import (
    Activity,
    Consent,
    Contributor,
    Feedback,
    Insight,
    Involvement,
    LivedAnswer,
    Outcome,
    Proposal,
    Story,
)


def measure_bundle(bundle: Any, **options: Any) -> Impact:
    """:func:`measure` over anything with record tuples as attributes (``stories``,
    ``insights``, ``outcomes``, ``feedback``, ``activities``, ``contributors``, optionally
    ``shares``), such as a loaded bundle. ``options`` go to :func:`measure`."""
    return measure(
        stories=bundle.stories,
        insights=getattr(bundle, "insights", ()),
        outcomes=getattr(bundle, "outcomes", ()),
        feedback=getattr(bundle, "feedback", ()),
        activities=getattr(bundle, "activities", ()),
        contributors=getattr(bundle, "contributors", ()),
        shares=getattr(bundle, "shares", ()),
        consents=getattr(bundle, "consents", ()),
        proposals=getattr(bundle, "proposals", ()),
        answers=getattr(bundle, "answers", ()),
        involvements=getattr(bundle, "involvements", ()),
        **options,
    )


def measure_ledger(ledger: Any, **options: Any) -> Impact:
    """:func:`measure` over everything in a :class:`coprolib.ledger.Ledger` (its stories,
    insights, outcomes, feedback, activities, contributors, consents and shares with their
    status).
    ``options`` go to :func:`measure`."""
    return measure(
        stories=ledger.list(Story),
        insights=ledger.list(Insight),
        outcomes=ledger.list(Outcome),
        feedback=ledger.list(Feedback),
        activities=ledger.list(Activity),
        contributors=ledger.list(Contributor),
        shares=((row.share, row.status) for row in ledger.list_shares()),
        consents=ledger.list(Consent),
        proposals=ledger.list(Proposal),
        answers=ledger.list(LivedAnswer),
        involvements=ledger.list(Involvement),
        **options,
    )


def involvement_of(ledger: Any, contributor_id: str, **options: Any) -> ContributorInvolvement:
    """One contributor's involvement over time from the ledger (their activities, roles,
    recognition, supporting organisations and the warnings about them), for their own journey.
    ``options`` go to :func:`~coprolib.impact.board.contributor_involvement` (``today`` is
    required; ``follow_up_days``, ``within_days``, ``hourly_rates``)."""
    people = ledger.get_many(Contributor, [contributor_id])
    return contributor_involvement(
        contributor_id,
        involvements=ledger.list(Involvement, contributor=contributor_id),
        activities=ledger.list(Activity),
        stories=ledger.list(Story, contributor=contributor_id),
        feedback=ledger.list(Feedback, contributor=contributor_id),
        contributor=people.get(contributor_id),
        **options,
    )
