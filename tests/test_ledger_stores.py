"""The ledger is composed of stores (records, consent, outbox, audit): each method it hands off reaches
the store's own method, and a ledger nobody holds is freed at once (no reference cycle through
its stores)."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest

from coprolib.ledger import Ledger, open_ledger
from coprolib.ledger.delegate import Via
from coprolib.records import Story


def _handed_off() -> list[tuple[str, Via[..., object]]]:
    return [(name, v) for name, v in vars(Ledger).items() if isinstance(v, Via)]


def test_ledger_hands_off_to_its_stores() -> None:
    assert {v.store for _, v in _handed_off()} == {"records", "consent", "outbox", "audit"}


@pytest.mark.parametrize("name", [name for name, _ in _handed_off()])
def test_each_handed_off_method_is_the_stores_own(ledger: Ledger, name: str) -> None:
    via = vars(Ledger)[name]
    method = getattr(ledger, name)
    store = getattr(ledger, via.store)
    assert method.__self__ is store
    assert method.__func__ is via.__wrapped__
    assert getattr(Ledger, name).__doc__ == via.__wrapped__.__doc__


def test_an_unheld_ledger_is_freed_without_the_garbage_collector(tmp_path: Path) -> None:
    ledger = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}", actor="test")
    ledger.list_shares()  # each hand-off is kept on the handle after its first use
    ledger.audit_entries()
    ledger.count(Story)
    ledger.consents_of([])
    ref = weakref.ref(ledger)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        del ledger
        assert ref() is None
    finally:
        if was_enabled:
            gc.enable()
