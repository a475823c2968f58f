"""Built-in command ``coprolib journey ID``: a thin layer over :func:`coprolib.report.journey.journey`
(text, ``--json``, an HTML page with ``--html FILE``, in Easy Read with ``--easy-read``)."""

from __future__ import annotations

import json

import click

from coprolib.cli.consent_commands import _moment
from coprolib.cli.session import json_option, ledger_options, session
from coprolib.hookspecs import hookimpl

# Commands import what they run inside their bodies: every command module is loaded when
# `coprolib` starts, so an import here would be paid by every command, `--help` included.


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add ``coprolib journey``."""

    @cli.command(name="journey")
    @click.argument("contributor_id")
    @json_option
    @click.option(
        "--html",
        "html_path",
        metavar="FILE",
        type=click.Path(dir_okay=False),
        help="Also write the journey as an accessible HTML page to FILE.",
    )
    @click.option(
        "--easy-read", is_flag=True, help="Write the HTML page in Easy Read (with --html)."
    )
    @click.option(
        "--at", metavar="WHEN", help="As the records stood at this moment (default: now)."
    )
    @ledger_options
    def journey_command(
        contributor_id: str,
        as_json: bool,
        html_path: str | None,
        easy_read: bool,
        at: str | None,
        ledger_opt: str | None,
        config_opt: str | None,
    ) -> None:
        """What happened to one contributor's stories: shares, retractions, changes, feedback."""
        from coprolib.report.journey import journey, summary_lines, write_html

        if easy_read and html_path is None:
            raise click.UsageError("--easy-read needs --html FILE")
        with session(ledger_opt, config_opt) as (ledger, config):
            found = journey(ledger, contributor_id, config=config, moment=_moment(at))
        if html_path is not None:
            write_html(found, html_path, easy_read=easy_read, organisation=config.organisation)
        if as_json:
            click.echo(json.dumps(found.to_json(), indent=2, ensure_ascii=False))
        else:
            for line in summary_lines(found):
                click.echo(line)
            if html_path is not None:
                click.echo(f"wrote {html_path}")
