"""Every command, against broken ledgers, configurations and files: one line and a documented
exit code (0, 1 or 2), never a traceback, and a ledger left exactly as it was when the command
fails. The commands are found by walking the click group, so a new command is covered the day
it is added."""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coprolib.cli import build_cli
from coprolib.ledger import generate_key, open_ledger
from coprolib.testing.fault_server import refused_url

from .conftest import EXAMPLE_BUNDLE

#: Commands that only start something long-running, or write a whole demo: not fed garbage here.
SKIP = {"demo", "serve"}


def commands() -> list[tuple[tuple[str, ...], click.Command]]:
    """Every leaf command of ``coprolib``, with its path of names."""
    found: list[tuple[tuple[str, ...], click.Command]] = []

    def walk(group: click.Group, prefix: tuple[str, ...]) -> None:
        for name, command in sorted(group.commands.items()):
            if isinstance(command, click.Group):
                walk(command, (*prefix, name))
            elif name not in SKIP:
                found.append(((*prefix, name), command))

    walk(build_cli(), ())
    return found


def _value(param: click.Parameter, case: Case) -> str:
    kind = param.type
    if isinstance(kind, click.Choice):
        return str(kind.choices[0])
    if isinstance(kind, click.types.DateTime):
        return "2026-01-01"
    if isinstance(kind, click.types.IntParamType | click.types.FloatParamType):
        return "1"
    if isinstance(kind, click.Path | click.File):
        return str(case.file)
    return "x-1"


def arguments(command: click.Command, case: Case) -> list[str]:
    """Arguments that reach the command's body: every required value filled, and the ledger,
    configuration and input file of ``case`` wherever the command takes one."""
    args: list[str] = []
    for param in command.params:
        if isinstance(param, click.Argument):
            if param.required:
                args.append(_value(param, case))
            continue
        if not isinstance(param, click.Option) or param.is_flag:
            continue
        flag = param.opts[0]
        name = param.name or ""
        if "ledger" in name:
            args += [flag, case.ledger]
        elif "config" in name:
            args += [flag, str(case.config)]
        elif "bundle" in name:
            args += [flag, str(case.file)]
        elif name in ("output", "html_path"):
            args += [flag, str(case.out)]
        elif param.required:
            args += [flag, _value(param, case)]
    return args


class Case:
    """One broken set-up: a ledger URL, a configuration file and an input file."""

    def __init__(self, root: Path, ledger: str, config: Path, file: Path) -> None:
        self.root = root
        self.ledger = ledger
        self.config = config
        self.file = file
        self.out = root / "out" / "report.html"


def snapshot(ledger: str) -> Any:
    """What must not change: the rows of an SQLite ledger, or the bytes of a file that is not
    one (None for a ledger that is not a local file)."""
    if not ledger.startswith("sqlite:///"):
        return None
    path = Path(ledger[len("sqlite:///") :])
    if not path.is_file():
        return ("absent" if not path.exists() else "not a file", path.exists())
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return list(conn.iterdump())
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return path.read_bytes()


def run(args: list[str], case: Case, stdin: bytes | None = None) -> Result:
    env = {"COPROLIB_LEDGER": case.ledger, "COPROLIB_CONFIG": str(case.config)}
    return CliRunner().invoke(build_cli(), args, env=env, input=stdin or b"n\n")


def check(path: tuple[str, ...], command: click.Command, case: Case) -> None:
    args = [*path, *arguments(command, case)]
    stdin = case.file.read_bytes() if path == ("redact",) else None
    before = snapshot(case.ledger)
    result = run(args, case, stdin)
    shown = f"coprolib {' '.join(args)} -> {result.exit_code}\n{result.output}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        trace = "".join(traceback.format_exception(result.exception))
        raise AssertionError(f"traceback from {shown}\n{trace}")
    assert "Traceback" not in result.output, shown
    assert result.exit_code in (0, 1, 2), shown
    if result.exit_code != 0:
        assert snapshot(case.ledger) == before, f"the ledger changed: {shown}"
        lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
        assert len(lines) <= 1, shown


