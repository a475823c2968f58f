"""Consent changes made at the same time by two writers: each sees the other's, none is lost."""

from __future__ import annotations

import threading
import time

from coprolib.records.enums import IdentityLevel, Purpose
from coprolib.rights.changes import renew_consent
from tests.ledger_data import consent, contributor, story


def test_a_change_waiting_for_another_builds_on_it(ledger_target) -> None:  # type: ignore[no-untyped-def]
    with ledger_target.open() as setup:
        setup.add(contributor("p-1"))
        setup.add(story("s-1", ("p-1",)))
        setup.add(consent("c-1", "p-1", ("s-1",), Purpose.TRAINING))
    first, second = ledger_target.open(actor="first"), ledger_target.open(actor="second")
    errors: list[BaseException] = []

    def later_change() -> None:
        try:
            renew_consent(second, "c-1", changes={"identity_level": IdentityLevel.NAMED})
        except BaseException as exc:  # reported to the test below
            errors.append(exc)

    try:
        with first.transaction():
            renew_consent(first, "c-1", changes={"purposes": ("training", "research")})
            waiting = threading.Thread(target=later_change)
            waiting.start()
            time.sleep(0.5)  # the second writer is now waiting for the consent
        waiting.join(timeout=30)
        assert not errors, errors
        final = second.get(type(consent()), "c-1")
        terms = final.state_at(final.events[-1].at).terms
        assert final.version == 3
        assert set(terms.purposes) == {Purpose.TRAINING, Purpose.RESEARCH}, "first change lost"
        assert terms.identity_level is IdentityLevel.NAMED
        assert final.events[-1].at >= final.events[-2].at
    finally:
        first.close()
        second.close()
