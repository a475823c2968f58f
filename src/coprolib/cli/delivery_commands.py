"""Built-in ``coprolib sync`` and ``coprolib outbox`` commands: thin layers over
:func:`coprolib.delivery.sync` and the outbox functions beside it."""

from __future__ import annotations

import contextlib
import json
import sys
import threading
from typing import Any

import click

from coprolib.cli.session import CONFIG_HELP, LEDGER_HELP, open_session
from coprolib.hookspecs import hookimpl

# Commands import what they run inside their bodies: every command module is loaded when
# `coprolib` starts, so an import here would be paid by every command, `--help` included.


def _open(ledger_url: str | None, config_path: str | None) -> tuple[Any, Any, Any]:
    """The ledger, the configuration and the ledger's location (more workers open it again)."""
    from coprolib.cli.session import locate

    ledger, config = open_session(ledger_url, config_path)
    return ledger, config, locate(ledger_url, config)


_LEDGER = click.option("--ledger", "ledger_url", metavar="URL", help=LEDGER_HELP)
_CONFIG = click.option(
    "--config", "config_path", metavar="PATH", type=click.Path(dir_okay=False), help=CONFIG_HELP
)
_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def _job_json(job: Any) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": str(job.kind),
        "destination": job.destination,
        "share_id": job.share_id,
        "status": str(job.status),
        "attempts": job.attempts,
        "may_have_arrived": job.may_have_arrived,
        "next_attempt_at": job.next_attempt_at.isoformat(),
        "last_error": job.last_error,
        "claimed_by": job.claimed_by,
        "lease_until": job.lease_until.isoformat() if job.lease_until else None,
    }


