"""The board report: one self-contained, accessible HTML file built from an :class:`Impact`.

No network and no scripts: CSS and SVG charts are inline, so the file can be emailed, attached
to board papers or printed. Every chart is an ``<svg role="img">`` with a ``<title>``, a
``<desc>`` and an ``aria-label`` summarising it, followed by a table holding the same numbers.
Only ids, counts, dates and labels appear: never names, contact details or story text.

The HTML is built with plain string functions rather than a template engine: the page is small,
coprolib's core stays free of extra dependencies, and every value passes through :func:`esc`.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

from coprolib.impact import Impact, ImpactWarning

__all__ = [
    "DEFAULT_TITLE",
    "ReportSection",
    "Series",
    "bar_chart",
    "builtin_sections",
    "esc",
    "render_html",
    "report_sections",
    "table",
    "write_report",
]

DEFAULT_TITLE = "From stories to change: impact report"

#: Okabe-Ito colours (distinguishable with common colour-vision differences).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#999999")


def esc(value: Any) -> str:
    """``value`` as text safe inside HTML/SVG element content and quoted attributes."""
    text = str(value)
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#x27;")
    )


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
    legend: list[str] = []
    legend_rows = 0
    if len(series) > 1:
        x, legend_rows = 0.0, 1
        for s in series:
            width = 26 + _CHAR_W * len(s.name)
            if x and x + width > _W:
                x, legend_rows = 0.0, legend_rows + 1
            y = 6 + (legend_rows - 1) * 22
            legend.append(
                f'<rect x="{x:.0f}" y="{y}" width="14" height="14" fill="{esc(s.colour)}"/>'
                f'<text x="{x + 20:.0f}" y="{y + 12}" class="legend">{esc(s.name)}</text>'
            )
            x += width + 14
    legend_h = 22 * legend_rows + (8 if legend_rows else 0)
    height = legend_h + _ROW_H * max(1, len(categories)) + 8
    out = [
        f'<svg id="{esc(chart_id)}" class="chart" role="img" aria-label="{esc(summary)}" '
        f'aria-describedby="{esc(chart_id)}-desc" viewBox="0 0 {_W} {height}" '
        f'width="{_W}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{esc(title)}</title>",
        f'<desc id="{esc(chart_id)}-desc">{esc(summary)}</desc>',
        *legend,
    ]
    for i, label in enumerate(categories):
        y = legend_h + i * _ROW_H + 4
        out.append(
            f'<text x="{_LABEL_W - 10}" y="{y + _BAR_H - 5}" class="label" '
            f'text-anchor="end">{esc(_short(label))}</text>'
        )
        x = float(_LABEL_W)
        for s in series:
            width = _BAR_W * s.values[i] / top
            if width > 0:
                out.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{max(width, 1.5):.1f}" height="{_BAR_H}" '
                    f'fill="{esc(s.colour)}"><title>{esc(label)}, {esc(s.name)}: '
                    f"{_num(s.values[i])}</title></rect>"
                )
            x += width
        note = annotations[i] if annotations is not None else _num(totals[i])
        out.append(f'<text x="{x + 6:.1f}" y="{y + _BAR_H - 5}" class="value">{esc(note)}</text>')
    out.append(
        f'<line x1="{_LABEL_W}" y1="{legend_h}" x2="{_LABEL_W}" y2="{height - 4}" class="axis"/>'
    )
    out.append("</svg>")
    return "".join(out)


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
    """An HTML table with a caption, column headers and (by default) row headers."""
    out = [f"<table><caption>{esc(caption)}</caption><thead><tr>"]
    out.extend(
        f'<th scope="col"{" class=num" if i >= numeric_from else ""}>{esc(h)}</th>'
        for i, h in enumerate(headers)
    )
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>")
        for i, cell in enumerate(row):
            text = "" if cell is None else esc(cell)
            if i == 0 and row_headers:
                out.append(f'<th scope="row">{text}</th>')
            else:
                cls = ' class="num"' if i >= numeric_from else ""
                out.append(f"<td{cls}>{text}</td>")
        out.append("</tr>")
    if not rows:
        out.append(f'<tr><td colspan="{len(headers)}">None.</td></tr>')
    out.append("</tbody></table>")
    return "".join(out)


def _stories(n: int) -> str:
    return "1 story" if n == 1 else f"{n} stories"


def _pct(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate * 100:.0f}%"


def _days(value: float | int | None) -> str:
    return "n/a" if value is None else f"{_num(value)} days"


_CSS = """
:root{--ink:#1b1b1b;--muted:#505a5f;--rule:#b1b4b6;--accent:#0b4f8a;--warn:#8a3b00;
font-family:system-ui,-apple-system,"Segoe UI",Arial,sans-serif;color:var(--ink);line-height:1.45}
body{margin:0;background:#fff}
.wrap{max-width:60rem;margin:0 auto;padding:1.5rem}
a{color:var(--accent)}
a:focus,a:hover{outline:3px solid #fd0;background:#fd0;color:#0b0c0c}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem}
header{border-bottom:4px solid var(--accent);margin-bottom:1rem}
h1{font-size:1.9rem;margin:.2rem 0}h2{font-size:1.4rem;margin-top:2rem;
border-top:1px solid var(--rule);padding-top:1rem}h3{font-size:1.1rem}
.meta{color:var(--muted)}
nav ol{columns:2;padding-left:1.2rem}
.figures{display:grid;grid-template-columns:repeat(auto-fit,minmax(11rem,1fr));gap:.75rem;margin:0}
.figures div{border-left:5px solid var(--accent);padding:.4rem .7rem;background:#f3f2f1}
.figures dt{font-size:.9rem;color:var(--muted)}
.figures dd{margin:0;font-size:1.5rem;font-weight:700}
figure{margin:1rem 0}figcaption{color:var(--muted);font-size:.95rem}
svg.chart{max-width:100%;height:auto;display:block}
svg .label,svg .value,svg .legend{font-size:13px;fill:#1b1b1b;font-family:inherit}
svg .axis{stroke:#505a5f;stroke-width:1}
table{border-collapse:collapse;margin:.5rem 0 1rem;width:100%;font-size:.95rem}
caption{text-align:left;font-weight:600;padding:.3rem 0}
th,td{border-bottom:1px solid var(--rule);padding:.3rem .5rem;text-align:left;vertical-align:top}
.num{text-align:right;font-variant-numeric:tabular-nums}
.warnings li{margin:.3rem 0}.warnings strong{color:var(--warn)}
.ids{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9rem}
.ids span{white-space:nowrap}
footer{margin-top:2rem;border-top:1px solid var(--rule);color:var(--muted);font-size:.9rem}
@media print{
@page{size:A4;margin:15mm}
:root{font-size:10.5pt}
.wrap{max-width:none;padding:0}
nav,.skip{display:none}
a{color:inherit;text-decoration:none}
section{break-inside:avoid-page}
h2{break-after:avoid}
table,figure{break-inside:avoid}
*{print-color-adjust:exact;-webkit-print-color-adjust:exact}
}
"""


@attrs.frozen(kw_only=True)
class ReportSection:
    """One section of the report: its anchor ``key``, its heading, and ``render(impact,
    max_rows)`` returning the section's HTML (headings inside it start at ``<h3>``)."""

    key: str
    title: str
    render: Callable[[Impact, int], str]
    plugin: str = "coprolib"


_KEY = re.compile(r"^[a-z][a-z0-9-]*$")


def _section(section: ReportSection, impact: Impact, max_rows: int) -> str:
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
    key = esc(section.key)
    return (
        f'<section id="{key}" aria-labelledby="{key}-h">'
        f'<h2 id="{key}-h">{esc(section.title)}</h2>{body}</section>'
    )


def _summary(impact: Impact) -> str:
    stories = impact.stage("stories")
    delivered = impact.stage("delivered")
    loop = impact.loop_closure
    figures = (
        ("Stories collected", str(stories.count)),
        ("Changes implemented or evidenced", str(delivered.count)),
        (f"Heard back within {loop.within_days} days", _pct(loop.rate)),
        ("Median days to first feedback", _days(impact.feedback_timing.median_days)),
        ("Feedback overdue", str(len(impact.overdue_feedback))),
        ("Warnings", str(len(impact.warnings))),
    )
    cells = "".join(f"<div><dt>{esc(k)}</dt><dd>{esc(v)}</dd></div>" for k, v in figures)
    return f'<dl class="figures">{cells}</dl>'


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
    return (
        "<p>How many of the period's stories reached each stage, and (after the dot) how many "
        "insights, outcomes or contributors that stage counted in the period.</p>"
        f"<figure>{chart}<figcaption>Each bar counts stories; bars never include "
        "disclosures, which are handled as safeguarding concerns "
        f"({impact.disclosures} in the period).</figcaption></figure>"
        + table(
            caption="From story to change (table of the chart above)",
            headers=("Stage", "Stories", "Count in period"),
            rows=rows,
        )
    )


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
    return (
        f"<p>{esc(summary)} From a story being collected to its contributor first hearing back "
        f"took a median of {esc(_days(timing.median_days))} (90th percentile "
        f"{esc(_days(timing.p90_days))}); {timing.stories_waiting} stories have had no feedback "
        "yet.</p>"
        f"<figure>{chart}</figure>"
        + table(
            caption="Closing the loop (table of the chart above)",
            headers=("Contributors", "Number"),
            rows=rows,
        )
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
    return (
        "<p>From small adjustments to practice up to changes in how the whole system works.</p>"
        f"<figure>{chart}</figure>"
        + table(
            caption="Change depth (table of the chart above)",
            headers=("Depth", "Underway", "Delivered", "Not adopted", "Total"),
            rows=[
                (n, r.underway, r.delivered, r.not_adopted, r.total)
                for n, r in zip(names, rows, strict=True)
            ],
        )
    )


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
    notes = (
        _warning_list(warned, limit=50)
        if warned
        else "<p>No activity is labelled above its rung.</p>"
    )
    return (
        "<p>Think Local Act Personal's ladder runs from coercion (1) to co-production (7). "
        "Only rungs 6 and 7 share power.</p>"
        f"<figure>{chart}</figure>"
        + table(
            caption="Ladder of co-production (table of the chart above)",
            headers=(
                "Rung",
                "Activities",
                "Participants",
                "Professionals decided",
                "Shared",
                "Lived experience decided",
            ),
            rows=[
                (n, r.activities, r.participants, r.professionals, r.shared, r.lived_experience)
                for n, r in zip(names, rows, strict=True)
            ],
        )
        + "<h3>Activities to look at</h3>"
        + notes
    )


def _themes(impact: Impact, top: int = 10) -> str:
    rows = impact.themes[:top]
    if not rows:
        return "<p>No stories in this period carry a theme.</p>"
    series = [
        Series(
            name="Drawn on or recent",
            values=tuple(float(r.stories - r.soaked_up) for r in rows),
            colour=PALETTE[0],
        ),
        Series(name="Soaked up", values=tuple(float(r.soaked_up) for r in rows), colour=PALETTE[6]),
    ]
    summary = "; ".join(f"{r.theme}: {r.stories} stories, {r.soaked_up} soaked up" for r in rows)
    chart = bar_chart(
        chart_id="chart-themes",
        title=f"The {len(rows)} themes with the most stories",
        summary=f"Top themes. {summary}.",
        categories=[r.theme for r in rows],
        series=series,
    )
    return f"<figure>{chart}</figure>" + table(
        caption="Top themes (table of the chart above)",
        headers=("Theme", "Stories", "Soaked up", "Insights", "Outcomes", "Delivered"),
        rows=[(r.theme, r.stories, r.soaked_up, r.insights, r.outcomes, r.delivered) for r in rows],
    )


def _domains(impact: Impact) -> str:
    label = {
        "direct_practice": "Direct practice with the individual",
        "interagency_working": "Interagency working",
        "organisational_support": "Organisational support",
        "sab_governance": "SAB governance",
        "national_legal_policy": "National legal and policy context",
    }
    return table(
        caption="Insights and outcomes by learning domain",
        headers=("Domain", "Insights", "Shared", "Outcomes", "Delivered"),
        rows=[
            (
                label.get(r.domain.value, r.domain.value),
                r.insights,
                r.shared,
                r.outcomes,
                r.delivered,
            )
            for r in impact.domains
        ],
    )


def _ids(ids: Sequence[str], limit: int) -> str:
    shown = ", ".join(f"<span>{esc(i)}</span>" for i in ids[:limit])
    more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
    return f'<p class="ids">{shown}{esc(more)}</p>'


def _soaked(impact: Impact, limit: int) -> str:
    s = impact.soaked_up
    text = (
        f"<p>{s.count} of the {s.eligible} stories collected more than {s.after_days} days ago "
        "have not been drawn on by any insight: applauded, then \u201con to the next\u201d.</p>"
    )
    return text + (_ids(s.story_ids, limit) if s.story_ids else "")


def _overdue(impact: Impact, limit: int) -> str:
    rows = impact.overdue_feedback
    shown = rows[:limit]
    text = (
        f"<p>{len(rows)} feedback obligations are past their due date on "
        f"{impact.as_of.isoformat()}. Ids only: look them up in the ledger.</p>"
    )
    if len(rows) > limit:
        text += (
            f"<p>The first {limit} are listed; <code>coprolib impact --json</code> lists all.</p>"
        )
    return text + table(
        caption="Overdue feedback, oldest first",
        headers=("Feedback", "Contributor", "Kind", "Due", "Days overdue", "Outcome", "Insight"),
        rows=[
            (
                o.feedback_id,
                o.contributor_id,
                o.kind.value.replace("_", " "),
                o.due.isoformat(),
                o.days_overdue,
                o.outcome_id,
                o.insight_id,
            )
            for o in shown
        ],
        numeric_from=4,
    )


_WARNING_LABELS = {
    "professionals_held_decisions": "Professionals held the decisions",
    "called_co_production": "Labelled above its rung",
    "never_told": "Never told what happened",
}


def _warning_list(warnings: Sequence[ImpactWarning], limit: int) -> str:
    items = "".join(
        f"<li><strong>{esc(_WARNING_LABELS.get(w.code, w.code))}</strong>: {esc(w.message)}</li>"
        for w in warnings[:limit]
    )
    more = f"<p>And {len(warnings) - limit} more.</p>" if len(warnings) > limit else ""
    return f'<ul class="warnings">{items}</ul>{more}'


def _warnings(impact: Impact, limit: int) -> str:
    never = [w.subject_id for w in impact.warnings if w.code == "never_told"]
    others = [w for w in impact.warnings if w.code != "never_told"]
    out = []
    if never:
        out.append(
            f"<h3>Contributors never told what happened</h3><p>{len(never)} contributors asked "
            f"to hear back and, {impact.loop_closure.within_days} days after sharing, have not "
            "been told what happened.</p>" + _ids(never, limit)
        )
    if others:
        out.append("<h3>Activities</h3>" + _warning_list(others, limit))
    return "".join(out) or "<p>No warnings.</p>"


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
    from coprolib import __version__

    chosen = report_sections() if sections is None else sections

    period = (
        f"Stories collected since {impact.since.isoformat()}"
        if impact.since
        else "All stories recorded"
    )
    when = generated_at.isoformat(timespec="minutes") if generated_at else impact.as_of.isoformat()
    org = f'<p class="meta">{esc(organisation)}</p>' if organisation else ""
    toc = "".join(f'<li><a href="#{esc(x.key)}">{esc(x.title)}</a></li>' for x in chosen)
    body = "".join(_section(x, impact, max_rows) for x in chosen)
    return (
        '<!doctype html><html lang="en-GB"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="coprolib {esc(__version__)}">'
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>"
        '<a class="skip" href="#main">Skip to the report</a>'
        f'<div class="wrap"><header>{org}<h1>{esc(title)}</h1>'
        f'<p class="meta">{esc(period)}, as of {esc(impact.as_of.isoformat())}. '
        f"Generated {esc(when)}.</p></header>"
        f'<nav aria-label="Contents"><h2>Contents</h2><ol>{toc}</ol></nav>'
        f'<main id="main">{body}</main>'
        "<footer><p>Counts and ids only: this report holds no names, contact details or story "
        "text. Definitions are in the coprolib documentation (impact measures).</p>"
        f"<p>coprolib {esc(__version__)}</p></footer></div></body></html>\n"
    )


def builtin_sections() -> tuple[ReportSection, ...]:
    """The sections coprolib's own report plugin registers, in order."""

    def fixed(fn: Callable[[Impact], str]) -> Callable[[Impact, int], str]:
        return lambda impact, _max_rows: fn(impact)

    return (
        ReportSection(key="summary", title="Summary", render=fixed(_summary)),
        ReportSection(key="funnel", title="From story to change", render=fixed(_funnel)),
        ReportSection(key="loop", title="Closing the loop", render=fixed(_loop)),
        ReportSection(key="depth", title="How deep the changes went", render=fixed(_depth)),
        ReportSection(key="ladder", title="The ladder of co-production", render=fixed(_ladder)),
        ReportSection(key="themes", title="Top themes", render=fixed(_themes)),
        ReportSection(
            key="domains",
            title="Safeguarding Adult Review learning domains",
            render=fixed(_domains),
        ),
        ReportSection(key="soaked", title="Stories with no insight yet", render=_soaked),
        ReportSection(key="overdue", title="Feedback overdue", render=_overdue),
        ReportSection(key="warnings", title="Warnings", render=_warnings),
    )


def report_sections() -> list[ReportSection]:
    """Every section plugins registered through ``register_report_sections``, in order.

    A key registered again replaces the earlier section in its place (so a plugin can redraw a
    built-in section); a key that is not lower-case letters, digits and hyphens is skipped with
    a warning.
    """
    from coprolib.plugin_host import collect_registrations

    by_key: dict[str, ReportSection] = {}
    for plugin, args in collect_registrations("register_report_sections"):
        key, title, render = args
        if not isinstance(key, str) or not _KEY.match(key):
            warnings.warn(
                f"plugin {plugin!r} registered report section key {key!r}; use lower-case "
                "letters, digits and hyphens",
                stacklevel=2,
            )
            continue
        builtin = plugin == "coprolib.plugins.report_sections"
        by_key[key] = ReportSection(
            key=key, title=str(title), render=render, plugin="coprolib" if builtin else plugin
        )
    return list(by_key.values())


def write_report(impact: Impact, path: str | os.PathLike[str], **options: Any) -> Path:
    """Render the report and write it to ``path`` atomically (a reader never sees half a file).
    ``options`` go to :func:`render_html`. Returns the path written."""
    target = Path(path)
    html = render_html(impact, **options)
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
