"""Which fields are protected, and the key rules: every string field of every record type is
either encrypted (codec.PROTECTED) or declared not personal (codec.NOT_PERSONAL); a key set on
a plaintext ledger refuses writes; a handle opened before a rekey never writes with the old key."""

from __future__ import annotations

import datetime as dt
import enum
import types
import typing
from pathlib import Path
from typing import Any

import attrs
import pytest

from coprolib.ledger import LedgerError, generate_key, open_ledger
from coprolib.ledger.codec import ERASED, NOT_PERSONAL, PROTECTED
from coprolib.records import (
    Activity,
    Consent,
    ConsentEvent,
    Contributor,
    Feedback,
    Insight,
    Involvement,
    LivedAnswer,
    Outcome,
    Proposal,
    Receipt,
    Share,
    Story,
)
from tests.ledger_data import consent, contributor, share, story

ROOTS: dict[str, type[Any]] = {
    "contributor": Contributor,
    "story": Story,
    "consent": Consent,
    "consent_event": ConsentEvent,
    "insight": Insight,
    "outcome": Outcome,
    "feedback": Feedback,
    "activity": Activity,
    "proposal": Proposal,
    "lived_answer": LivedAnswer,
    "involvement": Involvement,
    "share": Share,
    "receipt": Receipt,
}


