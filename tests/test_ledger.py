"""The ledger API on SQLite and PostgreSQL: records, consent events, filters, transactions,
migrations and bad input."""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coprolib.ledger import (
    SCHEMA_VERSION,
    LedgerError,
    consent_store,
    open_ledger,
    resolve_ledger_url,
)
from coprolib.ledger import schema as ledger_schema
from coprolib.records import Activity, Consent, Contributor, Feedback, Insight, Outcome, Story
from coprolib.records.bundle import load_bundle
from coprolib.records.enums import InsightStatus, Purpose
from tests.conftest import EXAMPLE_BUNDLE
from tests.ledger_data import (
    T0,
    consent,
    contributor,
    feedback,
    insight,
    story,
    withdrawal,
)


def seed(ledger) -> None:  # type: ignore[no-untyped-def]
    ledger.add([contributor("p-1"), contributor("p-2")])
    ledger.add(
        [
            story("s-1", ("p-1",), ("trust", "housing")),
            story("s-2", ("p-2",), ("trust",)),
            story("s-3", ("p-1", "p-2"), ("isolation",)),
        ]
    )
    ledger.add(consent("c-1", "p-1", (), Purpose.TRAINING, Purpose.COMMISSIONING))
    ledger.add(consent("c-2", "p-2", ("s-2",), Purpose.COMMISSIONING))


def test_add_get_and_count_round_trip(ledger) -> None:
    seed(ledger)
    assert ledger.get(Story, "s-1") == story("s-1", ("p-1",), ("trust", "housing"))
    assert ledger.get(Contributor, "p-2") == contributor("p-2")
    assert ledger.get(Consent, "c-1") == consent(
        "c-1", "p-1", (), Purpose.TRAINING, Purpose.COMMISSIONING
    )
    assert ledger.get(Story, "nope") is None
    assert ledger.count(Story) == 3
    assert ledger.count(Insight) == 0


def test_example_bundle_imports_and_exports_the_same_records(ledger) -> None:
    bundle = load_bundle(EXAMPLE_BUNDLE)
    counts = ledger.import_bundle(bundle)
    assert counts == bundle.counts()
    exported = list(ledger.export_records())
    # An involvement leaves the ledger only when the person agreed to it.
    shared = [r for r in bundle.records() if getattr(r, "agreed_to_share", True)]
    assert len(shared) < len(list(bundle.records()))
    assert sorted(map(repr, exported)) == sorted(map(repr, shared))


def test_filters(ledger) -> None:
    seed(ledger)
    ledger.add(
        [insight("i-1", ("s-1",)), insight("i-2", ("s-2", "s-3"), status=InsightStatus.DRAFT)]
    )
    ledger.add(feedback("f-1", "p-1", story_ids=("s-1",), insight_id="i-1"))
    ids = lambda it: [r.id for r in it]  # noqa: E731
    assert ids(ledger.list(Story, contributor="p-1")) == ["s-1", "s-3"]
    assert ids(ledger.list(Story, theme="trust")) == ["s-1", "s-2"]
    assert ids(ledger.list(Insight, story="s-3")) == ["i-2"]
    assert ids(ledger.list(Insight, status="agreed")) == ["i-1"]
    assert ids(ledger.list(Insight, domain="interagency_working")) == ["i-1", "i-2"]
    assert ids(ledger.list(Feedback, insight="i-1")) == ["f-1"]
    assert ids(ledger.list(Feedback, story="s-1")) == ["f-1"]
    assert ids(ledger.list(Consent, contributor="p-2")) == ["c-2"]
    # c-1 covers all of p-1's stories; c-2 lists s-2 only.
    assert ids(ledger.consents_for_story("s-3")) == ["c-1"]
    assert ids(ledger.consents_for_story("s-2")) == ["c-2"]
    assert ids(ledger.list(Consent, status="active")) == ["c-1", "c-2"]
    with pytest.raises(LedgerError, match="cannot filter story records by domain"):
        list(ledger.list(Story, domain="x"))


