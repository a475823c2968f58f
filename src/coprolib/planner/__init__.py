"""The sharing planner: what may go where, rendered as shares, and what must come back.

For every agreed insight and every configured destination the planner asks the consent gate
about each supporting story. The stories it allows, if they come from at least the destination's
``min_contributors`` distinct people, are rendered into a :class:`~coprolib.records.Share` holding
only what consent allows: the insight's fields, quotes where every consent and the destination
allow them, known identifiers masked below "named", the consent versions relied on and a digest of
the content. Shares whose content changed, or that may no longer go, are retracted.

The work is split so each part can be used and tested on its own, one module each:

- ``world``: :class:`World`, the records a plan is made from, and reading them from a ledger;
- ``rendering``: a share's content, redaction, digest and deterministic id;
- ``routing`` (pure): :func:`route`, decisions and rendered shares for insights x destinations;
- ``reconciliation`` (pure): :func:`reconcile`, compare with the shares already recorded: new
  deliveries, retractions, feedback obligations (:class:`Plan`);
- ``planning``: :func:`plan` reads the ledger, runs both and, with :func:`apply_plan`, writes the
  result in one transaction (shares, outbox jobs, feedback obligations, audit of overrides used);
- ``withdrawal``: :func:`withdraw` appends a withdrawal event; the next :func:`plan` retracts;
- ``explanation``: :func:`explain` (and :func:`explain_in_ledger`, reading only what one id
  needs), plain-words reasons for a story or an insight;
- ``checking``: :class:`SendCheck` and :func:`recheck`, a share checked exactly as it will be
  sent, just before sending (the send boundary).
"""

from __future__ import annotations

from coprolib.planner.checking import Recheck, SendCheck, recheck
from coprolib.planner.explanation import explain, explain_in_ledger
from coprolib.planner.planning import apply_plan, plan
from coprolib.planner.reconciliation import Plan, Retraction, reconcile
from coprolib.planner.rendering import insight_text_digest, share_identity
from coprolib.planner.routing import Routed, request_for, route
from coprolib.planner.withdrawal import Withdrawal, WithdrawalError, withdraw
from coprolib.planner.world import World, load_world

__all__ = [
    "Plan",
    "Recheck",
    "Retraction",
    "Routed",
    "SendCheck",
    "Withdrawal",
    "WithdrawalError",
    "World",
    "apply_plan",
    "explain",
    "explain_in_ledger",
    "insight_text_digest",
    "load_world",
    "plan",
    "recheck",
    "reconcile",
    "request_for",
    "route",
    "share_identity",
    "withdraw",
]
