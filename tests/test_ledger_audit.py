"""The audit chain: entries hold ids and digests only, and verification finds any edit or
deletion of a ledger row or an audit entry."""

from __future__ import annotations

import re

import pytest

from coprolib.records import Story
from coprolib.records.enums import Purpose
from tests.ledger_data import consent, contributor, share, story


@pytest.fixture
def filled(ledger):  # type: ignore[no-untyped-def]
    ledger.add([contributor("p-1"), story("s-1"), story("s-2")])
    ledger.add(consent("c-1", "p-1", (), Purpose.TRAINING))
    ledger.put_share(share("sh-1"))
    ledger.enqueue_job("deliver", "files", "sh-1", "key-sh-1")
    ledger.record_audit("override_used", "consent:c-1", "f" * 64)
    return ledger


def test_entries_hold_ids_and_digests_only(filled) -> None:
    entries = list(filled.audit_entries())
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    text = repr(entries)
    for secret in ("Marigold", "Zephyrine", "Larkspur", "example.invalid", "07700"):
        assert secret not in text
    for e in entries:
        assert re.fullmatch(r"[0-9a-f]{64}", e.digest)
        assert e.actor == "test"
    assert filled.verify_audit().ok
    assert filled.verify_audit().checked == len(entries)


def _entry_for(target, ref: str) -> int:  # type: ignore[no-untyped-def]
    rows = target.raw(
        "SELECT max(seq) FROM (SELECT seq FROM audit WHERE ref = ?"
        " UNION ALL SELECT seq FROM audit_rows WHERE changes LIKE ?) AS e",
        (ref, f'%"{ref}"%'),
    )
    return int(rows[0][0])


@pytest.mark.parametrize(
    ("sql", "ref"),
    [
        ("UPDATE records SET data = replace(data, 'night', 'day') WHERE id = 's-2'", "story:s-2"),
        ("UPDATE records SET status = 'x' WHERE id = 'p-1'", "contributor:p-1"),
        ("DELETE FROM records WHERE id = 's-1'", "story:s-1"),
        (
            "UPDATE consent_events SET data = replace(data, 'training', 'research')",
            "consent_event:c-1:1",
        ),
        ("UPDATE shares SET destination = 'elsewhere'", "share:sh-1"),
        ("UPDATE jobs SET attempts = 5", "job:1"),
    ],
)
def test_edited_or_deleted_row_fails_at_its_entry(filled, ledger_target, sql, ref) -> None:
    expected = _entry_for(ledger_target, ref)
    ledger_target.raw(sql)
    result = filled.verify_audit()
    assert not result.ok
    assert result.first_bad == expected, result.reason
    assert ref in (result.reason or "")


def test_edited_audit_entry_fails_at_that_entry(filled, ledger_target) -> None:
    ledger_target.raw("UPDATE audit SET actor = 'mallory' WHERE seq = 3")
    result = filled.verify_audit()
    assert (result.ok, result.first_bad) == (False, 3)
    assert "changed" in (result.reason or "")


def test_deleted_audit_entry_fails(filled, ledger_target) -> None:
    ledger_target.raw("DELETE FROM audit WHERE seq = 2")
    result = filled.verify_audit()
    assert (result.ok, result.first_bad) == (False, 2)


def test_removing_the_newest_entries_fails(filled, ledger_target) -> None:
    last = int(ledger_target.raw("SELECT max(seq) FROM audit")[0][0])
    ledger_target.raw("DELETE FROM audit WHERE seq = ?", (last,))
    result = filled.verify_audit()
    assert not result.ok and result.first_bad == last


def test_row_added_behind_the_ledgers_back_fails(filled, ledger_target) -> None:
    ledger_target.raw("INSERT INTO records (kind, id, data, erased) VALUES ('story', 'x', '{}', 0)")
    result = filled.verify_audit()
    assert not result.ok and "story:x has no audit entry" in (result.reason or "")


def test_later_changes_keep_the_chain_valid(filled) -> None:
    filled.replace(story("s-2", themes=("housing",)))
    filled.set_share_status("sh-1", "delivered")
    assert filled.get(Story, "s-2") == story("s-2", themes=("housing",))
    assert filled.verify_audit().ok


