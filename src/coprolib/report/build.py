"""The board report: one self-contained, accessible HTML file built from an :class:`Impact`.

No network and no scripts: CSS and SVG charts are inline, so the file can be emailed, attached
to board papers or printed. Every chart is an ``<svg role="img">`` with a ``<title>``, a
``<desc>`` and an ``aria-label`` summarising it, followed by a table holding the same numbers.
Only ids, counts, dates and labels appear: never names, contact details or story text.

The HTML comes from Jinja2 templates in ``coprolib/report/templates/report/`` with autoescaping on, so
no value reaches the page unescaped however a section is written; the Python here computes the
numbers, words and chart geometry the templates lay out. :func:`render_template` renders any of
those templates, for plugin sections that want the same building blocks.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import secrets
import warnings
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import attrs
import jinja2
from markupsafe import Markup, escape

from coprolib.impact import Impact
from coprolib.plugins import get_plugin_manager, is_builtin, registrations

__all__ = [
    "DEFAULT_TITLE",
    "ReportSection",
    "Series",
    "bar_chart",
    "builtin_sections",
    "esc",
    "render_html",
    "render_template",
    "report_sections",
    "table",
    "write_atomic",
    "write_report",
]

DEFAULT_TITLE = "From stories to change: impact report"

#: Okabe-Ito colours (distinguishable with common colour-vision differences).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#999999")


def esc(value: Any) -> str:
    """``value`` as text safe inside HTML/SVG element content and quoted attributes."""
    return str(escape(value))


@functools.cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        # The report's templates, and other pages' under a prefix ("journey/...").
        loader=jinja2.ChoiceLoader(
            [
                jinja2.PackageLoader("coprolib.report", "templates/report"),
                jinja2.PrefixLoader(
                    {"journey": jinja2.PackageLoader("coprolib.report", "templates/journey")}
                ),
            ]
        ),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # the templates ship with the package: no need to stat them
    )
    env.globals["table"] = _table
    return env


def render_template(name: str, **context: Any) -> Markup:
    """Render one of the report's templates (``coprolib/report/templates/report/<name>``) with
    autoescaping on; the result is safe to place in the page as it is."""
    return Markup(_env().get_template(name).render(**context))


@attrs.frozen(kw_only=True)
class Series:
    """One series of a bar chart: a name for the legend, a colour and a value per category."""

    name: str
    values: tuple[float, ...]
    colour: str = PALETTE[0]


_W = 900
_LABEL_W = 260
_BAR_W = 400
_ROW_H = 30
_BAR_H = 20
_CHAR_W = 7.5  # a generous average width of a 13px character, for layout
_LABEL_CHARS = 34


def _short(label: str) -> str:
    return label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1].rstrip() + "\u2026"


def bar_chart(
    *,
    chart_id: str,
    title: str,
    summary: str,
    categories: Sequence[str],
    series: Sequence[Series],
    annotations: Sequence[str] | None = None,
) -> str:
    """A horizontal (stacked, when several series) bar chart as inline SVG.

    ``summary`` is the text alternative: the sentence a screen reader announces. Each bar ends
    with its total (or the matching ``annotations`` entry). Long category labels are shortened
    (the table beside the chart has them in full).
    """
    totals = [sum(s.values[i] for s in series) for i in range(len(categories))]
    top = max(totals, default=0) or 1
    legend: list[dict[str, Any]] = []
    legend_rows = 0
    if len(series) > 1:
        x, legend_rows = 0.0, 1
        for s in series:
            width = 26 + _CHAR_W * len(s.name)
            if x and x + width > _W:
                x, legend_rows = 0.0, legend_rows + 1
            y = 6 + (legend_rows - 1) * 22
            legend.append(
                {
                    "x": f"{x:.0f}",
                    "y": y,
                    "colour": s.colour,
                    "text_x": f"{x + 20:.0f}",
                    "text_y": y + 12,
                    "name": s.name,
                }
            )
            x += width + 14
    legend_h = 22 * legend_rows + (8 if legend_rows else 0)
    height = legend_h + _ROW_H * max(1, len(categories)) + 8
    rows: list[dict[str, Any]] = []
    for i, label in enumerate(categories):
        y = legend_h + i * _ROW_H + 4
        bars = []
        x = float(_LABEL_W)
        for s in series:
            width = _BAR_W * s.values[i] / top
            if width > 0:
                bars.append(
                    {
                        "x": f"{x:.1f}",
                        "width": f"{max(width, 1.5):.1f}",
                        "colour": s.colour,
                        "name": s.name,
                        "value": _num(s.values[i]),
                    }
                )
            x += width
        rows.append(
            {
                "y": y,
                "text_y": y + _BAR_H - 5,
                "label_x": _LABEL_W - 10,
                "label": label,
                "short": _short(label),
                "bars": bars,
                "note_x": f"{x + 6:.1f}",
                "note": annotations[i] if annotations is not None else _num(totals[i]),
            }
        )
    return str(
        render_template(
            "chart.svg.j2",
            chart_id=chart_id,
            title=title,
            summary=summary,
            width=_W,
            height=height,
            legend=legend,
            legend_h=legend_h,
            rows=rows,
            bar_h=_BAR_H,
            label_w=_LABEL_W,
        )
    )


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def table(
    *,
    caption: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    numeric_from: int = 1,
    row_headers: bool = True,
) -> str:
    """An HTML table with a caption, column headers and (by default) row headers.

    Plain text (``str``), so ``"<p>…</p>" + table(...)`` in a plugin's section stays HTML."""
    return str(
        _table(
            caption=caption,
            headers=headers,
            rows=rows,
            numeric_from=numeric_from,
            row_headers=row_headers,
        )
    )


