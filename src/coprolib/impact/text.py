"""The plain-text summary of an :class:`~coprolib.impact.Impact` (``coprolib impact``)."""

from __future__ import annotations

from coprolib.impact.result import Impact


def format_text(impact: Impact) -> str:
    """A short plain-text summary of an :class:`Impact` (what ``coprolib impact`` prints)."""
    period = f"since {impact.since.isoformat()}" if impact.since else "all records"
    lines = [f"Impact as of {impact.as_of.isoformat()} ({period})", ""]
    first = impact.funnel[0]
    lines.append(
        f"{first.label}: {first.stories} (disclosures, handled apart as safeguarding "
        f"concerns: {impact.disclosures})"
    )
    for stage in impact.funnel[1:]:
        lines.append(f"  {stage.label}: {stage.stories} stories ({stage.count} {stage.unit})")
    loop, timing = impact.loop_closure, impact.feedback_timing
    rate = "n/a" if loop.rate is None else f"{loop.rate * 100:.0f}%"
    lines.append(
        f"Heard back within {loop.within_days} days: {rate} ({loop.heard_within} of "
        f"{loop.eligible}; {loop.heard_later} later, {loop.not_heard} not heard; "
        f"{loop.not_yet_due} not yet due)"
    )
    if timing.median_days is not None:
        lines.append(
            f"Days from story to first feedback: median {timing.median_days:g}, "
            f"90th percentile {timing.p90_days}"
        )
    if impact.trend:
        lines.append("By quarter (stories, insights shared, changes agreed, implemented, told):")
        lines.extend(
            f"  {q.quarter}: {q.stories}, {q.insights_shared}, {q.outcomes_agreed}, "
            f"{q.outcomes_delivered}, {q.contributors_told}"
            for q in impact.trend[-4:]
        )
    depth = ", ".join(f"{r.depth.value} {r.total}" for r in impact.change_depth)
    lines.append(f"Change depth (outcomes): {depth}")
    soaked = impact.soaked_up
    lines.append(
        f"Soaked up (no insight after {soaked.after_days} days): {soaked.count} of "
        f"{soaked.eligible} stories"
    )
    rungs = ", ".join(
        f"rung {int(r.rung)} ({r.label.lower()}): {r.activities}"
        for r in impact.ladder
        if r.activities
    )
    lines.append(f"Activities by ladder rung: {rungs or 'none'}")
    bar = impact.off_the_bar
    if bar is not None:
        off = "n/a" if bar.off_rate is None else f"{bar.off_rate * 100:.0f}%"
        lived = "n/a" if bar.lived_share is None else f"{bar.lived_share * 100:.0f}%"
        lines.append(
            f"How far off the bar: {off} of {bar.heard} proposals heard were changed or "
            f"overturned ({bar.confirmed} confirmed, {bar.changed} changed, {bar.overturned} "
            f"overturned; {bar.new} new); adopted changes from lived experience: {lived} "
            f"({bar.adopted_from_lived_experience} of "
            f"{bar.adopted_from_lived_experience + bar.adopted_from_professionals})"
        )
    stalled = impact.stalled
    if stalled is not None:
        depth_text = ", ".join(
            f"{r.depth.value} {r.stalled} of {r.open}" for r in stalled.by_depth if r.open
        )
        lines.append(
            f"Stalled changes (no new status for {stalled.after_days} days, or past due): "
            f"{stalled.count} of {stalled.open} open ({depth_text or 'none open'})"
        )
        lines.extend(
            f"  {c.outcome_id} ({c.title}): {c.status.value} for {c.days_in_status} days, "
            f"owner {c.owner}"
            for c in stalled.changes[:10]
        )
    inv = impact.involvement
    if inv is not None:
        lines.append(
            f"Involvement: {inv.people} people took part {inv.involvements} times "
            f"({inv.returned} came back, {inv.once} once); recognition offered "
            f"{inv.recognition_offered}, given {inv.recognition_given}, none recorded "
            f"{inv.no_recognition}"
        )
        lines.extend(f"  {w}" for w in inv.warnings)
    lines.append(f"Feedback overdue: {len(impact.overdue_feedback)}")
    lines.extend(
        f"  {o.feedback_id} ({o.title or o.kind.value}): {o.days_overdue} days"
        for o in impact.overdue_feedback[:10]
    )
    never = sum(1 for w in impact.warnings if w.code == "never_told")
    lines.append(f"Warnings: {len(impact.warnings)} ({never} contributors never told)")
    lines.extend(
        f"  {w.message}" + (f' ("{w.title}")' if w.title else "")
        for w in impact.warnings
        if w.code != "never_told"
    )
    return "\n".join(lines)
