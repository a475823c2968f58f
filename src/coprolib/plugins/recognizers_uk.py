"""Built-in UK identifier recognisers, registered through ``register_recognizers``.

NHS number (Modulus 11), National Insurance number (valid prefixes and suffixes), postcode,
phone, email, URL, date of birth in context and street address. Each is one compiled regular
expression, with a cheap check where the format has one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from coprolib.hookspecs import hookimpl
from coprolib.redact import PatternRecognizer, Span


def nhs_check_digit_ok(number: str) -> bool:
    """True when the ten digits of ``number`` pass the NHS Modulus 11 check."""
    digits = [int(ch) for ch in number if ch.isdigit()]
    if len(digits) != 10:
        return False
    total = sum(d * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == digits[9]


# 3-3-4 with one consistent separator (space, dash or none), not inside a longer number.
NHS_RE = re.compile(r"(?<![\w.,/-])\d{3}([ -]?)\d{3}\1\d{4}(?![\w/]|[.,-]\d)")

# Prefix: first letter not D F I Q U V; second not D F I O Q U V; not BG GB KN NK NT TN ZZ.
# Suffix A-D. Digits in pairs, optionally spaced.
NI_RE = re.compile(
    r"(?<![A-Za-z0-9])(?!(?:BG|GB|KN|NK|NT|TN|ZZ|bg|gb|kn|nk|nt|tn|zz))"
    r"[A-CEGHJ-PR-TW-Za-ceghj-pr-tw-z][A-CEGHJ-NPR-TW-Za-ceghj-npr-tw-z]"
    r" ?\d{2} ?\d{2} ?\d{2} ?[A-Da-d](?![A-Za-z0-9])"
)

# Every outward format (A9, A99, A9A, AA9, AA99, AA9A) and GIR 0AA; any case; space optional.
POSTCODE_RE = re.compile(
    r"(?<![A-Za-z0-9])(?:[A-PR-UWYZ](?:[0-9][0-9A-HJKPSTUW]?|[A-HK-Y][0-9][0-9ABEHMNPRV-Y]?)"
    r"|GIR)[ \t]?[0-9][ABD-HJLNP-UW-Z]{2}(?![A-Za-z0-9])",
    re.IGNORECASE,
)

# +44 / 0044 / 0 then 9-10 national digits with spaces, dashes, dots or brackets between.
PHONE_RE = re.compile(
    r"(?<![\w+])(?:(?:\+|00)[ ]?44[ ]?(?:\(0\)[ ]?)?\(?|\(?0)"
    r"[1-37-9](?:[ \-.)(]{0,2}\d){8,9}(?![\w])"
)

EMAIL_RE = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
    r"(?![\w-])"
)

URL_RE = re.compile(
    r"(?<![\w@/])(?:https?://|www\.)[^\s<>\"'()\[\]]*[^\s<>\"'()\[\].,;:!?]",
    re.IGNORECASE,
)

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
DOB_RE = re.compile(
    r"(?:\bborn(?:\s+(?:on|in))?|\bd\.?o\.?b\b\.?|\bdate\s+of\s+birth\b|\bbirth\s*date\b"
    r"|\bbirthday\b)"
    rf"(?:\s+(?:is|was|of))?\s*[:\-–]?\s*\(?(?:the\s+)?(?P<date>{_DATE})(?![\w/])",
    re.IGNORECASE,
)

STREET_SUFFIXES: tuple[str, ...] = tuple(
    [
        "Street",
        "St",
        "Road",
        "Rd",
        "Lane",
        "Ln",
        "Avenue",
        "Ave",
        "Close",
        "Cl",
        "Drive",
        "Dr",
        "Way",
        "Court",
        "Ct",
        "Crescent",
        "Cres",
        "Gardens",
        "Gdns",
        "Place",
        "Pl",
        "Grove",
        "Gr",
        "Terrace",
        "Terr",
        "Walk",
        "Hill",
        "Park",
        "Square",
        "Sq",
        "Mews",
        "Row",
        "Rise",
        "View",
        "Green",
        "Parade",
        "Vale",
        "Wharf",
        "Yard",
        "Gate",
        "Croft",
        "Fold",
        "Meadow",
        "Meadows",
        "Mount",
        "Chase",
        "End",
        "Brow",
        "Bank",
        "Side",
        "Wynd",
        "Heights",
        "Fields",
        "Field",
        "Estate",
        "Broadway",
        "Circus",
        "Embankment",
        "Quay",
        "Hollow",
        "Dene",
        "Garth",
        "Path",
        "Boulevard",
        "Approach",
        "Crossing",
        "Grange",
        "Gardens",
        "Lea",
        "Leys",
        "Court",
        "Street",
        "Passage",
        "Avenue",
        "Villas",
        "Cottages",
        "Buildings",
        "Wharf",
        "Place",
        "Precinct",
        "Causeway",
        "Circle",
        "Loke",
        "Twitten",
        "Ginnel",
        "Loan",
        "Brae",
    ]
)
_SUFFIX = "|".join(sorted(set(STREET_SUFFIXES), key=len, reverse=True))
_NAME_WORD = r"(?:[A-Z][a-z'’]+(?:-[A-Z][a-z'’]+)?|St\.?|de|la|upon|under)"
STREET_RE = re.compile(
    r"(?<![\w£$.,:/-])"
    r"(?:(?:(?:[Ff]lat|[Aa]partment|[Aa]pt\.?|[Uu]nit|[Ss]tudio|[Rr]oom)\s+\d{1,4}[A-Za-z]?,?\s+)"
    r"(?:[A-Z][a-z'’]+\s+){0,3}(?:House|Court|Lodge|Mansions|Tower|Block|Heights|Point)?,?\s*)?"
    r"\d{1,4}[A-Za-z]?(?:\s?[-–]\s?\d{1,4}[A-Za-z]?)?,?\s+"
    rf"(?:{_NAME_WORD}\s+){{1,4}}(?i:{_SUFFIX})\b\.?"
    r"|(?:[Ff]lat|[Aa]partment|[Uu]nit|[Ss]tudio)\s+\d{1,4}[A-Za-z]?,?\s+"
    r"(?:[A-Z][a-z'’]+\s+){1,3}(?:House|Court|Lodge|Mansions|Tower|Heights|Point)\b"
)


class _DateOfBirth:
    """Dates in a birth context; only the date itself is the span."""

    name = "uk_date_of_birth"
    labels = ("DATE_OF_BIRTH",)

    def find(self, text: str) -> Iterable[Span]:
        """Yield the date in "born on 3 March 1958", "DOB: 03/03/1958", "d.o.b. ..."."""
        if not _DOB_HINT.search(text):
            return
        for m in DOB_RE.finditer(text):
            start, end = m.span("date")
            yield Span(start, end, "DATE_OF_BIRTH", 1.0)


_DOB_HINT = re.compile(r"born|d\.?o\.?b|birth", re.IGNORECASE)


def _phone_ok(match: str) -> bool:
    digits = re.sub(r"\D", "", match)
    if match.startswith(("+", "00")):
        digits = digits[2:] if match.startswith("+") else digits[4:]
    if digits.startswith("0"):
        digits = digits[1:]
    return 9 <= len(digits) <= 10


RECOGNIZERS = (
    PatternRecognizer(
        name="uk_nhs_number", label="NHS_NUMBER", pattern=NHS_RE, check=nhs_check_digit_ok
    ),
    PatternRecognizer(name="uk_ni_number", label="NI_NUMBER", pattern=NI_RE),
    PatternRecognizer(name="uk_postcode", label="UK_POSTCODE", pattern=POSTCODE_RE),
    PatternRecognizer(
        name="uk_phone", label="UK_PHONE", pattern=PHONE_RE, check=_phone_ok, score=0.9
    ),
    PatternRecognizer(name="email", label="EMAIL", pattern=EMAIL_RE),
    PatternRecognizer(name="url", label="URL", pattern=URL_RE, score=0.95),
    _DateOfBirth(),
    PatternRecognizer(
        name="uk_street_address", label="STREET_ADDRESS", pattern=STREET_RE, score=0.95
    ),
)


@hookimpl
def register_recognizers(register: Callable[..., None]) -> None:
    """Register the built-in UK recognisers."""
    register(*RECOGNIZERS)
