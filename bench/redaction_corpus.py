"""Deterministic generator of labelled, fictional UK safeguarding-style text for redaction tests.

Three kinds of document (first-person stories, case notes, meeting minutes) are written from our
own templates and filled with Faker (en_GB) values. Every identifier placed in a document is
recorded as a true span ``(start, end, label)``. Hard negatives are placed unlabelled: ten-digit
numbers that fail the NHS check, times, money, case references like ``SAR-2023-014``, "Will",
"May", "Hope" and "Faith" used as ordinary words, dates that are not dates of birth, and
organisations ("Healthwatch", "the Domestic Abuse Partnership", "Hope House").

Some people are *held out*: their first names come from other Faker locales and are not in
coprolib's name list, so person-name recall can be measured on names the list has never seen.

    python bench/redaction_corpus.py --docs 5 --seed 7      # print a few documents
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from faker import Faker

LABELS = (
    "PERSON",
    "NHS_NUMBER",
    "NI_NUMBER",
    "UK_POSTCODE",
    "UK_PHONE",
    "EMAIL",
    "DATE_OF_BIRTH",
    "STREET_ADDRESS",
    "URL",
)


@dataclass
class TrueSpan:
    """One identifier placed in a document."""

    start: int
    end: int
    label: str
    held_out: bool = False


@dataclass
class Document:
    """A generated document, its kind and its labelled identifiers."""

    kind: str
    text: str
    spans: list[TrueSpan] = field(default_factory=list)


class _Writer:
    """Appends literal text and labelled values, recording offsets."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.spans: list[TrueSpan] = []

    def text(self, s: str) -> None:
        self.parts.append(s)
        self.length += len(s)

    def value(self, s: str, label: str, held_out: bool = False) -> None:
        self.spans.append(TrueSpan(self.length, self.length + len(s), label, held_out))
        self.text(s)


def _split(words: str) -> list[str]:
    return words.split()


# --- identifiers -----------------------------------------------------------------------------

_NI_FIRST = "ABCEGHJKLMNOPRSTWXYZ"
_NI_SECOND = "ABCEGHJKLMNPRSTWXYZ"
_NI_BAD = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}
_SUFFIXES = _split(
    """
    Street Road Lane Avenue Close Drive Way Court Crescent Gardens Place Grove Terrace Walk
    Hill Park Square Mews Row Rise View Green Parade Vale Croft Fold Meadows Chase Brow
    """
)
_STREET_WORDS = _split(
    """
    Mill Church Station High Park Victoria Albert Queen King Oak Elm Ash Beech Willow Cedar
    Rosewood Hawthorn Meadow Brook Spring Chapel School Market Bridge Canal Moss Heath Moor
    Windmill Orchard Holly Ivy Primrose Clarence Grosvenor Stanley Cromwell Nelson Wellington
    """
)
_TOWNS = _split(
    """
    Oldham Rochdale Bolton Wigan Stockport Salford Bury Leeds Bradford Halifax Huddersfield
    Wakefield Sheffield Rotherham Doncaster Barnsley York Hull Preston Blackburn Burnley
    Lancaster Carlisle Durham Sunderland Gateshead Middlesbrough Derby Nottingham Leicester
    Coventry Walsall Dudley Wolverhampton Telford Shrewsbury Hereford Worcester Gloucester
    Swindon Reading Slough Luton Watford Ipswich Norwich Cambridge Peterborough Lincoln Exeter
    Plymouth Truro Bristol Bath Cardiff Swansea Newport Wrexham Bangor Brighton Hastings
    Maidstone Canterbury
    """
)
_TITLES_F = ("Mrs", "Ms", "Miss", "Dr", "Mrs.", "Ms.")
_TITLES_M = ("Mr", "Dr", "Mr.", "Cllr")
_HELD_OUT_LOCALES = (
    "en_NG", "yo_NG", "ig_NG", "ha_NG", "tw_GH", "zu_ZA", "en_PK", "en_IN", "pl_PL", "tr_TR",
    "ga_IE", "en_KE",
)  # fmt: skip
_AMBIGUOUS_NAMES = ("Will", "May", "Hope", "Faith", "Grace", "Joy", "Mark", "Frank")


