"""Consent: the one decision about what may leave (:func:`decide`), what it is asked
(:class:`ShareRequest`) and answers (:class:`Decision`), and how a teller's consent is folded to
a moment for one story (:func:`in_force`).

The rules are plugins (the ``consent_veto`` hook, dispatched through pluggy, traceable with
``COPROLIB_TRACE_PLUGINS=1``); the built-in ones live in :mod:`coprolib.plugins`.
"""

from __future__ import annotations

from coprolib.consent.decision import DecisionCache, decide, vetoes
from coprolib.consent.folding import (
    approval_for,
    in_force,
    latest_override,
    narrowings,
    pick_consent,
    quoted,
    teller_state,
    withdrawn_at,
)
from coprolib.consent.model import Decision, InForce, Rule, ShareRequest

#: The former name of :func:`decide` (kept for one release).
evaluate = decide

__all__ = [
    "Decision",
    "DecisionCache",
    "InForce",
    "Rule",
    "ShareRequest",
    "approval_for",
    "decide",
    "evaluate",
    "in_force",
    "latest_override",
    "narrowings",
    "pick_consent",
    "quoted",
    "teller_state",
    "vetoes",
    "withdrawn_at",
]
