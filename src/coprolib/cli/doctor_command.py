"""The ``coprolib doctor`` command: a thin layer over :func:`coprolib.cli.doctor.run_checks`."""

from __future__ import annotations

import json

import click

from coprolib.cli.session import CONFIG_HELP
from coprolib.hookspecs import hookimpl

_MARK = {"ok": "OK     ", "warning": "WARNING", "error": "PROBLEM"}


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add ``coprolib doctor``."""

    @cli.command(name="doctor")
    @click.option(
        "--config",
        "config_path",
        metavar="PATH",
        type=click.Path(dir_okay=False),
        default=None,
        help=CONFIG_HELP,
    )
    @click.option("--offline", is_flag=True, help="Do not contact the destinations.")
    @click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
    def doctor_command(config_path: str | None, offline: bool, as_json: bool) -> None:
        """Check the configuration and every destination; exit 1 if anything is wrong."""
        from coprolib.cli.doctor import run_checks

        findings = run_checks(config_path, remote=not offline)
        if as_json:
            click.echo(
                json.dumps(
                    [
                        {
                            "severity": str(f.severity),
                            "where": f.where,
                            "message": f.message,
                            "fix": f.fix,
                        }
                        for f in findings
                    ],
                    indent=2,
                )
            )
        else:
            for finding in findings:
                click.echo(f"{_MARK[str(finding.severity)]}  {finding.where}: {finding.message}")
                if finding.fix:
                    click.echo(f"         what to do: {finding.fix}")
            problems = sum(f.problem for f in findings)
            click.echo(
                f"{problems} problem(s) found" if problems else "no problems found",
                err=bool(problems),
            )
        if any(f.problem for f in findings):
            raise SystemExit(1)
