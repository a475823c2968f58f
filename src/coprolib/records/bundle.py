"""Bundles: the versioned JSON file format for moving coprolib records, and JSONL.

A bundle is ``{"coprolib_bundle": 1, "contributors": [...], "stories": [...], ...}``. JSONL holds
one record a line: ``{"type": "story", ...fields}``. Loading checks every record and raises one
:class:`BundleError` listing every problem with its path.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import attrs

from coprolib.errors import CoprolibError
from coprolib.records import (
    BUNDLE_TYPES,
    RECORD_NAMES,
    Activity,
    Consent,
    Contributor,
    Feedback,
    Insight,
    Involvement,
    LivedAnswer,
    Outcome,
    Proposal,
    Story,
)
from coprolib.records.convert import Problem, StructureError, structure, unstructure

#: Bundle format versions this code reads; it writes the last.
SUPPORTED_VERSIONS = (1,)
BUNDLE_VERSION = SUPPORTED_VERSIONS[-1]

_TYPE_BY_NAME: dict[str, type[Any]] = {name: cls for cls, name in RECORD_NAMES.items()}


@attrs.frozen(kw_only=True)
class Bundle:
    """A set of records of every type, as loaded from or written to a bundle file."""

    contributors: tuple[Contributor, ...] = ()
    stories: tuple[Story, ...] = ()
    consents: tuple[Consent, ...] = ()
    insights: tuple[Insight, ...] = ()
    outcomes: tuple[Outcome, ...] = ()
    feedback: tuple[Feedback, ...] = ()
    activities: tuple[Activity, ...] = ()
    proposals: tuple[Proposal, ...] = ()
    answers: tuple[LivedAnswer, ...] = ()
    involvements: tuple[Involvement, ...] = ()

    def records(self) -> Iterator[Any]:
        """Every record, contributors first, in an order that satisfies references."""
        for key in BUNDLE_TYPES:
            yield from getattr(self, key)

    def counts(self) -> dict[str, int]:
        """How many records of each type."""
        return {key: len(getattr(self, key)) for key in BUNDLE_TYPES}


class BundleError(CoprolibError, ValueError):
    """A bundle or JSONL file with problems; ``problems`` lists each with its path."""

    def __init__(self, problems: list[Problem], source: str | None = None) -> None:
        self.problems = problems
        self.source = source
        prefix = f"{source}: " if source else ""
        lines = [f"{prefix}{p}" for p in problems]
        super().__init__(f"{len(problems)} problem(s)\n" + "\n".join(lines))


def bundle_from_data(data: Any, source: str | None = None) -> Bundle:
    """Build a :class:`Bundle` from parsed JSON, checking every record and every reference."""
    problems: list[Problem] = []
    if not isinstance(data, dict):
        raise BundleError([Problem("$", "a bundle is a JSON object")], source)
    version = data.get("coprolib_bundle")
    if version not in SUPPORTED_VERSIONS:
        supported = ", ".join(str(v) for v in SUPPORTED_VERSIONS)
        what = "is missing" if version is None else f"is {version!r}"
        raise BundleError(
            [Problem("coprolib_bundle", f"{what}; this coprolib reads bundle version {supported}")],
            source,
        )
    for key in data:
        if key != "coprolib_bundle" and key not in BUNDLE_TYPES:
            problems.append(Problem(key, f"unknown section (known: {', '.join(BUNDLE_TYPES)})"))
    sections: dict[str, tuple[Any, ...]] = {}
    for key, cls in BUNDLE_TYPES.items():
        items = data.get(key, [])
        if not isinstance(items, list):
            problems.append(Problem(key, "expected a list of records"))
            continue
        built = []
        for i, item in enumerate(items):
            try:
                built.append(structure(item, cls, f"{key}[{i}]"))
            except StructureError as exc:
                problems.extend(exc.problems)
        sections[key] = tuple(built)
    if problems:
        raise BundleError(problems, source)
    bundle = Bundle(**sections)
    problems = reference_problems(bundle)
    if problems:
        raise BundleError(problems, source)
    return bundle


def reference_problems(bundle: Bundle) -> list[Problem]:
    """Duplicate ids and references to records the bundle does not hold."""
    problems: list[Problem] = []
    ids: dict[str, set[str]] = {}
    for key in BUNDLE_TYPES:
        seen: set[str] = set()
        for i, rec in enumerate(getattr(bundle, key)):
            if rec.id in seen:
                problems.append(Problem(f"{key}[{i}].id", f"{rec.id!r} is used by another record"))
            seen.add(rec.id)
        ids[key] = seen

    def check(key: str, i: int, field: str, ref: str | None, target: str) -> None:
        if ref is not None and ref not in ids[target]:
            problems.append(
                Problem(f"{key}[{i}].{field}", f"{ref!r} is not one of the bundle's {target}")
            )

    for i, s in enumerate(bundle.stories):
        for j, c in enumerate(s.contributor_ids):
            check("stories", i, f"contributor_ids[{j}]", c, "contributors")
        check("stories", i, "activity_id", s.activity_id, "activities")
    for i, consent in enumerate(bundle.consents):
        check("consents", i, "contributor_id", consent.contributor_id, "contributors")
        for j, sid in enumerate(consent.story_ids):
            check("consents", i, f"story_ids[{j}]", sid, "stories")
    quotes = {s.id: {q.id for q in s.quotes} for s in bundle.stories}
    for i, ins in enumerate(bundle.insights):
        for j, ev in enumerate(ins.evidence):
            check("insights", i, f"evidence[{j}].story_id", ev.story_id, "stories")
            for k, q in enumerate(ev.quote_ids):
                if ev.story_id in quotes and q not in quotes[ev.story_id]:
                    problems.append(
                        Problem(
                            f"insights[{i}].evidence[{j}].quote_ids[{k}]",
                            f"story {ev.story_id!r} has no quote {q!r}",
                        )
                    )
    for i, o in enumerate(bundle.outcomes):
        for j, ref in enumerate(o.insight_ids):
            check("outcomes", i, f"insight_ids[{j}]", ref, "insights")
    for i, f in enumerate(bundle.feedback):
        check("feedback", i, "contributor_id", f.contributor_id, "contributors")
        check("feedback", i, "outcome_id", f.outcome_id, "outcomes")
        check("feedback", i, "insight_id", f.insight_id, "insights")
    for i, a in enumerate(bundle.activities):
        for j, c in enumerate(a.contributor_ids):
            check("activities", i, f"contributor_ids[{j}]", c, "contributors")
    for i, p in enumerate(bundle.proposals):
        for j, sid in enumerate(p.story_ids):
            check("proposals", i, f"story_ids[{j}]", sid, "stories")
        check("proposals", i, "activity_id", p.activity_id, "activities")
    answered: dict[str, str] = {}
    for i, ans in enumerate(bundle.answers):
        check("answers", i, "proposal_id", ans.proposal_id, "proposals")
        if ans.proposal_id is not None:
            if ans.proposal_id in answered:
                problems.append(
                    Problem(
                        f"answers[{i}].proposal_id",
                        f"proposal {ans.proposal_id!r} is already answered by "
                        f"{answered[ans.proposal_id]!r}: one answer a proposal",
                    )
                )
            answered.setdefault(ans.proposal_id, ans.id)
        for j, sid in enumerate(ans.story_ids):
            check("answers", i, f"story_ids[{j}]", sid, "stories")
        check("answers", i, "activity_id", ans.activity_id, "activities")
        for j, iid in enumerate(ans.insight_ids):
            check("answers", i, f"insight_ids[{j}]", iid, "insights")
    for i, inv in enumerate(bundle.involvements):
        check("involvements", i, "contributor_id", inv.contributor_id, "contributors")
        check("involvements", i, "activity_id", inv.activity_id, "activities")
    return problems


def bundle_to_data(bundle: Bundle) -> dict[str, Any]:
    """A bundle as plain JSON-ready data, with its version."""
    data: dict[str, Any] = {"coprolib_bundle": BUNDLE_VERSION}
    for key in BUNDLE_TYPES:
        data[key] = [unstructure(r) for r in getattr(bundle, key)]
    return data


def loads_bundle(text: str, source: str | None = None) -> Bundle:
    """Parse bundle JSON text."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BundleError(
            [Problem(f"line {exc.lineno} column {exc.colno}", f"not valid JSON: {exc.msg}")],
            source,
        ) from None
    except RecursionError:
        raise BundleError([Problem("$", "nested too deeply to read")], source) from None
    return bundle_from_data(data, source)


