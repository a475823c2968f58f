"""The right to erasure, end to end: withdraw, retract, then scrub.

:func:`erase_person` is what ``coprolib erase`` runs. In one transaction it

1. records a withdrawal of every consent the person still has (the same
   :func:`coprolib.planner.withdraw` a ``coprolib withdraw`` records),
2. plans for the insights citing their stories exactly as ``coprolib plan`` does, so every share
   that cites their stories or quotes and was delivered, or may have been, gets a ``retract`` job
   (``coprolib sync`` then sends the retractions), and
3. scrubs every record that holds their data (:meth:`coprolib.ledger.Ledger.erase_contributor`),
   then rewrites the database files so no page keeps the old text.

Running it again changes nothing and reports zeros.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import attrs

from coprolib.config import Config
from coprolib.feedback.owed import cancel_owed_feedback
from coprolib.planner import plan, withdraw
from coprolib.planner._records import utc_now
from coprolib.planner.reconciliation import LIVE
from coprolib.records import Consent, Story

if TYPE_CHECKING:
    from coprolib.ledger import Ledger

#: Share statuses that mean the share is, or may be, at its destination.
#: What may be at a destination: what the planner treats as live (in doubt means live), and
#: what is waiting to be retracted.
_OUT_THERE = (*LIVE, "retract_planned")


@attrs.frozen(kw_only=True)
class ErasureReport:
    """What :func:`erase_person` did: consents withdrawn, retractions queued (share id,
    destination), shares that may still be at a destination this configuration does not name
    (they cannot be retracted from here), and counts of the records scrubbed."""

    contributor_id: str
    withdrawn: tuple[str, ...]
    retractions: tuple[tuple[str, str], ...]
    unreachable: tuple[tuple[str, str], ...]
    scrubbed: dict[str, int]

    def lines(self) -> list[str]:
        """The report as lines for a person to read (ids and counts only)."""
        out = [f"erased contributor {self.contributor_id}"]
        out.append(
            f"withdrew {len(self.withdrawn)} consent(s)"
            + (f": {', '.join(self.withdrawn)}" if self.withdrawn else "")
        )
        out.append(f"queued {len(self.retractions)} retraction(s) (run `coprolib sync`)")
        out += [f"  retract {sid} from {dest}" for sid, dest in self.retractions]
        for sid, dest in self.unreachable:
            out.append(
                f"  NOT retracted: share {sid} may be at {dest}, which the configuration does "
                "not name: retract it there by hand"
            )
        out.append("scrubbed " + ", ".join(f"{n} {k}" for k, n in self.scrubbed.items()))
        return out


def erase_person(
    ledger: Ledger,
    contributor_id: str,
    config: Config | None = None,
    *,
    moment: dt.datetime | None = None,
    compact: bool = True,
) -> ErasureReport:
    """Erase a contributor: withdraw, queue retractions, scrub (see the module docstring).
    All or nothing. ``config`` names the destinations to retract from (default: none, and
    every share that may be out there is reported as not retracted)."""
    moment = moment or utc_now()
    config = config or Config()
    with ledger.transaction():
        consents = list(ledger.list(Consent, contributor=contributor_id))
        live = [
            c
            for c in consents
            if c.contributor_id == contributor_id
            and c.state_at(max(moment, c.events[-1].at)).status not in ("withdrawn", "refused")
        ]
        withdrawn: tuple[str, ...] = ()
        if live:
            withdrawn = withdraw(
                ledger,
                contributor_id,
                reason="erasure",
                recorded_by="coprolib erase",
                moment=moment,
                config=config,
            ).consent_ids
        story_ids = sorted(
            s.id
            for s in ledger.list(Story, contributor=contributor_id)
            if contributor_id in s.contributor_ids
        )
        retractions: list[tuple[str, str]] = []
        if story_ids and config.insight_destinations():
            result = plan(ledger, config, stories=story_ids, moment=moment)
            retractions = [(r.share_id, r.destination) for r in result.retractions]
        configured = set(config.destinations)
        unreachable = sorted(
            {
                (row.share.id, row.share.destination)
                for sid in story_ids
                for row in ledger.list_shares(story_id=sid)
                if row.share.destination not in configured and row.status.value in _OUT_THERE
            }
        )
        cancel_owed_feedback(ledger, contributor_id, reason="erased", on=moment.date())
        scrubbed = ledger.erase_contributor(contributor_id, compact=compact)
    return ErasureReport(
        contributor_id=contributor_id,
        withdrawn=tuple(withdrawn),
        retractions=tuple(retractions),
        unreachable=tuple(unreachable),
        scrubbed=scrubbed,
    )
