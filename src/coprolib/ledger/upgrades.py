"""Upgrades of what a ledger holds (not of its tables), run once when the migration that needs
them is applied, through the ledger's own audited writes.

- Schema version 6: a per-story withdrawal used to be recorded as a separate consent for that
  story alone (id ``<consent>~<story>``: the same terms, then withdrawn). It is now a withdrawal
  event naming the story on the consent it narrows, so that consent's version changes and every
  reader (the send-time check, receipts) sees it. :func:`narrow_story_withdrawals` appends that
  event; the old consent stays as history (it is withdrawn, so it still refuses).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from coprolib.records import Consent
from coprolib.records.enums import ConsentEventType

if TYPE_CHECKING:
    from coprolib.ledger.ledger import Ledger

#: The schema version whose ledgers have per-story withdrawals as events.
STORY_NARROWING_VERSION = 6


def narrow_story_withdrawals(ledger: Ledger) -> list[str]:
    """Append, to each consent an old per-story withdrawal narrowed, a withdrawal event naming
    that story. Idempotent; returns the ids of the consents that got one."""
    rows = ledger._db.query(
        "SELECT id FROM records WHERE kind = 'consent' AND id LIKE ? ORDER BY id", ("%~%",)
    )
    changed: list[str] = []
    for (derived_id,) in rows:
        base_id, _, story_id = str(derived_id).rpartition("~")
        derived = ledger.get(Consent, derived_id)
        original = ledger.get(Consent, base_id)
        if (
            derived is None
            or original is None
            or derived.story_ids != (story_id,)
            or not original.covers(story_id)
            or any(story_id in ev.story_ids for ev in original.events)
        ):
            continue
        withdrawal = next(
            (ev for ev in reversed(derived.events) if ev.type is ConsentEventType.WITHDRAWN), None
        )
        if withdrawal is None:
            continue
        event = attrs.evolve(
            withdrawal,
            at=max(withdrawal.at, original.events[-1].at),
            story_ids=(story_id,) if original.story_ids != (story_id,) else (),
        )
        ledger.append_consent_event(base_id, event)
        changed.append(base_id)
    return changed