def nhs_number(rng: random.Random) -> str:
    """A random ten-digit number that passes the NHS Modulus 11 check."""
    while True:
        digits = [rng.randint(4, 9)] + [rng.randint(0, 9) for _ in range(8)]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        check = 0 if check == 11 else check
        if check != 10:
            return "".join(map(str, digits)) + str(check)


def bad_nhs_number(rng: random.Random) -> str:
    """A ten-digit number that fails the NHS check (a hard negative)."""
    good = nhs_number(rng)
    return good[:9] + str((int(good[9]) + rng.randint(1, 9)) % 10)


def _nhs_format(rng: random.Random, n: str) -> str:
    style = rng.randrange(3)
    if style == 0:
        return n
    sep = " " if style == 1 else "-"
    return f"{n[:3]}{sep}{n[3:6]}{sep}{n[6:]}"


def ni_number(rng: random.Random) -> str:
    """A National Insurance number with a valid prefix and suffix, in a random layout."""
    while True:
        prefix = rng.choice(_NI_FIRST) + rng.choice(_NI_SECOND)
        if prefix not in _NI_BAD:
            break
    digits = f"{rng.randrange(10**6):06d}"
    suffix = rng.choice("ABCD")
    if rng.random() < 0.5:
        out = f"{prefix} {digits[:2]} {digits[2:4]} {digits[4:]} {suffix}"
    else:
        out = f"{prefix}{digits}{suffix}"
    return out.lower() if rng.random() < 0.1 else out


def postcode(fake: Faker, rng: random.Random) -> str:
    """A Faker en_GB postcode, sometimes lower case or without its space."""
    pc: str = fake.postcode()
    r = rng.random()
    if r < 0.15:
        pc = pc.replace(" ", "")
    elif r < 0.25:
        pc = pc.lower()
    return pc


def phone(fake: Faker, rng: random.Random) -> str:
    """A UK phone number: Faker's formats plus 0044, dashes and spaced mobiles."""
    r = rng.random()
    if r < 0.35:
        return str(fake.phone_number())
    if r < 0.7:
        return str(fake.cellphone_number())
    n = f"{rng.randrange(10**6):06d}"
    return rng.choice(
        (
            f"0044 7700 {n}",
            f"07700-{n[:3]}-{n[3:]}",
            f"+44 (0) 161 496 {n[:4]}",
            f"0161-496-{n[:4]}",
            f"020 7946 {n[:4]}",
            f"+44 7700 {n[:3]} {n[3:]}",
        )
    )


def email(fake: Faker, rng: random.Random) -> str:
    """A Faker email address."""
    return str(fake.email() if rng.random() < 0.7 else fake.free_email())


def url(fake: Faker, rng: random.Random) -> str:
    """A Faker URL, sometimes with a path or without the scheme."""
    u = str(fake.url())
    if rng.random() < 0.4:
        u = u.rstrip("/") + "/" + fake.uri_path()
    if rng.random() < 0.2:
        u = "www." + u.split("://", 1)[1].removeprefix("www.")
    return u


_MONTHS = _split(
    """
    January February March April May June July August September October November December
    """
)


def dob_phrase(rng: random.Random) -> tuple[str, str, str]:
    """A date-of-birth context split as (before, date, after)."""
    y, m, d = rng.randint(1930, 2005), rng.randint(1, 12), rng.randint(1, 28)
    month = _MONTHS[m - 1]
    nth = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd"}.get(d, "th")
    forms = (
        ("born on ", f"{d} {month} {y}", ""),
        ("DOB: ", f"{d:02d}/{m:02d}/{y}", ""),
        ("d.o.b. ", f"{d:02d}/{m:02d}/{y}", ""),
        ("D.O.B ", f"{d}.{m}.{y}", ""),
        ("date of birth ", f"{d}{nth} {month} {y}", ""),
        ("born ", f"{month} {d}, {y}", ""),
        ("(DOB ", f"{d:02d}-{m:02d}-{y}", ")"),
        ("date of birth is the ", f"{d}{nth} of {month} {y}", ""),
        ("born in ", f"{y}", ""),
        ("dob ", f"{d}/{m}/{str(y)[2:]}", ""),
    )
    return rng.choice(forms)


