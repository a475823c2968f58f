"""Protection at rest: protected fields encrypted per field with AES-GCM, key ids, rotation,
and clear errors for a missing or wrong key."""

from __future__ import annotations

import pytest

from coprolib.ledger import KeyRing, LedgerError, generate_key
from coprolib.records import Contributor, Story
from tests.ledger_data import contributor, share, story

KEY = generate_key()
OTHER = generate_key()
PLAIN = ("Marigold-s-1", "Zephyrine", "Larkspur", "example.invalid", "07700 900123")


def _raw_text(target) -> str:  # type: ignore[no-untyped-def]
    rows = target.raw("SELECT data FROM records") + target.raw("SELECT data FROM shares")
    return "\n".join(r[0] for r in rows)


def _fill(ledger) -> None:  # type: ignore[no-untyped-def]
    ledger.add([contributor("p-1"), story("s-1")])
    ledger.put_share(share("sh-1", quote="Marigold-s-1 said"))


def test_protected_fields_are_ciphertext_in_the_rows(ledger_target) -> None:
    with ledger_target.open(key=KEY) as ledger:
        assert ledger.encrypted
        _fill(ledger)
        assert ledger.get(Story, "s-1") == story("s-1")
        assert ledger.get(Contributor, "p-1") == contributor("p-1")
        assert ledger.get_share("sh-1").share == share("sh-1", quote="Marigold-s-1 said")
        assert ledger.verify_audit().ok
    raw = _raw_text(ledger_target)
    for secret in PLAIN:
        assert secret not in raw
    assert KeyRing.from_text(KEY).current_id in raw  # type: ignore[union-attr]
    assert "Night" not in raw and "trust" in raw  # themes stay searchable


def test_missing_key_is_a_clear_error_not_garbage(ledger_target) -> None:
    with ledger_target.open(key=KEY) as ledger:
        _fill(ledger)
    with ledger_target.open(key="") as keyless:
        assert keyless.count(Story) == 1
        assert keyless.verify_audit().ok
        with pytest.raises(LedgerError, match=r"story 's-1'.*encrypted.*set COPROLIB_KEY"):
            keyless.get(Story, "s-1")
        with pytest.raises(LedgerError, match="set COPROLIB_KEY"):
            keyless.add(story("s-2"))
        assert keyless.count(Story) == 1


def test_wrong_key_is_refused_when_opening(ledger_target) -> None:
    with ledger_target.open(key=KEY):
        pass
    with pytest.raises(LedgerError, match="wrong key") as err:
        ledger_target.open(key=OTHER)
    assert KEY not in str(err.value) and OTHER not in str(err.value)


def test_malformed_key_names_no_secret(ledger_target) -> None:
    with pytest.raises(LedgerError, match="not a coprolib key") as err:
        ledger_target.open(key="hunter2-not-a-key")
    assert "hunter2" not in str(err.value)


def test_ciphertext_moved_to_another_record_does_not_decrypt(ledger_target) -> None:
    with ledger_target.open(key=KEY) as ledger:
        ledger.add([contributor("p-1"), story("s-1"), story("s-2", text="A different account.")])
    s1 = ledger_target.raw("SELECT data FROM records WHERE id = 's-1'")[0][0]
    ledger_target.raw(
        "UPDATE records SET data = ? WHERE id = 's-2'", (s1.replace('"s-1"', '"s-2"'),)
    )
    with (
        ledger_target.open(key=KEY) as ledger,
        pytest.raises(LedgerError, match=r"story 's-2' field text: could not be decrypted"),
    ):
        ledger.get(Story, "s-2")


def test_rekey_rotates_and_the_old_key_stops_working(ledger_target) -> None:
    with ledger_target.open(key=KEY) as ledger:
        _fill(ledger)
    new = KeyRing.from_text(OTHER)
    assert new is not None
    with ledger_target.open(key=KEY) as ledger:
        assert ledger.rekey(new) == 3
        assert ledger.key_id == new.current_id
        assert ledger.get(Story, "s-1") == story("s-1")
    with ledger_target.open(key=OTHER) as ledger:
        assert ledger.get(Contributor, "p-1") == contributor("p-1")
        assert ledger.verify_audit().ok
    with pytest.raises(LedgerError, match="wrong key"):
        ledger_target.open(key=KEY)
    assert KeyRing.from_text(KEY).current_id not in _raw_text(ledger_target)  # type: ignore[union-attr]


def test_rekey_encrypts_a_plain_ledger(ledger_target) -> None:
    with ledger_target.open(key="") as ledger:
        _fill(ledger)
        assert not ledger.encrypted
    assert "Marigold-s-1" in _raw_text(ledger_target)
    with ledger_target.open(key=KEY) as ledger:
        assert not ledger.encrypted  # holds plain rows: stays readable until rekeyed
        ledger.rekey(KeyRing.from_text(KEY))  # type: ignore[arg-type]
        assert ledger.encrypted
    for secret in PLAIN:
        assert secret not in _raw_text(ledger_target)
    with ledger_target.open(key=KEY) as ledger:
        assert ledger.get(Story, "s-1") == story("s-1")
        assert ledger.verify_audit().ok
