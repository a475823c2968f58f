"""Evaluate coprolib's redactor against scrubadub 2.x (en_GB detectors) on the same corpus.

    pip install -r bench/requirements.txt
    python bench/redaction_eval.py [--docs 900] [--seed 2026]

Scoring:
* recall per label: a true span is found when at least 90% of its characters are covered by
  predicted spans (of any label: what matters is that the characters are masked);
* precision: a predicted span is correct when at least 50% of its characters lie inside true
  spans; per label by the predicted label, and overall;
* PERSON (held out): recall on people whose first name is not in coprolib's name list;
* PHONE not 07700: UK_PHONE recall on phone numbers outside Ofcom's 07700 900xxx drama range, which
  Faker uses for mobiles and which scrubadub (through ``phonenumbers``) rejects as unallocated;
* MB/s: UTF-8 megabytes of corpus per CPU second (``time.process_time``, one core, so other
  load on the machine does not count) of finding spans, best of ``--repeat`` passes for both
  tools, after one warm-up document (recogniser loading excluded for both).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from redaction_corpus import LABELS, Document, generate

Predicted = list[tuple[int, int, str]]

# scrubadub filth types -> our labels; anything else keeps its own name.
SCRUBADUB_LABELS = {
    "email": "EMAIL",
    "phone": "UK_PHONE",
    "postalcode": "UK_POSTCODE",
    "national_insurance_number": "NI_NUMBER",
    "url": "URL",
    "name": "PERSON",
    "date_of_birth": "DATE_OF_BIRTH",
    "address": "STREET_ADDRESS",
}


def coprolib_tool() -> tuple[Callable[[str], Predicted], set[str]]:
    """coprolib's find_spans with the built-in recognisers."""
    from coprolib.redaction import find_spans, get_recognizers

    labels = {label for r in get_recognizers() for label in r.labels}

    def run(text: str) -> Predicted:
        return [(s.start, s.end, s.label) for s in find_spans(text)]

    return run, labels


def scrubadub_tool() -> tuple[Callable[[str], Predicted], set[str], list[str]]:
    """scrubadub's Scrubber for en_GB plus every optional en_GB detector that loads here."""
    import scrubadub

    scrubber = scrubadub.Scrubber(locale="en_GB")
    notes = []
    for name in ("date_of_birth", "text_blob_name", "address"):
        try:
            scrubber.add_detector(name)
            scrubber.clean("John Smith was born on 3 March 1958 at 1 High Street, London.")
        except Exception as exc:
            scrubber.remove_detector(name) if name in scrubber._detectors else None
            notes.append(f"scrubadub detector {name!r} unavailable: {type(exc).__name__}")
    labels = {"EMAIL", "UK_PHONE", "UK_POSTCODE", "NI_NUMBER", "URL"}
    if "date_of_birth" in scrubber._detectors:
        labels.add("DATE_OF_BIRTH")
    if "text_blob_name" in scrubber._detectors:
        labels.add("PERSON")
    if "address" in scrubber._detectors:
        labels.add("STREET_ADDRESS")

    def run(text: str) -> Predicted:
        return [
            (f.beg, f.end, SCRUBADUB_LABELS.get(f.type, f.type.upper()))
            for f in scrubber.iter_filth(text)
        ]

    return run, labels, notes


def _covered(start: int, end: int, mask: bytearray) -> float:
    return sum(mask[start:end]) / max(1, end - start)


def evaluate(
    docs: list[Document], run: Callable[[str], Predicted], repeat: int = 1
) -> dict[str, object]:
    """Per-label recall and precision, held-out person recall, and MB/s for one tool."""
    run(docs[0].text)  # warm up
    elapsed = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        predictions = [run(d.text) for d in docs]
        elapsed = min(elapsed, time.process_time() - started)
    size = sum(len(d.text.encode()) for d in docs)

    found: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    held: list[int] = [0, 0]
    real_phone: list[int] = [0, 0]  # outside Ofcom's 07700 900xxx drama range
    correct: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses: dict[str, list[str]] = defaultdict(list)
    false_pos: list[str] = []
    for doc, pred in zip(docs, predictions, strict=True):
        pred_mask = bytearray(len(doc.text))
        for s, e, _ in pred:
            pred_mask[s:e] = b"\x01" * (e - s)
        true_mask = bytearray(len(doc.text))
        for t in doc.spans:
            true_mask[t.start : t.end] = b"\x01" * (t.end - t.start)
        for t in doc.spans:
            ok = _covered(t.start, t.end, pred_mask) >= 0.9
            found[t.label][0] += ok
            found[t.label][1] += 1
            if t.held_out:
                held[0] += ok
                held[1] += 1
            if t.label == "UK_PHONE" and "7700" not in "".join(
                ch for ch in doc.text[t.start : t.end] if ch.isdigit()
            ):
                real_phone[0] += ok
                real_phone[1] += 1
            if not ok and len(misses[t.label]) < 8:
                misses[t.label].append(doc.text[max(0, t.start - 25) : t.end + 10])
        for s, e, label in pred:
            ok = _covered(s, e, true_mask) >= 0.5
            correct[label][0] += ok
            correct[label][1] += 1
            if not ok and len(false_pos) < 40:
                false_pos.append(f"{label}: {doc.text[max(0, s - 20) : e + 10]!r}")
    return {
        "recall": {k: v[0] / v[1] for k, v in found.items()},
        "counts": {k: v[1] for k, v in found.items()},
        "precision": {k: v[0] / v[1] for k, v in correct.items()},
        "overall_precision": sum(v[0] for v in correct.values())
        / max(1, sum(v[1] for v in correct.values())),
        "held_out": held[0] / max(1, held[1]),
        "held_out_n": held[1],
        "real_phone": real_phone[0] / max(1, real_phone[1]),
        "real_phone_n": real_phone[1],
        "mbps": size / 1e6 / elapsed,
        "misses": misses,
        "false_pos": false_pos,
    }