def _attempts(n: int) -> str:
    return f"{n} failed attempt" + ("" if n == 1 else "s")


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
        help="Wait up to this many seconds for retries and for jobs other workers hold.",
    )
    @click.option(
        "--workers",
        type=click.IntRange(min=1),
        default=1,
        show_default=True,
        help="Send with this many workers at once (each its own ledger connection).",
    )
    @click.option(
        "--per-destination",
        type=click.IntRange(min=1),
        default=None,
        help="At most this many batches in flight to one destination (default: no limit; "
        "one for destinations that cannot drop duplicates).",
    )
    @click.option(
        "--lease-seconds",
        type=click.IntRange(min=1),
        default=300,
        show_default=True,
        help="How long a claim on a job lasts before another worker may take it over.",
    )
    @click.option(
        "--claim-size",
        type=click.IntRange(min=1),
        default=500,
        show_default=True,
        help="Jobs claimed at a time.",
    )
    @_JSON
    @_LEDGER
    @_CONFIG
    def sync_command(
        destination: str | None,
        dry_run: bool,
        max_wait: float,
        workers: int,
        per_destination: int | None,
        lease_seconds: int,
        claim_size: int,
        as_json: bool,
        ledger_url: str | None,
        config_path: str | None,
    ) -> None:
        """Send due outbox jobs to their destinations, re-checking consent first.

        Exits 1 when anything was dead-lettered, a destination had to stop, or work this run
        should have done is left (jobs held by other workers, retries still owed).
        """
        from coprolib.delivery import count_due, sync, sync_workers
        from coprolib.ledger import open_ledger

        ledger, config, url = _open(ledger_url, config_path)
        options: dict[str, Any] = {
            "max_wait": max_wait,
            "lease_seconds": lease_seconds,
            "claim_size": claim_size,
        }
        with ledger:
            if destination is not None:
                config.destination(destination)  # a clear error for an unknown name
            show_bar = not dry_run and not as_json and sys.stderr.isatty()
            total = count_due(ledger, destination) if show_bar else 0
            with click.progressbar(
                length=max(total, 1), label="sending", file=sys.stderr, show_pos=True
            ) if show_bar else contextlib.nullcontext() as bar:  # fmt: skip
                progress = bar.update if bar is not None else None
                if workers > 1 and not dry_run:
                    summary = sync_workers(
                        lambda: open_ledger(url, actor="cli"),
                        config,
                        workers,
                        per_destination=per_destination,
                        destination=destination,
                        progress=_locked(progress),
                        **options,
                    )
                else:
                    summary = sync(
                        ledger,
                        config,
                        destination=destination,
                        dry_run=dry_run,
                        progress=progress,
                        **options,
                    )
        if as_json:
            _echo_json(summary.to_json())
        else:
            for line in summary.lines():
                click.echo(line)
        if not summary.ok:
            sys.exit(1)

    @cli.command(name="outbox")
    @click.argument(
        "action", type=click.Choice(["status", "dead", "retry", "show"]), default="status"
    )
    @click.argument("job_id", type=int, required=False)
    @_JSON
    @_LEDGER
    @_CONFIG
    def outbox_command(
        action: str,
        job_id: int | None,
        as_json: bool,
        ledger_url: str | None,
        config_path: str | None,
    ) -> None:
        """Show the outbox per destination (status), list dead letters (dead), show one job's
        history (show ID), or retry a dead letter (retry ID)."""
        from coprolib.delivery import dead_letters, destination_status, retry_dead

        ledger, _config, _url = _open(ledger_url, config_path)
        with ledger:
            if action == "status":
                rows = destination_status(ledger)
                if as_json:
                    _echo_json({"destinations": [row.to_json() for row in rows]})
                    return
                if not rows:
                    click.echo("the outbox is empty")
                for row in rows:
                    click.echo(row.line())
            elif action == "dead":
                dead = dead_letters(ledger)
                if as_json:
                    _echo_json({"dead": [_job_json(job) for job in dead]})
                    return
                if not dead:
                    click.echo("no dead letters")
                for job in dead:
                    doubt = " (may have arrived)" if job.may_have_arrived else ""
                    click.echo(
                        f"{job.id}  {job.kind} {job.share_id} -> {job.destination}, "
                        f"{_attempts(job.attempts)}{doubt}: {job.last_error}"
                    )
            else:
                if job_id is None:
                    raise click.UsageError(
                        f"outbox {action} needs the job ID (see: coprolib outbox dead)"
                    )
                if action == "show":
                    _show(ledger, job_id, as_json)
                    return
                try:
                    job = retry_dead(ledger, job_id)
                except LookupError as exc:
                    raise click.ClickException(str(exc)) from None
                if as_json:
                    _echo_json({"retried": job_id, "queued": _job_json(job)})
                else:
                    click.echo(f"job {job_id} queued again as job {job.id}")


def _show(ledger: Any, job_id: int, as_json: bool) -> None:
    job = ledger.get_job(job_id)
    if job is None:
        raise click.ClickException(f"there is no job {job_id} (see: coprolib outbox status)")
    history = ledger.job_history(job_id)
    if as_json:
        _echo_json(
            {
                "job": _job_json(job),
                "history": [
                    {
                        "at": e.at.isoformat(),
                        "event": e.event,
                        "worker": e.worker,
                        "detail": e.detail,
                    }
                    for e in history
                ],
            }
        )
        return
    click.echo(
        f"job {job.id}: {job.kind} {job.share_id} -> {job.destination}, {job.status}, "
        f"{_attempts(job.attempts)}" + (", may have arrived" if job.may_have_arrived else "")
    )
    if job.status == "pending":
        click.echo(f"  next attempt {job.next_attempt_at.isoformat(timespec='seconds')}")
    if job.status == "claimed" and job.lease_until is not None:
        click.echo(
            f"  claimed by {job.claimed_by} until {job.lease_until.isoformat(timespec='seconds')}"
        )
    if job.last_error:
        click.echo(f"  last error: {job.last_error}")
    for e in history:
        who = f" [{e.worker}]" if e.worker else ""
        detail = f": {e.detail}" if e.detail else ""
        click.echo(f"  {e.at.isoformat(timespec='seconds')} {e.event}{who}{detail}")


def _locked(progress: Any) -> Any:
    """``progress`` made safe to call from several worker threads."""
    if progress is None:
        return None
    lock = threading.Lock()

    def update(n: int) -> None:
        with lock:
            progress(n)

    return update