def _table(**context: Any) -> Markup:
    context.setdefault("numeric_from", 1)
    context.setdefault("row_headers", True)
    return render_template("table.html.j2", **context)


def _stories(n: int) -> str:
    return "1 story" if n == 1 else f"{n} stories"


def _pct(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate * 100:.0f}%"


def _days(value: float | int | None) -> str:
    return "n/a" if value is None else f"{_num(value)} days"


@attrs.frozen(kw_only=True)
class ReportSection:
    """One section of the report: its anchor ``key``, its heading, and ``render(impact,
    max_rows)`` returning the section's HTML (headings inside it start at ``<h3>``)."""

    key: str
    title: str
    render: Callable[[Impact, int], str]
    plugin: str = "coprolib"


_KEY = re.compile(r"^[a-z][a-z0-9-]*$")


def _section(section: ReportSection, impact: Impact, max_rows: int) -> dict[str, Any]:
    try:
        body = section.render(impact, max_rows)
    except Exception as exc:
        if section.plugin == "coprolib" or os.environ.get("COPROLIB_STRICT_PLUGINS", "") not in (
            "",
            "0",
            "false",
        ):
            raise
        # Only the plugin's name and the error's type: its message could carry data.
        body = (
            f"<p>This section could not be drawn: plugin {esc(section.plugin)} failed "
            f"({esc(type(exc).__name__)}).</p>"
        )
    # A section's render returns HTML: built-in ones from autoescaped templates, a plugin's
    # as it chose to build it (render_template gives it the same autoescaping).
    return {"key": section.key, "title": section.title, "body": Markup(body)}


def _summary(impact: Impact) -> str:
    stories = impact.stage("stories")
    delivered = sum(r.delivered for r in impact.change_depth)
    loop = impact.loop_closure
    figures: list[tuple[str, str]] = [
        ("Stories collected", str(stories.count)),
        ("Changes implemented or evidenced", str(delivered)),
        (f"Heard back within {loop.within_days} days", _pct(loop.rate)),
        ("Median days to first feedback", _days(impact.feedback_timing.median_days)),
        ("Feedback overdue", str(len(impact.overdue_feedback))),
        ("Warnings", str(len(impact.warnings))),
    ]
    bar, stalled = impact.off_the_bar, impact.stalled
    if bar is not None and bar.heard:
        figures.append(("Proposals lived experience changed or overturned", _pct(bar.off_rate)))
    if stalled is not None and stalled.open:
        figures.append(("Changes stalled", f"{stalled.count} of {stalled.open}"))
    return render_template("sections/summary.html.j2", figures=figures)


def _funnel(impact: Impact) -> str:
    stages = impact.funnel
    cohort = stages[0].stories
    summary = "; ".join(f"{s.label}: {s.stories} of {cohort} stories" for s in stages)
    chart = bar_chart(
        chart_id="chart-funnel",
        title="Stories reaching each stage from story to change",
        summary=f"Funnel. {summary}.",
        categories=[s.label for s in stages],
        series=[Series(name="Stories", values=tuple(float(s.stories) for s in stages))],
        annotations=[
            _stories(s.stories)
            if s.key == "stories"
            else f"{_stories(s.stories)} · {s.count} {s.unit}"
            for s in stages
        ],
    )
    rows = [(s.label, s.stories, f"{s.count} {s.unit}") for s in stages]
    return render_template("sections/funnel.html.j2", impact=impact, chart=Markup(chart), rows=rows)


