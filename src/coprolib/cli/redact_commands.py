"""The ``coprolib redact`` command: a thin layer over :func:`coprolib.redaction.redact`."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

import click

from coprolib.hookspecs import hookimpl

# Commands import what they run inside their bodies: every command module is loaded when
# `coprolib` starts, so an import here would be paid by every command, `--help` included.


def redact_jsonl(
    lines: TextIO, out: TextIO, err: TextIO, level: str, known_identifiers: tuple[str, ...] = ()
) -> int:
    """Redact ``{"id": ..., "text": ...}`` lines from ``lines`` to ``out``; return the number
    of bad lines (each reported on ``err`` with its line number, the others still processed).

    Each output line is ``{"id", "text", "spans": [{"start", "end", "label"}]}``; offsets count
    Unicode code points of the input text, as Python string indices do.
    """
    from coprolib.redaction import redact

    bad = 0
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            record: Any = json.loads(raw)
        except json.JSONDecodeError as exc:
            err.write(f"coprolib redact: line {number}: invalid JSON: {exc.msg}\n")
            bad += 1
            continue
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            err.write(f'coprolib redact: line {number}: expected an object with a "text" string\n')
            bad += 1
            continue
        result = redact(record["text"], level, known_identifiers)
        spans = [{"start": s.start, "end": s.end, "label": s.label} for s in result.spans]
        out.write(
            json.dumps(
                {"id": record.get("id"), "text": result.text, "spans": spans}, ensure_ascii=False
            )
            + "\n"
        )
    return bad


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add ``coprolib redact``."""

    @cli.command(name="redact")
    @click.option(
        "--level",
        type=click.Choice(["anonymous", "pseudonymous"]),
        default="anonymous",
        show_default=True,
        help="Typed placeholders ([PERSON]) or numbered ones ([PERSON 1]).",
    )
    @click.option("--jsonl", is_flag=True, help='Read and write one {"id", "text"} per line.')
    @click.option(
        "--known",
        "known",
        multiple=True,
        metavar="TEXT",
        help="A known identifier to remove as well (repeatable).",
    )
    def redact_command(level: str, jsonl: bool, known: tuple[str, ...]) -> None:
        """Remove identifiers from text on stdin and write the redacted text to stdout."""
        stdin, stdout = sys.stdin, sys.stdout
        if jsonl:
            bad = redact_jsonl(stdin, stdout, sys.stderr, level, known)
            if bad:
                sys.exit(1)
            return
        from coprolib.redaction import redact

        stdout.write(redact(stdin.read(), level, known).text)
