"""Ledger commands: init, import, export, audit verify, erase, migrate, rekey.

Each is a thin layer over :mod:`coprolib.ledger`. Every command takes ``--ledger URL``; without
it the ledger comes from ``$COPROLIB_LEDGER``, then ``coprolib.toml``, then
``sqlite:///coprolib.db`` (:func:`coprolib.ledger.resolve_ledger_url`).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from coprolib.hookspecs import hookimpl

F = TypeVar("F", bound=Callable[..., Any])

STARTER_CONFIG = """\
# coprolib configuration.
# Secrets never go in this file: adapters read them from environment variables you name here.

# The ledger: sqlite:///path.db (one file; the default) or postgresql://user@host:5432/db
# (pip install 'coprolib[postgres]'). --ledger or $COPROLIB_LEDGER override this.
# Protected fields are encrypted with the key in $COPROLIB_KEY, which is never written here.
ledger = {ledger}

# Destinations: where insights and feedback go, and what each may receive.
# Uncomment and adapt; see the consent documentation for every setting.
#
# [destinations.local-files]
# adapter = "file"
# audience = "internal"
# purposes = ["service_improvement", "training"]
# max_identity = "anonymous"
# quotes = false
# min_contributors = 1
#
# [destinations.local-files.settings]
# directory = "out/shares"
"""

KEY_ADVICE = """\
A new ledger key was generated (key id {kid}). It is shown only this once:

    COPROLIB_KEY={key}

