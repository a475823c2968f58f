"""Built-in CLI commands for the consent gate and planner: ``plan``, ``withdraw``,
``feedback due|done`` and ``consent receipt|give|renew|correct|approve|override|show``. Each is
a thin layer over a documented function (:func:`coprolib.planner.plan`,
:func:`coprolib.planner.withdraw`, :mod:`coprolib.feedback.owed`,
:mod:`coprolib.rights.receipts`, :mod:`coprolib.rights.changes`)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click

from coprolib.cli.session import config_option as _config_option
from coprolib.cli.session import json_option as _json_option
from coprolib.cli.session import ledger_option as _ledger_option
from coprolib.cli.session import session as _session
from coprolib.hookspecs import hookimpl
from coprolib.records.enums import (
    Audience,
    ConsentMethod,
    DecisionBasis,
    IdentityLevel,
    Purpose,
    Support,
)

# Commands import what they run inside their bodies: every command module is loaded when
# `coprolib` starts, so an import here would be paid by every command, `--help` included.


def _moment(at: str | None) -> dt.datetime | None:
    if at is None:
        return None
    try:
        value = dt.datetime.fromisoformat(at)
    except ValueError:
        raise click.BadParameter(f"{at!r} is not a date/time (use 2026-11-27T12:00:00Z)") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


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
        from coprolib.planner import plan
        from coprolib.planner._records import utc_now

        recording = not (dry_run or explain)
        # A dry run writes nothing, not even a schema migration.
        with _session(ledger_opt, config_opt, need_destinations=True, migrate_schema=recording) as (
            ledger,
            config,
        ):
            if explain:
                from coprolib.planner.explanation import explain_in_ledger

                dests = (
                    {destination: config.destination(destination)}
                    if destination
                    else config.insight_destinations()
                )
                lines = explain_in_ledger(ledger, explain, dests, _moment(at) or utc_now())
                if lines is None:
                    raise click.ClickException(
                        f"--explain {explain}: there is no story or insight with this id in the "
                        f"ledger at {ledger.url}"
                    )
                if as_json:
                    click.echo(json.dumps({"id": explain, "explanation": lines}, indent=2))
                else:
                    click.echo("\n".join(lines))
                return
            from coprolib.planner import load_world

            world = load_world(ledger)
            try:
                result = plan(
                    ledger,
                    config,
                    destination=destination,
                    moment=_moment(at),
                    apply=not dry_run,
                    world=world,
                )
                from coprolib.feedback.owed import plan_feedback

                feedback_plan = plan_feedback(
                    ledger,
                    config,
                    result.moment,
                    destination=destination,
                    apply=not dry_run,
                )
            except ConfigError as exc:
                raise click.ClickException(str(exc)) from None
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


def _withdraw_command(group: click.Group, name: str = "withdraw", *, narrow: bool = False) -> None:
    """``withdraw`` (and ``consent withdraw`` / ``consent narrow``): one command over
    :func:`coprolib.planner.withdraw`."""
    words = (
        "Narrow a consent: withdraw one story, purpose or audience, the rest stays in force."
        if narrow
        else "Record a withdrawal of consent (all of it, or one story, purpose or audience)."
    )

    @group.command(
        name=name,
        short_help="Narrow a consent." if narrow else "Record a withdrawal of consent.",
        help=words + " Runs over coprolib.planner.withdraw: the check made just before sending "
        "refuses what it covers at once, and the next `coprolib plan` retracts what was shared.",
    )
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
    @_json_option
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
        as_json: bool,
    ) -> None:
        from coprolib.planner import WithdrawalError, withdraw

        if narrow and not (story or purposes or audiences):
            raise click.UsageError("say what to narrow: --story, --purpose or --audience")
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
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "contributor_id": w.contributor_id,
                        "consent_ids": list(w.consent_ids),
                        "story_ids": list(w.story_ids),
                        "narrowing": w.narrowing or story is not None,
                        "cancelled_feedback": list(w.cancelled_feedback),
                        "confirmation": w.confirmation,
                    },
                    indent=2,
                )
            )
            return
        what = "narrowed" if w.narrowing else "withdrawn"
        click.echo(
            f"{what}: consent {', '.join(w.consent_ids)} of {w.contributor_id} "
            f"(stories: {', '.join(w.story_ids) or 'none'})"
        )
        if w.cancelled_feedback:
            click.echo(f"cancelled {len(w.cancelled_feedback)} feedback obligation(s)")
        if w.confirmation:
            click.echo(f"confirmation owed to them: feedback {w.confirmation}")
        click.echo(
            "nothing it covers is sent from now on; run `coprolib plan` then `coprolib sync` "
            "to take back what was shared"
        )


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
        from coprolib.feedback.owed import feedback_due
        from coprolib.records.convert import unstructure

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
    @_json_option
    @_ledger_option
    @_config_option
    def done_command(
        feedback_id: str, note: str, as_json: bool, ledger_opt: str | None, config_opt: str | None
    ) -> None:
        """Mark a feedback obligation as met."""
        from coprolib.feedback.owed import FeedbackNotFound, feedback_done

        with _session(ledger_opt, config_opt) as (ledger, _config):
            try:
                f = feedback_done(ledger, feedback_id, note)
            except (FeedbackNotFound, ValueError) as exc:
                raise click.ClickException(str(exc)) from None
        if as_json:
            from coprolib.records.convert import unstructure

            click.echo(json.dumps(unstructure(f), indent=2))
            return
        click.echo(f"{f.id}: done on {f.sent_on}")


def _consent_commands(cli: click.Group) -> None:
    group = cli.commands.get("consent")
    if not isinstance(group, click.Group):

        @cli.group(name="consent")
        def consent_group() -> None:
            """Consent: give, renew, correct, approve, override, narrow, withdraw, show;
            receipts."""

        group = consent_group

    _withdraw_command(group, "withdraw")
    _withdraw_command(group, "narrow", narrow=True)

    @group.command(name="receipt", short_help="Print a consent receipt.")
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
        from coprolib.records import Consent, Contributor, Story
        from coprolib.rights.receipts import consent_receipt, consent_receipt_json

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

    _lifecycle_commands(group)


_PURPOSES = [p.value for p in Purpose]
_AUDIENCES = [a.value for a in Audience]


def _terms_options(f: Any) -> Any:
    """The terms a contributor agrees to; on renew/correct, what is not given stays as it was."""
    for option in reversed(
        (
            click.option(
                "--purpose",
                "purposes",
                multiple=True,
                type=click.Choice(_PURPOSES),
                metavar="PURPOSE",
                help=f"A purpose they agree to (repeatable): {', '.join(_PURPOSES)}.",
            ),
            click.option(
                "--audience",
                "audiences",
                multiple=True,
                type=click.Choice(_AUDIENCES),
                metavar="AUDIENCE",
                help=f"Who may see it (repeatable): {', '.join(_AUDIENCES)}.",
            ),
            click.option(
                "--identity",
                "identity_level",
                type=click.Choice([i.value for i in IdentityLevel]),
                metavar="LEVEL",
                help="How identifiable they may be: anonymous, pseudonymous or named.",
            ),
            click.option(
                "--quotes/--no-quotes",
                "quotes_allowed",
                default=None,
                help="Whether their words may be quoted.",
            ),
            click.option(
                "--review/--no-review",
                "review_before_sharing",
                default=None,
                help="They review the words of each insight before it is shared.",
            ),
            click.option(
                "--not-before",
                "share_not_before",
                type=_DATE,
                metavar="DATE",
                help="Nothing is shared before this day (YYYY-MM-DD).",
            ),
            click.option(
                "--expires", type=_DATE, metavar="DATE", help="The last day it holds (YYYY-MM-DD)."
            ),
            click.option(
                "--deny-destination",
                "denied_destinations",
                multiple=True,
                metavar="NAME",
                help="A destination it must never go to (repeatable).",
            ),
        )
    ):
        f = option(f)
    return f


_DATE = click.DateTime(formats=["%Y-%m-%d"])


def _changes(values: dict[str, Any]) -> dict[str, Any]:
    """The terms options given, as :func:`coprolib.rights.changes.terms_with` takes them."""
    changes = dict(values)
    for key in ("purposes", "audiences", "denied_destinations"):
        changes[key] = tuple(changes[key]) or None
    for key in ("share_not_before", "expires"):
        changes[key] = changes[key].date() if changes[key] is not None else None
    return {k: v for k, v in changes.items() if v is not None}


_TERM_KEYS = (
    "purposes",
    "audiences",
    "identity_level",
    "quotes_allowed",
    "review_before_sharing",
    "share_not_before",
    "expires",
    "denied_destinations",
)


def _split_terms(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: kwargs.pop(k) for k in _TERM_KEYS}


def _event_options(f: Any) -> Any:
    f = click.option("--at", metavar="WHEN", help="When it happened (default: now).")(f)
    f = click.option("--by", "recorded_by", metavar="NAME", help="Who recorded it.")(f)
    return f


def _show_consent(consent: Any, as_json: bool, said: str) -> None:
    from coprolib.rights.changes import ConsentTimeline

    timeline = ConsentTimeline(
        consent=consent,
        state=consent.state_at(consent.events[-1].at),
        moment=consent.events[-1].at,
    )
    if as_json:
        click.echo(json.dumps(timeline.to_json(), indent=2, ensure_ascii=False))
        return
    click.echo(said)
    click.echo("run `coprolib plan` to act on it")


def _lifecycle(call: Any) -> Any:
    from coprolib.rights.changes import ConsentLifecycleError

    try:
        return call()
    except ConsentLifecycleError as exc:
        raise click.ClickException(str(exc)) from None


def _lifecycle_commands(group: click.Group) -> None:
    """consent give, renew, correct, approve, override and show (see
    :mod:`coprolib.rights.changes`)."""

    @group.command(name="give", short_help="Record a new consent.")
    @click.option(
        "--contributor", "contributor_id", required=True, metavar="ID", help="Whose consent."
    )
    @click.option(
        "--story",
        "story_ids",
        multiple=True,
        metavar="ID",
        help="A story it covers (repeatable; default: all of theirs).",
    )
    @click.option("--id", "consent_id", metavar="ID", help="The consent's id (default: made up).")
    @click.option(
        "--basis",
        type=click.Choice([b.value for b in DecisionBasis]),
        default=DecisionBasis.OWN_CONSENT.value,
        show_default=True,
        metavar="BASIS",
        help="How the decision was made: " + ", ".join(b.value for b in DecisionBasis) + ".",
    )
    @click.option(
        "--support",
        type=click.Choice([x.value for x in Support]),
        default=Support.NONE.value,
        show_default=True,
        metavar="WHO",
        help="Who supported them: " + ", ".join(x.value for x in Support) + ".",
    )
    @click.option("--supported-by", metavar="NAME", help="The name of who supported them.")
    @click.option(
        "--method",
        type=click.Choice([m.value for m in ConsentMethod]),
        default=ConsentMethod.WRITTEN.value,
        show_default=True,
        metavar="METHOD",
        help="How it was given: " + ", ".join(m.value for m in ConsentMethod) + ".",
    )
    @_terms_options
    @_event_options
    @_json_option
    @_ledger_option
    @_config_option
    def give_command(**kw: Any) -> None:
        """Record a new consent (a 'given' event with the terms agreed)."""
        from coprolib.rights.changes import give_consent, terms_with

        terms_values = _split_terms(kw)
        with _session(kw.pop("ledger_opt"), kw.pop("config_opt")) as (ledger, _config):
            terms = _lifecycle(lambda: terms_with(None, **_changes(terms_values)))
            consent = _lifecycle(
                lambda: give_consent(
                    ledger,
                    kw["contributor_id"],
                    terms,
                    consent_id=kw["consent_id"],
                    story_ids=kw["story_ids"],
                    basis=kw["basis"],
                    support=kw["support"],
                    supported_by=kw["supported_by"],
                    method=kw["method"],
                    moment=_moment(kw["at"]),
                    recorded_by=kw["recorded_by"],
                )
            )
        _show_consent(
            consent, kw["as_json"], f"given: consent {consent.id} of {consent.contributor_id}"
        )

    @group.command(name="renew", short_help="Record that they agreed again.")
    @click.argument("consent_id")
    @click.option("--reason", metavar="TEXT", help="Why, or what they said (optional).")
    @_terms_options
    @_event_options
    @_json_option
    @_ledger_option
    @_config_option
    def renew_command(**kw: Any) -> None:
        """Record that they agreed again: on the terms given, or on the terms last agreed."""
        from coprolib.rights.changes import renew_consent

        changes = _changes(_split_terms(kw))
        with _session(kw.pop("ledger_opt"), kw.pop("config_opt")) as (ledger, _config):
            consent = _lifecycle(
                lambda: renew_consent(
                    ledger,
                    kw["consent_id"],
                    changes=changes,
                    moment=_moment(kw["at"]),
                    recorded_by=kw["recorded_by"],
                    reason=kw["reason"],
                )
            )
        _show_consent(consent, kw["as_json"], f"renewed: consent {consent.id}")

    @group.command(name="correct", short_help="Correct the terms recorded for a consent.")
    @click.argument("consent_id")
    @click.option("--reason", required=True, metavar="TEXT", help="What was recorded wrongly.")
    @_terms_options
    @_event_options
    @_json_option
    @_ledger_option
    @_config_option
    def correct_command(**kw: Any) -> None:
        """Correct the terms recorded for a consent in force (a 'renewed' event marked as a
        correction; the history keeps what was recorded before)."""
        from coprolib.rights.changes import correct_consent

        changes = _changes(_split_terms(kw))
        with _session(kw.pop("ledger_opt"), kw.pop("config_opt")) as (ledger, _config):
            consent = _lifecycle(
                lambda: correct_consent(
                    ledger,
                    kw["consent_id"],
                    kw["reason"],
                    changes=changes,
                    moment=_moment(kw["at"]),
                    recorded_by=kw["recorded_by"],
                )
            )
        _show_consent(consent, kw["as_json"], f"corrected: consent {consent.id}")

    @group.command(name="approve", short_help="Record the teller's approval of an insight.")
    @click.argument("consent_id")
    @click.option(
        "--insight", "insight_id", required=True, metavar="ID", help="The insight they approved."
    )
    @_event_options
    @_json_option
    @_ledger_option
    @_config_option
    def approve_command(**kw: Any) -> None:
        """Record that the teller read and approved the current words of an insight.

        If the words change later, the review is pending again."""
        from coprolib.rights.changes import approve_insight

        with _session(kw.pop("ledger_opt"), kw.pop("config_opt")) as (ledger, _config):
            consent = _lifecycle(
                lambda: approve_insight(
                    ledger,
                    kw["consent_id"],
                    kw["insight_id"],
                    moment=_moment(kw["at"]),
                    recorded_by=kw["recorded_by"],
                )
            )
        digest = consent.events[-1].text_digest or ""
        _show_consent(
            consent,
            kw["as_json"],
            f"approved: insight {kw['insight_id']} (text {digest[:12]}) under consent "
            f"{consent.id} of {consent.contributor_id}",
        )

    @group.command(name="override", short_help="Record a best-interests override.")
    @click.argument("consent_id")
    @click.option(
        "--reason", required=True, metavar="TEXT", help="Why it is in their best interests."
    )
    @click.option("--approver", required=True, metavar="NAME", help="Who approved the decision.")
    @_event_options
    @_json_option
    @_ledger_option
    @_config_option
    def override_command(**kw: Any) -> None:
        """Record a best-interests override, so the decision may go beyond internal audiences."""
        from coprolib.rights.changes import record_override

        with _session(kw.pop("ledger_opt"), kw.pop("config_opt")) as (ledger, _config):
            consent = _lifecycle(
                lambda: record_override(
                    ledger,
                    kw["consent_id"],
                    kw["reason"],
                    kw["approver"],
                    moment=_moment(kw["at"]),
                    recorded_by=kw["recorded_by"],
                )
            )
        _show_consent(
            consent,
            kw["as_json"],
            f"override recorded on consent {consent.id}, approved by {kw['approver']}",
        )

    @group.command(name="show", short_help="Show a consent's timeline.")
    @click.argument("consent_id")
    @click.option("--at", metavar="WHEN", help="Its state as of this moment (default: now).")
    @_json_option
    @_ledger_option
    @_config_option
    def show_command(
        consent_id: str,
        at: str | None,
        as_json: bool,
        ledger_opt: str | None,
        config_opt: str | None,
    ) -> None:
        """Show a consent's timeline: every event in order, and its state now."""
        from coprolib.rights.changes import consent_timeline

        with _session(ledger_opt, config_opt) as (ledger, _config):
            timeline = _lifecycle(lambda: consent_timeline(ledger, consent_id, _moment(at)))
        if as_json:
            click.echo(json.dumps(timeline.to_json(), indent=2, ensure_ascii=False))
        else:
            click.echo("\n".join(timeline.lines()))


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add plan, withdraw, feedback due/done and the consent commands."""
    _plan_command(cli)
    _withdraw_command(cli)
    _feedback_commands(cli)
    _consent_commands(cli)
