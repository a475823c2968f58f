"""The ``coprolib`` command line: a thin layer over the documented Python API.

Commands come from plugins through the ``register_commands(cli)`` hook, the built-in ones
included (see :mod:`coprolib.cli.core_commands`).

Every command ends with one of three exit codes (docs/cli.md): ``0`` done and nothing wrong,
``1`` it ran and found problems, ``2`` it could not run as asked (usage, configuration, an
unusable ledger or file, a refused request). Commands do not translate errors themselves:
:class:`CoprolibGroup` turns every :class:`~coprolib.errors.CoprolibError` (and the few
standard errors reading a file can raise) into one line on stderr and its exit code.
"""

from __future__ import annotations

import csv
import json
import sys
import tomllib
from typing import Any

import click

from coprolib.adapters.secrets import protect_logging
from coprolib.errors import EXIT_PROBLEMS, EXIT_USAGE, CoprolibError
from coprolib.plugins import collect_commands

__all__ = ["CoprolibGroup", "build_cli", "cli", "error_line", "main"]


class _Usage(click.ClickException):
    """A command stopped by an expected error: printed as ``Error: <one line>``, exit 2."""

    exit_code = EXIT_USAGE


class _Problems(click.ClickException):
    """A command stopped by an error that reports problems found: exit 1."""

    exit_code = EXIT_PROBLEMS


def _failed(message: str, code: int) -> click.ClickException:
    line = "; ".join(part.strip() for part in message.splitlines() if part.strip())
    return (_Problems if code == EXIT_PROBLEMS else _Usage)(line)


def error_line(exc: BaseException) -> str | None:
    """The message ``coprolib`` prints for an expected error, or None for an unexpected one
    (a bug, which keeps its traceback)."""
    if isinstance(exc, CoprolibError):
        return str(exc) or type(exc).__name__
    if isinstance(exc, UnicodeDecodeError):
        return f"the input is not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8"
    if isinstance(exc, tomllib.TOMLDecodeError):
        return f"not valid TOML: {exc}"
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON: {exc}"
    if isinstance(exc, csv.Error):
        return f"not valid CSV: {exc}"
    if isinstance(exc, RecursionError):
        return "the input is nested too deeply to read"
    if isinstance(exc, OSError):
        name = exc.filename if exc.filename is not None else ""
        what = exc.strerror or type(exc).__name__
        return f"{name}: {what}" if name else what
    return None


class CoprolibGroup(click.Group):
    """The top-level group: maps expected errors to one line and an exit code, in one place."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.Abort):
            raise
        except click.ClickException as exc:
            # A command refused its input (``raise click.ClickException``): a usage error.
            if type(exc) is click.ClickException:
                raise _failed(exc.format_message(), EXIT_USAGE) from None
            raise
        except Exception as exc:
            line = error_line(exc)
            if line is None:
                raise
            code = exc.exit_code if isinstance(exc, CoprolibError) else EXIT_USAGE
            raise _failed(line, code) from None


@click.group(cls=CoprolibGroup)
@click.version_option(package_name="coprolib", prog_name="coprolib")
def cli() -> None:
    """coprolib: lived experience to prevention change, with consent enforced.

    Exit codes: 0 done, nothing wrong; 1 problems found; 2 usage or configuration error.
    """


def build_cli() -> click.Group:
    """The ``coprolib`` group with every plugin's commands added."""
    collect_commands(cli)
    return cli


def main() -> None:
    """Console-script entry point."""
    # The command line is the host program: it may mask secrets in the HTTP libraries' logs.
    protect_logging()
    try:
        build_cli()
    except Exception as exc:
        click.echo(f"coprolib: {error_line(exc) or exc}", err=True)
        sys.exit(EXIT_USAGE)
    cli(prog_name="coprolib")
