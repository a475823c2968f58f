"""Impact measures: did stories lead to change, how deep did it go, and did people hear back?

:func:`measure` is a pure function over iterables of records (from a bundle, the ledger or
anywhere else) and returns an :class:`Impact`, whose :meth:`Impact.to_dict` is the ``--json``
output of ``coprolib impact`` and the data behind ``coprolib report``. Only ids, counts, dates and
labels appear in the result: never names, contact details or story text.

Every measure (the cohort, "shared", "heard back", the funnel, the trend...) is defined once,
in docs/impact.md, and each definition has its test in tests/test_impact_definitions.py.

Modules: ``result`` (the :class:`Impact` types), ``index`` (the one pass over the records),
``measures`` (each measure and :func:`measure`), ``board`` (how far off the bar, stalled
changes, involvement over time), ``sources`` (:func:`measure_bundle`,
:func:`measure_ledger`), ``text`` (:func:`format_text`).
"""

from __future__ import annotations

from coprolib.impact.board import (
    DEFAULT_FOLLOW_UP_DAYS,
    DEFAULT_STALLED_AFTER_DAYS,
    contributor_involvement,
)
from coprolib.impact.measures import DEFAULT_SOAK_DAYS, DEFAULT_WITHIN_DAYS, measure
from coprolib.impact.result import (
    ContributorInvolvement,
    DepthRow,
    DomainRow,
    FeedbackTiming,
    FunnelStage,
    Impact,
    ImpactWarning,
    InvolvementEntry,
    InvolvementSummary,
    LoopClosure,
    OffTheBar,
    OutcomeTime,
    OverdueFeedback,
    QuarterRow,
    RoleRow,
    RungRow,
    SoakedUp,
    Stalled,
    StalledChange,
    StalledDepthRow,
    ThemeRow,
)
from coprolib.impact.sources import involvement_of, measure_bundle, measure_ledger
from coprolib.impact.text import format_text

__all__ = [
    "DEFAULT_FOLLOW_UP_DAYS",
    "DEFAULT_SOAK_DAYS",
    "DEFAULT_STALLED_AFTER_DAYS",
    "DEFAULT_WITHIN_DAYS",
    "ContributorInvolvement",
    "DepthRow",
    "DomainRow",
    "FeedbackTiming",
    "FunnelStage",
    "Impact",
    "ImpactWarning",
    "InvolvementEntry",
    "InvolvementSummary",
    "LoopClosure",
    "OffTheBar",
    "OutcomeTime",
    "OverdueFeedback",
    "QuarterRow",
    "RoleRow",
    "RungRow",
    "SoakedUp",
    "Stalled",
    "StalledChange",
    "StalledDepthRow",
    "ThemeRow",
    "contributor_involvement",
    "format_text",
    "involvement_of",
    "measure",
    "measure_bundle",
    "measure_ledger",
]
