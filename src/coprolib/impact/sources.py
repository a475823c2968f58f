"""Measuring impact from a loaded bundle or from a ledger."""

from __future__ import annotations

from typing import Any

from coprolib.impact.measures import measure
from coprolib.impact.result import Impact
from coprolib.records import Activity, Consent, Contributor, Feedback, Insight, Outcome, Story


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
        shares=ledger.list_shares(),
        consents=ledger.list(Consent),
        **options,
    )
