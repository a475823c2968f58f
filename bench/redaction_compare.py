"""coprolib, scrubadub and Presidio (pattern recognisers) side by side on the hard set.

    pip install -r bench/requirements.txt        # from the repository root
    python bench/redaction_compare.py [--docs 800] [--seed 17] [--part both] [--families]

The set is ``bench/redaction_hardset.py``: a tuning part and a held-out part, reported apart.
``--show-errors`` prints coprolib's misses and false positives for the tuning part only: the
held-out part's are never printed, so nothing is tuned on them.

Scoring (the same for every tool):

* recall per label: a true span is found when at least 90% of its characters are covered by
  predicted spans of any label (what matters is that the characters are masked);
* precision per predicted label: a predicted span is correct when at least 50% of its
  characters lie inside true spans; "all" is over every predicted span;
* look-alikes hit: the share of look-alikes (references, dates that are not dates of birth,
  ordinary words that are names, product codes) of which any character was masked;
* MB/s: UTF-8 megabytes per CPU second (``time.process_time``, so other load on the shared
  machine counts less), best of ``--repeat`` passes (one pass for scrubadub and Presidio, which
  are slow enough for one to be steady), after a warm-up document. Because the
  machine is shared, each figure is also given as a ratio to a baseline measured in the same
  run: one plain regular-expression pass (``\\d+|[A-Z]\\w+``) over the same documents.

Presidio runs through the ``coprolib-presidio`` plugin (its pattern recognisers: no NLP model),
so it gets no PERSON or STREET_ADDRESS, and its date recogniser finds every date, not only
dates of birth. scrubadub's optional name and address detectors need corpora or models that
cannot be downloaded here; the note lines say which loaded.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from redaction_hardset import LABELS, PARTS, Document, generate

Predicted = list[tuple[int, int, str]]
Tool = Callable[[str], Predicted]


def coprolib_tool() -> tuple[Tool, set[str]]:
    """coprolib's find_spans with the built-in recognisers only."""
    from coprolib.redaction import find_spans, get_recognizers

    builtin = [r for r in get_recognizers() if type(r).__module__.startswith("coprolib.")]
    labels = {label for r in builtin for label in r.labels}

    def run(text: str) -> Predicted:
        return [(s.start, s.end, s.label) for s in find_spans(text, recognizers=builtin)]

    return run, labels


def presidio_tool() -> tuple[Tool, set[str]]:
    """Presidio's pattern recognisers through the coprolib-presidio plugin: its default
    entities plus DATE_TIME, scored as dates of birth (Presidio has no date-of-birth notion).
    EMAIL_ADDRESS and URL are left out: their check downloads the Public Suffix List."""
    from coprolib_presidio import DEFAULT_ENTITIES, presidio_recognizers

    from coprolib.redaction import find_spans

    recognizers = presidio_recognizers([*DEFAULT_ENTITIES, "DATE_TIME"])
    rename = {"DATE": "DATE_OF_BIRTH"}
    labels = {rename.get(label, label) for r in recognizers for label in r.labels}

    def run(text: str) -> Predicted:
        return [
            (s.start, s.end, rename.get(s.label, s.label))
            for s in find_spans(text, recognizers=recognizers)
        ]

    return run, labels


def scrubadub_tool() -> tuple[Tool, set[str], list[str]]:
    """scrubadub 2.x for en_GB, with the optional detectors that load here."""
    from redaction_eval import scrubadub_tool as make

    return make()


_BASELINE_RE = re.compile(r"\d+|[A-Z]\w+")


def _baseline(text: str) -> Predicted:
    return [(m.start(), m.end(), "") for m in _BASELINE_RE.finditer(text)]


def _timed(docs: list[Document], run: Tool, repeat: int) -> tuple[list[Predicted], float]:
    run(docs[0].text)
    best = float("inf")
    predictions: list[Predicted] = []
    for _ in range(repeat):
        started = time.process_time()
        predictions = [run(d.text) for d in docs]
        best = min(best, time.process_time() - started)
    return predictions, best


def score(
    docs: list[Document], predictions: list[Predicted], max_errors: int = 60
) -> dict[str, object]:
    """Recall per label and family, precision per label, look-alike hit rate, example errors."""
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    family: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    correct: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses: list[str] = []
    false_pos: list[str] = []
    for doc, pred in zip(docs, predictions, strict=True):
        n = len(doc.text)
        pred_mask = bytearray(n)
        for s, e, _ in pred:
            pred_mask[s:e] = b"\x01" * (e - s)
        true_mask = bytearray(n)
        for t in doc.spans:
            true_mask[t.start : t.end] = b"\x01" * (t.end - t.start)
        for t in doc.spans:
            ok = sum(pred_mask[t.start : t.end]) >= 0.9 * (t.end - t.start)
            found[t.label][0] += ok
            found[t.label][1] += 1
            family[f"{t.label}/{t.family}"][0] += ok
            family[f"{t.label}/{t.family}"][1] += 1
            if not ok and len(misses) < max_errors:
                misses.append(f"{t.label}: {doc.text[max(0, t.start - 30) : t.end + 12]!r}")
        for s, e, label in pred:
            ok = sum(true_mask[s:e]) >= 0.5 * (e - s)
            correct[label][0] += ok
            correct[label][1] += 1
            if not ok and len(false_pos) < max_errors:
                false_pos.append(f"{label}: {doc.text[max(0, s - 25) : e + 12]!r}")
        for la in doc.lookalikes:
            hit = any(pred_mask[la.start : la.end])
            hits[la.kind][0] += hit
            hits[la.kind][1] += 1
            hits["all"][0] += hit
            hits["all"][1] += 1
    all_pred = [sum(v[0] for v in correct.values()), sum(v[1] for v in correct.values())]
    return {
        "recall": {k: v[0] / v[1] for k, v in found.items()},
        "counts": {k: v[1] for k, v in found.items()},
        "family": {k: (v[0] / v[1], v[1]) for k, v in family.items()},
        "precision": {k: v[0] / v[1] for k, v in correct.items()},
        "precision_all": all_pred[0] / max(1, all_pred[1]),
        "lookalikes": {k: (v[0] / v[1], v[1]) for k, v in hits.items()},
        "misses": misses,
        "false_pos": false_pos,
    }


