"""Importing files into a ledger: bundle JSON, JSONL streams and CSV stories, all or nothing."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import attrs

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
    from coprolib.records.bundle import BundleError, iter_jsonl, load_bundle

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


@attrs.frozen(kw_only=True)
class UpdateResult:
    """What :func:`update_files` did: counts of records added (per bundle key), the records
    replaced by a new version (``"story s-01"``), those that were already as given, and the
    stories and insights whose shares the changes may touch."""

    added: dict[str, int]
    updated: tuple[str, ...]
    unchanged: tuple[str, ...]
    stories: tuple[str, ...]
    insights: tuple[str, ...]


def _read_records(path: Path) -> Iterator[Any]:
    from coprolib.ledger.record_store import _bundle_keys_in_order
    from coprolib.records.bundle import iter_jsonl, load_bundle

    suffix = path.suffix.lower()
    if suffix == ".json":
        bundle = load_bundle(path)
        for key in _bundle_keys_in_order():
            yield from getattr(bundle, key, ())
    elif suffix == ".jsonl":
        with path.open(encoding="utf-8") as fh:
            yield from iter_jsonl(fh, source=str(path))
    elif suffix == ".csv":
        yield from iter_story_csv(path)
    else:
        raise LedgerError(
            f"{path}: cannot import {suffix or 'files without a suffix'} (use .json, .jsonl or .csv)"
        )


def update_files(
    ledger: Ledger, paths: Iterable[str | Path], *, create_contributors: bool = False
) -> UpdateResult:
    """Import files whose records may be new versions of records the ledger holds (corrections),
    all or nothing.

    A record with a new id is added. A record whose id is held replaces it through
    :meth:`Ledger.replace` (audited as ``replace``); a consent is never replaced: the stored
    events must be the first events of the new version, and the ones after them are appended
    (each audited). A record equal to the stored one is left alone. Erased records cannot be
    given new content."""
    from coprolib.ledger.codec import kind_of
    from coprolib.records import Consent, Insight
    from coprolib.records.bundle import BundleError
    from coprolib.records.convert import unstructure

    added: list[Any] = []
    updated: list[str] = []
    unchanged: list[str] = []
    stories: set[str] = set()
    insights: set[str] = set()
    try:
        with ledger.transaction():
            replacements: list[tuple[Any, Any]] = []
            for raw in paths:
                path = Path(raw)
                if not path.is_file():
                    raise LedgerError(f"{path}: no such file")
                for rec in _read_records(path):
                    held = ledger.get(type(rec), rec.id)
                    if held is None:
                        added.append(rec)
                    elif unstructure(held) == unstructure(rec):
                        unchanged.append(f"{kind_of(rec)} {rec.id}")
                    else:
                        replacements.append((held, rec))
            if create_contributors:
                added = list(_with_contributors(ledger, added))
            counts = ledger.add(added) if added else {key: 0 for key in BUNDLE_TYPES}
            for held, rec in replacements:
                kind = kind_of(rec)
                if isinstance(rec, Consent):
                    _append_new_events(ledger, held, rec)
                    stories.update(_covered(ledger, rec))
                else:
                    ledger.replace(rec)
                    if isinstance(rec, Insight):
                        insights.add(rec.id)
                    elif isinstance(rec, Story):
                        stories.add(rec.id)
                    elif isinstance(rec, Contributor):
                        stories.update(_told_by(ledger, rec.id))
                updated.append(f"{kind} {rec.id}")
            for rec in added:
                if isinstance(rec, Consent):
                    stories.update(_covered(ledger, rec))
    except BundleError as exc:
        raise LedgerError(str(exc)) from None
    return UpdateResult(
        added=counts,
        updated=tuple(updated),
        unchanged=tuple(unchanged),
        stories=tuple(sorted(stories)),
        insights=tuple(sorted(insights)),
    )


def _append_new_events(ledger: Ledger, held: Any, new: Any) -> None:
    where = f"consent {new.id!r}"
    header = ("contributor_id", "story_ids", "basis", "support", "supported_by", "method")
    for name in header:
        if getattr(held, name) != getattr(new, name):
            raise LedgerError(
                "a consent's terms of record cannot be changed once held; record the events "
                "that changed it, or a new consent",
                record=where,
                field=name,
            )
    n = len(held.events)
    if new.events[:n] != held.events:
        pairs = zip(held.events, new.events, strict=False)
        first = next((i for i, (a, b) in enumerate(pairs) if a != b), len(new.events))
        raise LedgerError(
            "events are append-only: the new version must start with the events already "
            f"held ({n}); a correction is a new event (coprolib consent correct)",
            record=where,
            field=f"events[{first}]",
        )
    for ev in new.events[n:]:
        ledger.append_consent_event(new.id, ev)


def _told_by(ledger: Ledger, contributor_id: str) -> list[str]:
    return [
        s.id
        for s in ledger.list(Story, contributor=contributor_id)
        if contributor_id in s.contributor_ids
    ]


def _covered(ledger: Ledger, consent: Any) -> list[str]:
    return list(consent.story_ids) or _told_by(ledger, consent.contributor_id)