def _string_paths(cls: type[Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every path to a string value in ``cls`` (``*`` for each item of a tuple)."""
    out: list[tuple[str, ...]] = []
    hints = typing.get_type_hints(cls)
    for field in attrs.fields(cls):
        if cls is Consent and field.name == "events":
            continue  # stored as consent_events rows: walked as ConsentEvent
        out += _paths_of(hints[field.name], (*prefix, field.name))
    return out


def _paths_of(tp: Any, path: tuple[str, ...]) -> list[tuple[str, ...]]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return [p for arg in typing.get_args(tp) for p in _paths_of(arg, path)]
    if origin is tuple:
        return _paths_of(typing.get_args(tp)[0], (*path, "*"))
    if tp is str:
        return [path]
    if isinstance(tp, type) and attrs.has(tp):
        return _string_paths(tp, path)
    if isinstance(tp, type) and issubclass(
        tp, enum.Enum | int | float | bool | dt.date | type(None)
    ):
        return []
    raise AssertionError(f"{'.'.join(path)}: a field of type {tp!r} the walk does not know")


def test_every_string_field_is_protected_or_declared_not_personal() -> None:
    for kind, cls in ROOTS.items():
        protected = set(PROTECTED.get(kind, ()))
        plain = set(NOT_PERSONAL.get(kind, {}))
        paths = set(_string_paths(cls))
        unclassified = paths - protected - plain
        assert not unclassified, (
            f"{cls.__name__}: string field(s) {sorted('.'.join(p) for p in unclassified)} are "
            "neither in codec.PROTECTED nor codec.NOT_PERSONAL: decide whether they can hold "
            "personal data, and list them in docs/data_protection.md"
        )
        assert not protected & plain, f"{kind}: both protected and not personal"
        stale = (protected | plain) - paths
        assert not stale, f"{kind}: {sorted(stale)} name no string field"


def _bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_key_set_on_a_plaintext_ledger_refuses_writes_until_rekey(ledger_target) -> None:  # type: ignore[no-untyped-def]
    with ledger_target.open(key="") as plain:
        plain.add(contributor("p-1"))
    key = generate_key()
    with ledger_target.open(key=key) as keyed:
        assert keyed.get(Contributor, "p-1") is not None  # reads still work
        with pytest.raises(LedgerError) as caught:
            keyed.add(contributor("p-2"))
        message = str(caught.value)
        assert "`coprolib rekey`" in message and "\n" not in message and key not in message
        assert keyed.get(Contributor, "p-2") is None
        keyed.rekey(keyed._keys)
        keyed.add(contributor("p-2"))
    with ledger_target.open(key=key) as again:
        assert again.encrypted and again.get(Contributor, "p-2") is not None


def test_a_handle_opened_before_rekey_never_writes_with_the_old_key(ledger_target) -> None:  # type: ignore[no-untyped-def]
    old, new = generate_key(), generate_key()
    stale = ledger_target.open(key=old, actor="stale")
    stale.add(contributor("p-1"))
    with ledger_target.open(key=f"{new},{old}", actor="rotator") as rotator:
        rotator.rekey(rotator._keys)
    # The stale handle holds only the old key: it refuses to write instead of undoing the rekey.
    with pytest.raises(LedgerError, match=r"re-keyed to key id .* set COPROLIB_KEY"):
        stale.add(contributor("p-2"))
    stale.close()
    # A stale handle that holds both keys writes with the new one.
    both = ledger_target.open(key=f"{old},{new}", actor="both")
    with ledger_target.open(key=f"{new},{old}") as rotator:
        rotator.rekey(rotator._keys)  # rekey again, to the same new key
    both.add(contributor("p-3"))
    both.close()
    with ledger_target.open(key=new) as only_new:  # the old key dropped: everything reads
        assert [c.id for c in only_new.list(Contributor)] == ["p-1", "p-3"]
        assert only_new.verify_audit().ok


def test_job_error_is_encrypted_and_erased(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    echo = "HTTP 503: rejected quote Tamsorrel-lantern-hums"
    with open_ledger(f"sqlite:///{path}", key=generate_key()) as ledger:
        ledger.add([contributor("p-1"), story("s-1", ("p-1",))])
        ledger.add(consent("c-1", "p-1"))
        ledger.put_share(share("sh-1", stories=("s-1",), quote="Marigold-s-1"))
        job = ledger.enqueue_job("deliver", "files", "sh-1", "key-sh-1")
        ledger.finish_job(job.id, "pending", error=echo + " " * 400 + "tail")
        (stored,) = ledger.list_jobs()
        assert stored.last_error is not None and stored.last_error.startswith(echo)
        assert len(stored.last_error) <= 300 and "tail" not in stored.last_error
        ledger._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert b"Tamsorrel" not in _bytes(path)
        counts = ledger.erase_contributor("p-1")
        assert counts["jobs"] == 1 and ledger.list_jobs()[0].last_error == ERASED
        assert ledger.verify_audit().ok


def test_rekey_waits_for_a_write_in_flight_and_covers_it(ledger_target) -> None:  # type: ignore[no-untyped-def]
    import threading
    import time

    old, new = generate_key(), generate_key()
    writer = ledger_target.open(key=old, actor="writer")
    writer.add(contributor("p-1"))
    done: list[int] = []

    def rotate() -> None:
        with ledger_target.open(key=f"{new},{old}", actor="rotator") as rotator:
            done.append(rotator.rekey(rotator._keys))

    with writer.transaction():
        writer.add(contributor("p-2"))  # encrypted with the old key, not yet committed
        thread = threading.Thread(target=rotate)
        thread.start()
        time.sleep(0.5)
        assert not done  # the rekey waits for this transaction
    thread.join(timeout=30)
    assert done and done[0] >= 2
    writer.close()
    with ledger_target.open(key=new) as only_new:  # nothing was left under the old key
        assert [c.id for c in only_new.list(Contributor)] == ["p-1", "p-2"]
        assert only_new.verify_audit().ok


def test_an_encrypted_ledger_from_before_a_field_was_protected_is_fixed_by_rekey(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from coprolib.ledger import codec
    from tests.ledger_data import feedback

    path = tmp_path / "l.db"
    key = generate_key()
    with monkeypatch.context() as older:  # as an older coprolib wrote it: message in clear
        older.setitem(codec.PROTECTED, "feedback", ())
        with open_ledger(f"sqlite:///{path}", key=key) as ledger:
            ledger.add(contributor("p-1"))
            ledger.add(feedback("f-1", "p-1", message="Halvergate-fictional message"))
    with open_ledger(f"sqlite:///{path}", key=key) as ledger:
        with pytest.raises(LedgerError, match=r"feedback 'f-1'.*run `coprolib rekey`"):
            ledger.get(Feedback, "f-1")
        ledger.rekey(ledger._keys)
        fb = ledger.get(Feedback, "f-1")
        assert fb is not None and fb.message == "Halvergate-fictional message"
        assert ledger.verify_audit().ok
    assert b"Halvergate" not in _bytes(path)