def _trend(impact: Impact) -> str:
    quarters = impact.trend
    summary = "; ".join(f"{q.quarter}: {q.outcomes_agreed} agreed" for q in quarters)
    chart = bar_chart(
        chart_id="chart-trend",
        title="Changes agreed in each quarter",
        summary=f"Changes agreed per quarter. {summary}.",
        categories=[q.quarter for q in quarters],
        series=[
            Series(
                name="Changes agreed",
                values=tuple(float(q.outcomes_agreed) for q in quarters),
                colour=PALETTE[2],
            )
        ],
    )
    rows = [
        (
            q.quarter,
            q.stories,
            q.insights_shared,
            q.outcomes_agreed,
            q.outcomes_delivered,
            q.contributors_told,
        )
        for q in quarters
    ]
    return render_template("sections/trend.html.j2", chart=Markup(chart), rows=rows)


def _loop(impact: Impact) -> str:
    loop = impact.loop_closure
    timing = impact.feedback_timing
    parts = (
        ("Heard back in time", loop.heard_within, PALETTE[2]),
        ("Heard back late", loop.heard_later, PALETTE[1]),
        ("Not heard back", loop.not_heard, PALETTE[5]),
        ("Not yet due", loop.not_yet_due, PALETTE[6]),
    )
    summary = (
        f"Of {loop.eligible} contributors whose period has ended, {loop.heard_within} heard back "
        f"within {loop.within_days} days ({_pct(loop.rate)}), {loop.heard_later} later and "
        f"{loop.not_heard} not at all; {loop.not_yet_due} are not yet due."
    )
    chart = bar_chart(
        chart_id="chart-loop",
        title="Contributors who asked to hear back, by whether they did",
        summary=summary,
        categories=["Contributors"],
        series=[Series(name=n, values=(float(v),), colour=c) for n, v, c in parts],
    )
    rows: list[tuple[Any, ...]] = [(n, v) for n, v, _ in parts]
    rows.append(("Did not ask to hear back", loop.opted_out))
    return render_template(
        "sections/loop.html.j2",
        summary=summary,
        median=_days(timing.median_days),
        p90=_days(timing.p90_days),
        waiting=timing.stories_waiting,
        chart=Markup(chart),
        rows=rows,
    )


def _depth(impact: Impact) -> str:
    rows = impact.change_depth
    names = [r.depth.value.capitalize() for r in rows]
    names[0] = "Tinkering around the edges"
    series = [
        Series(name="Underway", values=tuple(float(r.underway) for r in rows), colour=PALETTE[4]),
        Series(name="Delivered", values=tuple(float(r.delivered) for r in rows), colour=PALETTE[0]),
        Series(
            name="Not adopted", values=tuple(float(r.not_adopted) for r in rows), colour=PALETTE[6]
        ),
    ]
    summary = "; ".join(
        f"{n}: {r.total} ({r.delivered} delivered, {r.underway} underway, "
        f"{r.not_adopted} not adopted)"
        for n, r in zip(names, rows, strict=True)
    )
    chart = bar_chart(
        chart_id="chart-depth",
        title="Outcomes by how deep the change went",
        summary=f"Change depth. {summary}.",
        categories=names,
        series=series,
    )
    return render_template(
        "sections/depth.html.j2",
        chart=Markup(chart),
        rows=[
            (n, r.underway, r.delivered, r.not_adopted, r.total)
            for n, r in zip(names, rows, strict=True)
        ],
    )


_WARNING_LABELS = {
    "professionals_held_decisions": "Professionals held the decisions",
    "called_co_production": "Labelled above its rung",
    "never_told": "Never told what happened",
}


def _ladder(impact: Impact) -> str:
    rows = impact.ladder
    names = [f"{int(r.rung)}. {r.label}" for r in rows]
    series = [
        Series(
            name="Professionals decided",
            values=tuple(float(r.professionals) for r in rows),
            colour=PALETTE[5],
        ),
        Series(
            name="Shared decisions", values=tuple(float(r.shared) for r in rows), colour=PALETTE[1]
        ),
        Series(
            name="People with lived experience decided",
            values=tuple(float(r.lived_experience) for r in rows),
            colour=PALETTE[2],
        ),
    ]
    summary = "; ".join(f"{n}: {r.activities} activities" for n, r in zip(names, rows, strict=True))
    chart = bar_chart(
        chart_id="chart-ladder",
        title="Activities on each rung of the ladder of co-production, by who held the decisions",
        summary=f"Ladder of co-production. {summary}.",
        categories=names,
        series=series,
    )
    warned = [
        w
        for w in impact.warnings
        if w.code in ("professionals_held_decisions", "called_co_production")
    ]
    return render_template(
        "sections/ladder.html.j2",
        chart=Markup(chart),
        rows=[
            (n, r.activities, r.participants, r.professionals, r.shared, r.lived_experience)
            for n, r in zip(names, rows, strict=True)
        ],
        warned=warned,
        labels=_WARNING_LABELS,
    )


