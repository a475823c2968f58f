"""Ledger commands: init, import, export, audit verify, erase, migrate, rekey.

Each is a thin layer over :mod:`coprolib.ledger`. Every command takes ``--ledger URL`` and
``--config PATH``; the ledger is located by :func:`coprolib.ledger.locate_ledger`. Only ``init``
and ``import`` create a ledger; the others refuse a missing one.
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

from coprolib.cli.session import json_option, ledger_options, session
from coprolib.cli.session import ledger_option as cli_ledger_option
from coprolib.hookspecs import hookimpl

# Commands import what they run inside their bodies: every command module is loaded when
# `coprolib` starts, so an import here would be paid by every command, `--help` included.

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

KEY_FILE_ADVICE = (
    "A new ledger key (key id {kid}) was written to {path}, readable by you only.\n"
    "Keep that file out of version control and out of the ledger's backups, and keep a copy in\n"
    "your organisation's secrets store. Before running coprolib, load it:\n\n"
    '    export COPROLIB_KEY="$(cat {path})"'
)


def ledger_option(f: F) -> F:
    """The ``--ledger URL`` option every command takes (kept for plugins that import it from
    here; see :mod:`coprolib.cli.session`)."""
    return cli_ledger_option(f)


@contextmanager
def opened(
    ledger_opt: str | None, config_opt: str | None = None, *, create: bool = False, **kwargs: Any
) -> Iterator[Any]:
    """Open the ledger a command names (see :func:`coprolib.cli.session.session`)."""
    with session(ledger_opt, config_opt, create=create, **kwargs) as (ledger, _config):
        yield ledger


def _toml_string(value: str) -> str:
    return json.dumps(value)


def without_password(url: str) -> tuple[str, bool]:
    """The URL with any password removed (it never goes in coprolib.toml), and whether one
    was there."""
    from coprolib.config import mask_url

    stripped = mask_url(url, mask=None)
    return stripped, stripped != url


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add the ledger commands."""

    @cli.command(name="init")
    @cli_ledger_option
    @click.option(
        "--config",
        "config_opt",
        metavar="PATH",
        type=click.Path(dir_okay=False, path_type=Path),
        default=Path("coprolib.toml"),
        show_default=True,
        help="Where to write the starter configuration.",
    )
    @click.option(
        "--no-encryption",
        is_flag=True,
        help="Store protected fields unencrypted (not recommended).",
    )
    @click.option(
        "--key-file",
        metavar="PATH",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write the new key to this file (readable by you only) instead of printing it.",
    )
    @click.option("--generate-key", is_flag=True, hidden=True)  # now the default; kept for scripts
    @click.option("--force", is_flag=True, help="Overwrite an existing configuration file.")
    @json_option
    def init_command(
        ledger_opt: str | None,
        config_opt: Path,
        no_encryption: bool,
        key_file: Path | None,
        generate_key: bool,
        force: bool,
        as_json: bool,
    ) -> None:
        """Create an encrypted ledger and a commented starter coprolib.toml.

        A new key is generated (unless $COPROLIB_KEY holds one) and shown once, or written to
        --key-file; keep it in your secrets store, never beside the ledger."""
        from coprolib.config import Config
        from coprolib.ledger import KEY_ENV, LedgerError, create_ledger, locate_ledger
        from coprolib.ledger.opening import sqlite_file

        if config_opt.exists() and not force:
            raise click.ClickException(f"{config_opt} exists; use --force to overwrite it")
        if no_encryption and key_file is not None:
            raise click.UsageError("--no-encryption cannot be used with --key-file")
        # The configuration is being written, not read: only --ledger or $COPROLIB_LEDGER count.
        url = locate_ledger(ledger_opt, Config()).url
        try:
            made = create_ledger(url, encrypt=not no_encryption, key_file=key_file, actor="cli")
        except (LedgerError, OSError) as exc:
            raise click.ClickException(str(exc)) from None
        written = url
        path = sqlite_file(url)
        if (
            path is not None
            and not path.is_absolute()
            and config_opt.resolve().parent != Path.cwd().resolve()
        ):
            # A relative path in a configuration file is read against the file's folder.
            written = f"sqlite:///{path.resolve()}"
        safe_url, dropped_password = without_password(written)
        config_opt.write_text(
            STARTER_CONFIG.format(ledger=_toml_string(safe_url)), encoding="utf-8"
        )
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "ledger": made.url,
                        "config": str(config_opt),
                        "encrypted": made.encrypted,
                        "key_id": made.key_id,
                        "key_source": made.key_source,
                        "key_file": str(key_file) if key_file else None,
                    },
                    indent=2,
                )
            )
        else:
            state = f"encrypted, key id {made.key_id}" if made.encrypted else "NOT encrypted"
            click.echo(f"ledger ready at {made.url} ({state})")
            click.echo(f"wrote {config_opt}")
        if dropped_password:
            click.echo(
                "the password in the ledger URL was left out of the file: give it "
                "through PGPASSWORD or ~/.pgpass",
                err=True,
            )
        if made.key_source == "generated" and made.key is not None:
            click.echo("", err=as_json)
            click.echo(KEY_ADVICE.format(kid=made.key_id, key=made.key), err=as_json)
        elif made.key_source == "file":
            click.echo(KEY_FILE_ADVICE.format(kid=made.key_id, path=key_file), err=as_json)
        elif made.key_source == "environment":
            click.echo(f"encrypted with the key in {KEY_ENV} (key id {made.key_id})", err=as_json)
        if not made.encrypted:
            click.echo(
                "WARNING: protected fields (names, contact details, stories' words) are stored "
                "UNENCRYPTED. Anyone who copies the ledger file can read them. To encrypt later, "
                f"set {KEY_ENV} and run `coprolib rekey`.",
                err=True,
            )

    @cli.command(name="import")
    @ledger_options
    @click.argument(
        "files",
        nargs=-1,
        required=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
    )
    @click.option(
        "--update",
        is_flag=True,
        help="Records whose id is already in the ledger are new versions of them (corrections); "
        "the changes they make to the next plan are listed.",
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
    @json_option
    def import_command(
        ledger_opt: str | None,
        config_opt: str | None,
        files: tuple[Path, ...],
        update: bool,
        create_contributors: bool,
        progress: bool | None,
        as_json: bool,
    ) -> None:
        """Import bundle JSON, JSONL records or CSV stories, all or nothing.

        With --update, a record whose id is already held replaces it (a consent gains the
        events it did not have); each is audited, and the shares the next `coprolib plan`
        would re-render or retract because of it are listed."""
        from coprolib.ledger import LedgerError
        from coprolib.ledger.importing import import_files, update_files

        show = sys.stderr.isatty() if progress is None else progress
        sizes = {f: f.stat().st_size for f in files}

        def report(path: Path, n: int, read: int | None) -> None:
            pct = f" ({100 * read // max(sizes[path], 1)}%)" if read else ""
            click.echo(f"\r{path.name}: {n} records{pct}", nl=False, err=True)

        from coprolib.cli.session import load, locate
        from coprolib.rights.changes import next_plan_effects

        new_file = locate(ledger_opt, load(config_opt)).sqlite_path
        if new_file is not None and new_file.exists():
            new_file = None
        try:
            effects = None
            with session(ledger_opt, config_opt, create=True) as (ledger, config):
                if update:
                    result = update_files(ledger, files, create_contributors=create_contributors)
                    counts = result.added
                    effects = next_plan_effects(
                        ledger, config, stories=result.stories, insights=result.insights
                    )
                else:
                    try:
                        counts = import_files(
                            ledger,
                            files,
                            progress=report if show else None,
                            create_contributors=create_contributors,
                        )
                    except LedgerError as exc:
                        if exc.field == "id" and "already used" in exc.reason:
                            raise click.ClickException(
                                f"{exc}; to import a corrected version of it, use "
                                "`coprolib import --update`"
                            ) from None
                        raise
                    finally:
                        if show:
                            click.echo("", err=True)
        except BaseException:
            # A ledger this import created is removed again: a failed import leaves nothing.
            if new_file is not None:
                for suffix in ("", "-wal", "-shm", "-journal"):
                    Path(f"{new_file}{suffix}").unlink(missing_ok=True)
            raise
        imported = {k: n for k, n in counts.items() if n}
        if as_json:
            data: dict[str, Any] = {"imported": imported}
            if update:
                data["updated"] = list(result.updated)
                data["unchanged"] = list(result.unchanged)
                data["next_plan"] = effects.to_json() if effects else None
            click.echo(json.dumps(data, indent=2))
            return
        summary = ", ".join(f"{n} {key}" for key, n in imported.items())
        click.echo(f"imported {summary or 'nothing'}")
        if not update:
            return
        click.echo(
            f"updated {len(result.updated)} record(s)"
            + (f": {', '.join(result.updated)}" if result.updated else "")
            + (f"; {len(result.unchanged)} already as given" if result.unchanged else "")
        )
        if effects is None or not config.insight_destinations():
            if result.updated:
                click.echo("no destinations configured: `coprolib plan` shows what this changes")
            return
        lines = effects.lines()
        if lines:
            click.echo("the next `coprolib plan` will:")
            for line in lines:
                click.echo(f"  {line}")
        elif result.updated:
            click.echo("the next `coprolib plan` shares nothing differently because of this")

    @cli.command(name="export")
    @ledger_options
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
        ledger_opt: str | None,
        config_opt: str | None,
        types: tuple[str, ...],
        fmt: str,
        output: Path | None,
    ) -> None:
        """Export records as a bundle (json) or one record a line (jsonl)."""
        from coprolib.records import BUNDLE_TYPES, RECORD_NAMES
        from coprolib.records.bundle import Bundle, dumps_bundle, record_to_jsonl

        by_name = {name: cls for cls, name in RECORD_NAMES.items()}
        unknown = [t for t in types if t not in by_name]
        if unknown:
            raise click.BadParameter(
                f"{', '.join(unknown)} (one of: {', '.join(by_name)})", param_hint="--type"
            )
        wanted = [by_name[t] for t in types] or None
        fh = output.open("w", encoding="utf-8") if output else sys.stdout
        try:
            with opened(ledger_opt, config_opt) as ledger:
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
    @ledger_options
    @json_option
    def audit_verify_command(ledger_opt: str | None, config_opt: str | None, as_json: bool) -> None:
        """Recompute the audit chain and check every row; exit 1 at the first failing entry."""
        with opened(ledger_opt, config_opt) as ledger:
            result = ledger.verify_audit()
            where = ledger.url
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "ledger": where,
                        "ok": result.ok,
                        "checked": result.checked,
                        "reason": None if result.ok else result.reason,
                    },
                    indent=2,
                )
            )
            if not result.ok:
                sys.exit(1)
            return
        if result.ok:
            click.echo(f"audit chain verified: {result.checked} entries, every row matches")
            return
        click.echo(f"audit verification FAILED: {result.reason}", err=True)
        sys.exit(1)

    @cli.command(name="erase")
    @ledger_options
    @click.option(
        "--contributor",
        "contributor_id",
        required=True,
        metavar="ID",
        help="The contributor to erase.",
    )
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    @json_option
    def erase_command(
        ledger_opt: str | None,
        config_opt: str | None,
        contributor_id: str,
        yes: bool,
        as_json: bool,
    ) -> None:
        """Erase a contributor for good (right to erasure): withdraw their consents, queue the
        retraction of every share citing their stories (sent by `coprolib sync`), then scrub
        every record holding their data; ids stay as tombstones. Runs over
        coprolib.rights.erasure.erase_person."""
        from coprolib.planner.withdrawal import WithdrawalError
        from coprolib.rights.erasure import erase_person

        if not yes:
            click.confirm(
                f"Erase contributor {contributor_id!r} for good? This cannot be undone", abort=True
            )
        with session(ledger_opt, config_opt) as (ledger, config):
            try:
                report = erase_person(ledger, contributor_id, config)
            except WithdrawalError as exc:
                raise click.ClickException(str(exc)) from None
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "contributor_id": contributor_id,
                        "withdrawn": list(report.withdrawn),
                        "retractions": [list(r) for r in report.retractions],
                        "unreachable": [list(r) for r in report.unreachable],
                        "scrubbed": report.scrubbed,
                    },
                    indent=2,
                )
            )
            return
        click.echo("\n".join(report.lines()))

    @cli.command(name="migrate")
    @ledger_options
    @json_option
    def migrate_command(ledger_opt: str | None, config_opt: str | None, as_json: bool) -> None:
        """Bring the ledger's schema up to this coprolib's version."""
        from coprolib.cli.session import failure, load, locate
        from coprolib.ledger import SCHEMA_VERSION, LedgerError, migrate, open_ledger
        from coprolib.ledger.opening import connect, require_ledger
        from coprolib.ledger.upgrades import STORY_NARROWING_VERSION, narrow_story_withdrawals

        location = locate(ledger_opt, load(config_opt))
        try:
            require_ledger(location.url, location)
            db = connect(location.url)
            try:
                applied = migrate(db, create=False)
            finally:
                db.close()
            if STORY_NARROWING_VERSION in applied:
                with open_ledger(location.url, create=False) as ledger:
                    narrow_story_withdrawals(ledger)
        except LedgerError as exc:
            raise failure(exc) from None
        if as_json:
            click.echo(json.dumps({"applied": applied, "schema_version": SCHEMA_VERSION}))
        elif applied:
            click.echo(
                f"applied migration(s) {', '.join(map(str, applied))}; "
                f"schema version {SCHEMA_VERSION}"
            )
        else:
            click.echo(f"already at schema version {SCHEMA_VERSION}")

    @cli.command(name="rekey")
    @ledger_options
    @click.option(
        "--generate",
        is_flag=True,
        help="Generate a new key and print it; the old one comes from COPROLIB_KEY.",
    )
    def rekey_command(ledger_opt: str | None, config_opt: str | None, generate: bool) -> None:
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
        with opened(ledger_opt, config_opt, key=ring) as ledger:
            count = ledger.rekey(ring)
        click.echo(f"re-encrypted {count} rows with key id {ring.current_id}")
        if new_text is not None:
            click.echo("")
            click.echo(
                KEY_ADVICE.replace(
                    "A new ledger key was generated", "The ledger now uses a new key"
                ).format(kid=ring.current_id, key=new_text)
            )
