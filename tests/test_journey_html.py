"""The journey pages in headless Chromium: they render with no console errors and load
nothing else; headings in order, a language, enough contrast, a print stylesheet, statuses in
words; the Easy Read page in large print with one short sentence a line; nobody else's name."""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coprolib.ledger import open_ledger
from coprolib.report.journey import journey, write_html
from tests.chromium_cdp import Chromium, find_chromium
from tests.conftest import EXAMPLE_BUNDLE
from tests.test_journey import live_example, mentions, other_people

_AUDIT = r"""
(() => {
  const lum = c => { const m = c.match(/[\d.]+/g).map(Number);
    const [r, g, b] = m.slice(0, 3).map(v => { v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const bg = el => { for (; el; el = el.parentElement) { const c = getComputedStyle(el).backgroundColor;
      const m = c.match(/[\d.]+/g); if (m && (m.length < 4 || Number(m[3]) > 0)) return c; }
    return 'rgb(255, 255, 255)'; };
  const low = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || el.getClientRects().length === 0) continue;
    const a = lum(getComputedStyle(el).color), b = lum(bg(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) low.push([el.tagName, ratio.toFixed(2), el.textContent.slice(0, 40)]);
  }
  const px = sel => { const el = document.querySelector(sel);
    return el ? parseFloat(getComputedStyle(el).fontSize) : null; };
  return JSON.stringify({
    lang: document.documentElement.lang,
    title: document.title,
    headings: [...document.querySelectorAll('h1,h2,h3,h4,h5,h6')].map(h => Number(h.tagName[1])),
    lowContrast: low,
    statuses: [...document.querySelectorAll('.status')].map(s => s.textContent.trim()),
    mainParagraphs: [...document.querySelectorAll('main p')].map(p => p.innerText.trim()),
    paragraphPx: px('main p'),
    text: document.body.innerText,
  });
})()
"""


_REQUIRED = os.environ.get("COPROLIB_REQUIRE_CHROMIUM", "") not in ("", "0", "false")


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    """Headless Chromium (skipped when absent, unless COPROLIB_REQUIRE_CHROMIUM=1)."""
    binary = find_chromium()
    if binary is None:
        message = "headless Chromium not found (install Debian's 'chromium' package)"
        if _REQUIRED:
            pytest.fail(message + "; COPROLIB_REQUIRE_CHROMIUM=1 makes this a failure")
        pytest.skip(message)
    with Chromium(binary) as chromium:
        yield chromium


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """The standard and Easy Read pages, after every stage of the example, for p-amber and for
    p-morgan (who told s-10 with her)."""
    folder = tmp_path_factory.mktemp("journey-pages")
    ledger = open_ledger(f"sqlite:///{folder / 'ledger.db'}", key="", actor="test")
    with ledger:
        _, config = live_example(ledger, folder)
        out = {}
        for cid in ("p-amber", "p-morgan"):
            j = journey(ledger, cid, config=config)
            for easy in (False, True):
                name = f"{cid}{'-easy' if easy else ''}"
                out[name] = write_html(j, folder / f"{name}.html", easy_read=easy)
    yield out


def _audit(browser: Chromium, path: Path) -> dict[str, Any]:
    browser.open(path.resolve().as_uri())
    assert browser.console_problems() == []
    assert browser.requested_urls() == [path.resolve().as_uri()], "the page loads nothing else"
    found: dict[str, Any] = json.loads(browser.evaluate(_AUDIT))
    shot = os.environ.get("COPROLIB_JOURNEY_SCREENSHOTS")
    if shot:
        Path(shot).mkdir(parents=True, exist_ok=True)
        browser.screenshot(Path(shot) / f"{path.stem}.png")
    return found


def _headings_in_order(levels: list[int]) -> bool:
    return (
        levels[:1] == [1]
        and levels.count(1) == 1
        and all(b <= a + 1 for a, b in itertools.pairwise(levels))
    )


@pytest.mark.parametrize("name", ["p-amber", "p-amber-easy", "p-morgan", "p-morgan-easy"])
def test_journey_page_in_chromium(
    browser: Chromium,
    pages: dict[str, Path],
    name: str,
) -> None:
    found = _audit(browser, pages[name])
    assert found["lang"] == "en-GB"
    assert _headings_in_order(found["headings"]), found["headings"]
    assert found["lowContrast"] == [], "text below WCAG AA contrast (4.5:1)"
    assert all(re.search(r"[A-Za-z]", s) for s in found["statuses"]), "statuses are words"
    contributor = name.removesuffix("-easy")
    for other, words in other_people(EXAMPLE_BUNDLE, contributor).items():
        assert mentions(found["text"], words) == [], f"{other} appears on {name}"
    if name.endswith("-easy"):
        assert found["paragraphPx"] >= 24, "Easy Read is in large print"
        for line in found["mainParagraphs"]:
            sentences = [s for s in re.split(r"(?<=[.!?])\s+", line) if s]
            assert len(sentences) == 1, f"one idea a line: {line!r}"
            assert len(line.split()) <= 20, f"a short sentence: {line!r}"
    else:
        assert "Every agency saw a piece" in found["text"] or contributor != "p-amber"


def test_journey_page_prints(browser: Chromium, pages: dict[str, Path]) -> None:
    browser.open(pages["p-amber"].resolve().as_uri())
    browser.call("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        hidden = browser.evaluate("getComputedStyle(document.querySelector('nav')).display")
        assert hidden == "none", "the print stylesheet hides the contents list"
        pdf = browser.call("Page.printToPDF", {"paperWidth": 8.27, "paperHeight": 11.69})
        data = base64.b64decode(pdf["data"])
        assert data.startswith(b"%PDF") and re.search(rb"/Type\s*/Page(?!s)", data)
    finally:
        browser.call("Emulation.setEmulatedMedia", {"media": ""})
