"""Erasure: a person's words and details are gone for good, from the rows and from the database
files, while ids, references, share records and the audit chain still line up."""

from __future__ import annotations

from pathlib import Path

import pytest

from coprolib.ledger import LedgerError, generate_key
from coprolib.ledger.codec import ERASED
from coprolib.records import Consent, Contributor, Feedback, Story
from coprolib.records.enums import Purpose
from tests.ledger_data import (
    consent,
    contributor,
    feedback,
    insight,
    recipient_share,
    share,
    story,
)

SECRET_TEXT = "Marigold-s-1 said the night team never rang back about the flat."
PERSONAL = (
    "Marigold-s-1",
    "Marigold-s-3",
    "Zephyrine Quillfeather p-1",
    "Quillfeather-p-1",
    "p-1@example.invalid",
    "Larkspur Close",
)


def _fill(ledger) -> None:  # type: ignore[no-untyped-def]
    ledger.add([contributor("p-1"), contributor("p-2", known_identifiers=("Thistledown",))])
    ledger.add([story("s-1", ("p-1",)), story("s-2", ("p-2",)), story("s-3", ("p-1", "p-2"))])
    ledger.add(consent("c-1", "p-1", (), Purpose.TRAINING))
    ledger.add(insight("i-1", ("s-1", "s-2")))
    ledger.add(feedback("f-p-1", "p-1", message="Marigold-s-1, your story went to training"))
    ledger.put_share(share("sh-1", stories=("s-1", "s-2"), quote="Marigold-s-1 said"))
    ledger.put_share(recipient_share("sh-2", "p-1"))
    ledger.put_share(share("sh-3", stories=("s-2",), quote="Marigold-s-2 said"))


def _files(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


@pytest.mark.parametrize("key", ["", generate_key()], ids=["plain", "encrypted"])
def test_erased_text_is_gone_from_the_sqlite_files(tmp_path: Path, key: str) -> None:
    from coprolib.ledger import open_ledger

    path = tmp_path / "ledger.db"
    with open_ledger(f"sqlite:///{path}", key=key) as ledger:
        _fill(ledger)
        if not key:
            assert b"Marigold-s-1" in _files(path)
        counts = ledger.erase_contributor("p-1")
        assert counts == {
            "contributors": 1,
            "stories": 2,
            "consents": 0,
            "consent_events": 0,
            "feedback": 1,
            "involvements": 0,
            "answers": 0,
            "shares": 2,
            "jobs": 0,
        }
        again = ledger.erase_contributor("p-1")  # idempotent: nothing left to change
        assert set(again.values()) == {0}
        data = _files(path)
        for secret in PERSONAL:
            assert secret.encode() not in data, secret
        assert b"Marigold-s-2" in data or key  # the other person's words stay
        assert ledger.verify_audit().ok


def test_tombstones_keep_ids_and_references(ledger) -> None:
    _fill(ledger)
    ledger.erase_contributor("p-1", compact=False)
    person = ledger.get(Contributor, "p-1")
    assert person is not None and person.display_name is None and not person.known_identifiers
    assert person.contact.email is None and not person.wants_feedback
    s1 = ledger.get(Story, "s-1")
    assert s1 is not None and s1.text == ERASED and s1.quotes == () and s1.themes == ("trust",)
    assert ledger.is_erased(Story, "s-1") and not ledger.is_erased(Story, "s-2")
    assert ledger.get(Story, "s-2") == story("s-2", ("p-2",))
    assert [c.id for c in ledger.consents_for_story("s-1")] == ["c-1"]
    assert ledger.get(Consent, "c-1") is not None
    fb = ledger.get(Feedback, "f-p-1")
    assert fb is not None and fb.message is None
    sh1 = ledger.get_share("sh-1").share
    assert [q.text for q in sh1.quotes] == [ERASED] and sh1.story_ids == ("s-1", "s-2")
    sh2 = ledger.get_share("sh-2").share
    assert sh2.recipient is None
    sh3 = ledger.get_share("sh-3").share
    assert sh3 == share("sh-3", stories=("s-2",), quote="Marigold-s-2 said")
    assert ledger.verify_audit().ok
    actions = [e.action for e in ledger.audit_entries() for _ in e.changes() or [e]]
    assert actions.count("erase") == 6 and "erase_contributor" in actions
    with pytest.raises(LedgerError, match="erased"):
        ledger.replace(story("s-1", ("p-1",)))
    with pytest.raises(LedgerError, match="contributor 'p-9'"):
        ledger.erase_contributor("p-9")


def test_erasure_inside_a_larger_transaction_compacts_after_commit(tmp_path: Path) -> None:
    from coprolib.ledger import open_ledger

    path = tmp_path / "ledger.db"
    with open_ledger(f"sqlite:///{path}", key="") as ledger:
        _fill(ledger)
        with ledger.transaction():
            ledger.erase_contributor("p-1")
            ledger.add(contributor("p-3"))
        assert b"Marigold-s-1" not in _files(path)
        assert ledger.get(Contributor, "p-3") is not None
        assert ledger.verify_audit().ok


def test_redacted_quotes_are_found_by_reference_not_by_text(ledger) -> None:  # type: ignore[no-untyped-def]
    import attrs

    from coprolib.records import SharedQuote

    _fill(ledger)
    # Below "named" a quote is labelled "story N" (the N-th of the share's stories), and its
    # words are redacted, so they no longer occur in the story's text.
    labelled = attrs.evolve(
        share("sh-9", stories=("s-2", "s-1")),
        quotes=(
            SharedQuote(text="[PERSON] said the night team never rang", story_ref="story 2"),
            SharedQuote(text="the other person's words", story_ref="story 1"),
        ),
    )
    ledger.put_share(labelled)
    ledger.erase_contributor("p-1", compact=False)
    after = ledger.get_share("sh-9").share
    assert [q.text for q in after.quotes] == [ERASED, "the other person's words"]
    assert [q.story_ref for q in after.quotes] == ["story 2", "story 1"]
    assert ledger.verify_audit().ok
