"""A harder, labelled evaluation set for redaction: the formats real case notes use.

Generated from our own templates filled with Faker (en_GB) values, it stresses four families:

* irregular whitespace inside identifiers: postcodes ("LS1  4AB", "ls14ab", non-breaking
  spaces), NHS and National Insurance numbers with odd or doubled spacing;
* punctuation in street names ("St. Mary's Rd", "O'Connell Close", "Bishop's-Walk");
* dates of birth introduced by longer phrases ("date of birth:", "who was born", "DOB -");
* single given names on their own (sign-offs "Thanks, Priya", actions "Sam to call GP",
  "people call me Jo").

Alongside them it places *look-alikes* that must be left alone: case and product references,
dates that are not dates of birth, ordinary words that are also names, numbers failing the NHS
check. Each look-alike is recorded (unlabelled) so a benchmark can report the share of them a
tool wrongly masks.

The set is split deterministically into a **tuning** part and a **held-out** part. Every
template pool below is split too: phrasings whose index is 3 mod 4 appear only in held-out
documents, and held-out people's first names come from Faker locales the tuning part never uses.
The tuning part's people have en_GB names and names from other locales of its own (some of
their surnames too), so it holds names outside the shipped list as real notes do.
Tune on ``tune`` only; report both.

    python bench/redaction_hardset.py --part tune --docs 4     # print a few documents
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from faker import Faker

T = TypeVar("T")

LABELS = (
    "PERSON",
    "NHS_NUMBER",
    "NI_NUMBER",
    "UK_POSTCODE",
    "UK_PHONE",
    "EMAIL",
    "DATE_OF_BIRTH",
    "STREET_ADDRESS",
)
PARTS = ("tune", "held_out")
NBSP = "\u00a0"


@dataclass
class TrueSpan:
    """One identifier placed in a document (``family`` names the format variant)."""

    start: int
    end: int
    label: str
    family: str = ""


@dataclass
class LookAlike:
    """One look-alike placed in a document: any masking of it is a false positive."""

    start: int
    end: int
    kind: str


@dataclass
class Document:
    """A generated document with its identifiers and look-alikes."""

    kind: str
    part: str
    text: str
    spans: list[TrueSpan] = field(default_factory=list)
    lookalikes: list[LookAlike] = field(default_factory=list)


class _Writer:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.spans: list[TrueSpan] = []
        self.lookalikes: list[LookAlike] = []

    def text(self, s: str) -> None:
        self.parts.append(s)
        self.length += len(s)

    def value(self, s: str, label: str, family: str = "") -> None:
        self.spans.append(TrueSpan(self.length, self.length + len(s), label, family))
        self.text(s)

    def lookalike(self, s: str, kind: str) -> None:
        self.lookalikes.append(LookAlike(self.length, self.length + len(s), kind))
        self.text(s)


# --- identifier formats ------------------------------------------------------------------------


def nhs_digits(rng: random.Random, valid: bool = True) -> str:
    """Ten digits passing (or, with ``valid=False``, failing) the NHS Modulus 11 check."""
    while True:
        digits = [rng.randint(3, 9)] + [rng.randint(0, 9) for _ in range(8)]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        check = 0 if check == 11 else check
        if check == 10:
            continue
        if not valid:
            check = (check + rng.randint(1, 9)) % 10
        return "".join(map(str, digits)) + str(check)


def _nhs_layout(rng: random.Random, n: str) -> tuple[str, str]:
    a, b, c = n[:3], n[3:6], n[6:]
    return rng.choice(
        (
            (f"{a} {b} {c}", "plain"),
            (n, "plain"),
            (f"{a}-{b}-{c}", "plain"),
            (f"{a}  {b}  {c}", "odd_space"),
            (f"{a}{NBSP}{b}{NBSP}{c}", "nbsp"),
            (f"{a} {b}{c}", "odd_space"),
            (f"{a}{b} {c}", "odd_space"),
            (f"{a} {b}  {c}", "odd_space"),
        )
    )


_NI_FIRST = "ABCEGHJKLMNOPRSTWXYZ"
_NI_SECOND = "ABCEGHJKLMNPRSTWXYZ"


def _ni_layout(rng: random.Random) -> tuple[str, str]:
    while True:
        p = rng.choice(_NI_FIRST) + rng.choice(_NI_SECOND)
        if p not in {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}:
            break
    d = f"{rng.randrange(10**6):06d}"
    s = rng.choice("ABCD")
    out, fam = rng.choice(
        (
            (f"{p}{d}{s}", "plain"),
            (f"{p} {d[:2]} {d[2:4]} {d[4:]} {s}", "plain"),
            (f"{p} {d} {s}", "odd_space"),
            (f"{p}{d[:2]} {d[2:4]} {d[4:]}{s}", "odd_space"),
            (f"{p}  {d[:2]} {d[2:4]} {d[4:]}  {s}", "odd_space"),
            (f"{p}{NBSP}{d[:2]}{NBSP}{d[2:4]}{NBSP}{d[4:]}{NBSP}{s}", "nbsp"),
            (f"{p} {d[:2]}{d[2:4]}{d[4:]}{s}", "odd_space"),
        )
    )
    return (out.lower(), fam) if rng.random() < 0.15 else (out, fam)


def _postcode_layout(fake: Faker, rng: random.Random) -> tuple[str, str]:
    pc = str(fake.postcode())
    out, inward = pc.split(" ")
    return rng.choice(
        (
            (pc, "plain"),
            (f"{out}  {inward}", "odd_space"),
            (f"{out}{inward}".lower(), "squashed"),
            (f"{out}{NBSP}{inward}", "nbsp"),
            (f"{out}   {inward}", "odd_space"),
            (f"{out.lower()} {inward.lower()}", "case"),
            (f"{out}{inward}", "squashed"),
            (f"{out.capitalize()} {inward.lower()}", "case"),
            (f"{out}\t{inward}", "odd_space"),
        )
    )


def _phone_layout(fake: Faker, rng: random.Random) -> tuple[str, str]:
    n = f"{rng.randrange(10**6):06d}"
    return rng.choice(
        (
            (str(fake.phone_number()), "plain"),
            (str(fake.cellphone_number()), "plain"),
            (f"07700 {n}", "plain"),
            (f"0161 496 {n[:4]}", "plain"),
            (f"+44 7700 {n[:3]} {n[3:]}", "plain"),
            (f"(0113) 496 {n[:4]}", "plain"),
        )
    )


def _words(text: str) -> list[str]:
    return text.split()


_SAINTS = _words("Mary's Anne's John's Peter's Andrew's Helen's Margaret's James's Mark's Luke's")
_POSSESSIVE_STREETS = _words(
    "Bishop's King's Queen's Miller's Smith's Cooper's Abbot's Lady's Parson's Friar's"
)
_IRISH = _words("O'Connell O'Neill O'Brien D'Arcy O'Leary O'Hara McAllister MacDonald")
_SUFFIX_ABBR = (
    ("Road", "Rd"),
    ("Street", "St"),
    ("Avenue", "Ave"),
    ("Close", "Cl"),
    ("Lane", "Ln"),
    ("Crescent", "Cres"),
    ("Walk", "Walk"),
    ("Drive", "Dr"),
    ("Gardens", "Gdns"),
    ("Terrace", "Terr"),
    ("Court", "Ct"),
    ("Place", "Pl"),
)


def _street_layout(fake: Faker, rng: random.Random, pool: Sequence[int]) -> tuple[str, str]:
    full, abbr = rng.choice(_SUFFIX_ABBR)
    suffix = rng.choice((full, abbr, abbr + "."))
    number = str(rng.randint(1, 240)) + (rng.choice("abc") if rng.random() < 0.1 else "")
    style = rng.choice(pool)
    if style == 0:
        name, fam = f"St. {rng.choice(_SAINTS)}", "saint"
    elif style == 1:
        name, fam = rng.choice(_IRISH), "apostrophe"
    elif style == 2:
        name, fam = rng.choice(_POSSESSIVE_STREETS), "possessive"
    elif style == 3:
        name, fam = f"{rng.choice(_POSSESSIVE_STREETS)}-{full}", "hyphen"
        suffix = ""
    elif style == 4:
        name, fam = f"St {rng.choice(_SAINTS).replace(chr(39), '’')}", "curly"
    elif style == 5:
        name, fam = str(fake.last_name()), "plain"
    elif style == 6:
        name, fam = f"{rng.choice(_POSSESSIVE_STREETS)} {rng.choice(('Park', 'Hill'))}", "two_word"
    else:
        name, fam = f"{rng.choice(_IRISH)}-{fake.last_name()}", "hyphen"
    addr = f"{number} {name} {suffix}".rstrip()
    if rng.random() < 0.15:
        addr = f"Flat {rng.randint(1, 30)}, {addr}"
    return addr, fam


_MONTHS = "January February March April May June July August September October November December"
_MONTH_NAMES = _MONTHS.split()


def _date_text(rng: random.Random, y: int) -> str:
    m, d = rng.randint(1, 12), rng.randint(1, 28)
    month = _MONTH_NAMES[m - 1]
    nth = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd"}.get(d, "th")
    return rng.choice(
        (
            f"{d:02d}/{m:02d}/{y}",
            f"{d} {month} {y}",
            f"{d}{nth} {month[:3]} {y}",
            f"{d}.{m}.{y}",
            f"{d:02d}-{m:02d}-{y}",
            f"{d}/{m}/{str(y)[2:]}",
            f"{month} {d}, {y}",
            f"{d}{nth} of {month} {y}",
        )
    )


#: (before, after) around a date of birth.
_DOB_PHRASES: tuple[tuple[str, str], ...] = (
    ("date of birth: ", ""),
    ("born on ", ""),
    ("d.o.b ", ""),
    ("who was born ", ""),
    ("DOB - ", ""),
    ("Date of Birth – ", ""),
    ("D.O.B.: ", ""),
    ("who was born on ", ""),
    ("DoB:", ""),
    ("date of birth was given as ", ""),
    ("(born ", ")"),
    ("was born on the ", ""),
    ("DOB= ", ""),
    ("date-of-birth ", ""),
    ("Date of birth (DOB): ", ""),
    ("dob — ", ""),
    ("birth date: ", ""),
    ("she was born ", ""),
    ("d.o.b. : ", ""),
    ("date of birth recorded as ", ""),
)

#: (before, after) around a date that is NOT a date of birth.
_DATE_LOOKALIKES: tuple[tuple[str, str], ...] = (
    ("The strategy meeting was held on ", "."),
    ("Referral received ", "."),
    ("Date of referral: ", "."),
    ("Tenancy started ", "."),
    ("Next review due ", "."),
    ("The idea was born out of the review on ", "."),
    ("Date of visit: ", "."),
    ("Letter dated ", " was not answered."),
)


def _dob_value(rng: random.Random) -> str:
    return _date_text(rng, rng.randint(1930, 2004))


# Person templates: (before, after); the name is a single given name on its own.
_SINGLE_NAME: tuple[tuple[str, str], ...] = (
    ("Thanks,\n", "\n"),
    ("Action: ", " to call GP by Friday. "),
    ("People call me ", ". "),
    ("Many thanks, ", "\n"),
    ("\n", " to chase the housing referral.\n"),
    ("Best wishes\n", "\n"),
    ("Kind regards,\n", "\n"),
    ("Everyone calls me ", " these days. "),
    ("Cheers ", "\n"),
    ("- ", " to send the minutes round.\n"),
    ("Thanks ", ", that's really helpful. "),
    ("I go by ", " now. "),
    ("ACTION: ", " to book interpreter. "),
    ("Speak soon,\n", "\n"),
    ("Regards\n", "\n"),
    ("My friends call me ", ". "),
)
_FULL_NAME: tuple[tuple[str, str], ...] = (
    ("Concern raised by ", " about money going missing. "),
    ("Visited with ", ". "),
    ("I spoke to ", " on the phone. "),
    ("", " said the carers had not come. "),
    ("Present: ", " (Chair). "),
    ("Allocated worker: ", ". "),
)
# Look-alikes of a single name: the same cue, no name.
_NAME_LOOKALIKES: tuple[str, ...] = (
    "Thanks,\nSafeguarding Team\n",
    "Action: GP to call back by Friday. ",
    "People call me lazy but I am not. ",
    "Many thanks, everyone\n",
    "Housing to chase the referral.\n",
    "Best wishes\nAdult Social Care\n",
    "Hope to hear from you soon. ",
    "Will to be read at the solicitor's. ",
    "Grace period of 28 days applies. ",
    "Bill to be paid by the end of May. ",
    "Mark the form as urgent. ",
    "Kind regards,\nDuty Team\n",
    "Police to review the footage.\n",
    "Joy and relief when the keys came. ",
    "Rose bushes in the garden were cut back. ",
    "Summer was hard without the day centre. ",
)
_REF_LOOKALIKES: tuple[Callable[[random.Random], str], ...] = (
    lambda r: f"SAR-{r.randint(2019, 2025)}-{r.randint(1, 200):03d}",
    lambda r: f"case ref {r.randint(100000, 999999)}/{r.randint(10, 99)}",
    lambda r: f"{nhs_digits(r, valid=False)}",
    lambda r: f"Ref: LS{r.randint(1, 29)}-AB{r.randint(10, 99)}",
    lambda r: f"part no. A{r.randint(10, 99)}-{r.randint(100, 999)}-{r.randint(100, 999)}",
    lambda r: f"HP {r.randint(300, 999)}XL cartridge",
    lambda r: f"B{r.randint(1, 12)} injections",
    lambda r: f"the M{r.randint(1, 66)} motorway",
    lambda r: f"form ESA{r.randint(10, 99)}",
    lambda r: f"QQ {r.randint(10, 99)} {r.randint(10, 99)} {r.randint(10, 99)} C",
    lambda r: f"invoice INV-{r.randint(2020, 2025)}-{r.randint(1000, 9999)}",
    lambda r: f"£{r.randint(100, 9000):,}.{r.randint(0, 99):02d}",
    lambda r: f"room {r.randint(1, 9)} {r.randint(1, 9)}AB",
    lambda r: f"St. Mary's Hospital ward {r.randint(1, 30)}",
    lambda r: f"{r.randint(2, 12)} weeks",
    lambda r: f"SKU {r.randint(1000000, 9999999)}",
)

_PROSE = (
    "Practitioners noted bruising but did not record it consistently. ",
    "Information was not shared between agencies in a timely way. ",
    "The carers did not turn up on Monday and nobody rang. ",
    "She said she felt listened to for the first time. ",
    "The referral was closed without anyone telling the family. ",
    "Mental health services had a waiting list of several months. ",
    "The housing officer visited twice but did not see the adult alone. ",
    "Everyone agreed the pathway was too complicated for families to follow. ",
)

_HELD_OUT_LOCALES = ("en_IN", "en_NG", "tr_TR", "pl_PL", "ga_IE", "en_KE")
#: Where the tuning part's other people come from: a council's notes name people of every
#: origin, so tuning on en_GB names alone says nothing about names outside the shipped list.
#: No locale here is a held-out one (here or in ``redaction_corpus.py``), and none falls back
#: to en_US names.
_TUNE_LOCALES = (
    "ro_RO", "lt_LT", "pt_PT", "it_IT", "es_ES", "fr_FR", "hu_HU", "lv_LV", "fr_DZ", "uz_UZ",
    "id_ID", "cs_CZ", "de_DE", "en_TH",
)  # fmt: skip
#: The share of the tuning part's surnames drawn from those locales (the rest are en_GB).
_TUNE_OTHER_SURNAMES = 0.3


def _pool(items: Sequence[T], part: str) -> list[T]:
    """Template items for ``part``: index 3 mod 4 is held out, the rest is shared."""
    if part == "held_out":
        return list(items)
    return [x for i, x in enumerate(items) if i % 4 != 3]


class HardSet:
    """Builds the documents of one part of the set. Same part and seed, same documents."""

    def __init__(self, part: str, seed: int = 17):
        if part not in PARTS:
            raise ValueError(f"part must be one of {', '.join(PARTS)}, got {part!r}")
        self.part = part
        # Each part has its own random streams: nothing in one depends on the other.
        offset = 0 if part == "tune" else 1_000_003
        self.rng = random.Random(seed + offset)
        self.fake = Faker("en_GB")
        self.fake.seed_instance(seed + offset)
        self.first_names: list[str]
        self.other_surnames: list[str] = []
        if part == "tune":
            en_gb = {str(self.fake.first_name()) for _ in range(600)}
            tune_others = [Faker(loc) for loc in _TUNE_LOCALES]
            for i, f in enumerate(tune_others):
                f.seed_instance(seed + 55 + i)
            pick = random.Random(seed + 55)
            others_first = {str(pick.choice(tune_others).first_name()) for _ in range(900)}
            self.other_surnames = sorted(
                {str(pick.choice(tune_others).last_name()) for _ in range(900)}
            )
            self.first_names = sorted(
                en_gb
                | {n for n in others_first if n.isalpha()}
                | {"Priya", "Sam", "Jo", "Dev", "Aisha"}
            )
        else:
            others = [Faker(loc) for loc in _HELD_OUT_LOCALES]
            for i, f in enumerate(others):
                f.seed_instance(seed + 77 + i)
            names = {str(self.rng.choice(others).first_name()) for _ in range(900)}
            self.first_names = sorted(n for n in names if n.isalpha())
        self.dob = _pool(_DOB_PHRASES, part)
        self.single = _pool(_SINGLE_NAME, part)
        self.full = _pool(_FULL_NAME, part)
        self.name_negs = _pool(_NAME_LOOKALIKES, part)
        self.ref_negs = _pool(_REF_LOOKALIKES, part)
        self.date_negs = _pool(_DATE_LOOKALIKES, part)
        self.street_styles = _pool(range(8), part)

    # -- pieces
    def _first(self) -> str:
        return self.rng.choice(self.first_names)

    def _full(self) -> str:
        first = self._first()
        if self.other_surnames and self.rng.random() < _TUNE_OTHER_SURNAMES:
            return f"{first} {self.rng.choice(self.other_surnames)}"
        return f"{first} {self.fake.last_name()}"

    def _lookalikes(self, w: _Writer) -> None:
        r = self.rng
        for _ in range(r.randint(1, 3)):
            kind = r.randrange(3)
            if kind == 0:
                w.text(r.choice(("We logged it as ", "See ", "Quote ", "Ordered ")))
                w.lookalike(r.choice(self.ref_negs)(r), "reference")
                w.text(". ")
            elif kind == 1:
                before, after = r.choice(self.date_negs)
                w.text(before)
                w.lookalike(_date_text(r, r.randint(2015, 2025)), "date")
                w.text(after + " ")
            else:
                text = r.choice(self.name_negs)
                core = text.strip(" \n.,")
                lead = text.index(core)
                w.text(text[:lead])
                w.lookalike(core, "word")
                w.text(text[lead + len(core) :])
        w.text(r.choice(_PROSE))

    def _dob(self, w: _Writer) -> None:
        before, after = self.rng.choice(self.dob)
        w.text(before)
        w.value(_dob_value(self.rng), "DATE_OF_BIRTH", before.strip())
        w.text(after)

    def _single(self, w: _Writer) -> None:
        before, after = self.rng.choice(self.single)
        w.text(before)
        w.value(self._first(), "PERSON", "single")
        w.text(after)

    def case_note(self) -> Document:
        """A practitioner's case note with irregular identifiers."""
        r, f, w = self.rng, self.fake, _Writer()
        w.text("Case note. Adult: ")
        w.value(self._full(), "PERSON", "full")
        w.text(", ")
        self._dob(w)
        w.text(".\nNHS no: ")
        nhs, fam = _nhs_layout(r, nhs_digits(r))
        w.value(nhs, "NHS_NUMBER", fam)
        w.text(". NI: ")
        ni, fam = _ni_layout(r)
        w.value(ni, "NI_NUMBER", fam)
        w.text(".\nAddress: ")
        addr, fam = _street_layout(f, r, self.street_styles)
        w.value(addr, "STREET_ADDRESS", fam)
        w.text(r.choice((", ", ",\n", " ")) + str(f.city()) + r.choice((", ", " ")))
        pc, fam = _postcode_layout(f, r)
        w.value(pc, "UK_POSTCODE", fam)
        w.text(". Tel ")
        ph, fam = _phone_layout(f, r)
        w.value(ph, "UK_PHONE", fam)
        w.text(".\n")
        self._lookalikes(w)
        before, after = r.choice(self.full)
        w.text(before)
        w.value(self._full(), "PERSON", "full")
        w.text(after)
        self._lookalikes(w)
        self._single(w)
        return Document("case_note", self.part, "".join(w.parts), w.spans, w.lookalikes)

    def email(self) -> Document:
        """An email between practitioners, ending in a sign-off."""
        r, f, w = self.rng, self.fake, _Writer()
        w.text(r.choice(("Hi all,\n", "Hello,\n", "Morning,\n")))
        w.text("Update on the adult ")
        self._dob(w)
        w.text(r.choice((", who now lives at ", ". New address: ")))
        addr, fam = _street_layout(f, r, self.street_styles)
        w.value(addr, "STREET_ADDRESS", fam)
        w.text(", ")
        pc, fam = _postcode_layout(f, r)
        w.value(pc, "UK_POSTCODE", fam)
        w.text(". Contact her on ")
        ph, fam = _phone_layout(f, r)
        w.value(ph, "UK_PHONE", fam)
        w.text(" or ")
        w.value(str(f.email()), "EMAIL", "plain")
        w.text(".\n")
        self._lookalikes(w)
        self._single(w)
        self._lookalikes(w)
        w.text("\n")
        self._single(w)
        return Document("email", self.part, "".join(w.parts), w.spans, w.lookalikes)

    def minutes(self) -> Document:
        """Meeting minutes with actions given to people by first name."""
        r, f, w = self.rng, self.fake, _Writer()
        w.text("Present: ")
        w.value(self._full(), "PERSON", "full")
        w.text(", ")
        w.value(self._full(), "PERSON", "full")
        w.text(".\nThe review concerns an adult ")
        self._dob(w)
        w.text(" (NHS ")
        nhs, fam = _nhs_layout(r, nhs_digits(r))
        w.value(nhs, "NHS_NUMBER", fam)
        w.text(") of ")
        addr, fam = _street_layout(f, r, self.street_styles)
        w.value(addr, "STREET_ADDRESS", fam)
        w.text(" (")
        pc, fam = _postcode_layout(f, r)
        w.value(pc, "UK_POSTCODE", fam)
        w.text(").\n")
        self._lookalikes(w)
        for _ in range(2):
            self._single(w)
        self._lookalikes(w)
        return Document("minutes", self.part, "".join(w.parts), w.spans, w.lookalikes)

    def story(self) -> Document:
        """A first-person account."""
        r, f, w = self.rng, self.fake, _Writer()
        w.text(r.choice(("My name is ", "I'm ")))
        w.value(self._full(), "PERSON", "full")
        w.text(r.choice((" but ", ". ")))
        self._single(w)
        w.text("I was ")
        self._dob(w)
        w.text(" and I live at ")
        addr, fam = _street_layout(f, r, self.street_styles)
        w.value(addr, "STREET_ADDRESS", fam)
        w.text(", ")
        pc, fam = _postcode_layout(f, r)
        w.value(pc, "UK_POSTCODE", fam)
        w.text(". My NI number is ")
        ni, fam = _ni_layout(r)
        w.value(ni, "NI_NUMBER", fam)
        w.text(". ")
        self._lookalikes(w)
        return Document("story", self.part, "".join(w.parts), w.spans, w.lookalikes)

    def documents(self, n: int) -> list[Document]:
        """``n`` documents: case notes, emails, minutes and stories in turn."""
        makers = (self.case_note, self.email, self.minutes, self.story)
        return [makers[i % 4]() for i in range(n)]


def generate(part: str, n: int = 800, seed: int = 17) -> list[Document]:
    """The ``part`` ("tune" or "held_out") of the set: ``n`` documents from ``seed``."""
    return HardSet(part, seed).documents(n)


def main() -> None:
    """Print a few documents of one part with their labels and look-alikes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=PARTS, default="tune")
    parser.add_argument("--docs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    for doc in generate(args.part, args.docs, args.seed):
        print(f"--- {doc.kind} ({doc.part})\n{doc.text}")
        for s in doc.spans:
            print(f"  {s.label:15} {doc.text[s.start : s.end]!r} [{s.family}]")
        for la in doc.lookalikes:
            print(f"  look-alike {la.kind:9} {doc.text[la.start : la.end]!r}")


if __name__ == "__main__":
    main()
