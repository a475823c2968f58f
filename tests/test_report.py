"""The board report: self-contained, accessible HTML, checked in real headless Chromium."""

from __future__ import annotations

import base64
import datetime as dt
import os
import re
import shutil
import struct
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings

from coprolib import hookimpl
from coprolib.impact import Impact, measure, measure_bundle
from coprolib.plugins import get_plugin_manager
from coprolib.records import Contributor, Story
from coprolib.records.enums import StorySource
from coprolib.report import (
    Series,
    bar_chart,
    builtin_sections,
    esc,
    render_html,
    report_sections,
    table,
    write_report,
)
from coprolib.testing.strategies import bundles, dates
from coprolib.testing.synthetic import SyntheticWorld, synthetic_world
from tests.chromium_cdp import Chromium, find_chromium
from tests.conftest import EXAMPLE_BUNDLE

CHART_IDS = (
    "chart-funnel",
    "chart-trend",
    "chart-loop",
    "chart-depth",
    "chart-stalled",
    "chart-ladder",
    "chart-themes",
)
SECRET_NAME = "Zebedee Fictionalperson"
SECRET_TEXT = "UNIQUE-STORY-WORDS-7f3a"


def _world() -> SyntheticWorld:
    """A synthetic world in which one contributor has a name and one story has marked text."""
    world = synthetic_world(stories=240, insights=24, seed=3)
    people = list(world.contributors)
    people[1] = attrs.evolve(people[1], display_name=SECRET_NAME, known_identifiers=("Zeb",))
    stories = list(world.stories)
    stories[0] = attrs.evolve(stories[0], text=f"{SECRET_TEXT} and more")
    for i in range(60):  # enough to make it a top theme, so it is shown
        stories[i] = attrs.evolve(stories[i], themes=("<b>x</b>",))
    return attrs.evolve(world, contributors=tuple(people), stories=tuple(stories))


@pytest.fixture(scope="module")
def impact() -> Impact:
    world = _world()
    return measure_bundle(world, today=world.today, soak_days=60)


