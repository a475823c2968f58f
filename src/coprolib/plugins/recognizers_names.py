"""The built-in PERSON recogniser, registered through ``register_recognizers``.

A person is found when a run of capitalised words holds

* a title and what follows it ("Mrs Khan", "Dr A. Patel");
* a first name from the shipped name list (``coprolib/data/first_names.txt``), with any
  capitalised words after it ("Ruth Baker-Jones");
* a capitalised name after a relationship or naming cue ("my son Kai", "called Oluwaseun").

First names that are also ordinary words ("Will", "May", "Hope", "Faith") count only with support:
a title, a surname from the list after them, a cue before them, or a speech verb after them.
Runs that end in an organisation or street word ("Hope House", "Victoria Road") are not people.
Once a name is found, its other mentions in the same text are found too ("Ruth ... Baker said").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from importlib import resources

from coprolib.hookspecs import hookimpl
from coprolib.redact import Span


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_UPPER = "".join(ch for ch in map(chr, range(0xC0, 0x250)) if ch.isupper())
_LOWER = "".join(ch for ch in map(chr, range(0xDF, 0x250)) if ch.islower())
_CAP = rf"[A-Z{_UPPER}]"
_LOW = rf"[a-z{_LOWER}]"
# A capitalised word: "Khan", "O'Brien", "McDonald", "Baker-Jones", "Zoë", or an initial "A.".
_WORD = (
    rf"(?:{_CAP}(?:['’]{_CAP})?(?:{_LOW}|{_CAP})*{_LOW}(?:{_LOW}|{_CAP})*"
    rf"(?:[-'’]{_CAP}{_LOW}+)*|{_CAP}\.)"
)
_TITLES = (
    "Mr|Mrs|Ms|Miss|Mx|Dr|Doctor|Prof|Professor|Sir|Dame|Lady|Lord|Rev|Reverend|Revd|Father"
    "|Sister|Cllr|Councillor|Nurse|PC|DC|DS|DI|Sgt|Sergeant|Inspector|Officer|Aunty|Auntie|Uncle"
    "|Nan|Nana|Grandma|Grandad|Granny"
)
_PARTICLE = r"(?:van der|van|von|de|del|della|da|di|du|le|la|al|el|bin|bint|ibn|ap|ní|ni|mac)"
RUN_RE = re.compile(
    rf"(?<![\w'’])(?:(?P<title>{_TITLES})\.?[ \t]+)?"
    rf"(?P<words>{_WORD}(?:(?:[ \t]+{_PARTICLE})?[ \t]+{_WORD}){{0,4}})(?![\w])"
)
TOKEN_RE = re.compile(_WORD)

_CUE_RE = re.compile(
    r"(?:\b(?:my|her|his|their|our|your|the|a)\s+(?:(?:little|older|younger|eldest|youngest|"
    r"late|ex|step|twin)[- ]?)?(?:son|daughter|husband|wife|partner|brother|sister|mum|mother|"
    r"dad|father|friend|carer|neighbour|boyfriend|girlfriend|fiancée?|nephew|niece|cousin|"
    r"grandson|granddaughter|grandchild|uncle|aunt|auntie|nan|gran|grandma|grandad|stepdad|"
    r"stepmum|worker|advocate|landlord|lodger|flatmate|child|baby|boy|girl|colleague|manager|"
    r"social worker|key worker|support worker|nurse|GP)|\bcalled|\bnamed|\bname is|\bname's|"
    r"\bknown as|\bnamed as|\bI'm|\bI am|\bthis is|\bsaid to|\bspoke to|\bspoke with|\btold|"
    r"\basked|\bmet|\bvisited)[,:]?\s+$",
    re.IGNORECASE,
)
_VERB_AFTER_RE = re.compile(
    r"^(?:['’]s\b|\s+(?:said|says|told|tells|asked|asks|explained|explains|reported|reports|"
    r"replied|added|agreed|felt|feels|wanted|wants|shared|disclosed|rang|phoned|called|visited|"
    r"stated|confirmed|described|lives|lived|moved|came|went|was|is|has|had|and I|and me)\b)"
)

#: Capitalised words that end a name and words that mark an organisation, place or street.
STOP_WORDS = _words(
    """
    i i'm i've i'd a an the and or but if so as at by for from in into of on to with without
    he she they we you it his her their our my your its this that these those there here then
    when where what who why how which while after before because although though yes no not
    please thanks thank dear hi hello regards best kind many much more most some any all each
    every both either neither one two three four five six seven eight nine ten first second
    monday tuesday wednesday thursday friday saturday sunday january february march april may
    june july august september october november december christmas easter
    council county borough city town village hospital house trust partnership board services
    service team centre center street road lane avenue close drive way court crescent gardens
    place grove terrace walk hill park square mews row rise view green parade vale wharf yard
    police station school college university academy nursery surgery practice clinic ward unit
    health healthwatch care home homes group forum network association society church mosque
    temple synagogue gurdwara chapel club charity foundation project programme office department
    ministry agency authority nhs gp adult adults social safeguarding abuse domestic mental
    housing community support carers centre hall library market shop store bank cafe pub hotel
    limited ltd plc llp cic inc company committee panel meeting minutes review report plan
    action actions item items notes note agenda present apologies chair update summary case
    england wales scotland ireland britain uk london manchester birmingham leeds liverpool
    bristol sheffield newcastle oldham bolton bury rochdale salford stockport wigan tameside
    trafford kent essex surrey yorkshire lancashire north south east west northern southern
    eastern western central upper lower great little old new saint st
    """
) | frozenset(_TITLES.lower().split("|"))
ORG_WORDS = _words(
    """
    council hospital house trust partnership board services service team centre center street
    road lane avenue close drive way court crescent gardens place grove terrace walk hill park
    square mews row rise view green parade vale wharf yard station school college university
    academy nursery surgery practice clinic ward unit healthwatch home homes group forum network
    association society church mosque temple synagogue gurdwara chapel club charity foundation
    project programme office department agency authority hall library market shop store bank
    cafe pub hotel limited ltd plc llp cic committee panel estate lodge manor court tower
    """
)

#: First names that are also common English words, months or places: need support.
AMBIGUOUS = _words(
    """
    will may hope faith grace joy rose april june august mark bill art guy ray sue pat dawn carol
    iris holly ivy jack rich gene frank sunny summer autumn amber crystal daisy lily robin victor
    don sandy rusty penny ruby pearl opal jewel honey candy cherry ginger violet hazel heather olive
    jade angel chance clay cliff dale glen forest reed sterling royal prince king earl major page
    lane young long star spring merry precious destiny harmony trinity charity patience prudence
    constance mercy liberty justice christian norman jordan victoria florence georgia chelsea
    paris austin lincoln kent carry else miss harry bob rob neil sterling hunter carter mason
    porter parker miller baker fisher price rice stone wood brook brooke river sky storm rain
    love lovely treasure blessing gift unity verity hero rocky buddy sonny sunshine sage ash
    ashley bailey dean lee ross rory max
    """
)
_SENTENCE_END_RE = re.compile(r"(?:^|[.!?:;\n\"“]\s*|^\s*[-*•]\s*)$")


@lru_cache(maxsize=1)
def _names() -> tuple[frozenset[str], frozenset[str]]:
    data = resources.files("coprolib.data")

    def read(name: str) -> frozenset[str]:
        text = data.joinpath(name).read_text(encoding="utf-8")
        return frozenset(
            line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"
        )

    return read("first_names.txt"), read("surnames.txt")


def first_names() -> frozenset[str]:
    """The shipped first-name list, lower case."""
    return _names()[0]


def _clean(token: str) -> str:
    return token.rstrip(".").replace("’", "'").casefold()


class PersonRecognizer:
    """Finds people's names: titles with surnames, full names, listed first names, cued names."""

    name = "person_names"
    labels = ("PERSON",)

    def __init__(self, first: frozenset[str] | None = None, last: frozenset[str] | None = None):
        if first is None or last is None:
            default_first, default_last = _names()
            first = default_first if first is None else first
            last = default_last if last is None else last
        self.first = first
        self.last = last

    def _supported(self, text: str, start: int, end: int, next_token: str | None) -> bool:
        if next_token is not None and _clean(next_token) in self.last:
            return True
        before = text[max(0, start - 40) : start]
        if _CUE_RE.search(before):
            return True
        after = text[end : end + 12]
        at_sentence_start = bool(_SENTENCE_END_RE.search(before))
        return not at_sentence_start and bool(_VERB_AFTER_RE.match(after))

    def _person_in_run(self, text: str, m: re.Match[str]) -> tuple[int, int] | None:
        words_start = m.start("words")
        tokens = [(t.start(), t.end(), t.group()) for t in TOKEN_RE.finditer(m.group("words"))]
        tokens = [(s + words_start, e + words_start, w) for s, e, w in tokens]
        keys = [_clean(w) for _, _, w in tokens]
        if m.group("title"):
            end_i = 0
            while end_i < len(tokens) and keys[end_i] not in STOP_WORDS:
                end_i += 1
            if end_i == 0:
                return None
            if end_i < len(tokens) and keys[end_i] in ORG_WORDS:
                return None
            return m.start(), tokens[end_i - 1][1]
        for i, key in enumerate(keys):
            if key in STOP_WORDS:
                continue
            start = tokens[i][0]
            nxt = tokens[i + 1][2] if i + 1 < len(tokens) else None
            if key in self.first:
                if key in AMBIGUOUS and not self._supported(text, start, tokens[i][1], nxt):
                    continue
            elif len(key) > 1 and _CUE_RE.search(text[max(0, start - 40) : start]):
                pass
            else:
                continue
            end_i = i + 1
            while end_i < len(tokens) and keys[end_i] not in STOP_WORDS and end_i - i < 4:
                end_i += 1
            if end_i < len(tokens) and keys[end_i] in ORG_WORDS:
                return None
            if len(key) == 1 or tokens[i][2].endswith("."):
                continue
            return start, tokens[end_i - 1][1]
        return None

    def find(self, text: str) -> Iterable[Span]:
        """Yield every name found, then every other mention of the words of those names."""
        found: list[Span] = []
        words: set[str] = set()
        for m in RUN_RE.finditer(text):
            hit = self._person_in_run(text, m)
            if hit is None:
                continue
            start, end = hit
            found.append(Span(start, end, "PERSON", 0.85))
            for n, t in enumerate(TOKEN_RE.finditer(text, start, end)):
                key = _clean(t.group())
                # An ambiguous word is repeated only where it was a surname ("Ruth Baker").
                if len(key) > 2 and key not in STOP_WORDS and (n > 0 or key not in AMBIGUOUS):
                    words.add(t.group().rstrip("."))
        if words:
            again = re.compile(
                r"(?<![\w'’-])(?:"
                + "|".join(map(re.escape, sorted(words, key=len, reverse=True)))
                + r")(?![\w-])"
            )
            found.extend(Span(m.start(), m.end(), "PERSON", 0.8) for m in again.finditer(text))
        return found


@hookimpl
def register_recognizers(register: Callable[..., None]) -> None:
    """Register the built-in PERSON recogniser."""
    register(PersonRecognizer())
