"""Built-in ``coprolib sync`` and ``coprolib outbox`` commands: thin layers over
:func:`coprolib.delivery.sync` and the outbox functions beside it."""

from __future__ import annotations

import sys
from typing import Any

import click

from coprolib.cli_session import CONFIG_HELP, LEDGER_HELP, open_session
from coprolib.hookspecs import hookimpl


def _open(ledger_url: str | None, config_path: str | None) -> tuple[Any, Any]:
    return open_session(ledger_url, config_path)


_LEDGER = click.option("--ledger", "ledger_url", metavar="URL", help=LEDGER_HELP)
_CONFIG = click.option(
    "--config", "config_path", metavar="PATH", type=click.Path(dir_okay=False), help=CONFIG_HELP
)


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add ``sync`` and ``outbox``."""

    @cli.command(name="sync")
    @click.option("--destination", "-d", help="Only this destination.")
    @click.option("--dry-run", is_flag=True, help="Show what would be sent; change nothing.")
    @click.option(
        "--max-wait",
        type=float,
        default=0.0,
        show_default=True,
        help="Keep retrying within this many seconds before stopping.",
    )
    @click.option("--lease-seconds", type=int, default=300, show_default=True, hidden=True)
    @click.option("--claim-size", type=int, default=500, show_default=True, hidden=True)
    @_LEDGER
    @_CONFIG
    def sync_command(
        destination: str | None,
        dry_run: bool,
        max_wait: float,
        lease_seconds: int,
        claim_size: int,
        ledger_url: str | None,
        config_path: str | None,
    ) -> None:
        """Send due outbox jobs to their destinations, re-checking consent first.

        Exits 1 when anything was dead-lettered or a destination had to stop.
        """
        from coprolib.delivery import count_due, sync

        ledger, config = _open(ledger_url, config_path)
        with ledger:
            if destination is not None:
                config.destination(destination)  # a clear error for an unknown name
            total = 0 if dry_run else count_due(ledger, destination)
            with click.progressbar(
                length=max(total, 1), label="sending", file=sys.stderr, show_pos=True
            ) as bar:
                summary = sync(
                    ledger,
                    config,
                    destination=destination,
                    dry_run=dry_run,
                    max_wait=max_wait,
                    lease_seconds=lease_seconds,
                    claim_size=claim_size,
                    progress=bar.update,
                )
        for line in summary.lines():
            click.echo(line)
        if not summary.ok:
            sys.exit(1)

    @cli.command(name="outbox")
    @click.argument("action", type=click.Choice(["status", "dead", "retry"]), default="status")
    @click.argument("job_id", type=int, required=False)
    @_LEDGER
    @_CONFIG
    def outbox_command(
        action: str, job_id: int | None, ledger_url: str | None, config_path: str | None
    ) -> None:
        """Show the outbox (status), list dead letters (dead), or retry a dead letter (retry ID)."""
        from coprolib.delivery import dead_letters, outbox_status, retry_dead

        ledger, _config = _open(ledger_url, config_path)
        with ledger:
            if action == "status":
                counts = outbox_status(ledger)
                if not counts:
                    click.echo("the outbox is empty")
                for dest, by_status in sorted(counts.items()):
                    parts = ", ".join(f"{n} {status}" for status, n in sorted(by_status.items()))
                    click.echo(f"{dest}: {parts}")
            elif action == "dead":
                dead = dead_letters(ledger)
                if not dead:
                    click.echo("no dead letters")
                for job in dead:
                    click.echo(
                        f"{job.id}  {job.kind} {job.share_id} -> {job.destination}  "
                        f"after {job.attempts} attempt(s): {job.last_error}"
                    )
            else:
                if job_id is None:
                    raise click.UsageError(
                        "outbox retry needs the job ID (see: coprolib outbox dead)"
                    )
                try:
                    job = retry_dead(ledger, job_id)
                except LookupError as exc:
                    raise click.ClickException(str(exc)) from None
                click.echo(f"job {job_id} queued again as job {job.id}")