def load_bundle(path: str | Path) -> Bundle:
    """Read a bundle from a ``.json`` file (or a ``.jsonl`` file of typed records)."""
    p = Path(path)
    try:
        if p.suffix == ".jsonl":
            with p.open(encoding="utf-8") as fh:
                return bundle_from_records(iter_jsonl(fh, source=str(p)), source=str(p))
        return loads_bundle(p.read_text(encoding="utf-8"), source=str(p))
    except UnicodeDecodeError as exc:
        problem = Problem(f"byte {exc.start}", "not UTF-8 text; save the file as UTF-8")
        raise BundleError([problem], str(p)) from None


def dumps_bundle(bundle: Bundle, indent: int | None = 2) -> str:
    """Bundle JSON text."""
    return json.dumps(bundle_to_data(bundle), indent=indent, ensure_ascii=False)


def dump_bundle(bundle: Bundle, path: str | Path) -> None:
    """Write a bundle to a JSON file."""
    Path(path).write_text(dumps_bundle(bundle) + "\n", encoding="utf-8")


def record_to_jsonl(record: Any) -> str:
    """One JSONL line (without newline) for a record: ``{"type": ..., ...fields}``."""
    return json.dumps(
        {"type": RECORD_NAMES[type(record)], **unstructure(record)}, ensure_ascii=False
    )