# --- the broken things -----------------------------------------------------------------------

NESTED_TOML = "a = " + "[" * 5000 + "]" * 5000 + "\n"
NESTED_JSON = "[" * 100_000 + "]" * 100_000
LONG_FIELD_CSV = (
    "id,contributor_ids,text,source,collected_on\n"
    f's-1,p-amber,"{"x" * 140_000}",workshop,2025-01-01\n'
)
LATIN1_CSV = (
    "id,contributor_ids,text,source,collected_on\ns-1,p-amber,Café Gwenllïan,workshop,2025-01-01\n"
)


def _good_config(root: Path, ledger: str) -> Path:
    path = root / "good.toml"
    path.write_text(
        f'ledger = "{ledger}"\n[destinations.board-pack]\nadapter = "file"\naudience = "board"\n'
        f'purposes = ["board_reporting"]\nsettings = {{ directory = "{root / "pack"}" }}\n',
        encoding="utf-8",
    )
    return path


def _good_ledger(root: Path, template: Path) -> str:
    path = root / "good.db"
    shutil.copy(template, path)
    return f"sqlite:///{path}"


BROKEN_LEDGERS: dict[str, Callable[[Path], str]] = {
    "garbage file": lambda root: _write(root / "garbage.db", os.urandom(4096)),
    "a folder": lambda root: f"sqlite:///{_mkdir(root / 'folder.db')}",
    "another app's database": lambda root: _other_sqlite(root / "other.db"),
    "in a missing folder": lambda root: f"sqlite:///{root / 'missing' / 'ledger.db'}",
    "unreachable PostgreSQL": lambda root: (
        f"postgresql://postgres@{refused_url().removeprefix('http://')}/test"
    ),
    "unknown scheme": lambda root: "mysql://127.0.0.1/ledger",
}

BROKEN_CONFIGS: dict[str, bytes] = {
    "deeply nested TOML": NESTED_TOML.encode(),
    "non-UTF-8 TOML": 'ledger = "sqlite:///caf\xe9.db"\n'.encode("latin-1"),
    "invalid TOML": b"[destinations.x\nadapter = \n",
    "unknown adapter": b'[destinations.x]\nadapter = "files"\naudience = "board"\n'
    b'purposes = ["board_reporting"]\n',
    "ledger is not a string": b"ledger = 3\n",
}