class _Outline(HTMLParser):
    """Collects what the accessibility checks need from the page."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.svgs: list[dict[str, str | None]] = []
        self.svg_children: dict[str, list[str]] = {}
        self.headings: list[int] = []
        self.after_chart: list[str] = []  # first table/figure element seen after each chart
        self.scripts = 0
        self.urls: list[str] = []
        self.html_lang: str | None = None
        self._pending_chart: str | None = None
        self.tables = 0
        self.table_captions = 0

    def handle_starttag(self, tag: str, attrs_: list[tuple[str, str | None]]) -> None:
        a = dict(attrs_)
        if tag == "html":
            self.html_lang = a.get("lang")
        if tag == "script":
            self.scripts += 1
        for key in ("src", "href", "xlink:href"):
            value = a.get(key)
            if value and not value.startswith("#"):
                self.urls.append(value)
        if tag in ("h1", "h2", "h3", "h4"):
            self.headings.append(int(tag[1]))
        if tag == "svg":
            self.svgs.append(a)
            self.svg_children[a.get("id") or ""] = []
            self._pending_chart = a.get("id")
        elif self.stack and "svg" in self.stack:
            current = next(s for s in reversed(self.svgs))
            self.svg_children[current.get("id") or ""].append(tag)
        if tag == "table":
            self.tables += 1
            if self._pending_chart is not None:
                self.after_chart.append(self._pending_chart)
                self._pending_chart = None
        if tag == "caption":
            self.table_captions += 1
        if tag not in ("rect", "line", "meta", "link", "br", "img", "input"):
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass


def _outline(html: str) -> _Outline:
    parser = _Outline()
    parser.feed(html)
    return parser


def test_report_is_self_contained_and_accessible(impact: Impact) -> None:
    html = render_html(impact, organisation="A fictional Safeguarding Adults Board")
    page = _outline(html)
    assert page.html_lang == "en-GB"
    assert page.scripts == 0
    assert page.urls == [], "the report must not load anything"
    assert "url(" not in html and "@import" not in html
    assert page.headings[0] == 1 and page.headings.count(1) == 1
    assert all(b - a <= 1 for a, b in zip(page.headings, page.headings[1:], strict=False))
    assert [s.get("id") for s in page.svgs] == list(CHART_IDS)
    for svg in page.svgs:
        assert svg.get("role") == "img"
        assert (svg.get("aria-label") or "").strip()
        children = page.svg_children[svg.get("id") or ""]
        assert children[:2] == ["title", "desc"]
    assert page.after_chart == list(CHART_IDS), "every chart is followed by its table"
    assert page.tables == page.table_captions
    assert "@media print" in html


def test_report_holds_no_names_or_story_text_and_escapes(impact: Impact) -> None:
    html = render_html(impact)
    assert SECRET_NAME not in html and "Zeb" not in html
    assert SECRET_TEXT not in html
    assert "<b>x</b>" not in html and esc("<b>x</b>") in html


def test_report_shows_overdue_ids_and_caps_long_lists(impact: Impact) -> None:
    assert impact.overdue_feedback, "the synthetic world has overdue feedback"
    html = render_html(impact, max_rows=3)
    first = impact.overdue_feedback[0]
    assert f">{first.feedback_id}<" in html
    assert f">{impact.overdue_feedback[3].feedback_id}<" not in html
    assert f"{len(impact.overdue_feedback) - 3}" in html or len(impact.overdue_feedback) <= 3


def test_funnel_numbers_appear_in_chart_and_table(impact: Impact) -> None:
    html = render_html(impact)
    for stage in impact.funnel:
        assert f"{stage.label}: {stage.stories} of" in html  # the text alternative
        assert f'<td class="num">{stage.stories}</td>' in html  # the table


def test_bar_chart_scales_to_the_largest_total() -> None:
    svg = bar_chart(
        chart_id="c",
        title="t",
        summary="s",
        categories=["a", "b"],
        series=[Series(name="n", values=(10.0, 5.0))],
    )
    assert 'width="400.0"' in svg and 'width="200.0"' in svg
    empty = bar_chart(
        chart_id="e",
        title="t",
        summary="s",
        categories=["a"],
        series=[Series(name="n", values=(0.0,))],
    )
    assert "<rect" not in empty and 'role="img"' in empty


def test_write_report_is_atomic(tmp_path: Path, impact: Impact) -> None:
    target = tmp_path / "board" / "report.html"
    assert write_report(impact, target) == target
    assert target.read_text(encoding="utf-8").startswith("<!doctype html>")
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]


# --- real headless Chromium -------------------------------------------------------------

_REQUIRED = os.environ.get("COPROLIB_REQUIRE_CHROMIUM", "") not in ("", "0", "false")


@pytest.fixture(scope="module")
def browser() -> Any:
    binary = find_chromium()
    if binary is None:
        message = (
            "headless Chromium not found (install Debian's 'chromium' package, "
            "or set COPROLIB_CHROMIUM to its path)"
        )
        if _REQUIRED:
            pytest.fail(message + "; COPROLIB_REQUIRE_CHROMIUM=1 makes this a failure")
        pytest.skip(message)
    with Chromium(binary) as chromium:
        yield chromium


_MEASURE_CHARTS = """
JSON.stringify([...document.querySelectorAll('svg.chart')].map(svg => {
  const box = svg.getBoundingClientRect();
  const inside = el => { const r = el.getBoundingClientRect();
    return r.left >= box.left - 1 && r.right <= box.right + 1 &&
           r.top >= box.top - 1 && r.bottom <= box.bottom + 1; };
  return {id: svg.id, width: box.width, height: box.height,
          bars: [...svg.querySelectorAll('rect')]
                  .filter(r => r.getBoundingClientRect().width > 0).length,
          texts: svg.querySelectorAll('text').length,
          clipped: [...svg.querySelectorAll('text')]
                  .filter(t => !inside(t)).map(t => t.textContent)};
}))
"""


def _check_page(
    browser: Chromium, path: Path, expected: tuple[str, ...] = CHART_IDS
) -> list[dict[str, Any]]:
    import json

    browser.open(path.resolve().as_uri())
    assert browser.console_problems() == []
    assert browser.requested_urls() == [path.resolve().as_uri()], "the report loads nothing else"
    charts: list[dict[str, Any]] = json.loads(browser.evaluate(_MEASURE_CHARTS))
    assert [c["id"] for c in charts] == list(expected)
    for chart in charts:
        assert chart["width"] > 0 and chart["height"] > 0, chart
        assert chart["texts"] > 0, chart
        assert chart["clipped"] == [], f"text outside {chart['id']}: {chart['clipped']}"
    return charts


def test_report_renders_in_headless_chromium(browser: Chromium, tmp_path: Path) -> None:
    world = synthetic_world(stories=240, insights=24, seed=3)
    impact = measure_bundle(world, today=world.today)
    report = write_report(
        impact, tmp_path / "report.html", organisation="A fictional Safeguarding Adults Board"
    )
    charts = _check_page(browser, report)
    assert all(c["bars"] > 0 for c in charts), "charts with data draw bars"

    screenshot = tmp_path / "report.png"
    width, height = browser.screenshot(screenshot)
    data = screenshot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    png_w, png_h = struct.unpack(">II", data[16:24])
    assert (png_w, png_h) == (width, height) and height > 1000
    print(f"\nreport screenshot for review: {screenshot}")
    keep = os.environ.get("COPROLIB_REPORT_SCREENSHOT")
    if keep:
        Path(keep).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(screenshot, keep)
        print(f"report screenshot copied to {keep}")

    browser.call("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        hidden = browser.evaluate("getComputedStyle(document.querySelector('nav')).display")
        assert hidden == "none", "the print stylesheet hides the contents list"
        pdf = browser.call("Page.printToPDF", {"paperWidth": 8.27, "paperHeight": 11.69})
        data = base64.b64decode(pdf["data"])
        pages = len(re.findall(rb"/Type\s*/Page(?!s)", data))
        assert data.startswith(b"%PDF") and pages >= 3, "the report prints as several A4 pages"
        (tmp_path / "report.pdf").write_bytes(data)
        print(f"report printed to {tmp_path / 'report.pdf'} ({len(data) // 1024} KiB)")
    finally:
        browser.call("Emulation.setEmulatedMedia", {"media": ""})


def test_empty_report_renders_in_headless_chromium(browser: Chromium, tmp_path: Path) -> None:
    today = dt.date(2026, 11, 27)
    lone = Story(
        id="s-1",
        contributor_ids=("c-1",),
        text="Fictional.",
        source=StorySource.WORKSHOP,
        collected_on=today,
    )
    empty = measure(stories=[lone], contributors=[Contributor(id="c-1")], today=today)
    report = write_report(empty, tmp_path / "empty.html")
    # No themes, no open changes, no proposals and nobody involved: none of their charts.
    empty_charts = tuple(c for c in CHART_IDS if c not in ("chart-themes", "chart-stalled"))
    _check_page(browser, report, expected=empty_charts)


def test_board_sections_render_in_headless_chromium(browser: Chromium, tmp_path: Path) -> None:
    """The Northdale example draws every chart, the three board sections' included, and the
    involvement section carries counts only: no contributor id, name or supporting org."""
    from coprolib.records.bundle import load_bundle

    bundle = load_bundle(EXAMPLE_BUNDLE)
    impact = measure_bundle(bundle, today=dt.date(2026, 12, 5))
    report = write_report(impact, tmp_path / "northdale.html")
    expected = (
        "chart-funnel",
        "chart-trend",
        "chart-loop",
        "chart-depth",
        "chart-stalled",
        "chart-bar",
        "chart-ladder",
        "chart-involvement",
        "chart-themes",
    )
    charts = _check_page(browser, report, expected=expected)
    assert all(c["bars"] > 0 for c in charts)
    html = report.read_text(encoding="utf-8")
    start = html.index('id="involvement"')
    involvement = html[start : html.index("</section>", start)]
    for person in bundle.contributors:
        assert person.id not in involvement
        name = person.display_name
        assert name is None or not re.search(rf"\b{re.escape(name)}\b", html), name
    for inv in bundle.involvements:
        assert inv.supporting_org is None or inv.supporting_org not in involvement
    stalled = html[html.index('id="stalled"') :]
    assert "SAB independent chair" in stalled and "s-09" in stalled


def test_report_command_writes_html_and_json(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from coprolib.cli import build_cli

    out = tmp_path / "board.html"
    result = CliRunner().invoke(
        build_cli(),
        [
            "report",
            "--html",
            str(out),
            "--bundle",
            str(EXAMPLE_BUNDLE),
            "--json",
            "--today",
            "2026-11-27",
            "--organisation",
            "Northdale SAB (fictional)",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["html"] == str(out)
    html = out.read_text(encoding="utf-8")
    assert "Northdale SAB (fictional)" in html
    for stage in data["impact"]["funnel"]:
        assert f"{stage['label']}: {stage['stories']} of" in html


class _SectionPlugin:
    @hookimpl
    def register_report_sections(self, register: Any) -> None:
        def render(impact: Impact, max_rows: int) -> str:
            delivered = impact.stage("delivered").count
            return f"<p>Delivered this year: {delivered}</p>"

        register("council-kpi", "Council KPI", render)
        register("themes", "Themes, redrawn", lambda impact, max_rows: "<p>redrawn</p>")


class _BrokenSectionPlugin:
    @hookimpl
    def register_report_sections(self, register: Any) -> None:
        def render(impact: Impact, max_rows: int) -> str:
            raise RuntimeError("secret story words")

        register("broken-bit", "Broken", render)
        register("Bad Key!", "Bad", render)


def test_hook_register_report_sections(
    fresh_plugins: None, impact: Impact, monkeypatch: pytest.MonkeyPatch
) -> None:
    pm = get_plugin_manager()
    pm.register(_SectionPlugin(), name="section-plugin")
    pm.register(_BrokenSectionPlugin(), name="broken-section-plugin")
    with pytest.warns(UserWarning, match="Bad Key!"):
        keys = [s.key for s in report_sections()]
    assert keys == [s.key for s in builtin_sections()] + ["council-kpi", "broken-bit"]
    with pytest.warns(UserWarning):
        html = render_html(impact)
    assert f"<p>Delivered this year: {impact.stage('delivered').count}</p>" in html
    assert '<a href="#council-kpi">Council KPI</a>' in html
    assert "Themes, redrawn" in html and "chart-themes" not in html  # replaced in place
    assert "plugin broken-section-plugin failed (RuntimeError)" in html
    assert "secret story words" not in html
    monkeypatch.setenv("COPROLIB_STRICT_PLUGINS", "1")
    with pytest.warns(UserWarning), pytest.raises(RuntimeError, match="secret"):
        render_html(impact)


@settings(max_examples=40, deadline=None)
@given(bundle=bundles(), today=dates())
def test_any_bundle_gives_a_report_without_personal_data(bundle: Any, today: dt.date) -> None:
    """Whatever the records, the measures hold and the page carries no names or story text."""
    import json

    impact = measure_bundle(bundle, today=today)
    json.dumps(impact.to_dict())
    html = render_html(impact, sections=builtin_sections())
    page = _outline(html)
    assert page.urls == [] and page.scripts == 0
    assert all(svg.get("role") == "img" and svg.get("aria-label") for svg in page.svgs)
    assert page.after_chart == [svg.get("id") for svg in page.svgs]
    # The page is the same with every story's words and every personal detail blanked out: it
    # cannot carry any of them, however the generated values happen to look.
    blanked = attrs.evolve(
        bundle,
        stories=tuple(attrs.evolve(s, text="x" * len(s.text)) for s in bundle.stories),
        contributors=tuple(
            attrs.evolve(
                p,
                known_identifiers=(),
                display_name=None,
                contact=attrs.evolve(p.contact, email=None, phone=None, postal_address=None),
            )
            for p in bundle.contributors
        ),
    )
    assert render_html(measure_bundle(blanked, today=today), sections=builtin_sections()) == html


def test_docs_impact_example_runs(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.conftest import ROOT

    doc = (ROOT / "docs" / "impact.md").read_text(encoding="utf-8")
    # The example that writes the board report (the page's other examples run in test_docs).
    (example,) = [
        block
        for block in re.findall(r"```python\n(.*?)```", doc, flags=re.S)
        if "write_report" in block
    ]
    result = subprocess.run(
        [sys.executable, "-c", example],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    delivered, has_rate = result.stdout.split()
    assert int(delivered) >= 0 and has_rate == "True"
    assert (tmp_path / "board-report.html").read_text(encoding="utf-8").startswith("<!doctype")


def test_report_from_the_ledger_matches_the_records(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from coprolib.cli import build_cli
    from coprolib.ledger import open_ledger

    world = synthetic_world(stories=120, insights=12, seed=5)
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with open_ledger(url, actor="test") as ledger, ledger.transaction():
        for group in (world.contributors, world.stories, world.insights, world.outcomes,
                      world.feedback, world.activities):  # fmt: skip
            ledger.add(group)
        for share, status in world.shares:
            ledger.put_share(share, status=status)
    out = tmp_path / "board.html"
    result = CliRunner().invoke(
        build_cli(),
        ["report", "--html", str(out), "--ledger", url, "--json",
         "--today", world.today.isoformat(), "--since", "2025-06-01"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    expected = measure_bundle(world, today=world.today, since=dt.date(2025, 6, 1)).to_dict()
    assert json.loads(result.output)["impact"] == expected
    assert out.exists()


def test_write_report_leaves_the_old_file_when_rendering_fails(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("previous report", encoding="utf-8")

    def broken(impact: Impact, max_rows: int) -> str:
        raise RuntimeError("boom")

    world = synthetic_world(stories=10, insights=2)
    impact = measure_bundle(world, today=world.today)
    from coprolib.report import ReportSection

    with pytest.raises(RuntimeError):
        write_report(impact, target, sections=[ReportSection(key="x", title="X", render=broken)])
    assert target.read_text(encoding="utf-8") == "previous report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    write_report(impact, target)
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask, "permissions follow the umask"


def test_section_helpers_return_plain_html_a_plugin_can_add_to() -> None:
    # Markup would escape the plugin's own "<p>" when added to it; the helpers return str.
    html = "<p>Ours</p>" + table(caption="c <1>", headers=("a", "b"), rows=[("<i>", 1)])
    assert html.startswith("<p>Ours</p><table><caption>c &lt;1&gt;</caption>")
    assert '<th scope="row">&lt;i&gt;</th>' in html
    world = synthetic_world(stories=40, insights=5, seed=2)
    impact = measure_bundle(world, today=world.today)
    for section in builtin_sections():
        drawn = section.render(impact, 5) + "<p>after</p>"
        assert drawn.endswith("<p>after</p>") and "&lt;p&gt;" not in drawn, section.key