Keep it in your organisation's secrets store or password manager: not in coprolib.toml, not in
version control, and not in the same backup as the ledger. Set COPROLIB_KEY to it whenever you
run coprolib. Without it nobody, including you, can read the protected fields again."""


def ledger_option(f: F) -> F:
    """The ``--ledger URL`` option every ledger command takes."""
    return click.option(
        "--ledger",
        "ledger_url",
        metavar="URL",
        default=None,
        help="sqlite:///path.db or postgresql://...; default $COPROLIB_LEDGER, coprolib.toml, "
        "sqlite:///coprolib.db.",
    )(f)


@contextmanager
def opened(ledger_url: str | None, **kwargs: Any) -> Iterator[Any]:
    """Open the resolved ledger for a command; ledger errors end the command clearly."""
    from coprolib.ledger import LedgerError, open_ledger, resolve_ledger_url

    try:
        url = resolve_ledger_url(ledger_url)
        with open_ledger(url, actor=kwargs.pop("actor", "cli"), **kwargs) as ledger:
            yield ledger
    except LedgerError as exc:
        raise click.ClickException(str(exc)) from None


def _toml_string(value: str) -> str:
    return json.dumps(value)


def without_password(url: str) -> tuple[str, bool]:
    """The URL with any password removed (it never goes in coprolib.toml), and whether one
    was there."""
    import re

    stripped = re.sub(r"://([^:/@]+):[^@]*@", r"://\1@", url)
    return stripped, stripped != url


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add the ledger commands."""

    @cli.command(name="init")
    @ledger_option
    @click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=Path("coprolib.toml"),
        show_default=True,
        help="Where to write the starter configuration.",
    )
    @click.option(
        "--generate-key",
        is_flag=True,
        help="Generate a key and encrypt the protected fields with it.",
    )
    @click.option("--force", is_flag=True, help="Overwrite an existing configuration file.")
    def init_command(
        ledger_url: str | None, config_path: Path, generate_key: bool, force: bool
    ) -> None:
        """Create a ledger and a commented starter coprolib.toml."""
        from coprolib.ledger import KEY_ENV, KeyRing
        from coprolib.ledger import generate_key as new_key

        if config_path.exists() and not force:
            raise click.ClickException(f"{config_path} exists; use --force to overwrite it")
        url = ledger_url or os.environ.get("COPROLIB_LEDGER") or "sqlite:///coprolib.db"
        key: str | None = None
        if generate_key:
            if os.environ.get(KEY_ENV):
                raise click.ClickException(
                    f"{KEY_ENV} is already set: the ledger will use it; leave out --generate-key"
                )
            key = new_key()
        with opened(url, key=key) as ledger:
            encrypted = ledger.encrypted
            where = ledger.url
        safe_url, had_password = without_password(url)
        config_path.write_text(
            STARTER_CONFIG.format(ledger=_toml_string(safe_url)), encoding="utf-8"
        )
        click.echo(f"ledger ready at {where} ({'encrypted' if encrypted else 'not encrypted'})")
        click.echo(f"wrote {config_path}")
        if had_password:
            click.echo(
                "the password in the ledger URL was left out of the file: give it "
                "through PGPASSWORD or ~/.pgpass",
                err=True,
            )
        if key is not None:
            ring = KeyRing.from_text(key)
            click.echo("")
            click.echo(KEY_ADVICE.format(kid=ring.current_id if ring else "?", key=key))
        elif not encrypted:
            click.echo(
                f"protected fields are stored unencrypted: run `coprolib init "
                f"--generate-key` for a new ledger, or set {KEY_ENV} and run "
                "`coprolib rekey`",
                err=True,
            )

    @cli.command(name="import")
    @ledger_option
    @click.argument(
        "files",
        nargs=-1,
        required=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
    )
    @click.option(
        "--create-contributors",
        is_flag=True,
        help="For CSV stories, create a bare contributor for each unknown id.",
    )
    @click.option(
        "--progress/--no-progress",
        default=None,
        help="Show progress (default: when stderr is a terminal).",
    )
    def import_command(
        ledger_url: str | None,
        files: tuple[Path, ...],
        create_contributors: bool,
        progress: bool | None,
    ) -> None:
        """Import bundle JSON, JSONL records or CSV stories, all or nothing."""
        from coprolib.ledger.importing import import_files

        show = sys.stderr.isatty() if progress is None else progress
        sizes = {f: f.stat().st_size for f in files}

        def report(path: Path, n: int, read: int | None) -> None:
            pct = f" ({100 * read // max(sizes[path], 1)}%)" if read else ""
            click.echo(f"\r{path.name}: {n} records{pct}", nl=False, err=True)

        with opened(ledger_url) as ledger:
            try:
                counts = import_files(
                    ledger,
                    files,
                    progress=report if show else None,
                    create_contributors=create_contributors,
                )
            finally:
                if show:
                    click.echo("", err=True)
        summary = ", ".join(f"{n} {key}" for key, n in counts.items() if n)
        click.echo(f"imported {summary or 'nothing'}")

    @cli.command(name="export")
    @ledger_option
    @click.option(
        "--type",
        "types",
        multiple=True,
        help="Only this record type (contributor, story, consent, insight, outcome, "
        "feedback, activity); repeatable.",
    )
    @click.option(
        "--format", "fmt", type=click.Choice(["json", "jsonl"]), default="json", show_default=True
    )
    @click.option(
        "--output",
        "-o",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write here instead of standard output.",
    )
    def export_command(
        ledger_url: str | None, types: tuple[str, ...], fmt: str, output: Path | None
    ) -> None:
        """Export records as a bundle (json) or one record a line (jsonl)."""
        from coprolib.bundle import Bundle, dumps_bundle, record_to_jsonl
        from coprolib.records import BUNDLE_TYPES, RECORD_NAMES

        by_name = {name: cls for cls, name in RECORD_NAMES.items()}
        unknown = [t for t in types if t not in by_name]
        if unknown:
            raise click.BadParameter(
                f"{', '.join(unknown)} (one of: {', '.join(by_name)})", param_hint="--type"
            )
        wanted = [by_name[t] for t in types] or None
        fh = output.open("w", encoding="utf-8") if output else sys.stdout
        try:
            with opened(ledger_url) as ledger:
                records = ledger.export_records(wanted)
                if fmt == "jsonl":
                    for r in records:
                        fh.write(record_to_jsonl(r) + "\n")
                else:
                    key_of = {cls: key for key, cls in BUNDLE_TYPES.items()}
                    sections: dict[str, list[Any]] = {key: [] for key in BUNDLE_TYPES}
                    for r in records:
                        sections[key_of[type(r)]].append(r)
                    bundle = Bundle(**{k: tuple(v) for k, v in sections.items()})
                    fh.write(dumps_bundle(bundle) + "\n")
        finally:
            if output:
                fh.close()

    @cli.group(name="audit")
    def audit_group() -> None:
        """The audit chain."""

    @audit_group.command(name="verify")
    @ledger_option
    def audit_verify_command(ledger_url: str | None) -> None:
        """Recompute the audit chain and check every row; exit 1 at the first failing entry."""
        with opened(ledger_url) as ledger:
            result = ledger.verify_audit()
        if result.ok:
            click.echo(f"audit chain verified: {result.checked} entries, every row matches")
            return
        click.echo(f"audit verification FAILED: {result.reason}", err=True)
        sys.exit(1)

    @cli.command(name="erase")
    @ledger_option
    @click.option(
        "--contributor",
        "contributor_id",
        required=True,
        metavar="ID",
        help="The contributor to erase.",
    )
    @click.option(
        "--config",
        "config_opt",
        metavar="PATH",
        default=None,
        help="coprolib.toml naming the destinations to retract from "
        "(default: $COPROLIB_CONFIG, ./coprolib.toml).",
    )
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    def erase_command(
        ledger_url: str | None, contributor_id: str, config_opt: str | None, yes: bool
    ) -> None:
        """Erase a contributor for good (right to erasure): withdraw their consents, queue the
        retraction of every share citing their stories (sent by `coprolib sync`), then scrub
        every record holding their data; ids stay as tombstones. Runs over
        coprolib.erase.erase_person."""
        from coprolib.config import ConfigError, load_config
        from coprolib.erase import erase_person
        from coprolib.ledger import LedgerError, resolve_ledger_url
        from coprolib.planner.withdrawal import WithdrawalError

        try:
            config = load_config(config_opt)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        if not yes:
            click.confirm(
                f"Erase contributor {contributor_id!r} for good? This cannot be undone", abort=True
            )
        try:
            url = resolve_ledger_url(ledger_url, config.path)
        except LedgerError as exc:
            raise click.ClickException(str(exc)) from None
        with opened(url) as ledger:
            try:
                report = erase_person(ledger, contributor_id, config)
            except (ConfigError, WithdrawalError) as exc:
                raise click.ClickException(str(exc)) from None
        click.echo("\n".join(report.lines()))

    @cli.command(name="migrate")
    @ledger_option
    def migrate_command(ledger_url: str | None) -> None:
        """Bring the ledger's schema up to this coprolib's version."""
        from coprolib.ledger import SCHEMA_VERSION, LedgerError, migrate, resolve_ledger_url
        from coprolib.ledger.opening import connect

        try:
            db = connect(resolve_ledger_url(ledger_url))
            try:
                applied = migrate(db)
            finally:
                db.close()
        except LedgerError as exc:
            raise click.ClickException(str(exc)) from None
        if applied:
            click.echo(
                f"applied migration(s) {', '.join(map(str, applied))}; "
                f"schema version {SCHEMA_VERSION}"
            )
        else:
            click.echo(f"already at schema version {SCHEMA_VERSION}")

    @cli.command(name="rekey")
    @ledger_option
    @click.option(
        "--generate",
        is_flag=True,
        help="Generate a new key and print it; the old one comes from COPROLIB_KEY.",
    )
    def rekey_command(ledger_url: str | None, generate: bool) -> None:
        """Re-encrypt every protected field with a new key (or encrypt a plain ledger).

        Without --generate, COPROLIB_KEY lists the new key first, then the old one:
        COPROLIB_KEY=NEW,OLD."""
        from coprolib.ledger import KEY_ENV, KeyRing, LedgerError, generate_key

        current = os.environ.get(KEY_ENV, "")
        new_text = generate_key() if generate else None
        try:
            ring = KeyRing.from_text(",".join(p for p in (new_text, current) if p))
        except LedgerError as exc:
            raise click.ClickException(str(exc)) from None
        if ring is None:
            raise click.ClickException(f"set {KEY_ENV} (new key first) or use --generate")
        with opened(ledger_url, key=ring) as ledger:
            count = ledger.rekey(ring)
        click.echo(f"re-encrypted {count} rows with key id {ring.current_id}")
        if new_text is not None:
            click.echo("")
            click.echo(
                KEY_ADVICE.replace(
                    "A new ledger key was generated", "The ledger now uses a new key"
                ).format(kid=ring.current_id, key=new_text)
            )