def _overlap() -> str:
    """How many of Faker's en_GB first names are in coprolib's list (why held-out matters)."""
    from faker.providers.person.en_GB import Provider

    from coprolib.redaction.recognizers_names import first_names

    ours = first_names()
    faker = {n.casefold() for n in (*Provider.first_names_male, *Provider.first_names_female)}
    return (
        f"{len(faker & ours)}/{len(faker)} Faker en_GB first names are in coprolib's list; "
        "'PERSON held out' uses first names from other Faker locales that are not"
    )


def _fmt(value: float | None) -> str:
    return "   -  " if value is None else f"{value:6.3f}"


def main() -> None:
    """Print the side-by-side table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=900)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--repeat", type=int, default=2, help="Timed passes per tool (best).")
    parser.add_argument("--show-errors", action="store_true", help="Print misses and FPs.")
    args = parser.parse_args()

    docs = generate(args.docs, args.seed)
    size = sum(len(d.text.encode()) for d in docs)
    cop_run, cop_labels = coprolib_tool()
    scr_run, scr_labels, notes = scrubadub_tool()
    cop = evaluate(docs, cop_run, args.repeat)
    scr = evaluate(docs, scr_run, args.repeat)

    print(f"corpus: {len(docs)} documents, {size / 1e6:.2f} MB, seed {args.seed}")
    print(f"name list overlap: {_overlap()}")
    for note in notes:
        print(f"note: {note}")
    print(f"{'label':16}{'n':>6}  {'coprolib R':>10} {'P':>6}   {'scrubadub R':>11} {'P':>6}")
    for label in LABELS:
        cr = cop["recall"].get(label) if label in cop_labels else None  # type: ignore[attr-defined]
        cp = cop["precision"].get(label)  # type: ignore[attr-defined]
        sr = scr["recall"].get(label) if label in scr_labels else None  # type: ignore[attr-defined]
        sp = scr["precision"].get(label) if label in scr_labels else None  # type: ignore[attr-defined]
        n = cop["counts"].get(label, 0)  # type: ignore[attr-defined]
        print(f"{label:16}{n:>6}  {_fmt(cr):>10} {_fmt(cp)}   {_fmt(sr):>11} {_fmt(sp)}")
    sr_held = scr["held_out"] if "PERSON" in scr_labels else None
    print(
        f"{'PERSON held out':16}{cop['held_out_n']:>6}  {_fmt(cop['held_out']):>10} "  # type: ignore[arg-type]
        f"{'':6}   {_fmt(sr_held):>11}"  # type: ignore[arg-type]
    )
    print(
        f"{'PHONE not 07700':16}{cop['real_phone_n']:>6}  {_fmt(cop['real_phone']):>10} "  # type: ignore[arg-type]
        f"{'':6}   {_fmt(scr['real_phone']):>11}"  # type: ignore[arg-type]
    )
    print(
        f"{'overall precision':22}  {cop['overall_precision']:6.3f}   "
        f"{'':10} {scr['overall_precision']:6.3f}"
    )
    print(
        f"{'MB/s (one core)':22}  {cop['mbps']:6.2f}   {'':10} {scr['mbps']:6.3f}"
        f"   ratio {cop['mbps'] / scr['mbps']:.1f}x"  # type: ignore[operator]
    )
    if args.show_errors:
        for name, res in (("coprolib", cop), ("scrubadub", scr)):
            print(f"\n== {name} misses")
            for label, texts in res["misses"].items():  # type: ignore[attr-defined]
                for t in texts:
                    print(f"  {label}: {t!r}")
            print(f"== {name} false positives")
            for t in res["false_pos"]:  # type: ignore[attr-defined]
                print(f"  {t}")


if __name__ == "__main__":
    main()