def street(fake: Faker, rng: random.Random) -> str:
    """A UK street address: number, street name, UK suffix, sometimes a flat."""
    name = rng.choice(_STREET_WORDS) if rng.random() < 0.6 else fake.last_name()
    if rng.random() < 0.15:
        name = f"{name} {rng.choice(('Park', 'Hill', 'Green', 'Bank'))}"
    number = str(rng.randint(1, 240))
    if rng.random() < 0.1:
        number += rng.choice("abc")
    addr = f"{number} {name} {rng.choice(_SUFFIXES)}"
    r = rng.random()
    if r < 0.15:
        addr = f"Flat {rng.randint(1, 40)}, {addr}"
    elif r < 0.2:
        addr = f"Flat {rng.randint(1, 40)}, {fake.last_name()} House, {addr}"
    return addr


# --- people ----------------------------------------------------------------------------------


class People:
    """Makes people: en_GB names, ambiguous-word names and held-out names."""

    def __init__(self, fake: Faker, rng: random.Random, known_first: set[str]):
        self.fake = fake
        self.rng = rng
        self.held_out_first: list[str] = []
        others = [Faker(loc) for loc in _HELD_OUT_LOCALES]
        for i, f in enumerate(others):
            f.seed_instance(1000 + i)
        seen: set[str] = set()
        while len(self.held_out_first) < 300:
            f = rng.choice(others)
            n = str(f.first_name())
            if n.isalpha() and n.casefold() not in known_first and n not in seen:
                seen.add(n)
                self.held_out_first.append(n)
        self.held_out_last = [str(rng.choice(others).last_name()) for _ in range(300)]

    def make(self) -> tuple[str, str, str, bool]:
        """(title, first, last, held_out) for a new person."""
        rng, fake = self.rng, self.fake
        female = rng.random() < 0.55
        held_out = rng.random() < 0.2
        if held_out:
            first = rng.choice(self.held_out_first)
            last = rng.choice(self.held_out_last)
        else:
            if rng.random() < 0.06:
                first = rng.choice(_AMBIGUOUS_NAMES)
            else:
                first = str(fake.first_name_female() if female else fake.first_name_male())
            last = str(fake.last_name())
            if rng.random() < 0.05:
                last = f"{last}-{fake.last_name()}"
        title = rng.choice(_TITLES_F if female else _TITLES_M)
        return title, first, last, held_out


# --- documents -------------------------------------------------------------------------------

_HARD_NEGATIVES: tuple[Callable[[random.Random], str], ...] = (
    lambda r: f"The case reference is SAR-{r.randint(2019, 2025)}-{r.randint(1, 200):03d}. ",
    lambda r: f"We met at {r.randint(9, 16)}:{r.choice(('00', '15', '30', '45'))}. ",
    lambda r: f"The visit was at {r.randint(1, 11)}.{r.choice(('15', '30'))}pm. ",
    lambda r: f"She owed £{r.randint(20, 4000):,}.{r.randint(0, 99):02d} in rent arrears. ",
    lambda r: f"Ref {bad_nhs_number(r)} was logged on the old system. ",
    lambda r: (
        f"The payment of £{r.randint(5, 900)} was taken on {r.randint(1, 28)} May {r.randint(2019, 2025)}. "
    ),
    lambda r: "Will anyone tell me what happens next? ",
    lambda r: "I hope someone listens this time. ",
    lambda r: "Hope is what kept me going. ",
    lambda r: "Faith groups were invited to the listening event. ",
    lambda r: "May I say how much that meeting meant. ",
    lambda r: f"In May {r.randint(2019, 2025)} the board agreed the new pathway. ",
    lambda r: "Healthwatch shared the survey results. ",
    lambda r: "The Domestic Abuse Partnership will review the referral route. ",
    lambda r: "She was referred to Hope House for support. ",
    lambda r: "the Safeguarding Adults Board asked Citizens Advice and Age UK to comment. ",
    lambda r: f"It took {r.randint(2, 14)} weeks and {r.randint(2, 9)} phone calls. ",
    lambda r: f"Ward {r.randint(1, 30)} was short of staff on {r.randint(3, 9)} nights. ",
    lambda r: "We will meet again in June. ",
    lambda r: f"Item {r.randint(1, 9)}: Greater Manchester Police gave an update. ",
    lambda r: f"{r.randint(3, 40)} people attended and {r.randint(1, 9)} spoke. ",
)