_DEPTH_NAMES = {
    "tinkering": "Tinkering around the edges",
    "practice": "Practice",
    "service": "Service",
    "system": "System",
}

_REASONS = {"no_progress": "no progress", "past_due": "past due"}


def _stalled(impact: Impact, limit: int) -> str:
    s = impact.stalled
    if s is None:
        return "<p>Stalled changes were not measured.</p>"
    names = [_DEPTH_NAMES[r.depth.value] for r in s.by_depth]
    chart = ""
    if s.open:
        summary = "; ".join(
            f"{n}: {r.stalled} of {r.open} open changes stalled"
            for n, r in zip(names, s.by_depth, strict=True)
        )
        chart = bar_chart(
            chart_id="chart-stalled",
            title="Changes not yet delivered, by depth: stalled and moving",
            summary=f"Stalled changes by depth. {summary}.",
            categories=names,
            series=[
                Series(
                    name="Stalled",
                    values=tuple(float(r.stalled) for r in s.by_depth),
                    colour=PALETTE[5],
                ),
                Series(
                    name="Moving",
                    values=tuple(float(r.open - r.stalled) for r in s.by_depth),
                    colour=PALETTE[4],
                ),
            ],
        )
    return render_template(
        "sections/stalled.html.j2",
        s=s,
        chart=Markup(chart),
        limit=limit,
        depth_rows=[
            (n, r.open, r.stalled, _pct(r.rate)) for n, r in zip(names, s.by_depth, strict=True)
        ],
        rows=[
            (
                c.title,
                c.outcome_id,
                _DEPTH_NAMES[c.depth.value],
                c.owner,
                c.status.value.replace("_", " "),
                c.due.isoformat() if c.due else "",
                ", ".join(_REASONS.get(r, r) for r in c.reasons),
                "; ".join(c.insight_titles),
                ", ".join(c.story_ids),
                c.days_in_status,
            )
            for c in s.changes[:limit]
        ],
    )


def _bar(impact: Impact) -> str:
    b = impact.off_the_bar
    if b is None:
        return "<p>How far off the bar was not measured.</p>"
    waiting = b.proposals - b.heard
    parts = (
        ("Confirmed", b.confirmed, PALETTE[2]),
        ("Changed", b.changed, PALETTE[1]),
        ("Overturned", b.overturned, PALETTE[5]),
        ("New: something nobody proposed", b.new, PALETTE[3]),
        ("Not yet heard", waiting, PALETTE[6]),
    )
    linked = b.adopted_from_lived_experience + b.adopted_from_professionals
    summary = (
        f"They proposed {b.proposals}; of the {b.heard} that lived experience has answered, it "
        f"changed or overturned {b.changed + b.overturned} ({_pct(b.off_rate)}), and it said "
        f"{b.new} new thing{'s' if b.new != 1 else ''} nobody had proposed. Of the "
        f"{linked} adopted changes traced to a proposal or an answer, "
        f"{b.adopted_from_lived_experience} came from lived experience ({_pct(b.lived_share)})."
    )
    chart = ""
    if b.proposals or b.new:
        chart = bar_chart(
            chart_id="chart-bar",
            title="What lived experience said of the professionals' proposals",
            summary=f"How far off the bar. {summary}",
            categories=[n for n, _, _ in parts],
            series=[
                Series(
                    name="Proposals", values=tuple(float(v) for _, v, _ in parts), colour=PALETTE[0]
                )
            ],
        )
    return render_template(
        "sections/bar.html.j2",
        summary=summary,
        chart=Markup(chart),
        rows=[(n, v) for n, v, _ in parts],
        origin_rows=[
            ("Lived experience (changed, overturned or new)", b.adopted_from_lived_experience),
            ("The professionals' list (confirmed)", b.adopted_from_professionals),
            ("Not traced to a proposal or an answer", b.adopted_unlinked),
        ],
    )


