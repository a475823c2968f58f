"""Importing files into a ledger: bundle JSON, JSONL streams and CSV stories, all or nothing."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from coprolib.ledger.csv_stories import iter_story_csv
from coprolib.ledger.errors import LedgerError
from coprolib.ledger.ledger import Ledger
from coprolib.records import BUNDLE_TYPES, Contributor, Story

#: ``progress(file, records so far, bytes read so far or None)``.
Progress = Callable[[Path, int, int | None], None]


def _jsonl_lines(path: Path, counter: list[int]) -> Iterator[str]:
    with path.open(encoding="utf-8") as fh:
        read = 0
        for line in fh:
            read += len(line)
            counter[1] = read
            yield line


def _with_contributors(ledger: Ledger, stories: Iterable[Story]) -> Iterator[Any]:
    """Stories, each preceded by a bare contributor for any id the ledger does not hold yet."""
    made: set[str] = set()
    for s in stories:
        for cid in s.contributor_ids:
            if cid not in made and ledger.get(Contributor, cid) is None:
                made.add(cid)
                yield Contributor(id=cid)
        yield s


def import_files(
    ledger: Ledger,
    paths: Iterable[str | Path],
    *,
    progress: Progress | None = None,
    create_contributors: bool = False,
) -> dict[str, int]:
    """Import every file in one transaction: ``.json`` bundles, ``.jsonl`` typed records
    (streamed), ``.csv`` stories (see :mod:`coprolib.ledger.csv_stories`). With
    ``create_contributors`` a CSV story's unknown contributor ids become bare contributors.
    Returns counts per bundle key. If any file fails, nothing is written."""
    from coprolib.bundle import BundleError, iter_jsonl, load_bundle

    totals = {key: 0 for key in BUNDLE_TYPES}
    try:
        with ledger.transaction():
            for raw in paths:
                path = Path(raw)
                if not path.is_file():
                    raise LedgerError(f"{path}: no such file")
                suffix = path.suffix.lower()
                counter = [0, 0]

                def tick(n: int, path: Path = path, counter: list[int] = counter) -> None:
                    if progress is not None:
                        progress(path, n, counter[1] or None)

                if suffix == ".json":
                    counts = ledger.import_bundle(load_bundle(path))
                    tick(sum(counts.values()))
                elif suffix == ".jsonl":
                    records = iter_jsonl(_jsonl_lines(path, counter), source=str(path))
                    counts = ledger.import_records(records, progress=tick)
                elif suffix == ".csv":
                    stories: Iterable[Any] = iter_story_csv(path)
                    if create_contributors:
                        stories = _with_contributors(ledger, itertools.chain(stories))
                    counts = ledger.import_records(stories, progress=tick)
                else:
                    raise LedgerError(
                        f"{path}: cannot import {suffix or 'files without a suffix'}"
                        " (use .json, .jsonl or .csv)"
                    )
                for key, n in counts.items():
                    totals[key] += n
    except BundleError as exc:
        raise LedgerError(str(exc)) from None
    return totals
