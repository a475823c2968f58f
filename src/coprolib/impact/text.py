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