def test_theme_and_purpose_query_follows_consent_events(ledger) -> None:
    seed(ledger)
    assert ledger.story_ids_for("trust", "training") == ["s-1"]
    assert ledger.story_ids_for("trust", "commissioning") == ["s-1", "s-2"]
    assert [s.id for s in ledger.list(Story, purpose="training")] == ["s-1", "s-3"]
    ledger.append_consent_event("c-1", withdrawal(T0 + dt.timedelta(days=1), Purpose.TRAINING))
    assert ledger.story_ids_for("trust", "training") == []
    assert ledger.story_ids_for("trust", "commissioning") == ["s-1", "s-2"]
    ledger.append_consent_event("c-2", withdrawal(T0 + dt.timedelta(days=2)))
    assert ledger.story_ids_for("trust", "commissioning") == ["s-1"]


def test_expired_terms_do_not_allow_a_purpose(ledger) -> None:
    ledger.add([contributor("p-1"), story("s-1")])
    ledger.add(consent("c-1", "p-1", (), Purpose.TRAINING, expires=dt.date(2025, 6, 1)))
    assert ledger.story_ids_for("trust", "training") == []


def test_consent_events_append_and_never_update(ledger) -> None:
    seed(ledger)
    ev = withdrawal(T0 + dt.timedelta(days=3))
    new = ledger.append_consent_event("c-1", ev)
    assert new.version == 2 and new.events[-1] == ev
    assert ledger.get(Consent, "c-1") == new
    assert not new.state_at(T0 + dt.timedelta(days=4)).active
    with pytest.raises(LedgerError, match=r"consent 'c-1' field events\[2\].*time order"):
        ledger.append_consent_event("c-1", withdrawal(T0))
    with pytest.raises(LedgerError, match=r"consent 'nope'.*no consent"):
        ledger.append_consent_event("nope", ev)
    with pytest.raises(LedgerError, match="never replaced"):
        ledger.replace(attrs.evolve(new, story_ids=("s-1",)))
    assert ledger.get(Consent, "c-1") == new


def test_replace_makes_a_new_version(ledger) -> None:
    seed(ledger)
    ledger.add(insight("i-1", ("s-1",), status=InsightStatus.DRAFT))
    ledger.replace(insight("i-1", ("s-1", "s-2")))
    got = ledger.get(Insight, "i-1")
    assert got is not None and got.status is InsightStatus.AGREED
    assert [i.id for i in ledger.list(Insight, story="s-2")] == ["i-1"]
    assert list(ledger.list(Insight, status="draft")) == []
    with pytest.raises(LedgerError, match="insight 'i-9': there is no insight"):
        ledger.replace(insight("i-9"))
    with pytest.raises(LedgerError, match=r"field evidence\[1\].story_id.*story 's-9'"):
        ledger.replace(insight("i-1", ("s-1", "s-9")))
    assert ledger.get(Insight, "i-1") == got


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ([contributor("p-1")], "contributor 'p-1' field id: the id 'p-1' is already used"),
        ([contributor("p-3"), contributor("p-3")], "contributor 'p-3' field id"),
        ([story("s-9", ("p-9",))], "story 's-9' field contributor_ids\\[0\\]: .*contributor 'p-9'"),
        ([consent("c-9", "p-1", ("s-8",))], "consent 'c-9' field story_ids\\[0\\].*story 's-8'"),
        ([insight("i-9", ("s-1", "s-7"))], "insight 'i-9' field evidence\\[1\\].story_id"),
        ([feedback("f-9", "p-1", outcome_id="o-1")], "feedback 'f-9' field outcome_id"),
        ([story("s-8", activity_id="a-1")], "story 's-8' field activity_id"),
    ],
)
def test_bad_input_names_record_and_field_and_writes_nothing(ledger, records, message) -> None:
    seed(ledger)
    before = [ledger.count(c) for c in (Contributor, Story, Consent, Insight, Feedback)]
    entries = len(list(ledger.audit_entries()))
    with pytest.raises(LedgerError, match=message):
        ledger.add([contributor("p-new"), *records])
    assert [ledger.count(c) for c in (Contributor, Story, Consent, Insight, Feedback)] == before
    assert ledger.get(Contributor, "p-new") is None
    assert len(list(ledger.audit_entries())) == entries