_PROSE = (
    "I didn't know who to turn to, so I kept quiet for a long time. ",
    "Nobody asked me what I wanted; they talked about me, not to me. ",
    "The paperwork came in the post and I couldn't read half of it. ",
    "On Monday the carers didn't turn up and I sat in the dark until the evening. ",
    "Things got worse over the winter, when the heating broke and the money ran out. ",
    "The GP said it was probably stress and gave me a leaflet. ",
    "At A&E they were kind but they were rushed off their feet. ",
    "Adult Social Care said the referral had been closed without anyone telling me. ",
    "It felt like every service was waiting for another one to act. ",
    "Looking back, there were signs in March that something was wrong. ",
    "The Care Act 2014 says I should have been involved in the decisions. ",
    "Mental health services had a waiting list of several months. ",
    "Some days I felt like giving up; other days I was angry. ",
    "What helped most was somebody who listened and came back when they said they would. ",
    "Practitioners noted bruising but did not record it consistently. ",
    "Information was not shared between agencies in a timely way. ",
    "Professional curiosity was limited and the voice of the adult was not heard. ",
    "Learning: agencies should check that the person understood the plan. ",
    "The housing officer visited twice but did not see the adult alone. ",
    "There was no carer's assessment, although one was requested in writing. ",
    "Northern Rail cancelled the train, so the appointment was missed. ",
    "The CQC inspection rated the home as requiring improvement. ",
    "Members discussed the Making Safeguarding Personal audit and the DoLS backlog. ",
    "Christmas was the hardest time, because everyone else seemed happy. ",
    "Next Tuesday the panel will look again at the self-neglect pathway. ",
    "Thanks to everyone who shared their experience for this review. ",
    "Please note the change of venue to the Town Hall. ",
    "Everyone agreed the pathway was too complicated for families to follow. ",
)


