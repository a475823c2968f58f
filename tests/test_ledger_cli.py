"""The ledger commands, run as a user would: init, import, export, audit verify, erase,
migrate, rekey."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from coprolib.cli import build_cli
from coprolib.ledger import SCHEMA_VERSION, KeyRing, open_ledger
from coprolib.ledger.schema import MIGRATIONS
from coprolib.records import Story
from coprolib.records.bundle import load_bundle, write_jsonl
from coprolib.testing.ledger_fixtures import drop_target, make_target
from tests.conftest import EXAMPLE_BUNDLE
from tests.ledger_data import contributor, story


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COPROLIB_LEDGER", raising=False)
    monkeypatch.delenv("COPROLIB_KEY", raising=False)
    cli = build_cli()

    def invoke(*args: str, code: int = 0, env: dict[str, str] | None = None, input=None):  # type: ignore[no-untyped-def]
        result = CliRunner().invoke(cli, list(args), env=env, input=input)
        assert result.exit_code == code, (result.output, result.exception)
        return result

    return invoke


def _key(output: str) -> str:
    return next(x.split("=", 1)[1] for x in output.split() if x.startswith("COPROLIB_KEY="))


def test_init_import_export_round_trips(run, tmp_path: Path) -> None:
    out = run("init").output
    assert "ledger ready at sqlite:///coprolib.db (encrypted, key id" in out
    env = {"COPROLIB_KEY": _key(out)}
    config = (tmp_path / "coprolib.toml").read_text()
    assert 'ledger = "sqlite:///coprolib.db"' in config
    assert "# [destinations.local-files]" in config and 'adapter = "file"' in config
    run("init", code=2)  # refuses to overwrite
    assert "imported 10 contributors" in run("import", str(EXAMPLE_BUNDLE), env=env).output
    exported = json.loads(run("export", env=env).output)
    example = json.loads(EXAMPLE_BUNDLE.read_text())
    # An involvement leaves the ledger only when the person agreed to it.
    agreed = [i for i in example["involvements"] if i["agreed_to_share"]]
    assert 0 < len(agreed) < len(example["involvements"])
    assert exported == {**example, "involvements": agreed}
    lines = run("export", "--format", "jsonl", "--type", "story", env=env).output.splitlines()
    assert len(lines) == 12 and all(json.loads(x)["type"] == "story" for x in lines)
    run("export", "--type", "unicorn", env=env, code=2)


def test_audit_verify_exits_1_after_a_row_is_edited_by_hand(run, tmp_path: Path) -> None:
    run("init", "--no-encryption")
    run("import", str(EXAMPLE_BUNDLE))
    assert "audit chain verified" in run("audit", "verify").output
    conn = sqlite3.connect(tmp_path / "coprolib.db")
    conn.execute("UPDATE records SET data = replace(data, 'trust', 'distrust') WHERE id = 's-04'")
    conn.commit()
    conn.close()
    result = run("audit", "verify", code=1)
    assert "FAILED: audit entry" in result.output and "story:s-04" in result.output


def test_sqlite3_shell_edit_is_caught(tmp_path: Path) -> None:
    if shutil.which("sqlite3") is None:
        pytest.skip("no sqlite3 shell here (the Python edit above covers the same ground)")
    db = f"sqlite:///{tmp_path / 'l.db'}"

    def coprolib(*args: str) -> subprocess.CompletedProcess[str]:
        code = "import sys; from coprolib.cli import main; sys.argv[0] = 'coprolib'; main()"
        return subprocess.run(
            [sys.executable, "-c", code, *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )

    assert coprolib("import", "--ledger", db, str(EXAMPLE_BUNDLE)).returncode == 0
    assert coprolib("audit", "verify", "--ledger", db).returncode == 0
    subprocess.run(
        ["sqlite3", str(tmp_path / "l.db"), "DELETE FROM records WHERE id = 'p-amber'"],
        check=True,
        timeout=30,
    )
    bad = coprolib("audit", "verify", "--ledger", db)
    assert bad.returncode == 1 and "contributor:p-amber" in bad.stderr


def test_jsonl_and_csv_import_with_progress(run, tmp_path: Path) -> None:
    bundle = load_bundle(EXAMPLE_BUNDLE)
    with (tmp_path / "all.jsonl").open("w") as fh:
        write_jsonl(bundle.records(), fh)
    (tmp_path / "more.csv").write_text(
        "id,contributor_ids,text,source,collected_on,themes,disclosure\n"
        's-100,p-amber;p-new,"Quince said, ""the bus never came"".",workshop,2025-04-01,'
        "transport;isolation,no\n"
    )
    result = run("import", "all.jsonl", "more.csv", "--create-contributors", "--progress")
    assert "imported 11 contributors, 13 stories" in result.output
    total = sum(bundle.counts().values())
    assert f"all.jsonl: {total} records (100%)" in result.output  # CliRunner mixes stderr in
    with open_ledger(f"sqlite:///{tmp_path / 'coprolib.db'}", key="") as ledger:
        s = ledger.get(Story, "s-100")
        assert s is not None and s.text == 'Quince said, "the bus never came".'
        assert s.themes == ("transport", "isolation")


@pytest.mark.parametrize(
    ("csv_text", "message"),
    [
        ("id,text\ns-1,x\n", "line 1: missing column(s) contributor_ids, source, collected_on"),
        (
            "id,contributor_ids,text,source,collected_on\ns-1,p-1,x,podcast,2025-01-01\n",
            "line 2 column source: 'podcast' is not a story source",
        ),
        (
            "id,contributor_ids,text,source,collected_on\ns-1,p-1,x,survey,01/02/2025\n",
            "line 2 column collected_on",
        ),
        (
            "id,contributor_ids,text,source,collected_on\ns-1,p-404,x,survey,2025-01-02\n",
            "story 's-1' field contributor_ids[0]: refers to contributor 'p-404'",
        ),
    ],
)
def test_bad_csv_names_line_and_column_and_imports_nothing(
    run, tmp_path, csv_text, message
) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "bad.csv").write_text(csv_text)
    result = run("import", str(EXAMPLE_BUNDLE), "bad.csv", code=2)
    assert message in result.output
    assert not (tmp_path / "coprolib.db").exists()  # the ledger it would have made is gone
    run("import", str(EXAMPLE_BUNDLE))
    result = run("import", "bad.csv", code=2)
    stories = json.loads(run("export").output)["stories"]
    assert stories == json.loads(EXAMPLE_BUNDLE.read_text())["stories"]  # nothing added


def test_csv_problems_are_all_listed_by_import_and_validate(run, tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text(
        "id,contributor_ids,text,source,collected_on,disclosure\n"
        "s-1,p-amber,x,podcast,2025-01-01,no\n"
        "s-2,p-amber,y,survey,01/02/2025,maybe\n"
        "s-3,p-amber,z,survey,2025-01-03,no\n"
        "s-3,p-amber,z,survey,2025-01-03,no\n"
    )
    expected = [
        "bad.csv line 2 column source: 'podcast' is not a story source (one of: interview,",
        "bad.csv line 3 column disclosure: 'maybe' is not yes or no",
        "bad.csv line 3 column collected_on: '01/02/2025' is not a date (use YYYY-MM-DD)",
        "bad.csv line 5 column id: 's-3' is already the id of the story on line 4",
    ]
    out = run("import", str(EXAMPLE_BUNDLE), "bad.csv", code=2).output
    assert "4 problems:" in out and all(e in out for e in expected), out
    out = run("validate", "bad.csv", str(EXAMPLE_BUNDLE), code=1).output
    assert all(e in out for e in expected) and "not valid JSON" not in out
    assert f"{EXAMPLE_BUNDLE}: ok" in out
    data = json.loads(run("validate", "--json", "bad.csv", code=1).output)
    assert data[0]["file"] == "bad.csv" and len(data[0]["problems"]) == 4
    (tmp_path / "good.csv").write_text(
        "id,contributor_ids,text,source,collected_on\ns-9,p-amber,words,survey,2025-01-01\n"
    )
    assert json.loads(run("validate", "--json", "good.csv").output)[0]["ok"] is True


def test_erase_command(run, tmp_path: Path) -> None:
    run("import", str(EXAMPLE_BUNDLE))
    run("erase", "--contributor", "p-amber", input="n\n", code=1)
    out = run("erase", "--contributor", "p-amber", "--yes").output
    assert "withdrew 1 consent(s): c-01" in out
    assert "scrubbed 1 contributors, 2 stories" in out
    assert "audit chain verified" in run("audit", "verify").output
    again = run("erase", "--contributor", "p-amber", "--yes").output
    assert "withdrew 0 consent(s)" in again and "scrubbed 0 contributors, 0 stories" in again
    run("erase", "--contributor", "p-nobody", "--yes", code=2)


def test_init_generate_key_then_rekey(run, tmp_path: Path) -> None:
    out = run("init", "--generate-key", "--ledger", "sqlite:///enc.db").output
    key = next(x.split("=", 1)[1] for x in out.split() if x.startswith("COPROLIB_KEY="))
    assert "secrets store" in out and "(encrypted, key id" in out
    run("import", "--ledger", "sqlite:///enc.db", str(EXAMPLE_BUNDLE), code=2)
    env = {"COPROLIB_KEY": key}
    run("import", "--ledger", "sqlite:///enc.db", str(EXAMPLE_BUNDLE), env=env)
    out = run("rekey", "--ledger", "sqlite:///enc.db", "--generate", env=env).output
    new = next(x.split("=", 1)[1] for x in out.split() if x.startswith("COPROLIB_KEY="))
    new_id = KeyRing.from_text(new).current_id  # type: ignore[union-attr]
    assert f"with key id {new_id}" in out
    run("export", "--ledger", "sqlite:///enc.db", env=env, code=2)  # old key alone: refused
    exported = json.loads(
        run("export", "--ledger", "sqlite:///enc.db", env={"COPROLIB_KEY": new}).output
    )
    example = json.loads(EXAMPLE_BUNDLE.read_text())
    # An involvement leaves the ledger only when the person agreed to it.
    agreed = [i for i in example["involvements"] if i["agreed_to_share"]]
    assert 0 < len(agreed) < len(example["involvements"])
    assert exported == {**example, "involvements": agreed}


def test_migrate_command(run, tmp_path: Path) -> None:
    from coprolib.ledger import migrate
    from coprolib.ledger.opening import connect

    assert "there is no ledger at" in run("migrate", "--ledger", "sqlite:///m.db", code=2).output
    assert not (tmp_path / "m.db").exists()
    db = connect("sqlite:///m.db")
    migrate(db, MIGRATIONS[:1])
    db.close()
    rest = ", ".join(str(m.version) for m in MIGRATIONS[1:])
    assert f"applied migration(s) {rest}" in run("migrate", "--ledger", "sqlite:///m.db").output
    again = run("migrate", "--ledger", "sqlite:///m.db").output
    assert f"already at schema version {SCHEMA_VERSION}" in again


@pytest.mark.postgres
def test_commands_use_a_postgresql_ledger(run, tmp_path: Path) -> None:
    ledger_target = make_target("postgres", tmp_path)
    try:
        _postgres_commands(run, ledger_target)
    finally:
        drop_target(ledger_target)


def _postgres_commands(run, ledger_target) -> None:  # type: ignore[no-untyped-def]
    with ledger_target.open() as ledger:
        ledger.add([contributor("p-1"), story("s-1")])
    url = f"{ledger_target.url}?options=-csearch_path%3D{ledger_target.schema}"
    assert "imported 10 contributors" in run("import", "--ledger", url, str(EXAMPLE_BUNDLE)).output
    assert "audit chain verified" in run("audit", "verify", "--ledger", url).output
    ledger_target.raw("UPDATE jobs SET attempts = 1")  # no rows: still fine
    ledger_target.raw("DELETE FROM records WHERE id = 's-01'")
    assert "story:s-01" in run("audit", "verify", "--ledger", url, code=1).output


def test_init_never_writes_a_password_into_the_config(run, tmp_path: Path) -> None:
    from coprolib.cli.ledger_commands import without_password

    assert without_password("postgresql://app:s3cret@db:5432/x") == (
        "postgresql://app@db:5432/x",
        True,
    )
    assert without_password("sqlite:///a.db") == ("sqlite:///a.db", False)
    run("init", "--ledger", "sqlite:///plain.db")
    assert 'ledger = "sqlite:///plain.db"' in (tmp_path / "coprolib.toml").read_text()


def test_enum_errors_list_the_valid_values(run, tmp_path: Path) -> None:
    (tmp_path / "s.jsonl").write_text(
        '{"type": "story", "id": "s-1", "contributor_ids": ["p-1"], "text": "x", '
        '"source": "survey", "collected_on": "2025-01-01", "abuse_types": ["nasty"]}\n'
        "not json\n"
        '{"type": "contributor", "id": "p-1", "feedback_channel": "pigeon"}\n'
    )
    out = run("validate", "s.jsonl", code=1).output
    # Every line's problems, not only the first line's.
    assert "line 1.abuse_types[0]: 'nasty' is not an abuse type (one of: physical," in out
    assert "line 2: not valid JSON" in out
    assert "line 3.feedback_channel: 'pigeon' is not a feedback channel (one of: email," in out
    out = run("import", "s.jsonl", code=2).output
    assert "3 problem(s)" in out and not (tmp_path / "coprolib.db").exists()