def test_references_may_come_later_in_the_same_transaction(ledger) -> None:
    with ledger.transaction():
        ledger.add(story("s-1", ("p-1",)))
        ledger.add(contributor("p-1"))
    assert ledger.count(Story) == 1


def test_a_bundle_failing_half_way_leaves_the_ledger_unchanged(ledger) -> None:
    bundle = load_bundle(EXAMPLE_BUNDLE)
    ledger.add(contributor("p-extra"))
    clash = attrs.evolve(bundle, outcomes=(*bundle.outcomes, bundle.outcomes[0]))
    with pytest.raises(LedgerError, match=r"outcome .* field id"):
        ledger.import_bundle(clash)
    assert [ledger.count(c) for c in (Contributor, Story, Outcome, Activity)] == [1, 0, 0, 0]
    assert ledger.verify_audit().ok


def test_nested_transaction_failure_undoes_the_whole_outer_transaction(ledger) -> None:
    with (
        pytest.raises(LedgerError, match="part of this transaction failed"),
        ledger.transaction(),
    ):
        ledger.add(contributor("p-1"))
        with contextlib.suppress(LedgerError):
            ledger.add(contributor("p-1"))
    assert ledger.count(Contributor) == 0


def test_reopening_keeps_everything(ledger_target) -> None:
    with ledger_target.open() as a:
        seed(a)
    with ledger_target.open() as b:
        assert b.count(Story) == 3
        assert b.schema_version == SCHEMA_VERSION
        assert b.verify_audit().ok


def test_ledger_newer_than_code_is_refused(ledger_target) -> None:
    with ledger_target.open():
        pass
    ledger_target.raw(
        "UPDATE coprolib_meta SET value = ? WHERE key = 'schema_version'",
        (str(SCHEMA_VERSION + 1),),
    )
    with pytest.raises(LedgerError, match=f"schema version {SCHEMA_VERSION + 1}, newer than"):
        ledger_target.open()