BROKEN_FILES: dict[str, tuple[str, bytes]] = {
    "deeply nested JSON": ("bundle.json", NESTED_JSON.encode()),
    "CSV field over 131,072 characters": ("stories.csv", LONG_FIELD_CSV.encode()),
    "non-UTF-8 CSV": ("stories.csv", LATIN1_CSV.encode("latin-1")),
    "binary JSON": ("bundle.json", b"\xff\xfe\x00{\x00"),
    "not JSON": ("bundle.json", b"{'stories': [}"),
}


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return f"sqlite:///{path}"


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def _other_sqlite(path: Path) -> str:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    conn.execute("INSERT INTO invoices (total) VALUES (12.5)")
    conn.commit()
    conn.close()
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A ledger holding the example bundle, copied for each case."""
    path = tmp_path_factory.mktemp("template") / "ledger.db"
    with open_ledger(f"sqlite:///{path}", key=None) as ledger:
        from coprolib.records.bundle import load_bundle

        ledger.import_bundle(load_bundle(EXAMPLE_BUNDLE))
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    yield path


def _cases(root: Path, template: Path) -> Iterator[tuple[str, Case]]:
    good_file = root / "northdale.json"
    shutil.copy(EXAMPLE_BUNDLE, good_file)
    for name, make in BROKEN_LEDGERS.items():
        sub = root / f"ledger-{len(name)}-{name.split()[0]}"
        sub.mkdir()
        ledger = make(sub)
        yield f"ledger: {name}", Case(sub, ledger, _good_config(sub, ledger), good_file)
    for name, data in BROKEN_CONFIGS.items():
        sub = root / f"config-{len(name)}-{name.split()[0]}"
        sub.mkdir()
        config = sub / "coprolib.toml"
        config.write_bytes(data)
        yield f"config: {name}", Case(sub, _good_ledger(sub, template), config, good_file)
    for name, (filename, data) in BROKEN_FILES.items():
        sub = root / f"file-{len(name)}-{name.split()[0]}"
        sub.mkdir()
        file = sub / filename
        file.write_bytes(data)
        ledger = _good_ledger(sub, template)
        yield f"file: {name}", Case(sub, ledger, _good_config(sub, ledger), file)


@pytest.mark.parametrize("path", [p for p, _ in commands()], ids=" ".join)
def test_every_command_survives_every_broken_input(
    path: tuple[str, ...], tmp_path: Path, template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COPROLIB_KEY", raising=False)
    command = dict(commands())[path]
    for _, case in _cases(tmp_path, template):
        check(path, command, case)


def test_an_encrypted_ledger_without_its_key_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    key = generate_key()
    url = f"sqlite:///{tmp_path / 'enc.db'}"
    with open_ledger(url, key=key) as ledger:
        from coprolib.records.bundle import load_bundle

        ledger.import_bundle(load_bundle(EXAMPLE_BUNDLE))
    case = Case(tmp_path, url, _good_config(tmp_path, url), EXAMPLE_BUNDLE)
    for path, command in commands():
        for bad_key in (None, "not-a-key", generate_key()):
            if bad_key is None:
                monkeypatch.delenv("COPROLIB_KEY", raising=False)
            else:
                monkeypatch.setenv("COPROLIB_KEY", bad_key)
            check(path, command, case)


FILE_COMMANDS = [
    (p, c)
    for p, c in commands()
    if any(isinstance(a.type, click.Path | click.File) for a in c.params) or p == ("redact",)
]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    which=st.sampled_from(FILE_COMMANDS),
    suffix=st.sampled_from([".json", ".csv", ".jsonl", ".toml"]),
    data=st.one_of(
        st.binary(max_size=300),
        st.text(max_size=300).map(lambda s: s.encode("utf-8", "surrogatepass")),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.text(max_size=10), inner, max_size=4)
            ),
            max_leaves=20,
        ).map(lambda v: __import__("json").dumps(v).encode()),
    ),
)
def test_generated_garbage_never_gives_a_traceback(
    which: tuple[tuple[str, ...], click.Command],
    suffix: str,
    data: bytes,
    tmp_path_factory: pytest.TempPathFactory,
    template: Path,
) -> None:
    root = tmp_path_factory.mktemp("garbage")
    file = root / f"input{suffix}"
    file.write_bytes(data)
    config = root / "coprolib.toml"
    config.write_bytes(data)
    ledger = _good_ledger(root, template)
    path, command = which
    cwd = os.getcwd()
    os.chdir(root)
    try:
        check(path, command, Case(root, ledger, config, file))
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize("command", [("sync",), ("outbox",), ("plan",)])
def test_sync_and_outbox_name_the_file_behind_a_config_or_ledger_error(
    command: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ledger = _write(tmp_path / "garbage.db", os.urandom(2048))
    config = tmp_path / "coprolib.toml"
    config.write_bytes('ledger = "sqlite:///caf\xe9.db"\n'.encode("latin-1"))
    bad_config = run([*command, "--config", str(config)], Case(tmp_path, ledger, config, config))
    assert bad_config.exit_code == 2
    [line] = bad_config.output.strip().splitlines()
    assert line.startswith("Error: ") and str(config) in line and "UTF-8" in line

    good = _good_config(tmp_path, ledger)
    bad_ledger = run([*command, "--config", str(good)], Case(tmp_path, ledger, good, good))
    assert bad_ledger.exit_code == 2
    [line] = bad_ledger.output.strip().splitlines()
    assert "garbage.db is not a coprolib ledger" in line