def test_a_bulk_write_is_one_entry_listing_every_row(ledger) -> None:
    ledger.add([contributor("p-1"), *(story(f"s-{i}") for i in range(5))])
    entries = list(ledger.audit_entries())
    bulk = [e for e in entries if e.scope == "rows"]
    assert [(e.action, [ref for ref, _ in e.changes()]) for e in bulk] == [
        ("add", ["contributor:p-1", *(f"story:s-{i}" for i in range(5))])
    ]
    ledger.replace(story("s-1", themes=("housing",)))
    single = list(ledger.audit_entries())[-1]
    assert (single.scope, single.changes()) == ("row", (("story:s-1", single.digest),))
    assert ledger.verify_audit().ok


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_rows SET changes = replace(changes, '\"story:s-1\"', '\"story:s-9\"')",
        "UPDATE audit_rows SET changes = '[]'",
        "UPDATE audit_rows SET changes = 'not json'",
        "DELETE FROM audit_rows",
    ],
)
def test_edited_list_of_a_bulk_entry_fails_at_that_entry(ledger, ledger_target, sql) -> None:
    ledger.add([contributor("p-1"), *(story(f"s-{i}") for i in range(5))])
    seq = int(ledger_target.raw("SELECT seq FROM audit WHERE scope = 'rows'")[0][0])
    ledger_target.raw(sql.format(zeros="0" * 64))
    result = ledger.verify_audit()
    assert (result.ok, result.first_bad) == (False, seq), result.reason
    assert "rows it lists were changed" in (result.reason or "")


#: One hand edit per table the audit chain does not hash row by row, and the table the failure
#: must name. Each would change a decision (who is covered, what may be shared, which schema
#: or key the ledger is on) if it went unnoticed.
DERIVED_EDITS = [
    (
        "DELETE FROM record_refs WHERE kind = 'story' AND id = 's-1' AND ref_kind = 'contributor'",
        "record_refs",
    ),
    (
        "INSERT INTO record_refs (kind, id, ref_kind, ref_id) VALUES ('story', 's-2', 'theme', 'x')",
        "record_refs",
    ),
    ("UPDATE consent_state SET status = 'active', expires = '2999-01-01'", "consent_state"),
    (
        "INSERT INTO consent_purposes (consent_id, purpose, contributor_id, all_stories, expires)"
        " VALUES ('c-1', 'board_reporting', 'p-1', 1, NULL)",
        "consent_purposes",
    ),
    ("UPDATE story_access SET purpose = 'board_reporting'", "story_access"),
    ("DELETE FROM story_access", "story_access"),
    ("DELETE FROM share_stories", "share_stories"),
    ("INSERT INTO share_stories (story_id, share_id) VALUES ('s-2', 'sh-1')", "share_stories"),
    ("UPDATE coprolib_meta SET value = 'x' WHERE key = 'ledger'", "coprolib_meta"),
    (
        "INSERT INTO coprolib_meta (key, value) VALUES ('key_id', '0123456789abcdef')",
        "coprolib_meta",
    ),
    (
        "UPDATE coprolib_migrations SET name = 'nothing to see' WHERE version = 2",
        "coprolib_migrations",
    ),
    ("DELETE FROM coprolib_migrations WHERE version = 3", "coprolib_migrations"),
]


@pytest.mark.parametrize(("sql", "table"), DERIVED_EDITS, ids=[t for _, t in DERIVED_EDITS])
def test_every_table_that_decides_is_verified(ledger_target, sql: str, table: str) -> None:  # type: ignore[no-untyped-def]
    with ledger_target.open() as ledger:
        ledger.add([contributor("p-1"), story("s-1"), story("s-2")])
        ledger.add(consent("c-1", "p-1", (), Purpose.TRAINING))
        ledger.put_share(share("sh-1"))
        assert ledger.verify_audit().ok
    ledger_target.raw(sql)
    result = _verify_behind(ledger_target)
    assert not result.ok
    assert result.reason is not None and result.reason.startswith(f"{table}:"), result.reason


def _verify_behind(target):  # type: ignore[no-untyped-def]
    """Verify straight on the database: some edits (the marker, the key id) stop it opening."""
    from coprolib.ledger.opening import connect
    from coprolib.ledger.verify import verify_chain

    db = connect(target.url, schema=target.schema)
    try:
        return verify_chain(db)
    finally:
        db.close()


def test_a_changed_key_id_is_named(ledger_target) -> None:  # type: ignore[no-untyped-def]
    from coprolib.ledger import generate_key

    key = generate_key()
    with ledger_target.open(key=key) as ledger:
        ledger.add(contributor("p-1"))
    ledger_target.raw("UPDATE coprolib_meta SET value = '0123456789abcdef' WHERE key = 'key_id'")
    result = _verify_behind(ledger_target)
    assert not result.ok and result.reason is not None
    assert result.reason.startswith("coprolib_meta: the key id is 0123456789abcdef")
