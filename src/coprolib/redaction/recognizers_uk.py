"""Built-in UK identifier recognisers, registered through ``register_recognizers``.

NHS number (Modulus 11), National Insurance number (valid prefixes and suffixes), postcode,
phone, email, URL, date of birth in context and street address. Each is a compiled regular
expression or two, with a cheap check where the format has one (Modulus 11, digit counts).
Patterns begin with a character class, or are found from a cheap anchor (a digit, an "@"), so the
regular-expression engine can skip quickly over ordinary text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from operator import mul

from coprolib.hookspecs import RegisterRecognizers, hookimpl
from coprolib.redaction import PatternRecognizer, Span


def _split(words: str) -> tuple[str, ...]:
    return tuple(words.split())


def nhs_check_digit_ok(number: str) -> bool:
    """True when the ten digits of ``number`` pass the NHS Modulus 11 check."""
    digits = [int(ch) for ch in number if ch.isdecimal()]
    if len(digits) != 10:
        return False
    # Weights 10 down to 2 on the first nine digits; a remainder of 0 gives check digit 0.
    total: int = sum(map(mul, digits, range(10, 1, -1)))
    check = (11 - total % 11) % 11
    return check != 10 and check == digits[9]


#: Blanks that may sit inside an identifier: space, tab, no-break and narrow no-break spaces.
BLANK = "[ \t\u00a0\u2007\u202f]"

# 3-3-4 with blanks (one to three, any mix, or none) or dashes between the groups, not inside a
# longer number; a dash and a blank are not mixed (checked in _nhs_ok).
# (The look-behind comes after the first digit so the scanner can skip to digits quickly.)
NHS_RE = re.compile(
    rf"[0-9](?<![\w.,/-][0-9])\d{{2}}(?:{BLANK}{{1,3}}|-)?\d{{3}}(?:{BLANK}{{1,3}}|-)?\d{{4}}"
    r"(?![\w/]|[.,-]\d)"
)

# Prefix: first letter not D F I Q U V; second not D F I O Q U V; not BG GB KN NK NT TN ZZ.
# Suffix A-D. Digits in pairs, with up to three blanks between any two parts.
_NI_GAP = rf"{BLANK}{{0,3}}"
NI_RE = re.compile(
    r"(?<![A-Za-z0-9])(?!(?:BG|GB|KN|NK|NT|TN|ZZ|bg|gb|kn|nk|nt|tn|zz))"
    r"[A-CEGHJ-PR-TW-Za-ceghj-pr-tw-z][A-CEGHJ-NPR-TW-Za-ceghj-npr-tw-z]"
    rf"{_NI_GAP}\d{{2}}{_NI_GAP}\d{{2}}{_NI_GAP}\d{{2}}{_NI_GAP}[A-Da-d](?![A-Za-z0-9])"
)
_NI_ANCHOR = re.compile(
    rf"[0-9](?<![0-9][0-9])\d{_NI_GAP}\d{{2}}{_NI_GAP}\d{{2}}{_NI_GAP}[A-Da-d](?![A-Za-z0-9])"
)

# Every outward format (A9, A99, A9A, AA9, AA99, AA9A) and GIR 0AA; any case; space optional.
POSTCODE_RE = re.compile(
    r"(?<![A-Za-z0-9])(?:[A-PR-UWYZ](?:[0-9][0-9A-HJKPSTUW]?|[A-HK-Y][0-9][0-9ABEHMNPRV-Y]?)"
    rf"|GIR){BLANK}{{0,3}}[0-9][ABD-HJLNP-UW-Z]{{2}}(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_POSTCODE_ANCHOR = re.compile(rf"[0-9][0-9A-Za-z]?{BLANK}{{0,3}}[0-9][A-Za-z]{{2}}(?![A-Za-z0-9])")

# +44 / 0044 / 0 then 9-10 national digits with spaces, dashes, dots or brackets between.
PHONE_RE = re.compile(
    r"[+0(](?<![\w+(][+0(])"
    r"(?:(?<=\+)[ ]?44[ ]?(?:\(0\)[ ]?)?\(?|(?<=0)0[ ]?44[ ]?(?:\(0\)[ ]?)?\(?|(?<=\()0|(?<=0))"
    r"[1-37-9](?:[ \-.)(]{0,2}\d){8,9}(?![\w])"
)

_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}$")
_EMAIL_DOMAIN = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])")

URL_RE = re.compile(
    r"(?:https?://|www\.)(?<![\w@/][hHwW][tTwW][tTwW][pP.])[^\s<>\"'()\[\]]*"
    r"[^\s<>\"'()\[\].,;:!?]",
    re.IGNORECASE,
)


class _Anchored:
    """A pattern found by a fast anchor (starting at a digit) and confirmed by a full pattern
    tried a few characters before the anchor; both must end at the same place."""

    def __init__(
        self,
        name: str,
        label: str,
        anchor: re.Pattern[str],
        full: re.Pattern[str],
        back: tuple[int, ...],
        check: Callable[[str], bool] | None = None,
    ) -> None:
        self.name = name
        self.label = label
        self.labels = (label,)
        self._anchor = anchor
        self._full = full
        self._back = back
        self._check = check

    def find(self, text: str) -> Iterable[Span]:
        """Yield each anchor whose full pattern matches."""
        full, check = self._full, self._check
        for a in self._anchor.finditer(text):
            for back in self._back:
                start = a.start() - back
                if start < 0:
                    continue
                m = full.match(text, start)
                if m is not None and m.end() == a.end():
                    if check is None or check(m.group()):
                        yield Span(start, m.end(), self.label, 1.0)
                    break


_GIR_RE = re.compile(rf"(?<![A-Za-z0-9])GIR{BLANK}{{0,3}}0AA(?![A-Za-z0-9])", re.IGNORECASE)


def _hints(pattern: re.Pattern[str], needs: tuple[str, ...], text: str) -> Iterable[re.Match[str]]:
    """``pattern.finditer(text)``, skipped when ``text`` holds none of the strings in ``needs``
    (every match contains one of them)."""
    for word in needs:
        if word in text:
            return pattern.finditer(text)
    return ()


class _Girobank:
    """The one postcode with no digit in its outward code: GIR 0AA."""

    name = "uk_postcode_gir"
    labels = ("UK_POSTCODE",)

    def find(self, text: str) -> Iterable[Span]:
        """Yield each GIR 0AA."""
        for m in _hints(_GIR_RE, ("0AA", "0aa", "0Aa", "0aA"), text):
            yield Span(m.start(), m.end(), "UK_POSTCODE", 1.0)


#: "://", or "www." in any case, which ends in one of the other four: looked for as plain
#: substrings, cheaper than lower-casing every text.
_URL_NEEDS = ("://", "ww.", "WW.", "wW.", "Ww.")


class _Url:
    """Web addresses: ``http(s)://`` or ``www.``, looked for only where one of those occurs."""

    name = "url"
    labels = ("URL",)

    def find(self, text: str) -> Iterable[Span]:
        """Yield every URL."""
        for m in _hints(URL_RE, _URL_NEEDS, text):
            yield Span(m.start(), m.end(), "URL", 0.95)