class Corpus:
    """Builds documents from a seed. Same seed, same documents."""

    def __init__(self, seed: int = 2026, known_first: set[str] | None = None):
        self.rng = random.Random(seed)
        self.fake = Faker("en_GB")
        self.fake.seed_instance(seed)
        if known_first is None:
            from coprolib.redaction.recognizers_names import first_names

            known_first = set(first_names())
        self.people = People(self.fake, self.rng, known_first)

    # Each helper writes one labelled value into w.
    def _person(self, w: _Writer, style: str | None = None) -> tuple[str, str, str, bool]:
        title, first, last, held = self.people.make()
        style = style or self.rng.choice(("full", "full", "title", "first", "title_full"))
        if first in _AMBIGUOUS_NAMES and style == "first":
            style = "full"
        value = {
            "full": f"{first} {last}",
            "title": f"{title} {last}",
            "first": first,
            "title_full": f"{title} {first} {last}",
        }[style]
        w.value(value, "PERSON", held)
        return title, first, last, held

    def _neg(self, w: _Writer) -> None:
        if self.rng.random() < 0.6:
            w.text(self.rng.choice(_HARD_NEGATIVES)(self.rng))
        for _ in range(self.rng.randint(1, 3)):
            w.text(self.rng.choice(_PROSE))
        if self.rng.random() < 0.35:
            self._uncued(w)

    def _uncued(self, w: _Writer) -> None:
        """A name with no cue before it: at a sentence start, or with a possessive."""
        r = self.rng
        style = r.choice(("full", "full", "title", "title_full"))
        lead, tail = r.choice(
            (
                ("", " explained that the plan had changed. "),
                ("", " rang the office twice on Friday. "),
                ("At the review ", " agreed to follow this up. "),
                ("", "'s sister raised the alert. "),
                ("Later that week ", " came round with shopping. "),
                ("When ", " left, I locked the door. "),
            )
        )
        w.text(lead)
        self._person(w, style)
        w.text(tail)

    def story(self) -> Document:
        """A first-person story."""
        r, f, w = self.rng, self.fake, _Writer()
        w.text(r.choice(("My name is ", "I'm ", "This is the story of ", "")))
        _, first, last, held = self._person(w, "full")
        w.text(r.choice((" and I live at ", ". I live at ", ", and my home is ")))
        w.value(street(f, r), "STREET_ADDRESS")
        w.text(", ")
        w.value(postcode(f, r), "UK_POSTCODE")
        w.text(". I was ")
        before, date, after = dob_phrase(r)
        w.text(before)
        w.value(date, "DATE_OF_BIRTH")
        w.text(after + ". ")
        self._neg(w)
        w.text(r.choice(("My son ", "My daughter ", "My partner ", "My neighbour ")))
        self._person(w, r.choice(("first", "full")))
        w.text(r.choice((" used to take my money", " stopped me seeing friends", " helped me")))
        w.text(". When I rang the council on ")
        w.value(phone(f, r), "UK_PHONE")
        w.text(" nobody called back for weeks. ")
        self._neg(w)
        w.text("In the end my social worker, ")
        self._person(w, "title")
        w.text(", listened. My NHS number is ")
        w.value(_nhs_format(r, nhs_number(r)), "NHS_NUMBER")
        w.text(" and they still got my records wrong. ")
        if r.random() < 0.6:
            w.text("You can email me at ")
            w.value(email(f, r), "EMAIL")
            w.text(" if you want to hear more. ")
        self._neg(w)
        w.text(f"{r.choice(('I told', 'I asked', 'I spoke to'))} ")
        self._person(w, "first" if not held and first not in _AMBIGUOUS_NAMES else "full")
        w.text(" about the leaflet at ")
        w.value(url(f, r), "URL")
        w.text(", but it didn't help. ")
        self._neg(w)
        w.text("My National Insurance number is ")
        w.value(ni_number(r), "NI_NUMBER")
        w.text(" and the benefits office lost it twice.\n")
        _ = last
        return Document("story", "".join(w.parts), w.spans)

    def case_note(self) -> Document:
        """A practitioner's case note."""
        r, f, w = self.rng, self.fake, _Writer()
        w.text(f"Case note {r.randint(1, 30)}/{r.randint(1, 12)}/{r.randint(2022, 2025)}. Adult: ")
        self._person(w, "title_full")
        w.text(" (NHS ")
        w.value(_nhs_format(r, nhs_number(r)), "NHS_NUMBER")
        w.text(", NI ")
        w.value(ni_number(r), "NI_NUMBER")
        w.text(", ")
        before, date, after = dob_phrase(r)
        w.text(before)
        w.value(date, "DATE_OF_BIRTH")
        w.text(after + ").\nAddress: ")
        w.value(street(f, r), "STREET_ADDRESS")
        w.text(", " + r.choice(_TOWNS) + " ")
        w.value(postcode(f, r), "UK_POSTCODE")
        w.text(". Tel: ")
        w.value(phone(f, r), "UK_PHONE")
        w.text(".\n")
        self._neg(w)
        w.text("Concern raised by ")
        self._person(w, r.choice(("full", "title")))
        w.text(r.choice((" (daughter)", " (neighbour)", " (district nurse)", "")))
        w.text(" about financial abuse. ")
        self._neg(w)
        w.text("Visited with ")
        self._person(w, "full")
        w.text(r.choice((" from Healthwatch", " from the housing team", "")) + ". ")
        w.text("Email contact: ")
        w.value(email(f, r), "EMAIL")
        w.text(". ")
        self._neg(w)
        w.text("Referral form at ")
        w.value(url(f, r), "URL")
        w.text(". Next review agreed.\n")
        return Document("case_note", "".join(w.parts), w.spans)

    def minutes(self) -> Document:
        """Minutes of a Safeguarding Adults Board meeting."""
        r, f, w = self.rng, self.fake, _Writer()
        w.text(
            f"Minutes of the Safeguarding Adults Board, {r.randint(1, 28)} "
            f"{r.choice(_MONTHS)} {r.randint(2022, 2025)}\nPresent: "
        )
        for i in range(r.randint(2, 4)):
            if i:
                w.text(", ")
            self._person(w, r.choice(("full", "title_full")))
            w.text(r.choice((" (Chair)", " (Healthwatch)", " (Police)", "")))
        w.text(".\nApologies: ")
        self._person(w, "full")
        w.text(".\n")
        self._neg(w)
        w.text("1. ")
        self._person(w, "title")
        w.text(" presented the learning from a case concerning ")
        self._person(w, "full")
        w.text(", who lived at ")
        w.value(street(f, r), "STREET_ADDRESS")
        w.text(" (")
        w.value(postcode(f, r), "UK_POSTCODE")
        w.text("). ")
        self._neg(w)
        w.text("Contact details held: ")
        w.value(phone(f, r), "UK_PHONE")
        w.text(", ")
        w.value(email(f, r), "EMAIL")
        w.text(".\n2. ")
        self._neg(w)
        w.text("Action: ")
        self._person(w, "first")
        w.text(" to circulate the briefing at ")
        w.value(url(f, r), "URL")
        w.text(".\n")
        self._neg(w)
        return Document("minutes", "".join(w.parts), w.spans)

    def message(self) -> Document:
        """An informal message forwarded to the team: lower case, house names, loose formats.

        Some of what it holds no pattern can find (a lower-case first name, an address with a
        house name and no number); those spans are labelled all the same.
        """
        r, f, w = self.rng, self.fake, _Writer()
        w.text(r.choice(("hi, it's ", "Hello, this is ", "hiya its ")))
        _, first, _last, held = self.people.make()
        if r.random() < 0.1:
            first = first.lower()
        w.value(first, "PERSON", held)
        w.text(r.choice((" again. ", " here. ", ". ")))
        w.text("can u ring me on ")
        n = f"{r.randrange(10**6):06d}"
        w.value(
            r.choice((phone(f, r), f"0161.496.{n[:4]}", f"07700 {n[:3]} {n[3:]}", f"07700{n}")),
            "UK_PHONE",
        )
        w.text(" after 6? ")
        self._neg(w)
        w.text("my new address is ")
        if r.random() < 0.2:
            addr = f"{r.choice(('Rose', 'Ivy', 'Meadow', 'Holly'))} Cottage, {r.choice(_STREET_WORDS)} Lane"
        else:
            addr = street(f, r)
        w.value(addr, "STREET_ADDRESS")
        w.text(", ")
        w.value(postcode(f, r).lower().replace(" ", "" if r.random() < 0.5 else " "), "UK_POSTCODE")
        y, m, d = r.randint(1930, 2000), r.randint(1, 12), r.randint(1, 28)
        before, date = r.choice(
            (
                ("my dob is ", f"{d}/{m}/{str(y)[2:]}"),
                ("dob ", f"{d}.{m}.{y}"),
                ("my birthday is ", f"{d} {_MONTHS[m - 1].lower()} {y}"),
                ("i was born ", f"{d}/{m}/{y}"),
            )
        )
        w.text(". " + before)
        w.value(date, "DATE_OF_BIRTH")
        w.text(" and my ni no is ")
        w.value(ni_number(r).lower(), "NI_NUMBER")
        w.text(". ")
        self._person(w, r.choice(("first", "full")))
        w.text(" from the council said to email ")
        w.value(email(f, r), "EMAIL")
        w.text(" or look at ")
        w.value(url(f, r), "URL")
        w.text(r.choice((". thanks x\n", ". cheers\n", ".\n")))
        return Document("message", "".join(w.parts), w.spans)

    def documents(self, n: int) -> list[Document]:
        """``n`` documents, a mix of stories, case notes, minutes and informal messages."""
        makers = (self.story, self.case_note, self.minutes, self.message)
        return [makers[i % 4]() for i in range(n)]


def generate(n: int = 900, seed: int = 2026) -> list[Document]:
    """The evaluation corpus: ``n`` documents from ``seed``."""
    return Corpus(seed).documents(n)


def main() -> None:
    """Print a few documents with their labelled spans."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    for doc in generate(args.docs, args.seed):
        print(f"--- {doc.kind}\n{doc.text}")
        for s in doc.spans:
            held = " (held out)" if s.held_out else ""
            print(f"  {s.label:15} {doc.text[s.start : s.end]!r}{held}")


if __name__ == "__main__":
    main()
