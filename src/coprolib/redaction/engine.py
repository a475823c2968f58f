"""De-identification: find identifying spans in text and replace them with placeholders.

Recognisers come from plugins through the ``register_recognizers(register)`` hook (the built-in
UK and name recognisers included) and are cached after first use; :func:`reset_recognizers`
rebuilds the cache. :func:`redact` is what every share below the "named" identity level goes
through (docs/architecture.md, promise 5): it always honours a contributor's known identifiers.

Placeholders look like ``[PERSON]`` (anonymous) or ``[PERSON 2]`` (pseudonymous). Text inside a
placeholder is never detected again, so redacting redacted text changes nothing.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from importlib import resources
from operator import attrgetter
from typing import Protocol, runtime_checkable

import attrs

from coprolib.plugins import get_plugin_manager, registrations
from coprolib.records.enums import IdentityLevel

__all__ = [
    "KNOWN_IDENTIFIER",
    "LABELS",
    "PLACEHOLDER_RE",
    "KnownIdentifierRecognizer",
    "PatternRecognizer",
    "Recognizer",
    "Redaction",
    "Span",
    "common_words",
    "find_spans",
    "get_recognizers",
    "identifier_terms",
    "redact",
    "reset_recognizers",
]

#: The label given to a contributor's own known identifiers.
KNOWN_IDENTIFIER = "KNOWN_IDENTIFIER"

#: Labels the built-in recognisers produce. Plugins may add their own.
LABELS: tuple[str, ...] = (
    "PERSON",
    "NHS_NUMBER",
    "NI_NUMBER",
    "UK_POSTCODE",
    "UK_PHONE",
    "EMAIL",
    "DATE_OF_BIRTH",
    "STREET_ADDRESS",
    "URL",
    KNOWN_IDENTIFIER,
)

#: A placeholder this module writes: ``[LABEL]`` or ``[LABEL n]``.
PLACEHOLDER_RE = re.compile(r"\[[A-Z][A-Z0-9_]*(?: \d+)?\]")


@attrs.frozen(slots=True)
class Span:
    """A half-open character range ``[start, end)`` of a text that identifies someone."""

    start: int
    end: int
    label: str
    score: float = 1.0

    def __attrs_post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise ValueError(f"Span: need 0 <= start < end, got start={self.start} end={self.end}")


@runtime_checkable
class Recognizer(Protocol):
    """Something that finds identifying spans in a text.

    ``name`` identifies the recogniser in listings, ``labels`` lists the labels it can emit and
    ``find(text)`` yields :class:`Span` objects with offsets into ``text``.
    """

    # Read-only (properties): a recogniser may hold them as plain or class attributes, as
    # attrs fields or as properties, with a tuple of one label or several.
    @property
    def name(self) -> str:
        """The recogniser's name in listings."""
        ...

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels this recogniser can emit."""
        ...

    def find(self, text: str) -> Iterable[Span]:
        """Yield the spans of ``text`` this recogniser considers identifying."""
        ...


@attrs.frozen(kw_only=True)
class PatternRecognizer:
    """A recogniser made from one compiled regular expression and an optional check.

    ``group`` names the capture group that is the span (0 for the whole match); ``check``
    receives the span's text and may reject it (e.g. a checksum).
    """

    name: str
    label: str
    pattern: re.Pattern[str]
    score: float = 1.0
    group: int | str = 0
    check: Callable[[str], bool] | None = None

    @property
    def labels(self) -> tuple[str, ...]:
        """The one label this recogniser emits."""
        return (self.label,)

    def find(self, text: str) -> Iterable[Span]:
        """Yield a span for every match whose text passes ``check``."""
        check = self.check
        group = self.group
        for m in self.pattern.finditer(text):
            start, end = m.span(group)
            if start < 0 or start == end:
                continue
            if check is not None and not check(text[start:end]):
                continue
            yield Span(start, end, self.label, self.score)


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """The shipped common-word list (``coprolib/data/common_words.txt``), lower case.

    A part of a known identifier that is one of these words is not an identifier on its own.
    """
    text = resources.files("coprolib.data").joinpath("common_words.txt").read_text("utf-8")
    return frozenset(
        line.strip().casefold() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


# A part of an identifier that can stand for the person on its own: a word of letters (with
# apostrophes or hyphens inside), at least two letters long.
_PART_RE = re.compile(r"[^\W\d_](?:[^\W\d_]|['’-](?=[^\W\d_]))+")
_PART_POSSESSIVE_RE = re.compile(r"['’]s?$")


def identifier_terms(identifiers: Iterable[str]) -> tuple[str, ...]:
    """What is searched for, given a contributor's identifiers (and display name).

    Each identifier whole, then each of its parts: every word of letters ("Amira", "Haddad"),
    and each side of a hyphenated word ("Okafor-Jones" gives "Okafor" and "Jones"), with a
    trailing possessive dropped; parts of one letter, parts with digits (house numbers, parts of
    NHS numbers or postcodes) and parts in :func:`common_words` ("Lane", "Will") are left out.
    Matching is by whole word, in any case, with any spacing, plural or possessive.
    """
    common = common_words()
    terms: dict[str, None] = {}
    for identifier in identifiers:
        if not identifier.strip():
            continue
        terms.setdefault(identifier, None)
        if "@" in identifier or "://" in identifier:
            continue
        for m in _PART_RE.finditer(identifier):
            word = _PART_POSSESSIVE_RE.sub("", m.group())
            pieces = [word, *word.split("-")] if "-" in word else [word]
            for piece in pieces:
                key = piece.casefold().replace("’", "'")
                if len(piece) >= 2 and key not in common and piece != identifier:
                    terms.setdefault(piece, None)
    return tuple(terms)


def _identifier_pattern(identifier: str) -> str | None:
    words = identifier.split()
    if not words or not any(ch.isalnum() for ch in identifier):
        return None
    body = r"\s+".join(re.escape(w) for w in words)
    # Whole words only; a bare plural/possessive "s" belongs to the span, "'s" stays outside.
    return rf"(?<!\w){body}(?:s(?!\w)|(?!\w))"


@lru_cache(maxsize=1024)
def _known_pattern(identifiers: tuple[str, ...]) -> re.Pattern[str] | None:
    terms = identifier_terms(identifiers)
    parts = {p for p in map(_identifier_pattern, terms) if p is not None}
    # Longest first so "Mill Lane" wins over "Mill" at the same position.
    ordered = sorted(parts, key=lambda p: (-len(p), p))
    return re.compile("|".join(ordered), re.IGNORECASE) if ordered else None


@attrs.frozen(kw_only=True)
class KnownIdentifierRecognizer:
    """Finds a contributor's known identifiers and their parts (see :func:`identifier_terms`):
    whole words, any case, any spacing, plurals and possessives."""

    identifiers: tuple[str, ...]
    name: str = "known_identifiers"
    labels: tuple[str, ...] = (KNOWN_IDENTIFIER,)
    _pattern: re.Pattern[str] | None = attrs.field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_pattern", _known_pattern(tuple(self.identifiers)))

    def find(self, text: str) -> Iterable[Span]:
        """Yield every occurrence of any known identifier."""
        if self._pattern is None:
            return
        for m in self._pattern.finditer(text):
            if m.end() > m.start():
                yield Span(m.start(), m.end(), KNOWN_IDENTIFIER, 1.0)


@attrs.frozen(kw_only=True)
class Redaction:
    """The result of :func:`redact`: the new text and the spans replaced, as offsets into the
    ORIGINAL text, each with the placeholder written for it."""

    text: str
    spans: tuple[Span, ...]
    placeholders: tuple[str, ...]
    level: IdentityLevel


_cache: tuple[object, tuple[Recognizer, ...]] | None = None


def get_recognizers() -> tuple[Recognizer, ...]:
    """Every recogniser registered through ``register_recognizers``, collected once and cached
    (collected again if the plugin manager has been reset since)."""
    global _cache
    pm = get_plugin_manager()
    if _cache is None or _cache[0] is not pm:
        found: list[Recognizer] = []
        for plugin, args in registrations(pm.hook.register_recognizers):
            for recognizer in args:
                if not isinstance(recognizer, Recognizer):
                    raise TypeError(
                        f"register_recognizers: plugin {plugin!r} registered {recognizer!r}, "
                        "which has no name, labels and find(text)"
                    )
                found.append(recognizer)
        _cache = (pm, tuple(found))
    return _cache[1]


def reset_recognizers() -> None:
    """Forget the cached recognisers so the next call collects them again (cheap; for tests)."""
    global _cache
    _cache = None


def _placeholder_ranges(text: str) -> list[tuple[int, int]]:
    if "[" not in text:
        return []
    return [m.span() for m in PLACEHOLDER_RE.finditer(text)]


def _outside(spans: list[Span], ranges: list[tuple[int, int]]) -> list[Span]:
    """The ``spans`` that overlap none of the sorted, disjoint ``ranges``."""
    starts = [start for start, _end in ranges]
    kept = []
    for span in spans:
        i = bisect_right(starts, span.start) - 1
        if i >= 0 and ranges[i][1] > span.start:
            continue
        if i + 1 < len(ranges) and ranges[i + 1][0] < span.end:
            continue
        kept.append(span)
    return kept


def _better(a: Span, b: Span) -> Span:
    """Of two overlapping spans, the one whose label the merged span keeps."""
    ka = (a.score, a.end - a.start)
    kb = (b.score, b.end - b.start)
    return a if ka >= kb else b


_START = attrgetter("start")
_END = attrgetter("end")


def merge_spans(spans: Iterable[Span]) -> list[Span]:
    """Sort spans and merge overlapping ones; a merged span keeps the label of its strongest
    part (highest score, then longest) and the highest score."""
    # By start, then longest first: two stable sorts on attributes, no key function per span.
    ordered = sorted(spans, key=_END, reverse=True)
    ordered.sort(key=_START)
    merged: list[Span] = []
    best: Span | None = None
    for span in ordered:
        if merged and span.start < merged[-1].end:
            last = merged[-1]
            assert best is not None
            best = _better(best, span)
            merged[-1] = Span(
                last.start, max(last.end, span.end), best.label, max(last.score, span.score)
            )
        else:
            best = span
            merged.append(span)
    return merged


def _with_placeholders(text: str, spans: list[Span]) -> tuple[str, list[int], list[int]]:
    """``text`` with each of the sorted, disjoint ``spans`` replaced by its placeholder, and how
    to map an offset in it back: in the segment starting at ``starts[i]``, add ``shifts[i]``."""
    out: list[str] = []
    starts, shifts = [0], [0]
    pos = view = 0
    for span in spans:
        placeholder = f"[{span.label}]"
        out.append(text[pos : span.start])
        out.append(placeholder)
        view += span.start - pos + len(placeholder)
        pos = span.end
        starts.append(view)
        shifts.append(pos - view)
    out.append(text[pos:])
    return "".join(out), starts, shifts


def _run(recognizers: Sequence[Recognizer], text: str, claimed: list[Span]) -> list[Span]:
    """The spans ``recognizers`` find in ``text`` read with the ``claimed`` spans replaced by
    their placeholders (offsets into ``text``; nothing overlapping a placeholder)."""
    view, starts, shifts = _with_placeholders(text, claimed) if claimed else (text, [0], [0])
    found: list[Span] = []
    for recognizer in recognizers:
        found.extend(recognizer.find(view))
    size = len(view)
    found = [s for s in found if s.end <= size]
    ranges = _placeholder_ranges(view)
    if ranges:
        found = _outside(found, ranges)
    if not claimed:
        return found
    mapped = []
    for s in found:
        shift = shifts[bisect_right(starts, s.start) - 1]
        mapped.append(Span(s.start + shift, s.end + shift, s.label, s.score) if shift else s)
    return mapped


def find_spans(
    text: str,
    known_identifiers: Iterable[str] = (),
    recognizers: Sequence[Recognizer] | None = None,
) -> list[Span]:
    """Every identifying span of ``text``, merged where they overlap and sorted by position.

    ``recognizers`` defaults to every registered recogniser; ``known_identifiers`` (a
    contributor's names, addresses, numbers...) and their parts (:func:`identifier_terms`) are
    always searched for as well. Spans touching an existing placeholder are ignored, so
    already-redacted text yields nothing new.

    Each recogniser reads the text as the output will show it around what it finds, which is
    what makes ``redact(redact(x)) == redact(x)`` hold with one pass: known identifiers are
    found first and every recogniser reads the text with them already replaced by placeholders;
    recognisers that decide from the words around a span (``reads_context = True``, such as the
    PERSON recogniser) run last, on the text with everything the others found replaced too.
    So no decision depends on a word the output no longer contains.
    """
    if recognizers is None:
        recognizers = get_recognizers()
    claimed: list[Span] = []
    identifiers = tuple(known_identifiers)
    if identifiers:
        known = list(KnownIdentifierRecognizer(identifiers=identifiers).find(text))
        existing = _placeholder_ranges(text)
        if existing:
            known = _outside(known, existing)
        claimed = merge_spans(known)
    plain = [r for r in recognizers if not getattr(r, "reads_context", False)]
    contextual = [r for r in recognizers if getattr(r, "reads_context", False)]
    if plain:
        claimed = merge_spans([*claimed, *_run(plain, text, claimed)])
    if contextual:
        claimed = merge_spans([*claimed, *_run(contextual, text, claimed)])
    return claimed


def _level(level: IdentityLevel | str) -> IdentityLevel:
    try:
        return IdentityLevel(level)
    except ValueError:
        choices = ", ".join(v.value for v in IdentityLevel)
        raise ValueError(f"redact: level must be one of {choices}, got {level!r}") from None


_POSSESSIVE_RE = re.compile(r"(?:['’]s|s['’]|['’])$")
_TITLE_RE = re.compile(
    r"^(?:mr|mrs|ms|miss|mx|dr|prof|professor|sir|dame|lady|lord|rev|reverend|cllr|councillor)"
    r"\.?\s+",
    re.IGNORECASE,
)


def _name_tokens(surface: str) -> frozenset[str]:
    plain = _TITLE_RE.sub("", surface.strip())
    return frozenset(_POSSESSIVE_RE.sub("", w).casefold() for w in plain.split())


#: Labels whose later, shorter mentions ("Ruth", "Mrs Baker") reuse an earlier full one's number.
_NAMED_LABELS = frozenset({"PERSON", KNOWN_IDENTIFIER})


class _Pseudonyms:
    """Numbers placeholders per label so the same identifier gets the same number in a document.

    For people and known identifiers, a later "Ruth" or "Mrs Baker" reuses the number of an
    earlier "Ruth Baker".
    """

    def __init__(self) -> None:
        self._numbers: dict[str, list[tuple[frozenset[str], int]]] = {}

    def placeholder(self, label: str, surface: str) -> str:
        tokens = _name_tokens(surface)
        seen = self._numbers.setdefault(label, [])
        for known, number in seen:
            if tokens == known or (label in _NAMED_LABELS and tokens and tokens <= known):
                return f"[{label} {number}]"
        for known, number in seen:
            if label in _NAMED_LABELS and known and known <= tokens:
                return f"[{label} {number}]"
        number = len({n for _, n in seen}) + 1
        seen.append((tokens, number))
        return f"[{label} {number}]"


def redact(
    text: str,
    level: IdentityLevel | str = IdentityLevel.ANONYMOUS,
    known_identifiers: Iterable[str] = (),
    recognizers: Sequence[Recognizer] | None = None,
) -> Redaction:
    """Redact ``text`` for sharing at identity ``level``.

    ``anonymous`` replaces each span with a typed placeholder (``[PERSON]``); ``pseudonymous``
    numbers them consistently within this text (``[PERSON 1]``, ``[PERSON 2]``); ``named``
    returns the text unchanged. Accepts :class:`~coprolib.records.enums.IdentityLevel` or its string.
    """
    lvl = _level(level)
    if lvl is IdentityLevel.NAMED:
        return Redaction(text=text, spans=(), placeholders=(), level=lvl)
    spans = find_spans(text, known_identifiers, recognizers)
    pseudonyms = _Pseudonyms() if lvl is IdentityLevel.PSEUDONYMOUS else None
    out: list[str] = []
    placeholders: list[str] = []
    pos = 0
    for span in spans:
        if pseudonyms is None:
            placeholder = f"[{span.label}]"
        else:
            placeholder = pseudonyms.placeholder(span.label, text[span.start : span.end])
        out.append(text[pos : span.start])
        out.append(placeholder)
        placeholders.append(placeholder)
        pos = span.end
    out.append(text[pos:])
    return Redaction(
        text="".join(out), spans=tuple(spans), placeholders=tuple(placeholders), level=lvl
    )