def write_jsonl(records: Iterable[Any], fh: IO[str]) -> int:
    """Write records as JSONL; returns how many were written."""
    n = 0
    for r in records:
        fh.write(record_to_jsonl(r) + "\n")
        n += 1
    return n


def iter_jsonl(lines: Iterable[str], source: str | None = None) -> Iterator[Any]:
    """Yield records from JSONL lines, streaming. Bad lines are skipped and the rest still read;
    at the end :class:`BundleError` lists every problem, each naming its line number and field
    path (so a caller importing in one transaction writes nothing)."""
    problems: list[Problem] = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"line {lineno}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(Problem(where, f"not valid JSON: {exc.msg}"))
            continue
        if not isinstance(data, dict) or "type" not in data:
            problems.append(Problem(where, 'each line needs a "type" field'))
            continue
        name = data.pop("type")
        cls = _TYPE_BY_NAME.get(name)
        if cls is None:
            known = ", ".join(_TYPE_BY_NAME)
            problems.append(
                Problem(f"{where}.type", f"{name!r} is not a record type (one of: {known})")
            )
            continue
        try:
            record = structure(data, cls, where)
        except StructureError as exc:
            problems.extend(exc.problems)
            continue
        if not problems:
            yield record
    if problems:
        raise BundleError(problems, source)


def bundle_from_records(records: Iterable[Any], source: str | None = None) -> Bundle:
    """Gather records of any types into a :class:`Bundle`, checking references."""
    sections: dict[str, list[Any]] = {key: [] for key in BUNDLE_TYPES}
    key_of = {cls: key for key, cls in BUNDLE_TYPES.items()}
    for r in records:
        sections[key_of[type(r)]].append(r)
    bundle = Bundle(**{k: tuple(v) for k, v in sections.items()})
    problems = reference_problems(bundle)
    if problems:
        raise BundleError(problems, source)
    return bundle


def validate_files(paths: Iterable[str | Path]) -> Iterator[tuple[str, list[Problem]]]:
    """Check each bundle or JSONL file, yielding ``(path, problems)``; no problems means valid."""
    for path in paths:
        p = Path(path)
        try:
            load_bundle(p)
        except BundleError as exc:
            yield str(p), exc.problems
        except OSError as exc:
            yield str(p), [Problem("$", f"cannot read the file: {exc.strerror}")]
        else:
            yield str(p), []
