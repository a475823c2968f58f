"""Impact measures: did stories lead to change, how deep did it go, and did people hear back?

:func:`measure` is a pure function over iterables of records (from a bundle, the ledger or
anywhere else) and returns an :class:`Impact`, whose :meth:`Impact.to_dict` is the ``--json``
output of ``coprolib impact`` and the data behind ``coprolib report``. Only ids, counts, dates and
labels appear in the result: never names, contact details or story text.

Periods. With ``since``, story measures (the funnel's story counts, days to first feedback, loop
closure, "soaked up") cover the *cohort* of stories collected on or after ``since`` and all that
followed from them; event counts (insights written, insights shared, outcomes agreed or
implemented, contributors told, activities held) count events dated on or after ``since``
(an insight with no ``created_on`` counts in every period).
Overdue feedback is always everything owed and past due on ``today``.

Definitions.

- A disclosure story is a safeguarding concern, never insight: it is counted apart and left out
  of every other story measure.
- An insight is *shared* when a share of it reached a destination (status ``delivered``, or later
  ``retract_planned``/``retracted``; a bare :class:`~coprolib.records.Share` counts as delivered).
- A contributor *heard back* when a feedback to them is ``sent`` or ``done`` (with ``sent_on``).
  A story's feedback is one naming the story, or about an insight or outcome resting on it.
- *Told what happened* means feedback of kind ``shared``, ``change_update`` or ``not_done``.
- Percentiles use the nearest-rank method on whole days.

Modules: ``result`` (the :class:`Impact` types), ``index`` (the one pass over the records),
``measures`` (each measure and :func:`measure`), ``sources`` (:func:`measure_bundle`,
:func:`measure_ledger`), ``text`` (:func:`format_text`).
"""

from __future__ import annotations

from coprolib.impact.measures import DEFAULT_SOAK_DAYS, DEFAULT_WITHIN_DAYS, measure
from coprolib.impact.result import (
    DepthRow,
    DomainRow,
    FeedbackTiming,
    FunnelStage,
    Impact,
    ImpactWarning,
    LoopClosure,
    OverdueFeedback,
    RungRow,
    SoakedUp,
    ThemeRow,
)
from coprolib.impact.sources import measure_bundle, measure_ledger
from coprolib.impact.text import format_text

__all__ = [
    "DEFAULT_SOAK_DAYS",
    "DEFAULT_WITHIN_DAYS",
    "DepthRow",
    "DomainRow",
    "FeedbackTiming",
    "FunnelStage",
    "Impact",
    "ImpactWarning",
    "LoopClosure",
    "OverdueFeedback",
    "RungRow",
    "SoakedUp",
    "ThemeRow",
    "format_text",
    "measure",
    "measure_bundle",
    "measure_ledger",
]