class _Email:
    """Email addresses, found from each "@"."""

    name = "email"
    labels = ("EMAIL",)

    def find(self, text: str) -> Iterable[Span]:
        """Yield every ``local@domain.tld``."""
        at = text.find("@")
        while at != -1:
            local = _EMAIL_LOCAL.search(text, max(0, at - 64), at)
            domain = _EMAIL_DOMAIN.match(text, at + 1)
            if local is not None and domain is not None:
                start = local.start()
                while start < at and text[start] in "._%+-":
                    start += 1
                if start < at and (start == 0 or not (text[start - 1].isalnum())):
                    yield Span(start, domain.end(), "EMAIL", 1.0)
            at = text.find("@", at + 1)


_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DAY = r"(?:[0-3]?\d(?:st|nd|rd|th)?)"
_DATE = (
    rf"(?:[0-3]?\d[/.\-][01]?\d[/.\-](?:19|20)?\d\d"
    rf"|{_DAY}\s+(?:of\s+)?{_MONTHS}\.?,?\s+(?:19|20)\d\d"
    rf"|{_MONTHS}\.?\s+{_DAY},?\s+(?:19|20)\d\d"
    rf"|(?:19|20)\d\d-[01]\d-[0-3]\d"
    rf"|(?:{_MONTHS}\s+)?(?:19|20)\d\d)"
)
# A birth context ("born", "DOB", "d.o.b.", "date of birth", "date-of-birth", "birth date"),
# then a few words that only introduce the date ("was given as", "recorded as", "(DOB)"), then
# any punctuation (":", "-", "=", dashes) and the date.
_DOB_FILLER = (
    r"(?:\s*\(d\.?o\.?b\.?\))?(?:\s+(?:is|was|of|on|in|the|given|recorded|noted|entered|listed"
    r"|stated|confirmed|shown|registered|reported|as|being))*"
)
DOB_RE = re.compile(
    r"(?:\bborn|\bd\.?o\.?b\b\.?|\bdate[\s-]+of[\s-]+birth\b|\bbirth[\s-]*date\b|\bbirthday\b)"
    rf"{_DOB_FILLER}\s*[:=\-–—]{{0,2}}\s*\(?(?:the\s+)?(?P<date>{_DATE})(?![\w/])",
    re.IGNORECASE,
)

