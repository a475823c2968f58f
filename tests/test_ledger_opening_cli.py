"""Opening a ledger from the command line: one resolver for every command, a missing ledger
refused (never silently created), relative paths read against the config's folder, a dry run
that writes nothing, and `init` encrypting by default."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from coprolib.cli import build_cli
from coprolib.ledger import open_ledger
from tests.conftest import EXAMPLE_BUNDLE


def _config(directory: Path, ledger: str | None = None) -> str:
    head = f'ledger = "{ledger}"\n\n' if ledger else ""
    return head + (
        "[destinations.board-pack]\n"
        'adapter = "file"\n'
        'audience = "board"\n'
        'purposes = ["board_reporting", "service_improvement"]\n'
        'max_identity = "pseudonymous"\n'
        "min_contributors = 2\n\n"
        "[destinations.board-pack.settings]\n"
        f'directory = "{directory}"\n'
    )


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    for name in ("COPROLIB_LEDGER", "COPROLIB_CONFIG", "COPROLIB_KEY"):
        monkeypatch.delenv(name, raising=False)
    cli = build_cli()

    def invoke(*args: str, code: int = 0, env: dict[str, str] | None = None) -> Any:
        result = CliRunner().invoke(cli, list(args), env=env)
        assert result.exit_code == code, (args, result.output, result.exception)
        return result

    return invoke


def _files(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_audit_verify_of_a_typo_exits_non_zero_and_creates_no_file(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = run("audit", "verify", "--ledger", "sqlite:///typo.db", code=2).output
    assert f"there is no ledger at {tmp_path.resolve() / 'typo.db'} (from --ledger)" in out
    assert "verified" not in out
    assert _files(tmp_path) == {}


READERS = [
    ("audit", "verify"),
    ("audit", "verify", "--json"),
    ("export",),
    ("erase", "--contributor", "p-amber", "--yes"),
    ("migrate",),
    ("rekey", "--generate"),
    ("plan",),
    ("plan", "--dry-run"),
    ("sync",),
    ("outbox", "status"),
    ("impact",),
    ("report", "--html", "report.html"),
    ("outcome", "show", "o-01"),
    ("outcome", "update", "o-01", "--status", "implemented"),
    ("feedback", "due"),
    ("feedback", "done", "fb-1", "--note", "told them"),
    ("withdraw", "--contributor", "p-amber"),
    ("consent", "show", "c-01"),
    ("consent", "receipt", "c-01"),
    ("consent", "approve", "c-02", "--insight", "i-02"),
    ("consent", "override", "c-11", "--reason", "r", "--approver", "a"),
    ("consent", "renew", "c-01"),
]


@pytest.mark.parametrize("args", READERS, ids=" ".join)
def test_every_other_command_refuses_a_missing_ledger(run, tmp_path: Path, args) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "coprolib.toml").write_text(_config(tmp_path / "out", "sqlite:///council.db"))
    before = _files(tmp_path)
    out = run(*args, code=2).output
    where = tmp_path.resolve() / "council.db"
    assert f"there is no ledger at {where} (from 'ledger' in " in out, out
    assert _files(tmp_path) == before
    # The variable is named when it is where the path came from.
    out = run(*args, code=2, env={"COPROLIB_LEDGER": "sqlite:///typo.db"}).output
    assert "typo.db (from $COPROLIB_LEDGER)" in out
    assert _files(tmp_path) == before


def test_every_command_has_the_same_ledger_and_config_options() -> None:
    import click

    cli = build_cli()
    seen: dict[str, set[tuple[str | None, str | None]]] = {"--ledger": set(), "--config": set()}
    commands = 0

    def walk(group: click.Group, ctx: click.Context) -> None:
        nonlocal commands
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                walk(command, ctx)
                continue
            options = {o.opts[0]: o for o in command.params if isinstance(o, click.Option)}
            if "--ledger" not in options:
                continue
            commands += 1
            assert "--config" in options, f"{name} takes --ledger but not --config"
            for flag in seen:
                option = options[flag]
                if name == "init" and flag == "--config":
                    continue  # init writes the configuration it names
                seen[flag].add((option.metavar, option.help))

    walk(cli, click.Context(cli))
    assert commands >= 20
    assert len(seen["--ledger"]) == 1 and len(seen["--config"]) == 1, seen


def test_relative_sqlite_path_in_a_config_is_read_against_its_folder(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    conf = tmp_path / "etc" / "coprolib"
    conf.mkdir(parents=True)
    (conf / "coprolib.toml").write_text(_config(tmp_path / "out", "sqlite:///council.db"))
    elsewhere = tmp_path / "cron"
    elsewhere.mkdir()
    env = {"COPROLIB_CONFIG": str(conf / "coprolib.toml")}
    run("import", str(EXAMPLE_BUNDLE), env=env)
    assert (conf / "council.db").is_file() and not (tmp_path / "council.db").exists()
    # A job started in another folder finds the same ledger, by variable or by --config.
    import os

    os.chdir(elsewhere)
    assert "verified" in run("audit", "verify", env=env).output
    out = json.loads(
        run("audit", "verify", "--json", "--config", str(conf / "coprolib.toml")).output
    )
    assert out["ok"] and out["ledger"] == f"sqlite:///{conf.resolve() / 'council.db'}"
    assert not list(elsewhere.iterdir())


def test_sync_honours_the_ledger_variable(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    site = tmp_path / "site"
    site.mkdir()
    (tmp_path / "coprolib.toml").write_text(_config(tmp_path / "board-pack"))  # no ledger key
    env = {"COPROLIB_LEDGER": f"sqlite:///{site / 'council.db'}"}
    run("import", str(EXAMPLE_BUNDLE), env=env)
    run("plan", env=env)
    out = run("sync", env=env).output
    assert "delivered" in out or "sent" in out, out
    assert list((tmp_path / "board-pack").iterdir())
    assert not (tmp_path / "coprolib.db").exists()
    status = run("outbox", "status", env=env).output
    assert "board-pack" in status


def test_plan_dry_run_writes_nothing(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "coprolib.toml").write_text(_config(tmp_path / "out", "sqlite:///council.db"))
    run("import", str(EXAMPLE_BUNDLE))
    before = _files(tmp_path)
    out = run("plan", "--dry-run").output
    assert "to deliver" in out and "dry run: nothing recorded" in out
    run("plan", "--dry-run", "--json")
    assert _files(tmp_path) == before
    run("plan")
    assert _files(tmp_path) != before  # the same plan, recorded, does write


def test_init_in_an_empty_folder_makes_an_encrypted_ledger(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = run("init").output
    key = next(x.split("=", 1)[1] for x in out.split() if x.startswith("COPROLIB_KEY="))
    assert "(encrypted, key id" in out and "secrets store" in out
    assert key not in (tmp_path / "coprolib.toml").read_text()
    run("import", str(EXAMPLE_BUNDLE), code=2)  # without the key it cannot write
    run("import", str(EXAMPLE_BUNDLE), env={"COPROLIB_KEY": key})
    raw = (tmp_path / "coprolib.db").read_bytes()
    for suffix in ("-wal",):
        wal = tmp_path / f"coprolib.db{suffix}"
        if wal.exists():
            raw += wal.read_bytes()
    assert b"amber.fictional@example.org" not in raw and b"eleven years" not in raw
    with open_ledger("sqlite:///coprolib.db", key=key) as ledger:
        assert ledger.encrypted


def test_init_key_file_is_owner_only_and_never_printed(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key_file = tmp_path / "secrets" / "council.key"
    out = run("init", "--ledger", "sqlite:///council.db", "--key-file", str(key_file)).output
    key = key_file.read_text().strip()
    assert key and key not in out and f"$(cat {key_file})" in out
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    run("import", str(EXAMPLE_BUNDLE), env={"COPROLIB_KEY": key})
    # A second init never overwrites the key (that would lock the ledger for good).
    (tmp_path / "coprolib.toml").unlink()
    out = run("init", "--ledger", "sqlite:///other.db", "--key-file", str(key_file), code=2)
    assert "never overwritten" in out.output and key_file.read_text().strip() == key


def test_init_no_encryption_says_so_loudly(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run("init", "--no-encryption", "--json")
    assert "WARNING" in result.output and "UNENCRYPTED" in result.output
    with open_ledger("sqlite:///coprolib.db", key="") as ledger:
        assert not ledger.encrypted


#: Commands without --json, and why: their output is a file or a stream already, or another
#: part of the project adds it (sync and outbox with the delivery work, withdraw with narrowing).
NO_JSON = {
    "demo",  # writes a folder; prints a walk-through
    "export",  # prints JSON or JSONL already
    "schema",  # prints JSON Schema
    "redact",  # a text filter; --jsonl for records
    "rekey",  # prints a key once
    "serve",  # runs the HTTP API; --openapi prints its JSON document
    "sync",
    "outbox",
    "withdraw",
}


def test_every_command_that_prints_results_has_json() -> None:
    import click

    cli = build_cli()
    missing = []

    def walk(group: click.Group, prefix: str) -> None:
        for name, command in group.commands.items():
            full = f"{prefix}{name}"
            if isinstance(command, click.Group):
                walk(command, f"{full} ")
                continue
            flags = {o for p in command.params if isinstance(p, click.Option) for o in p.opts}
            if "--json" not in flags and full not in NO_JSON:
                missing.append(full)

    walk(cli, "")
    assert missing == []


def test_migrate_and_feedback_done_print_json(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("import", str(EXAMPLE_BUNDLE))
    out = json.loads(run("migrate", "--json").output)
    assert out["applied"] == [] and out["schema_version"] >= 1
    owed = json.loads(run("feedback", "due", "--json").output)
    done = json.loads(
        run("feedback", "done", owed[0]["id"], "--note", "Told by phone", "--json").output
    )
    assert done["id"] == owed[0]["id"] and done["status"] == "done"


def test_init_never_puts_a_new_key_on_an_encrypted_ledger(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("init")
    (tmp_path / "coprolib.toml").unlink()
    out = run("init", code=2).output
    assert "is already encrypted (key id" in out and "COPROLIB_KEY=" not in out


def test_init_writing_a_config_elsewhere_points_it_at_the_ledger_it_made(
    run, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "etc").mkdir()
    run("init", "--no-encryption", "--config", "etc/coprolib.toml", "--ledger", "sqlite:///l.db")
    assert (tmp_path / "l.db").is_file()
    out = json.loads(run("audit", "verify", "--json", "--config", "etc/coprolib.toml").output)
    assert out["ok"] and out["ledger"] == f"sqlite:///{tmp_path.resolve() / 'l.db'}"