_ROLE_NAMES = {
    "participant": "Participant",
    "adviser": "Adviser",
    "co_facilitator": "Co-facilitator",
    "co_researcher": "Co-researcher",
    "trainer": "Trainer",
    "paid_peer_worker": "Paid peer worker",
}


def _money(pence: int) -> str:
    return f"\u00a3{pence // 100:,}.{pence % 100:02d}"


def _involvement(impact: Impact) -> str:
    v = impact.involvement
    if v is None:
        return "<p>Involvement was not measured.</p>"
    names = [_ROLE_NAMES.get(r.role.value, r.role.value) for r in v.by_role]
    summary = (
        f"{v.people} people took part {v.involvements} times; {v.returned} came back for more "
        f"than one activity and {v.once} took part once. {v.supported} were supported by an "
        "organisation."
    )
    chart = ""
    if v.involvements:
        chart = bar_chart(
            chart_id="chart-involvement",
            title="People with lived experience by the role they took",
            summary="Involvement by role. "
            + "; ".join(f"{n}: {r.people} people" for n, r in zip(names, v.by_role, strict=True))
            + ".",
            categories=names,
            series=[
                Series(
                    name="People",
                    values=tuple(float(r.people) for r in v.by_role),
                    colour=PALETTE[2],
                )
            ],
        )
    return render_template(
        "sections/involvement.html.j2",
        summary=summary,
        chart=Markup(chart),
        role_rows=[(n, r.people, r.involvements) for n, r in zip(names, v.by_role, strict=True)],
        recognition_rows=[
            ("Times recognition or payment was offered", v.recognition_offered),
            ("Times it was given", v.recognition_given),
            ("Times it was declined", v.recognition_declined),
            ("Times none was recorded", v.no_recognition),
            ("Amount offered", _money(v.offered_pence)),
            ("Amount given", _money(v.given_pence)),
            ("What the hourly rates come to for the hours recorded", _money(v.policy_pence)),
        ],
        warnings=v.warnings,
    )


def _themes(impact: Impact, top: int = 10) -> str:
    rows = impact.themes[:top]
    chart = ""
    if rows:
        series = [
            Series(
                name="Drawn on or recent",
                values=tuple(float(r.stories - r.soaked_up) for r in rows),
                colour=PALETTE[0],
            ),
            Series(
                name="Soaked up", values=tuple(float(r.soaked_up) for r in rows), colour=PALETTE[6]
            ),
        ]
        summary = "; ".join(
            f"{r.theme}: {r.stories} stories, {r.soaked_up} soaked up" for r in rows
        )
        chart = bar_chart(
            chart_id="chart-themes",
            title=f"The {len(rows)} themes with the most stories",
            summary=f"Top themes. {summary}.",
            categories=[r.theme for r in rows],
            series=series,
        )
    return render_template(
        "sections/themes.html.j2",
        chart=Markup(chart),
        rows=[(r.theme, r.stories, r.soaked_up, r.insights, r.outcomes, r.delivered) for r in rows],
    )


_DOMAIN_LABELS = {
    "direct_practice": "Direct practice with the individual",
    "interagency_working": "Interagency working",
    "organisational_support": "Organisational support",
    "sab_governance": "SAB governance",
    "national_legal_policy": "National legal and policy context",
}


def _domains(impact: Impact) -> str:
    return render_template(
        "sections/domains.html.j2",
        rows=[
            (
                _DOMAIN_LABELS.get(r.domain.value, r.domain.value),
                r.insights,
                r.shared,
                r.outcomes,
                r.delivered,
            )
            for r in impact.domains
        ],
    )


def _soaked(impact: Impact, limit: int) -> str:
    return render_template("sections/soaked.html.j2", s=impact.soaked_up, limit=limit)


def _overdue(impact: Impact, limit: int) -> str:
    rows = impact.overdue_feedback
    return render_template(
        "sections/overdue.html.j2",
        rows_all=rows,
        limit=limit,
        as_of=impact.as_of.isoformat(),
        rows=[
            (
                o.feedback_id,
                o.title,
                o.contributor_id,
                o.kind.value.replace("_", " "),
                o.due.isoformat(),
                o.days_overdue,
                o.outcome_id,
                o.insight_id,
            )
            for o in rows[:limit]
        ],
    )


def _warnings(impact: Impact, limit: int) -> str:
    return render_template(
        "sections/warnings.html.j2",
        never=[w.subject_id for w in impact.warnings if w.code == "never_told"],
        others=[w for w in impact.warnings if w.code != "never_told"],
        within_days=impact.loop_closure.within_days,
        limit=limit,
        labels=_WARNING_LABELS,
    )