STREET_SUFFIXES: tuple[str, ...] = _split(
    """
    Street St Road Rd Lane Ln Avenue Ave Close Cl Drive Dr Way Court Ct Crescent Cres Gardens
    Gdns Place Pl Grove Gr Terrace Terr Walk Hill Park Square Sq Mews Row Rise View Green
    Parade Vale Wharf Yard Gate Croft Fold Meadow Meadows Mount Chase End Brow Bank Side Wynd
    Heights Fields Field Estate Broadway Circus Embankment Quay Hollow Dene Garth Path
    Boulevard Approach Crossing Grange Lea Leys Passage Villas Cottages Buildings Precinct
    Causeway Circle Loke Twitten Ginnel Loan Brae
    """
)
_SUFFIX = "|".join(sorted(set(STREET_SUFFIXES), key=len, reverse=True))
# A word of a street name: "Mill", "O'Connell", "McDonald", "Mary's", "James’s", "Ashton-Smith",
# "St." (a full stop or a possessive may follow).
_NAME_WORD = (
    r"(?:[A-Z](?:['’][A-Z])?[a-z]+(?:[A-Z][a-z]+)?(?:['’]s|s['’])?(?:-[A-Z][a-z]+(?:['’]s)?)*"
    r"|St\.?|de|la|upon)"
)
_BUILDING_WORDS = (
    "House",
    "Court",
    "Lodge",
    "Mansions",
    "Tower",
    "Block",
    "Heights",
    "Point",
    "Hall",
    "Buildings",
)
_BUILDING = rf"(?:{'|'.join(_BUILDING_WORDS)})"
STREET_RE = re.compile(
    r"[0-9](?<![\w£$.,:/-][0-9])\d{0,3}[A-Za-z]?(?:\s?[-–]\s?\d{1,4}[A-Za-z]?)?,?\s+"
    # The suffix may be joined by a hyphen: "Bishop's-Walk".
    rf"(?:{_NAME_WORD}\s+){{0,3}}{_NAME_WORD}(?:\s+|-)(?i:{_SUFFIX})\b\.?"
)
_FLAT_BEFORE = re.compile(
    r"(?:\b(?:[Ff]lat|[Aa]partment|[Aa]pt\.?|[Uu]nit|[Ss]tudio|[Rr]oom)\s+\d{1,4}[A-Za-z]?,?\s+"
    rf"(?:(?:[A-Z][a-z'’]+\s+){{1,3}}{_BUILDING},?\s+)?"
    rf"|\b(?:[A-Z][a-z'’]+\s+){{1,3}}{_BUILDING},?\s+)$"
)
# A named house on a named street, with no number: "Rose Cottage, Mill Lane".
_HOUSE_NAME = r"(?:Cottage|Cottages|Farm|Farmhouse|Lodge|Barn|Villa|Bungalow|Manor|Grange|House)"
_NAMED_HOUSE = re.compile(
    rf"\b(?:[A-Z][a-z'’]+\s+){{1,2}}{_HOUSE_NAME},?\s+(?:{_NAME_WORD}\s+){{1,3}}(?:{_SUFFIX})\b\.?"
)
_FLAT_ONLY = re.compile(
    r"\b(?:[Ff]lat|[Aa]partment|[Uu]nit|[Ss]tudio)\s+\d{1,4}[A-Za-z]?,?\s+"
    rf"(?:[A-Z][a-z'’]+\s+){{1,3}}{_BUILDING}\b"
)