def test_migrations_apply_forward_once(ledger_target, monkeypatch) -> None:
    with ledger_target.open() as a:
        seed(a)
    extra = ledger_schema.Migration(
        version=SCHEMA_VERSION + 1,
        name="test column",
        sqlite=("ALTER TABLE records ADD COLUMN note TEXT",),
        postgres=("ALTER TABLE records ADD COLUMN note TEXT",),
    )
    from coprolib.ledger import opening

    known = [m.version for m in ledger_schema.MIGRATIONS]
    monkeypatch.setattr(opening, "MIGRATIONS", (*ledger_schema.MIGRATIONS, extra))
    monkeypatch.setattr(ledger_schema, "MIGRATIONS", (*ledger_schema.MIGRATIONS, extra))
    monkeypatch.setattr(opening, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(LedgerError, match="run `coprolib migrate`"):
        ledger_target.open(migrate_schema=False)
    with ledger_target.open() as b:
        assert b.schema_version == SCHEMA_VERSION + 1
        assert b.count(Story) == 3
    versions = ledger_target.raw("SELECT version FROM coprolib_migrations ORDER BY version")
    assert [v[0] for v in versions] == [*known, SCHEMA_VERSION + 1]
    with ledger_target.open() as c:  # applying again is a no-op
        assert c.verify_audit().ok


def test_migration_2_backfills_story_access_from_existing_rows(ledger_target) -> None:
    with ledger_target.open() as a:
        seed(a)
        before = a.story_ids_for("trust", "commissioning")
    assert before == ["s-1", "s-2"]
    # Put the ledger back to how schema version 1 left it, rows and all.
    ledger_target.raw("DROP TABLE story_access")
    ledger_target.raw("DROP INDEX records_kind_seq")
    # (seed()'s batched entries keep their lists in migration 4's audit_rows: keep them aside)
    ledger_target.raw("ALTER TABLE audit_rows RENAME TO kept_audit_rows")
    # (and what the delivery-control migration added)
    ledger_target.raw("DROP TABLE job_events")
    ledger_target.raw("DROP TABLE delivery_destinations")
    ledger_target.raw("DROP INDEX jobs_lease")
    for column in ("claim_token", "in_doubt", "sending_at"):
        ledger_target.raw(f"ALTER TABLE jobs DROP COLUMN {column}")
    ledger_target.raw("DELETE FROM coprolib_migrations WHERE version >= 2")
    ledger_target.raw("UPDATE coprolib_meta SET value = '1' WHERE key = 'schema_version'")
    with ledger_target.open() as b:
        assert b.schema_version == SCHEMA_VERSION
        assert b.story_ids_for("trust", "commissioning") == before
        ledger_target.raw("INSERT INTO audit_rows SELECT * FROM kept_audit_rows")
        assert b.verify_audit().ok


def test_non_ledger_sqlite_file_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(LedgerError, match=r"not a coprolib ledger .*invoices"):
        open_ledger(f"sqlite:///{other}", key="")


def test_corrupt_file_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(LedgerError, match="not a coprolib ledger"):
        open_ledger(f"sqlite:///{junk}", key="")
    good = tmp_path / "good.db"
    open_ledger(f"sqlite:///{good}", key="").close()
    data = bytearray(good.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)
    good.write_bytes(bytes(data))
    for f in tmp_path.glob("good.db-*"):
        f.unlink()
    with pytest.raises(LedgerError):
        open_ledger(f"sqlite:///{good}", key="")


def test_resolve_ledger_url(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COPROLIB_LEDGER", raising=False)
    assert resolve_ledger_url(None) == "sqlite:///coprolib.db"
    (tmp_path / "coprolib.toml").write_text('ledger = "sqlite:///from-toml.db"\n')
    # A relative path in a configuration file is read against the file's folder.
    assert resolve_ledger_url(None) == f"sqlite:///{tmp_path.resolve() / 'from-toml.db'}"
    monkeypatch.setenv("COPROLIB_LEDGER", "sqlite:///from-env.db")
    assert resolve_ledger_url(None) == "sqlite:///from-env.db"
    assert resolve_ledger_url("sqlite:///cli.db") == "sqlite:///cli.db"


def test_unknown_url_scheme_is_refused() -> None:
    with pytest.raises(LedgerError, match="'mysql' ledgers are not supported"):
        open_ledger("mysql://x/y", key="")


WRITER = """
import sys
from coprolib.ledger import open_ledger
from tests.ledger_data import contributor, story
url, schema, name = sys.argv[1], sys.argv[2] or None, sys.argv[3]
with open_ledger(url, actor=name, key="", schema=schema) as ledger:
    for i in range(15):
        with ledger.transaction():
            ledger.add(contributor(f"{name}-p{i}"))
            ledger.add(story(f"{name}-s{i}", (f"{name}-p{i}",)))
"""


def test_two_processes_writing_at_once_lose_nothing(ledger_target) -> None:
    import subprocess
    import sys

    from tests.conftest import ROOT

    with ledger_target.open():
        pass  # create the schema first, so the writers race only on rows
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, ledger_target.url, ledger_target.schema or "", name],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("alpha", "beta", "gamma")
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    with ledger_target.open() as ledger:
        assert ledger.count(Contributor) == 45 and ledger.count(Story) == 45
        result = ledger.verify_audit()
        assert result.ok, result.reason
        assert {e.actor for e in ledger.audit_entries()} >= {"alpha", "beta", "gamma"}


@pytest.mark.parametrize(
    ("n", "model_max"), [(30, None), (2600, None), (2600, 1000)], ids=["few", "bulk", "beyond"]
)
def test_theme_purpose_index_agrees_with_the_direct_query(
    ledger, monkeypatch, n: int, model_max: int | None
) -> None:
    if model_max is not None:  # more stories than an import keeps in memory: SQL does them
        monkeypatch.setattr(consent_store, "_ACCESS_MODEL_MAX", model_max)
    people = [contributor(f"p-{i}") for i in range(n // 2)]
    themes = ("trust", "housing", "isolation")
    stories = [
        story(f"s-{i}", (f"p-{i // 2}",), (themes[i % 3], themes[(i + 1) % 3])) for i in range(n)
    ]
    purposes = (Purpose.TRAINING, Purpose.COMMISSIONING, Purpose.RESEARCH)
    consents = [
        consent(
            f"c-{i}", p.id, () if i % 3 else (f"s-{2 * i}",), *{purposes[i % 3], purposes[i % 2]}
        )
        for i, p in enumerate(people)
    ]
    ledger.import_records([*consents, *stories, *people])  # any order: refs checked at commit
    ledger.append_consent_event("c-1", withdrawal(T0 + dt.timedelta(days=1)))
    for theme in themes:
        for purpose in purposes:
            direct = sorted(s.id for s in ledger.list(Story, theme=theme, purpose=purpose))
            assert ledger.story_ids_for(theme, purpose) == direct
    assert ledger.story_ids_for("trust", "training")


def _access_table(ledger) -> list[tuple[object, ...]]:  # type: ignore[no-untyped-def]
    return sorted(ledger._db.query("SELECT theme, purpose, story_id, expires FROM story_access"))


def _access_by_sql(ledger) -> list[tuple[object, ...]]:  # type: ignore[no-untyped-def]
    every = "SELECT id FROM records WHERE kind = 'story'"
    return sorted(ledger._db.query(ledger_schema.ACCESS_ROWS.format(ids=every)))


def test_index_rows_an_import_computes_match_the_sql_definition(ledger) -> None:
    soon, later = dt.date(2031, 1, 1), dt.date(2032, 6, 1)
    # An earlier transaction: a contributor whose consent covers all their stories.
    ledger.add([contributor("p-old"), consent("c-old", "p-old", (), Purpose.RESEARCH)])
    ledger.import_records(
        [
            contributor("p-1"),
            contributor("p-2"),
            story("s-1", ("p-1", "p-old"), ("trust", "housing", "trust")),
            story("s-2", ("p-2",), ("trust",)),
            story("s-3", ("p-old",), ("isolation",)),
            story("s-4", ("p-2",), ()),
            consent("c-1", "p-1", (), Purpose.TRAINING, expires=soon),
            consent("c-2", "p-1", ("s-1",), Purpose.TRAINING, Purpose.RESEARCH, expires=later),
            consent("c-3", "p-2", ("s-1", "s-2"), Purpose.TRAINING),
            consent("c-4", "p-2", (), Purpose.COMMISSIONING, expires=soon),
            consent("c-5", "p-2", ("s-2",), Purpose.COMMISSIONING, expires=later),
        ]
    )
    assert _access_table(ledger) == _access_by_sql(ledger)
    assert ("trust", "training", "s-1", None) in _access_table(ledger)
    assert ("trust", "commissioning", "s-2", later.isoformat()) in _access_table(ledger)
    # New consents for stories already in the ledger, and an event in the same transaction.
    with ledger.transaction():
        ledger.add([story("s-5", ("p-1",), ("housing",)), consent("c-6", "p-old", ("s-5",))])
        ledger.add(consent("c-7", "p-1", ("s-2",), Purpose.RESEARCH))
        ledger.append_consent_event("c-1", withdrawal(T0 + dt.timedelta(days=1)))
    assert _access_table(ledger) == _access_by_sql(ledger)


def test_a_row_edited_by_hand_into_an_invalid_record_is_named_when_listed(ledger) -> None:
    seed(ledger)
    ledger._db.execute(
        "UPDATE records SET data = ? WHERE kind = 'story' AND id = 's-2'",
        ('{"id": "s-2", "contributor_ids": ["p-2"], "text": 7}',),
    )
    assert ledger.get(Story, "s-1") is not None
    with pytest.raises(LedgerError) as err:
        list(ledger.list(Story))
    assert "story 's-2'" in str(err.value)
    assert "edited by hand" in str(err.value)


@given(
    flag=st.sampled_from([None, "sqlite:///flag.db"]),
    env=st.sampled_from([None, "", "sqlite:///env.db"]),
    in_config=st.sampled_from([None, "sqlite:///conf.db", "sqlite:////abs/conf.db", "rel.db"]),
    config_by=st.sampled_from(["flag", "variable", "cwd", "none"]),
)
@settings(max_examples=60, deadline=None)
def test_locate_ledger_precedence_and_config_relative_paths(
    flag: str | None, env: str | None, in_config: str | None, config_by: str
) -> None:
    import os
    import tempfile

    from coprolib.ledger import locate_ledger

    saved = {k: os.environ.get(k) for k in ("COPROLIB_LEDGER", "COPROLIB_CONFIG")}
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp).resolve()
        (root / "etc").mkdir()
        (root / "run").mkdir()
        text = f'ledger = "{in_config}"\n' if in_config else ""
        config_file = (root / "run" if config_by == "cwd" else root / "etc") / "coprolib.toml"
        if config_by != "none":
            config_file.write_text(text)
        try:
            os.chdir(root / "run")
            os.environ.pop("COPROLIB_LEDGER", None)
            os.environ.pop("COPROLIB_CONFIG", None)
            if env is not None:
                os.environ["COPROLIB_LEDGER"] = env
            if config_by == "variable":
                os.environ["COPROLIB_CONFIG"] = str(config_file)
            where = locate_ledger(flag, str(config_file) if config_by == "flag" else None)
        finally:
            os.chdir(cwd)
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    if flag:
        assert (where.url, where.source) == (flag, "flag")
    elif env:
        assert (where.url, where.source) == (env, "variable")
    elif in_config and config_by != "none":
        assert where.source == "config" and where.config_path == str(config_file)
        path = in_config.removeprefix("sqlite:///")
        expected = path if path.startswith("/") else str(config_file.parent / path)
        assert where.url == f"sqlite:///{expected}"
    else:
        assert (where.url, where.source) == ("sqlite:///coprolib.db", "default")


def test_statistics_after_a_commit_never_fail_the_write(tmp_path) -> None:
    # Refreshing the planner's statistics runs after the write has committed; another process
    # holding the write lock then must not turn a committed write into an error (the caller
    # would retry a write that already happened).
    import sqlite3

    from coprolib.ledger.backends import SQLiteBackend

    path = str(tmp_path / "busy.db")
    with open_ledger(f"sqlite:///{path}") as ledger:
        ledger.add(contributor("p-1"))
        ledger.add(story("s-1", ("p-1",)))
    backend = SQLiteBackend(path, busy_timeout=0.2)
    backend.execute("DELETE FROM sqlite_stat1")  # statistics to refresh
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer, mid-transaction
    try:
        backend.optimize()  # neither raises nor waits past the busy timeout
        assert not backend.conn.in_transaction
    finally:
        other.execute("ROLLBACK")
        other.close()
    backend.optimize()  # with the lock free, the statistics are written
    assert backend.query_one("SELECT 1 FROM sqlite_stat1 WHERE tbl = 'record_refs'") is not None
    backend.close()