def render_html(
    impact: Impact,
    *,
    title: str = DEFAULT_TITLE,
    organisation: str | None = None,
    generated_at: dt.datetime | None = None,
    max_rows: int = 200,
    sections: Sequence[ReportSection] | None = None,
) -> str:
    """The report as one HTML document (a string). ``max_rows`` caps each list of ids.
    ``sections`` defaults to :func:`report_sections` (the built-ins and any plugins')."""
    __version__ = metadata.version("coprolib")
    chosen = report_sections() if sections is None else sections
    period = (
        f"Stories collected since {impact.since.isoformat()}"
        if impact.since
        else "All stories recorded"
    )
    when = generated_at.isoformat(timespec="minutes") if generated_at else impact.as_of.isoformat()
    page = render_template(
        "page.html.j2",
        version=__version__,
        title=title,
        organisation=organisation,
        period=period,
        as_of=impact.as_of.isoformat(),
        when=when,
        sections=[_section(x, impact, max_rows) for x in chosen],
    )
    return str(page) + "\n"


def builtin_sections() -> tuple[ReportSection, ...]:
    """The sections coprolib's own report plugin registers, in order."""

    # Plain str out (not Markup), so a plugin adding text around a built-in section's HTML
    # keeps both as HTML.
    def fixed(fn: Callable[[Impact], str]) -> Callable[[Impact, int], str]:
        return lambda impact, _max_rows: str(fn(impact))

    def limited(fn: Callable[[Impact, int], str]) -> Callable[[Impact, int], str]:
        return lambda impact, max_rows: str(fn(impact, max_rows))

    return (
        ReportSection(key="summary", title="Summary", render=fixed(_summary)),
        ReportSection(key="funnel", title="From story to change", render=fixed(_funnel)),
        ReportSection(key="trend", title="Quarter by quarter", render=fixed(_trend)),
        ReportSection(key="loop", title="Closing the loop", render=fixed(_loop)),
        ReportSection(key="depth", title="How deep the changes went", render=fixed(_depth)),
        ReportSection(key="stalled", title="Changes that stalled", render=limited(_stalled)),
        ReportSection(key="bar", title="How far off the bar", render=fixed(_bar)),
        ReportSection(key="ladder", title="The ladder of co-production", render=fixed(_ladder)),
        ReportSection(key="involvement", title="Involvement over time", render=fixed(_involvement)),
        ReportSection(key="themes", title="Top themes", render=fixed(_themes)),
        ReportSection(
            key="domains",
            title="Safeguarding Adult Review learning domains",
            render=fixed(_domains),
        ),
        ReportSection(key="soaked", title="Stories with no insight yet", render=limited(_soaked)),
        ReportSection(key="overdue", title="Feedback overdue", render=limited(_overdue)),
        ReportSection(key="warnings", title="Warnings", render=limited(_warnings)),
    )


def report_sections() -> list[ReportSection]:
    """Every section plugins registered through ``register_report_sections``, in order.

    A key registered again replaces the earlier section in its place (so a plugin can redraw a
    built-in section); a key that is not lower-case letters, digits and hyphens is skipped with
    a warning.
    """
    by_key: dict[str, ReportSection] = {}
    for plugin, args in registrations(get_plugin_manager().hook.register_report_sections):
        key, title, render = args
        if not isinstance(key, str) or not _KEY.match(key):
            warnings.warn(
                f"plugin {plugin!r} registered report section key {key!r}; use lower-case "
                "letters, digits and hyphens",
                stacklevel=2,
            )
            continue
        by_key[key] = ReportSection(
            key=key,
            title=str(title),
            render=render,
            plugin="coprolib" if is_builtin(plugin) else plugin,
        )
    return list(by_key.values())


def write_report(impact: Impact, path: str | os.PathLike[str], **options: Any) -> Path:
    """Render the report and write it to ``path`` atomically (a reader never sees half a file).
    ``options`` go to :func:`render_html`. Returns the path written."""
    return write_atomic(path, render_html(impact, **options))


def write_atomic(path: str | os.PathLike[str], html: str) -> Path:
    """Write ``html`` to ``path`` atomically (a reader never sees half a file); returns it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A new file (mode "x") gets the usual permissions from the umask, unlike mkstemp's 0600:
    # the report is meant to be shared.
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8") as fh:
            fh.write(html)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target