# Where a named house or a flat without a street can be: found quickly, then the full pattern is
# tried around them (scanning every word for the full patterns costs more than all else here).
_HOUSE_HINT = re.compile(rf"{_HOUSE_NAME},?\s+[A-Z]")
_FLAT_HINT = re.compile(r"[FfAaUuSs](?<![\w][FfAaUuSs])(?:lat|partment|nit|tudio)\s+\d")
# What the flat hint cannot match without: a plain substring test skips the scan of most
# texts. (Eleven such tests for the named-house hint would cost more than its own scan.)
_FLAT_HINT_NEEDS = ("lat", "partment", "nit", "tudio")


class _StreetAddress:
    """House number, street name and suffix, with any flat or building before it."""

    name = "uk_street_address"
    labels = ("STREET_ADDRESS",)

    def find(self, text: str) -> Iterable[Span]:
        """Yield "12 Mill Lane", "Flat 3, 22 Rosewood Court", "Flat 4, Hunt House"."""
        for m in STREET_RE.finditer(text):
            start = m.start()
            # A flat or building before the number ends in a digit ("Flat 3,", "Flat 3a") or
            # a building word ("Hunt House,"): look for one only then.
            prev = text[max(0, start - 60) : start].rstrip().rstrip(",")
            if prev and (
                prev[-1].isdigit()
                or (len(prev) > 1 and prev[-2].isdigit())
                or prev.endswith(_BUILDING_WORDS)
            ):
                before = _FLAT_BEFORE.search(text, max(0, start - 60), start)
                if before is not None:
                    start = before.start()
            yield Span(start, m.end(), "STREET_ADDRESS", 0.95)
        done = -1
        for hint in _HOUSE_HINT.finditer(text):
            # The house name is at most two words of letters before the hint.
            for m in _NAMED_HOUSE.finditer(text, max(0, hint.start() - 48), hint.end() + 160):
                if m.start() <= hint.start() < m.end() and m.start() > done:
                    done = m.start()
                    yield Span(m.start(), m.end(), "STREET_ADDRESS", 0.95)
        for hint in _hints(_FLAT_HINT, _FLAT_HINT_NEEDS, text):
            flat = _FLAT_ONLY.match(text, hint.start())
            if flat is not None:
                yield Span(flat.start(), flat.end(), "STREET_ADDRESS", 0.95)


class _DateOfBirth:
    """Dates in a birth context; only the date itself is the span."""

    name = "uk_date_of_birth"
    labels = ("DATE_OF_BIRTH",)

    def find(self, text: str) -> Iterable[Span]:
        """Yield the date in "born on 3 March 1958", "DOB: 03/03/1958", "d.o.b. ..."."""
        for hint in _DOB_HINT.finditer(text):
            m = DOB_RE.match(text, hint.start())
            if m is None:
                continue
            start, end = m.span("date")
            yield Span(start, end, "DATE_OF_BIRTH", 1.0)


# Where each context of DOB_RE can start: found quickly, then DOB_RE is tried there.
_DOB_HINT = re.compile(r"[bdBD](?<![\w][bdBD])(?:orn|\.?[oO]\.?[bB]|ate|irth)")


def _nhs_ok(match: str) -> bool:
    # "943 476-5919" mixes a dash and a blank: more likely two numbers than one NHS number.
    if "-" in match and not match.replace("-", "").isdigit():
        return False
    return nhs_check_digit_ok(match)


def _phone_ok(match: str) -> bool:
    digits = re.sub(r"\D", "", match)
    if match.startswith(("+", "00")):
        digits = digits[2:] if match.startswith("+") else digits[4:]
    if digits.startswith("0"):
        digits = digits[1:]
    return 9 <= len(digits) <= 10


def _ni_prefix_ok(ni: str) -> bool:
    return ni[:2].upper() not in {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}


RECOGNIZERS = (
    PatternRecognizer(name="uk_nhs_number", label="NHS_NUMBER", pattern=NHS_RE, check=_nhs_ok),
    _Anchored("uk_ni_number", "NI_NUMBER", _NI_ANCHOR, NI_RE, (2, 3, 4, 5, 6), _ni_prefix_ok),
    _Anchored("uk_postcode", "UK_POSTCODE", _POSTCODE_ANCHOR, POSTCODE_RE, (2, 1, 3)),
    _Girobank(),
    PatternRecognizer(
        name="uk_phone", label="UK_PHONE", pattern=PHONE_RE, check=_phone_ok, score=0.9
    ),
    _Email(),
    _Url(),
    _DateOfBirth(),
    _StreetAddress(),
)


@hookimpl
def register_recognizers(register: RegisterRecognizers) -> None:
    """Register the built-in UK recognisers."""
    register(*RECOGNIZERS)
