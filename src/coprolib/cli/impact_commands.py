"""Built-in commands for the change side of the loop: ``outcome``, ``impact`` and ``report``.

Each is a thin layer over :mod:`coprolib.outcomes.recording`, :mod:`coprolib.impact` and
:mod:`coprolib.report`. Each reads the ledger ``--ledger`` / ``--config`` name (see
:mod:`coprolib.cli.session`); ``impact`` and ``report`` can read a ``--bundle`` file instead.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from coprolib.cli.session import ledger_options, session
from coprolib.hookspecs import hookimpl
from coprolib.records.enums import ChangeDepth, OutcomeKind, OutcomeStatus

# Commands import what they run inside their bodies: every command module is loaded when
# `coprolib` starts, so an import here would be paid by every command, `--help` included.

F = TypeVar("F", bound=Callable[..., Any])

_DATE = click.DateTime(formats=["%Y-%m-%d"])


def _day(value: dt.datetime | None) -> dt.date | None:
    return value.date() if value is not None else None


@contextmanager
def _open(ledger_opt: str | None, config_opt: str | None) -> Iterator[Any]:
    """Open the ledger the command names; a missing one is refused."""
    with session(ledger_opt, config_opt) as (ledger, _config):
        yield ledger


def _source_options(fn: F) -> F:
    for option in reversed(
        (
            click.option(
                "--bundle",
                "bundle_path",
                type=click.Path(dir_okay=False, exists=True),
                help="Read this bundle file instead of the ledger.",
            ),
            click.option("--since", type=_DATE, help="Only stories collected on or after DATE."),
            click.option("--today", type=_DATE, help="Measure as of DATE (default: today)."),
            click.option(
                "--within-days",
                type=click.IntRange(min=0),
                default=None,
                help="Days within which a contributor should first hear back (default 90).",
            ),
            click.option(
                "--soak-days",
                type=click.IntRange(min=0),
                default=None,
                help="Days after which a story with no insight counts as soaked up (default 90).",
            ),
        )
    ):
        fn = option(fn)
    return ledger_options(fn)


def _measure(
    bundle_path: str | None,
    ledger_opt: str | None,
    config_opt: str | None,
    since: dt.datetime | None,
    today: dt.datetime | None,
    within_days: int | None,
    soak_days: int | None,
) -> Any:
    from coprolib.impact import measure_bundle, measure_ledger
    from coprolib.records import RecordError

    options: dict[str, Any] = {
        "today": _day(today) or dt.datetime.now(dt.UTC).date(),
        "since": _day(since),
    }
    if within_days is not None:
        options["within_days"] = within_days
    if soak_days is not None:
        options["soak_days"] = soak_days
    from coprolib.config import load_config

    policy = load_config(config_opt).impact  # [impact]: stalled changes, involvement policy
    options["stalled_after_days"] = policy.stalled_after_days
    options["follow_up_days"] = policy.follow_up_days
    options["hourly_rates"] = policy.hourly_rates
    try:
        if bundle_path is not None:
            from coprolib.records.bundle import BundleError, load_bundle

            try:
                bundle = load_bundle(bundle_path)
            except BundleError as exc:
                raise click.ClickException(str(exc)) from None
            return measure_bundle(bundle, **options)
        with _open(ledger_opt, config_opt) as ledger:
            return measure_ledger(ledger, **options)
    except RecordError as exc:
        hint = f"--{exc.field.replace('_', '-')}"
        raise click.BadParameter(exc.message, param_hint=hint) from None


def _outcome_text(outcome: Any) -> str:
    lines = [
        f"{outcome.id}: {outcome.title}",
        f"  kind {outcome.kind.value}, depth {outcome.depth.value}, owner {outcome.owner}",
        f"  insights: {', '.join(outcome.insight_ids)}",
        f"  status: {outcome.status.value}" + (f" (due {outcome.due})" if outcome.due else ""),
    ]
    for event in outcome.timeline:
        extra = f" by {event.by}" if event.by else ""
        note = f": {event.note}" if event.note else ""
        evidence = f" [evidence: {', '.join(event.evidence)}]" if event.evidence else ""
        lines.append(f"  {event.on.isoformat()} {event.status.value}{extra}{note}{evidence}")
    return "\n".join(lines)


def _change_json(change: Any) -> str:
    from coprolib.records.convert import unstructure

    return json.dumps(
        {
            "outcome": unstructure(change.outcome),
            "feedback_created": [f.id for f in change.feedback],
        },
        indent=2,
    )


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add ``outcome add|update|show``, ``impact`` and ``report``."""

    @cli.group(name="outcome")
    def outcome_group() -> None:
        """Record the changes insights led to; each status change owes contributors feedback."""

    @outcome_group.command(name="add")
    @click.argument("outcome_id")
    @click.option("--title", required=True, help="What changed, in a line.")
    @click.option("--kind", required=True, type=click.Choice([k.value for k in OutcomeKind]))
    @click.option("--depth", required=True, type=click.Choice([d.value for d in ChangeDepth]))
    @click.option(
        "--insight",
        "insights",
        multiple=True,
        required=True,
        metavar="ID",
        help="Insight id (repeatable).",
    )
    @click.option(
        "--owner", required=True, metavar="NAME", help="Who is responsible for the change."
    )
    @click.option("--on", type=_DATE, help="Date proposed (default: today).")
    @click.option("--due", type=_DATE, help="When the change should be delivered.")
    @click.option("--description")
    @click.option("--by", metavar="NAME", help="Who recorded it.")
    @click.option(
        "--due-days",
        type=click.IntRange(min=0),
        default=28,
        show_default=True,
        help="Days contributors should wait at most to hear about it.",
    )
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @ledger_options
    def outcome_add(
        outcome_id: str,
        title: str,
        kind: str,
        depth: str,
        insights: tuple[str, ...],
        owner: str,
        on: dt.datetime | None,
        due: dt.datetime | None,
        description: str | None,
        by: str | None,
        due_days: int,
        as_json: bool,
        ledger_opt: str | None,
        config_opt: str | None,
    ) -> None:
        """Propose a new outcome OUTCOME_ID led to by one or more insights."""
        from coprolib.outcomes import propose
        from coprolib.outcomes.recording import add_outcome
        from coprolib.records import RecordError

        try:
            outcome = propose(
                id=outcome_id,
                title=title,
                kind=kind,
                depth=depth,
                insight_ids=insights,
                owner=owner,
                on=_day(on) or dt.datetime.now(dt.UTC).date(),
                by=by,
                description=description,
                due=_day(due),
            )
            with _open(ledger_opt, config_opt) as ledger:
                change = add_outcome(ledger, outcome, due_days=due_days)
        except RecordError as exc:
            raise click.ClickException(str(exc)) from None
        _print_change(change, as_json)

    @outcome_group.command(name="update")
    @click.argument("outcome_id")
    @click.option("--status", required=True, type=click.Choice([s.value for s in OutcomeStatus]))
    @click.option("--on", type=_DATE, help="Date of the change (default: today).")
    @click.option("--note", help="What happened; for not_adopted, the reason (required).")
    @click.option("--by", metavar="NAME", help="Who recorded it.")
    @click.option("--evidence", multiple=True, help="Evidence reference (repeatable).")
    @click.option(
        "--due-days",
        type=click.IntRange(min=0),
        default=28,
        show_default=True,
        help="Days contributors should wait at most to hear about it.",
    )
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @ledger_options
    def outcome_update(
        outcome_id: str,
        status: str,
        on: dt.datetime | None,
        note: str | None,
        by: str | None,
        evidence: tuple[str, ...],
        due_days: int,
        as_json: bool,
        ledger_opt: str | None,
        config_opt: str | None,
    ) -> None:
        """Move OUTCOME_ID to a new status and owe its contributors an update."""
        from coprolib.outcomes.recording import update_outcome
        from coprolib.records import RecordError

        try:
            with _open(ledger_opt, config_opt) as ledger:
                change = update_outcome(
                    ledger,
                    outcome_id,
                    status,
                    on=_day(on),
                    note=note,
                    by=by,
                    evidence=evidence,
                    due_days=due_days,
                )
        except RecordError as exc:
            raise click.ClickException(str(exc)) from None
        _print_change(change, as_json)

    @outcome_group.command(name="show")
    @click.argument("outcome_id")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @ledger_options
    def outcome_show(
        outcome_id: str, as_json: bool, ledger_opt: str | None, config_opt: str | None
    ) -> None:
        """Show OUTCOME_ID's timeline and the feedback it has created."""
        from coprolib.feedback.owed import is_about_outcome
        from coprolib.records import Feedback, Outcome
        from coprolib.records.convert import unstructure

        with _open(ledger_opt, config_opt) as ledger:
            outcome = ledger.get(Outcome, outcome_id)
            if outcome is None:
                raise click.ClickException(f"there is no outcome {outcome_id!r} in the ledger")
            feedback = [f for f in ledger.list(Feedback) if is_about_outcome(f, outcome_id)]
        if as_json:
            data = {
                "outcome": unstructure(outcome),
                "feedback": [
                    {
                        "id": f.id,
                        "contributor_id": f.contributor_id,
                        "kind": f.kind.value,
                        "status": f.status.value,
                        "due": f.due.isoformat() if f.due else None,
                    }
                    for f in feedback
                ],
            }
            click.echo(json.dumps(data, indent=2))
            return
        click.echo(_outcome_text(outcome))
        for f in feedback:
            due = f" due {f.due.isoformat()}" if f.due else ""
            click.echo(
                f"  feedback {f.id}: {f.kind.value} to {f.contributor_id}, {f.status.value}{due}"
            )

    @cli.command(name="impact")
    @click.option("--json", "as_json", is_flag=True, help="Print every measure as JSON.")
    @_source_options
    def impact_command(as_json: bool, **source: Any) -> None:
        """Measure impact: the funnel, loop closure, change depth, ladder rungs, how far off the
        bar, stalled changes, involvement over time and warnings."""
        from coprolib.impact import format_text

        impact = _measure(**source)
        if as_json:
            click.echo(json.dumps(impact.to_dict(), indent=2))
        else:
            click.echo(format_text(impact))

    @cli.command(name="report")
    @click.option(
        "--html",
        "html_path",
        required=True,
        type=click.Path(dir_okay=False, writable=True),
        help="Write the self-contained HTML report here.",
    )
    @click.option("--json", "as_json", is_flag=True, help="Also print the measures as JSON.")
    @click.option("--title", default=None, help="The report's title.")
    @click.option(
        "--organisation",
        default=None,
        help="Shown above the title (default: organisation in coprolib.toml).",
    )
    @_source_options
    def report_command(
        html_path: str,
        as_json: bool,
        title: str | None,
        organisation: str | None,
        **source: Any,
    ) -> None:
        """Write the board report: one HTML file with charts, tables and no network needs."""
        from coprolib.config import load_config
        from coprolib.report import DEFAULT_TITLE, write_report

        impact = _measure(**source)
        path = write_report(
            impact,
            html_path,
            title=title or DEFAULT_TITLE,
            organisation=organisation or load_config().organisation,
            generated_at=dt.datetime.now(dt.UTC),
        )
        if as_json:
            click.echo(json.dumps({"html": str(path), "impact": impact.to_dict()}, indent=2))
        else:
            click.echo(f"wrote {path}")


def _print_change(change: Any, as_json: bool) -> None:
    if as_json:
        click.echo(_change_json(change))
        return
    click.echo(_outcome_text(change.outcome))
    n = len(change.feedback)
    click.echo(
        f"feedback owed: {n} obligation{'s' if n != 1 else ''} new or added to "
        "(one message per contributor a day)"
    )
    for f in change.feedback:
        click.echo(
            f"  {f.id}: {f.kind.value} to {f.contributor_id} by {f.due.isoformat() if f.due else '-'}"
        )