def _f(value: float | None, width: int = 6) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:{width}.3f}"


def main() -> None:
    """Print one table per part: per-label recall and precision, look-alikes, MB/s."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=800, help="Documents per part.")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--part", choices=(*PARTS, "both"), default="both")
    parser.add_argument("--repeat", type=int, default=3, help="Timed passes per tool (best).")
    parser.add_argument("--tools", default="coprolib,scrubadub,presidio")
    parser.add_argument("--families", action="store_true", help="Recall per format family.")
    parser.add_argument(
        "--show-errors",
        action="store_true",
        help="coprolib misses and FPs on the tuning part (never printed for the held-out part).",
    )
    parser.add_argument("--max-errors", type=int, default=60, help="Misses and FPs printed.")
    args = parser.parse_args()

    tools: dict[str, tuple[Tool, set[str]]] = {}
    wanted = args.tools.split(",")
    if "coprolib" in wanted:
        tools["coprolib"] = coprolib_tool()
    if "scrubadub" in wanted:
        run, labels, notes = scrubadub_tool()
        tools["scrubadub"] = (run, labels)
        for note in notes:
            print(f"note: {note}")
    if "presidio" in wanted:
        tools["presidio"] = presidio_tool()
    parts = PARTS if args.part == "both" else (args.part,)
    for part in parts:
        docs = generate(part, args.docs, args.seed)
        size = sum(len(d.text.encode()) for d in docs)
        _, base_s = _timed(docs, _baseline, args.repeat)
        base_mbps = size / 1e6 / base_s
        results = {}
        speed = {}
        for name, (run, _labels) in tools.items():
            preds, secs = _timed(docs, run, args.repeat if name == "coprolib" else 1)
            results[name] = score(docs, preds, args.max_errors)
            speed[name] = size / 1e6 / secs
        n_true = sum(len(d.spans) for d in docs)
        n_look = sum(len(d.lookalikes) for d in docs)
        print(
            f"\n== part {part}: {len(docs)} documents, {size / 1e6:.2f} MB, {n_true} identifiers, "
            f"{n_look} look-alikes, seed {args.seed}"
        )
        head = "".join(f" | {n + ' R':>12} {'P':>6}" for n in tools)
        print(f"{'label':16}{'n':>6}{head}")
        first = next(iter(results.values()))
        for label in LABELS:
            row = f"{label:16}{first['counts'].get(label, 0):>6}"  # type: ignore[attr-defined]
            for name, (_run, labels) in tools.items():
                res = results[name]
                rec = res["recall"].get(label) if label in labels else None  # type: ignore[attr-defined]
                prec = res["precision"].get(label) if label in labels else None  # type: ignore[attr-defined]
                row += f" | {_f(rec, 12)} {_f(prec)}"
            print(row)
        row = f"{'all (precision)':22}"
        for name in tools:
            row += f" | {'':12} {_f(results[name]['precision_all'])}"  # type: ignore[arg-type]
        print(row)
        kinds = sorted(first["lookalikes"])  # type: ignore[arg-type]
        for kind in kinds:
            n = first["lookalikes"][kind][1]  # type: ignore[index]
            row = f"{'look-alikes hit ' + kind:16}{n:>6}"
            for name in tools:
                row += f" | {_f(results[name]['lookalikes'][kind][0], 12)} {'':6}"  # type: ignore[index]
            print(row)
        row = f"{'MB/s (one core)':22}"
        for name in tools:
            row += f" | {speed[name]:12.3f} {'':6}"
        print(row)
        row = f"{'x baseline':22}"
        for name in tools:
            row += f" | {speed[name] / base_mbps:12.4f} {'':6}"
        print(row + f"   (baseline regex pass: {base_mbps:.1f} MB/s)")
        if args.families and "coprolib" in results:
            print("coprolib recall per family:")
            fam = results["coprolib"]["family"]
            for key in sorted(fam):  # type: ignore[arg-type]
                r, n = fam[key]  # type: ignore[index]
                print(f"  {key:36} {n:>5} {r:6.3f}")
        if args.show_errors and "coprolib" in results and part == "tune":
            print("coprolib misses:")
            for m in results["coprolib"]["misses"]:  # type: ignore[attr-defined]
                print("  ", m)
            print("coprolib false positives:")
            for m in results["coprolib"]["false_pos"]:  # type: ignore[attr-defined]
                print("  ", m)


if __name__ == "__main__":
    main()
