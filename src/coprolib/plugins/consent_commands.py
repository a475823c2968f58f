"""Built-in CLI commands for the consent gate and planner: ``plan``, ``withdraw``,
``feedback due|done`` and ``consent receipt``. Each is a thin layer over a documented function
(:func:`coprolib.planner.plan`, :func:`coprolib.planner.withdraw`,
:mod:`coprolib.feedback_owed`, :mod:`coprolib.consent_receipts`)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from coprolib.hookspecs import hookimpl


@contextmanager
def _session(
    ledger_opt: str | None, config_opt: str | None, *, need_destinations: bool = False
) -> Iterator[tuple[Any, Any]]:
    from coprolib.config import ConfigError, load_config
    from coprolib.ledger import LedgerError, open_ledger, resolve_ledger_url

    try:
        config = load_config(config_opt)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if need_destinations and not config.destinations:
        raise click.ClickException(
            "no destinations configured: add [destinations.NAME] to coprolib.toml "
            "(or point --config / $COPROLIB_CONFIG at one)"
        )
    try:
        url = resolve_ledger_url(ledger_opt, config.path)
        ledger = open_ledger(url, actor="cli")
    except LedgerError as exc:
        raise click.ClickException(str(exc)) from None
    with ledger:
        yield ledger, config


def _moment(at: str | None) -> dt.datetime | None:
    if at is None:
        return None
    try:
        value = dt.datetime.fromisoformat(at)
    except ValueError:
        raise click.BadParameter(f"{at!r} is not a date/time (use 2026-11-27T12:00:00Z)") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


_ledger_option = click.option(
    "--ledger", "ledger_opt", metavar="URL", help="Ledger URL (default: config, $COPROLIB_LEDGER)."
)
_config_option = click.option(
    "--config", "config_opt", metavar="PATH", help="coprolib.toml (default: $COPROLIB_CONFIG, ./)."
)


def _plan_command(cli: click.Group) -> None:
    @cli.command(name="plan")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.option("--destination", metavar="NAME", help="Plan for this destination only.")
    @click.option(
        "--explain", metavar="ID", help="Explain what happens to a story or insight, and why."
    )
    @click.option("--dry-run", is_flag=True, help="Show the plan without recording it.")
    @click.option("--at", metavar="WHEN", help="Plan as of this moment (default: now).")
    @_ledger_option
    @_config_option
    def plan_command(
        as_json: bool,
        destination: str | None,
        explain: str | None,
        dry_run: bool,
        at: str | None,
        ledger_opt: str | None,
        config_opt: str | None,
    ) -> None:
        """Plan what may be shared where; record the shares, retractions and feedback owed.

        With --explain STORY_ID or INSIGHT_ID, say for each destination whether it goes and,
        for every refusal, why (nothing is recorded).
        """
        from coprolib.config import ConfigError
        from coprolib.planner import explain as explain_lines
        from coprolib.planner import plan

        with _session(ledger_opt, config_opt, need_destinations=True) as (ledger, config):
            from coprolib.planner import load_world

            world = load_world(ledger)
            try:
                result = plan(
                    ledger,
                    config,
                    destination=destination,
                    moment=_moment(at),
                    apply=not (dry_run or explain),
                    world=world,
                )
                from coprolib.feedback_owed import plan_feedback

                feedback_plan = plan_feedback(
                    ledger,
                    config,
                    result.moment,
                    destination=destination,
                    apply=not (dry_run or explain),
                )
            except ConfigError as exc:
                raise click.ClickException(str(exc)) from None
            if explain:
                dests = (
                    {destination: config.destination(destination)}
                    if destination
                    else config.insight_destinations()
                )
                lines = explain_lines(explain, result.routed, world, dests, result.moment)
                if as_json:
                    click.echo(json.dumps({"id": explain, "explanation": lines}, indent=2))
                else:
                    click.echo("\n".join(lines))
                return
        if as_json:
            data = result.to_json()
            data["recorded"] = not dry_run
            data["feedback_shares"] = [
                {"id": s.id, "feedback_id": s.subject_id, "destination": s.destination}
                for s in feedback_plan.deliver
            ]
            data["feedback_for_a_person"] = [
                {"feedback_id": p.feedback_id, "channel": str(p.channel), "reason": p.reason}
                for p in feedback_plan.for_a_person
            ]
            data["feedback_waiting"] = [list(w) for w in feedback_plan.waiting]
            click.echo(json.dumps(data, indent=2))
            return
        _print_plan(result, recorded=not dry_run)
        for line in feedback_plan.lines():
            click.echo(line)
        if feedback_plan.deliver or feedback_plan.for_a_person:
            click.echo(
                f"{len(feedback_plan.deliver)} feedback message(s) to send, "
                f"{len(feedback_plan.for_a_person)} for a person to give"
            )


def _print_plan(result: Any, *, recorded: bool) -> None:
    for s in result.deliver:
        click.echo(
            f"deliver   {s.id}  {s.subject_id} -> {s.destination}  {s.identity_level}, "
            f"{len(s.story_ids)} stories from {s.contributor_count} contributors, "
            f"{len(s.quotes)} quote(s)"
        )
    for r in result.retractions:
        click.echo(f"retract   {r.share_id}  {r.subject_id} -> {r.destination}: {r.reason}")
    for sid in result.unchanged:
        click.echo(f"unchanged {sid}")
    for r in result.not_sent():
        click.echo(f"not sent  {r.insight_id} -> {r.destination}")
        for reason in r.reasons:
            click.echo(f"          {reason}")
    click.echo(
        f"{len(result.deliver)} to deliver, {len(result.retractions)} to retract, "
        f"{len(result.unchanged)} unchanged, {len(result.not_sent())} not sent, "
        f"{len(result.feedback)} feedback obligation(s) created"
        + ("" if recorded else " (dry run: nothing recorded)")
    )


def _withdraw_command(cli: click.Group) -> None:
    @cli.command(name="withdraw")
    @click.option("--contributor", required=True, metavar="ID", help="Who is withdrawing.")
    @click.option("--story", metavar="ID", help="Only this story (default: all of theirs).")
    @click.option("--reason", metavar="TEXT", help="Why, in their words (optional).")
    @click.option(
        "--purpose", "purposes", multiple=True, metavar="P", help="Narrow: withdraw this purpose."
    )
    @click.option(
        "--audience", "audiences", multiple=True, metavar="A", help="Narrow: this audience."
    )
    @click.option("--by", "recorded_by", metavar="NAME", help="Who recorded it.")
    @click.option("--at", metavar="WHEN", help="When it was withdrawn (default: now).")
    @_ledger_option
    @_config_option
    def withdraw_command(
        contributor: str,
        story: str | None,
        reason: str | None,
        purposes: tuple[str, ...],
        audiences: tuple[str, ...],
        recorded_by: str | None,
        at: str | None,
        ledger_opt: str | None,
        config_opt: str | None,
    ) -> None:
        """Record a withdrawal of consent; the next `coprolib plan` retracts what was shared."""
        from coprolib.planner import WithdrawalError, withdraw

        with _session(ledger_opt, config_opt) as (ledger, config):
            try:
                w = withdraw(
                    ledger,
                    contributor,
                    story_id=story,
                    reason=reason,
                    purposes=purposes,
                    audiences=audiences,
                    moment=_moment(at),
                    recorded_by=recorded_by,
                    config=config,
                )
            except (WithdrawalError, ValueError) as exc:
                raise click.ClickException(str(exc)) from None
        what = "narrowed" if w.narrowing else "withdrawn"
        click.echo(
            f"{what}: consent {', '.join(w.consent_ids)} of {w.contributor_id} "
            f"(stories: {', '.join(w.story_ids) or 'none'})"
        )
        if w.cancelled_feedback:
            click.echo(f"cancelled {len(w.cancelled_feedback)} feedback obligation(s)")
        if w.confirmation:
            click.echo(f"confirmation owed to them: feedback {w.confirmation}")
        click.echo("run `coprolib plan` to retract what was shared")


def _feedback_commands(cli: click.Group) -> None:
    group = cli.commands.get("feedback")
    if not isinstance(group, click.Group):

        @cli.group(name="feedback")
        def feedback_group() -> None:
            """Feedback owed to contributors."""

        group = feedback_group

    @group.command(name="due")
    @click.option("--overdue", is_flag=True, help="Only what is past its due date.")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @_ledger_option
    @_config_option
    def due_command(
        overdue: bool, as_json: bool, ledger_opt: str | None, config_opt: str | None
    ) -> None:
        """List feedback owed to contributors, soonest due first."""
        from coprolib.convert import unstructure
        from coprolib.feedback_owed import feedback_due

        with _session(ledger_opt, config_opt) as (ledger, _config):
            items = feedback_due(ledger, overdue=overdue)
        if as_json:
            click.echo(json.dumps([unstructure(f) for f in items], indent=2))
            return
        today = dt.datetime.now(dt.UTC).date()
        for f in items:
            late = " OVERDUE" if f.due is not None and f.due < today else ""
            where = f" {f.insight_id} -> {f.destination}" if f.insight_id else ""
            click.echo(
                f"{f.id}  due {f.due.isoformat() if f.due else '-'}{late}  {f.kind}  "
                f"{f.contributor_id} via {f.channel}{where}"
            )
            if f.message:
                click.echo(f"    {f.message}")
        click.echo(f"{len(items)} owed")

    @group.command(name="done")
    @click.argument("feedback_id")
    @click.option("--note", required=True, metavar="TEXT", help="What they were told.")
    @_ledger_option
    @_config_option
    def done_command(
        feedback_id: str, note: str, ledger_opt: str | None, config_opt: str | None
    ) -> None:
        """Mark a feedback obligation as met."""
        from coprolib.feedback_owed import FeedbackNotFound, feedback_done

        with _session(ledger_opt, config_opt) as (ledger, _config):
            try:
                f = feedback_done(ledger, feedback_id, note)
            except (FeedbackNotFound, ValueError) as exc:
                raise click.ClickException(str(exc)) from None
        click.echo(f"{f.id}: done on {f.sent_on}")


def _consent_commands(cli: click.Group) -> None:
    group = cli.commands.get("consent")
    if not isinstance(group, click.Group):

        @cli.group(name="consent")
        def consent_group() -> None:
            """Consent records and receipts."""

        group = consent_group

    @group.command(name="receipt")
    @click.argument("consent_id")
    @click.option("--easy-read", is_flag=True, help="Short sentences, one idea a line.")
    @click.option("--json", "as_json", is_flag=True, help="ISO/IEC TS 27560-shaped JSON.")
    @click.option("--controller", metavar="NAME", default="the organisation that collected it")
    @_ledger_option
    @_config_option
    def receipt_command(
        consent_id: str,
        easy_read: bool,
        as_json: bool,
        controller: str,
        ledger_opt: str | None,
        config_opt: str | None,
    ) -> None:
        """Print a consent receipt: what was agreed, who will see it, how to withdraw."""
        from coprolib.consent_receipts import consent_receipt, consent_receipt_json
        from coprolib.records import Consent, Contributor, Story

        with _session(ledger_opt, config_opt) as (ledger, config):
            consent = ledger.get(Consent, consent_id)
            if consent is None:
                raise click.ClickException(f"consent {consent_id!r} is not in the ledger")
            person = ledger.get(Contributor, consent.contributor_id)
            stories = [
                s
                for s in ledger.list(Story, contributor=consent.contributor_id)
                if consent.covers(s.id)
            ]
        dests = list(config.destinations.values())
        if as_json:
            data = consent_receipt_json(
                consent, person, destinations=dests, controller=controller, stories=stories
            )
            click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        else:
            click.echo(
                consent_receipt(
                    consent, person, destinations=dests, easy_read=easy_read, stories=stories
                ),
                nl=False,
            )


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add plan, withdraw, feedback due/done and consent receipt."""
    _plan_command(cli)
    _withdraw_command(cli)
    _feedback_commands(cli)
    _consent_commands(cli)
