"""The built-in PERSON recogniser, registered through ``register_recognizers``.

A person is found when a run of capitalised words holds

* a title and what follows it ("Mrs Khan", "Dr A. Patel");
* a first name from the shipped name list (``coprolib/data/first_names.txt``), with any
  capitalised words after it ("Ruth Baker-Jones");
* a capitalised name after a relationship, naming or greeting cue ("my son Kai", "called
  Oluwaseun", "hi Ama", "saw Jaydon");
* two unlisted, unusual capitalised words after a weaker cue ("raised by", "Present:") or before
  a speech verb or possessive ("Güler Tawia explained", "Umar Boadu's sister"), or three before
  a speech verb ("Trần Văn Đức said");
* an unlisted capitalised word and a listed surname that is also a place or an everyday word
  ("White", "May", "Hall"), the last two words of a run, after a cue or before a speech verb
  ("Present: Oana Young", "Radu Black said"); where the surname is also a building word
  ("Hall", "Park", "Green") only after a cue, and not after a word shaped like a place name
  ("with Oakfield Hall", "by Brookside Park");
* initials and a surname: a listed surname that is not an everyday word ("J. Smith"), or
  after a cue an unusual word or listed surname ("Present: I. Popescu", "Regards, R. White");
* a name given an action after a line start, bullet or a dash set off by spaces
  ("Sam to call GP", "agreed - Priya to chase");
* a lone unusual capitalised word joined by "and" or "&" to a name found or already masked
  ("Ilinca and Sorin Popescu", "Ruth Baker & Tavi"), unless it is shaped like a place name.

First names that are also ordinary words ("Will", "May", "Hope", "Faith") count only with support:
a title, a surname from the list after them, a cue before them, or a speech verb after them.
Runs that end in an organisation or street word ("Hope House", "Victoria Road") are not people.
Once a name is found, its other mentions in the same text are found too ("Ruth ... Baker said").
Names written in lower case, and lone unlisted names with no cue, are not found: pass a
contributor's own names as ``known_identifiers``.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from itertools import repeat

from coprolib.hookspecs import RegisterRecognizers, hookimpl
from coprolib.redaction import Span, common_words


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Latin letters with accents: Latin-1, Extended-A and -B, IPA Extensions (Azerbaijani "ə") and
# Extended Additional (Vietnamese "ễ", "ạ"). Combining accents count as lower-case letters, so a
# name typed in decomposed form (NFD) stays one word.
_LATIN = (*range(0xC0, 0x2B0), *range(0x1E00, 0x1F00))
_UPPER = "".join(ch for ch in map(chr, _LATIN) if ch.isupper())
_LOWER = "".join(ch for ch in map(chr, _LATIN) if ch.islower()) + "\u0300-\u036f"
_CAP = rf"[A-Z{_UPPER}]"
_LOW = rf"[a-z{_LOWER}]"
_LETTER = rf"[A-Za-z{_UPPER}{_LOWER}]"
# A capitalised word: "Khan", "O'Brien", "McDonald", "Baker-Jones", "Zoë", or an initial "A.".
# (Capitals, then a lower-case letter, then any letters: one class per step, so the scanner
# does not backtrack through an alternation of two classes at every letter.)
_WORD_REST = rf"(?:(?:['’]{_CAP})?{_CAP}*{_LOW}{_LETTER}*(?:[-'’]{_CAP}{_LOW}+)*|\.)"
_WORD = rf"{_CAP}{_WORD_REST}"
_TITLES = (
    "Mr|Mrs|Ms|Miss|Mx|Dr|Doctor|Prof|Professor|Sir|Dame|Lady|Lord|Rev|Reverend|Revd|Father"
    "|Sister|Cllr|Councillor|Nurse|Sgt|Sergeant|Inspector|Officer|Aunty|Auntie|Uncle"
    "|Nan|Nana|Grandma|Grandad|Granny"
)
TITLES = frozenset(_TITLES.lower().split("|"))
_TITLE_DOT = "|".join(
    f"(?<=\\b{t})" for t in ("Mr", "Mrs", "Ms", "Dr", "Prof", "Rev", "Revd", "Cllr", "Sgt")
)
_PARTICLE = (
    r"(?:van der|van|von|de|del|della|da|di|du|le|la|al|el|bin|bint|ibn|ap|ní|ni|mac|Ó|Ní|Ua)"
)
# The full stop is looked for before the titles it may follow, which most words are not.
_DOT = rf"(?:(?=\.)(?:{_TITLE_DOT})\.)?"
# A run of capitalised words on one line. It starts with a capital letter (so the scanner can
# skip lower-case text quickly) that does not continue a word; a title may keep its full stop.
RUN_RE = re.compile(
    rf"{_CAP}(?<![\w'’]{_CAP}){_WORD_REST}{_DOT}"
    rf"(?:[ \t]+(?:{_PARTICLE}[ \t]+)?{_WORD}{_DOT})*(?![\w])"
)
TOKEN_RE = re.compile(_WORD)

# Every cue starts a word, so "(?<!\w)" first (implied by each branch's "\b") lets a search
# skip the positions inside words without trying every branch at each of them.
_CUE_RE = re.compile(
    r"(?<!\w)(?:\b(?:my|her|his|their|our|your|the|a)\s+(?:(?:little|older|younger|eldest|youngest|"
    r"late|ex|step|twin)[- ]?)?(?:son|daughter|husband|wife|partner|brother|sister|mum|mother|"
    r"dad|father|friend|carer|neighbour|boyfriend|girlfriend|fiancée?|nephew|niece|cousin|"
    r"grandson|granddaughter|grandchild|uncle|aunt|auntie|nan|gran|grandma|grandad|stepdad|"
    r"stepmum|worker|advocate|landlord|lodger|flatmate|child|baby|boy|girl|colleague|manager|"
    r"social worker|key worker|support worker|nurse|GP)|\bcalled|\bnamed|\bname is|\bname's|"
    r"\bknown as|\bnamed as|\bI'm|\bI am|\bthis is|\bsaid to|\bspoke to|\bspoke with|\btold|"
    r"\basked|\bmet|\bvisited|\baction:|\bactions:|\bdear|\bhi|\bhiya|\bhello|\bhey|\bit's|"
    r"\bits|\bthanks|\bcheers|\bregards|\blove|\bsaw|\bseen|\bhelped|\bhit|\bhurt|\bphoned|"
    r"\brang|\bcontacted|\bemailed|\btexted|\bthanked|\bblamed|\btrusted|\bknew|\bleft"
    # Sign-offs and what people say they are called.
    r"|\bbest wishes|\bwarm wishes|\bspeak soon|\btake care|\bbest|\bsincerely|\bthank you"
    r"|\bcalls? me|\bcalled me|\bgo(?:es)? by|\bwent by)"
    r"[,:]?\s+$",
    re.IGNORECASE,
)
#: The last word of every cue in _CUE_RE: a cheap test before the regular expression.
_CUE_LAST = _words(
    """
    son daughter husband wife partner brother sister mum mother dad father friend carer neighbour
    boyfriend girlfriend fiance fiancé fiancee fiancée nephew niece cousin grandson granddaughter
    grandchild uncle aunt auntie nan gran grandma grandad stepdad stepmum worker advocate landlord
    lodger flatmate child baby boy girl colleague manager nurse gp called named is name's as i'm
    am told asked met visited to with action actions dear hi hiya hello hey it's its thanks
    cheers regards love saw seen helped hit hurt phoned rang contacted emailed texted thanked
    blamed trusted knew left wishes soon care best sincerely you me by
    """
)

#: The last character of every word in _CUE_LAST.
_CUE_LAST_ENDS = frozenset(word[-1] for word in _CUE_LAST)

#: What a name found reads as, to the words after it, in the output.
_MASK = "[PERSON]"
#: How far before a word any decision about it reads (``_cue_before`` reads the most).
_READS_BEFORE = 40


class _View:
    """The text as the output will read it: a decision about a word reads the words before it
    with the names found so far (``add``) replaced by a placeholder, so that a cue or a full
    stop a name has swallowed ("Dr Thanks, Grace", "Ruth J. May said") decides nothing; the
    redacted text, read again, then gives every word the same context.

    Words after a word are read from the text itself: a name is a run of capitalised words,
    and what is read after a word (a speech verb, "to call", " and ") is never part of one.
    """

    __slots__ = ("_ends", "_last", "_seq", "_starts", "cues", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._seq: list[int] = []
        #: ``_cue_before``'s answers by start: (names added when asked, answer). A word is often
        #: asked about twice (as a one-word run, then inside its run), the answer only changing
        #: when a name has been added since.
        self.cues: dict[int, tuple[int, bool]] = {}
        # The end of the last name: names are mostly found left to right, so most words read
        # past every name found so far.
        self._last = -1

    def __len__(self) -> int:
        return len(self._starts)

    def add(self, start: int, end: int) -> None:
        """Mark ``start:end`` (a name found) as masked from now on."""
        i = bisect_left(self._starts, start)
        self._starts.insert(i, start)
        self._ends.insert(i, end)
        self._seq.insert(i, len(self._seq))
        self._last = max(self._last, end)

    def before(self, start: int, width: int) -> tuple[str, int, int]:
        """``(s, lo, hi)``: ``s[lo:hi]`` reads as the ``width`` characters before ``start`` in
        the output, so a search of ``s`` from ``lo`` to ``hi`` decides as it would there.
        ``s[lo - 1]`` is the character before them, and only the start of the text is at 0."""
        if self._last <= start - width - 1:
            return self.text, max(0, start - width), start
        text, starts, ends = self.text, self._starts, self._ends
        j = bisect_left(starts, start) - 1
        if j < 0 or ends[j] <= start - width - 1:
            return text, max(0, start - width), start
        pieces: list[str] = []
        size = 0
        pos = start
        while size <= width and pos > 0:
            need = width + 1 - size
            if j >= 0 and ends[j] > pos - need:
                end = min(ends[j], pos)
                pieces.append(text[end:pos])
                pieces.append(_MASK)
                size += pos - end + len(_MASK)
                pos = starts[j]
                j -= 1
            else:
                begin = max(0, pos - need)
                pieces.append(text[begin:pos])
                size += pos - begin
                pos = begin
        s = "".join(reversed(pieces))
        return s, max(0, len(s) - width), len(s)

    def ends_with(self, pattern: re.Pattern[str], start: int, width: int) -> bool:
        """Whether ``pattern`` (anchored with ``$``) matches what ``before`` reads.

        None of these patterns matches a placeholder's characters, so whatever matches the
        output before ``start`` is there in the text too: the text is searched first, and
        the output only when that matches and a name lies within reach.
        """
        if pattern.search(self.text, max(0, start - width), start) is None:
            return False
        if self._last <= start - width - 1:
            return True
        return pattern.search(*self.before(start, width)) is not None

    def touched_since(self, seq: int, start: int, width: int) -> bool:
        """Whether a name added as number ``seq`` or later lies in what ``before`` reads."""
        starts, ends = self._starts, self._ends
        j = bisect_left(starts, start) - 1
        room = width + 1
        pos = start
        while j >= 0 and ends[j] > pos - room:
            if self._seq[j] >= seq:
                return True
            room -= max(0, pos - ends[j]) + len(_MASK)
            if room <= 0:
                return False
            pos = starts[j]
            j -= 1
        return False


def _cue_word_before(text: str, begin: int, start: int) -> bool:
    """Whether the word before ``start`` (within ``text[begin:start]``) can end a cue."""
    if start < 2 or not text[start - 1].isspace():
        return False
    end = start - 1
    while end > 0 and text[end - 1].isspace():
        end -= 1
    # Most words before a capital end in a full stop: settled by their last character.
    last = text[end - 1]
    if last not in ",:" and last.casefold()[-1:] not in _CUE_LAST_ENDS:
        return False
    cut = max(text.rfind(" ", begin, end), text.rfind("\n", begin, end), begin - 1) + 1
    return text[cut:end].rstrip(",:").casefold() in _CUE_LAST


def _cue_before(view: _View, start: int) -> bool:
    """Whether a naming or relationship cue ("my son", "called") ends just before ``start``."""
    known = view.cues.get(start)
    if known is not None and known[0] == len(view):
        return known[1]
    answer = _read_cue_before(view, start)
    view.cues[start] = (len(view), answer)
    return answer


#: Where most cues start, counted back from the word they name: a first, shorter search finds
#: them without trying every word start of the whole width.
_CUE_NEAR = 16


def _read_cue_before(view: _View, start: int) -> bool:
    # The output's word before ``start`` is the text's, or holds a placeholder and ends no
    # cue; so a word of the text that ends no cue settles it without building the output.
    if not _cue_word_before(view.text, max(0, start - _READS_BEFORE), start):
        return False
    text, begin, start = view.before(start, _READS_BEFORE)
    if text is not view.text and not _cue_word_before(text, begin, start):
        return False
    # A match that starts near ``start`` is a match of the whole width (a search from ``pos``
    # still reads the characters before it), so the nearer search settles most words.
    if begin < start - _CUE_NEAR and _CUE_RE.search(text, start - _CUE_NEAR, start) is not None:
        return True
    return _CUE_RE.search(text, begin, start) is not None


#: An action given to someone in minutes or notes: "Sam to call GP", "- Priya to chase".
_ACTION_AFTER_RE = re.compile(
    r"[ \t]+to[ \t]+(?:call|ring|phone|chase|send|book|contact|arrange|speak|check|follow|email"
    r"|visit|update|share|review|confirm|complete|liaise|refer|write|circulate|draft|meet|discuss"
    r"|ask|find|raise|seek|provide|invite|report|escalate|agree|explore|organise|organize|attend"
    r"|request|prepare|sort|link|forward|make|take|give|add|amend|feed|source|identify|obtain"
    r"|text|bring|collect|contact|tell|inform|notify|present|lead|chair|complete|pass|progress)\b"
)
#: Where an action starts: a line or sentence start, then perhaps a bullet or number; or a dash
#: set off by spaces in the middle of a line ("... agreed - Priya to chase").
_ACTION_START_RE = re.compile(
    r"(?:(?:^|[\n.!?;:])[ \t]*(?:(?:[-*•–]|\d{1,2}[.)])[ \t]*)?|[ \t][-–—][ \t]+)$"
)
#: "St." or "Saint" just before a name makes it a place or a building ("St. Mary's Hospital").
_SAINT_BEFORE_RE = re.compile(r"\b(?:St|Saint|Ste)\.?[ \t]+$")


#: A person already masked, as this recogniser will write it or a known identifier was.
_PERSON_PLACEHOLDER_RE = re.compile(r"\[(?:PERSON|KNOWN_IDENTIFIER)(?: \d+)?\]")
_PERSON_PLACEHOLDER_BEFORE_RE = re.compile(rf"{_PERSON_PLACEHOLDER_RE.pattern}$")
_AND = (" and ", " & ")


def _beside_and(text: str) -> set[int]:
    """Where a word just before or just after an " and " or " & " of ``text`` ends or starts."""
    beside: set[int] = set()
    for joint in _AND:
        at = text.find(joint)
        while at >= 0:
            beside.add(at)
            beside.add(at + len(joint))
            at = text.find(joint, at + 1)
    return beside


def _joined_to_person(text: str, start: int, end: int, starts: set[int], ends: set[int]) -> bool:
    """Whether the word at ``start:end`` is joined by "and" to a person found (``starts`` and
    ``ends`` of their spans) or already masked: "Ilinca and Sorin Popescu", "[PERSON] & Oana"."""
    for joint in _AND:
        if text.startswith(joint, end):
            after = end + len(joint)
            if after in starts or _PERSON_PLACEHOLDER_RE.match(text, after):
                return True
        if text.endswith(joint, 0, start):
            before = start - len(joint)
            if before in ends or _PERSON_PLACEHOLDER_BEFORE_RE.search(
                text, max(0, before - 24), before
            ):
                return True
    return False


def _action(view: _View, start: int, end: int) -> bool:
    """Whether the word at ``start:end`` is given an action ("Sam to call GP")."""
    if _ACTION_AFTER_RE.match(view.text, end) is None:
        return False
    return view.ends_with(_ACTION_START_RE, start, 12)


_VERB_AFTER_RE = re.compile(
    r"(?:['’]s\b|\s+(?:said|says|told|tells|asked|asks|explained|explains|reported|reports|"
    r"replied|added|agreed|felt|feels|wanted|wants|shared|disclosed|rang|phoned|called|visited|"
    r"stated|confirmed|described|lives|lived|moved|came|went|was|is|has|had|and I|and me|"
    r"left|arrived|stayed|returned|helped|died|from the|from our)\b)"
)

#: Capitalised words that end a name and words that mark an organisation, place or street.
STOP_WORDS = (
    _words(
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
    eastern western central upper lower great little old new saint st greater
    advice citizens age mind shelter refuge samaritans barnardo's barnardos victim victims
    support women's men's aid crisis helpline line bureau probation prison court tribunal
    later then yesterday today tomorrow sometimes eventually finally recently now also still
    however meanwhile afterwards suddenly unfortunately luckily apparently actually sadly
    thankfully overall initially previously currently since until during despite
    mum mummy mam mom dad daddy mother father son daughter brother sister gran grandma grandad
    granny grandpa grandmother grandfather family everyone everybody team friends folks guys
    tesco asda sainsbury's sainsburys aldi lidl morrisons boots amazon google facebook whatsapp
    instagram tiktok dwp hmrc ofsted cqc jobcentre samaritans shelter childline mencap scope
    """
    )
    | TITLES
)
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
    jan feb mar apr jun jul aug sep sept oct nov dec
    """
) | _words(
    # UK towns, cities and counties that are also in the first-name list.
    """
    bradford dudley preston chester stafford sheffield darlington carlisle kendal lancaster
    stanley crawley ashford ashton bolton burton clifton dalton dover everton felton hamilton
    harrow hayes kingston lewis luton marlow melrose milton morley newton norton orton penrith
    rugby selby shelby shirley stirling sutton swindon taunton tyrone warwick wells weston
    whitby winston york derby durham essex devon cornwall jersey guernsey brighton barnet
    bexley camden hackney lambeth merton richmond ealing enfield sefton halton wirral bury
    """
)
#: Ambiguous first names that are above all ordinary words, months or places: a speech verb
#: after them is no support at the start of a sentence ("Hope was all I had").
WORDS_FIRST = _words(
    """
    will may hope faith grace joy june april august summer spring autumn chance major young long
    star page lane miss rich art guy christian king prince earl sterling royal love lovely gift
    hero sage ash justice mercy charity patience liberty unity verity destiny harmony trinity
    precious treasure blessing sunshine sky storm rain river stone wood brook forest clay cliff
    dale glen reed else carry jewel honey candy cherry sunny rusty dusty rocky buddy price rice
    hunter carter mason porter parker miller baker fisher paris kent lincoln victoria georgia
    jordan chelsea austin florence
    """
)
#: Words before a first name that make the run a place ("New Adrian", "Port Joan").
PLACE_PREFIXES = _words(
    """
    new north south east west port upper lower great little saint st fort mount lake old
    market kings bishops castle church long high nether over
    """
)
#: Organisation or street words that are also common surnames ("Wayne Hall", "Tom Green").
SURNAME_PLACES = _words(
    """
    hall green park lane church bank brook wood hill field fields ford row court marsh moss
    heath wells banks parks house holmes hay way lodge grove ward lord west north south king
    """
)
#: Everyday words that title-case headings and organisation names are made of; a capitalised
#: pair of these is not an unknown person's name ("Think Local Act Personal", "Women's Aid").
COMMON_WORDS = _words(
    """
    act acts action active adult advice advocacy agency aid alliance annual area assessment
    association awareness back best better black blue board book borough bridge british brothers
    business call campaign capital care carer carers case central centre change charter child
    children citizens city civic clear coalition college commission common community company
    concern connect connected consent contact council counselling county court crisis cross
    daily data day deaf development digital direct disability district domestic early east
    easy education elder emergency employment energy engagement equality estate ethnic every
    experience fair families family first food forum foundation free friends fund future general
    global good green group growth guide health healthy help helpline high home homes hope
    hospital house housing human impact improvement independent information insight insurance
    integrated international joint justice key kind lead learning legal life line link living
    local london lottery main making management market medical members mental mind ministry
    money national network new news north nursing office older one open our outreach pact
    partners partnership pathway peer people personal place plan planning plus police policy
    positive practice primary prison private probation programme project protection public
    quality read real recovery red region regional relief report research residential resource
    resources response review right rights road royal rural safe safer safeguarding safety
    school service services sexual shared social society south space special standards state
    step strategy street strong student support sure team think together town training trust
    unit united universal university victim victims voice voices voluntary volunteer volunteers
    ward way welfare well wellbeing west white whole women men work workers working world young
    youth
    """
)
_FUNCTION_WORDS = _words("the a an and or of to in on at for with by from but i")
#: Words of the surname list that never end an unlisted person's name ("Present: Arif Council",
#: "with Oana He"): grammar, days, places, and organisation words that are not also surnames.
_NEVER_SURNAME = (
    _FUNCTION_WORDS | (STOP_WORDS - SURNAME_PLACES - AMBIGUOUS) | (ORG_WORDS - SURNAME_PLACES)
)
#: How the name of a place or building usually ends ("Oakfield", "Brookside", "Ashton"): before
#: "Hall", "Park" or "Green" such a word names a place, not a person.
_PLACE_ENDING_RE = re.compile(
    r"(?:field|fields|wood|ford|ton|ley|by|ham|bury|borough|brough|bridge|side|dale|gate"
    r"|mount|brook|croft|moor|worth|well|wells|land|lands|view|hurst|combe|stead|thorpe|holme"
    r"|ville|mere|cliffe|shaw|shawe|wick|port|minster|chester|caster|cester|mouth|stow|ridge"
    r"|bank|leigh|haven|heath|crest|hill|park|green|lea|lee|vale|hall)$"
)
# "Dr St. Mary's" is a doctor and a saint's name, not a doctor called St.
_NOT_AFTER_TITLE = _FUNCTION_WORDS | {"st", "saint"}
_WEAK_CUE_RE = re.compile(  # "(?<!\w)" as in _CUE_RE
    r"(?<!\w)(?:\b(?:by|with|concerning|regarding|about|cc)"
    r"|\b(?:present|apologies|attendees|attending|adult|client|service user|person|chair"
    r"|author|written by|signed|contact|carer|referrer|subject|worker|practitioner|officer"
    r"|allocated to|name|from|to)\s*:)\s+$",
    re.IGNORECASE,
)
_LIST_LINES = ("Present", "Apologies", "Attendees", "In attendance", "Attending")
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


# The same few thousand words come back in every document: cached, and bounded.
@lru_cache(maxsize=8192)
def _clean(token: str) -> str:
    return token.rstrip(".").replace("’", "'").casefold()


class PersonRecognizer:
    """Finds people's names: titles with surnames, full names, listed first names, cued names."""

    name = "person_names"
    labels = ("PERSON",)
    #: Decides from cues around a word, so it reads the text with other identifiers replaced.
    reads_context = True

    def __init__(self, first: frozenset[str] | None = None, last: frozenset[str] | None = None):
        if first is None or last is None:
            default_first, default_last = _names()
            first = default_first if first is None else first
            last = default_last if last is None else last
        self.first = first
        self.last = last
        # Everyday words ("Transport", "Legal", "Mate") are never an unlisted name, even after a
        # cue ("Action: Legal to advise", "Cheers Mate").
        self.ordinary = COMMON_WORDS | ORG_WORDS | common_words()
        # Stop words that are not first names, written as a sentence starts with them ("The"):
        # the answer ``find`` reaches for such a one-word run, looked up first.
        self._never_alone = frozenset(
            cap
            for word in STOP_WORDS - first
            if (cap := word[:1].upper() + word[1:]).casefold() == word
        )

    def _supported(
        self, view: _View, key: str, start: int, end: int, next_token: str | None
    ) -> bool:
        """Whether an ambiguous first name ("Will", "Mark") is used as a name here."""
        if next_token is not None:
            nxt = _clean(next_token)
            if nxt.replace("'", "") in self.last and nxt not in ORG_WORDS:
                return True
            if (nxt not in STOP_WORDS or nxt in SURNAME_PLACES) and self._weak_cue(view, start):
                return True
        if _cue_before(view, start) or _action(view, start, end):
            return True
        if not _VERB_AFTER_RE.match(view.text, end, end + 14):
            return False
        # "Jack was ..." opens a sentence about Jack; "Hope was ..." may not be about Hope.
        return key not in WORDS_FIRST or not self._sentence_start(view, start)

    @staticmethod
    def _sentence_start(view: _View, start: int) -> bool:
        return view.ends_with(_SENTENCE_END_RE, start, 6)

    def _surname_too(self, key: str, ambiguous: bool) -> bool:
        """Whether a stop word ending a name is its surname ("Hall", "Kent", "West")."""
        if key in SURNAME_PLACES and (not ambiguous or key not in ORG_WORDS):
            return True
        return key in self.last and key not in ORG_WORDS and key not in _FUNCTION_WORDS

    def _cued(
        self,
        view: _View,
        key: str,
        start: int,
        end: int,
        nxt: tuple[int, int, str] | None,
        last: bool = False,
        third: tuple[int, int, str] | None = None,
    ) -> bool:
        """Whether an unlisted capitalised word starts a name: a cue before it, or it and the
        next word (``nxt``) are unusual words with a cue before them or a speech verb after
        them, or so are it and the next two (``third`` the last) before a speech verb."""
        if key in self.ordinary:
            return False
        if _cue_before(view, start) or _action(view, start, end):
            return True
        if nxt is None or key in COMMON_WORDS:
            return False
        second = _clean(nxt[2])
        if second in STOP_WORDS or second in COMMON_WORDS:
            # "Present: Oana Young", "raised by Ilinca May", "Radu Black said": a surname that is
            # also a place or an everyday word ends a name only as the run's last word, after a
            # cue or before a speech verb; one that is also a building ("Hall", "Park") only
            # after a cue, and not after a place-like word ("with Oakfield Hall").
            if not (last and self._surname_also(second)):
                return False
            if second in ORG_WORDS:
                return not _PLACE_ENDING_RE.search(key) and self._weak_cue(view, start)
        # Two unknown capitalised words: a cue before them or a speech verb after them.
        if self._weak_cue(view, start) or _VERB_AFTER_RE.match(view.text, nxt[1], nxt[1] + 14):
            return True
        # Three ("Trần Văn Đức said", "Nguyễn Thị Hương explained"): a speech verb after them.
        if third is None:
            return False
        last_key = _clean(third[2])
        if last_key in STOP_WORDS or last_key in COMMON_WORDS or last_key in self.ordinary:
            return False
        return _VERB_AFTER_RE.match(view.text, third[1], third[1] + 14) is not None

    def _pairable(self, word: str) -> bool:
        """Whether a lone capitalised word is unusual enough to be a name beside "and"."""
        key = word.casefold()
        return (
            len(key) > 1
            and not word.endswith(".")
            and key not in STOP_WORDS
            and key not in self.ordinary
            and not _PLACE_ENDING_RE.search(key)
        )

    def _initialled(self, view: _View, key: str, start: int, run_start: bool) -> bool:
        """Whether the word after initials that start at ``start`` is a surname: after a cue
        an unusual word or a listed surname ("Present: I. Popescu", "Kind regards, R. White");
        with no cue a listed surname that is not an everyday word ("signed by J. Smith"), where
        the initial cannot end something else: it starts the run, and no capital letter or
        digit comes just before it ("ref QQ 12 34 56 C. See", "Vitamin D. Levels").
        """
        plain = key not in STOP_WORDS and key not in self.ordinary
        surname = key in self.last and key not in _NEVER_SURNAME
        if not (plain or surname):
            return False
        if _cue_before(view, start) or self._weak_cue(view, start):
            return True
        if not (surname and plain and run_start):
            return False
        text, begin, start = view.before(start, 3)
        before = text[begin:start].rstrip()
        return not before or not (before[-1].isdigit() or before[-1].isupper())

    def _surname_also(self, key: str) -> bool:
        """Whether an everyday, place or building word is also a surname ("White", "Hall")."""
        return key in self.last and key not in _NEVER_SURNAME

    def _weak_cue(self, view: _View, start: int) -> bool:
        if view.ends_with(_WEAK_CUE_RE, start, 30):
            return True
        # The first word of such a line ("Present") is never part of a name, and a name never
        # ends in "," or ":", so the text itself reads as the output does here.
        text = view.text
        line = text.rfind("\n", 0, start) + 1
        return text.startswith(_LIST_LINES, line) and text[line:start].rstrip().endswith((",", ":"))

    def _people_in_run(
        self, view: _View, tokens: list[tuple[int, int, str]]
    ) -> list[tuple[int, int]]:
        """The (start, end) of every name in one run of capitalised words, each added to
        ``view`` as it is found, so the words after it read it as a placeholder."""
        keys = [_clean(w) for _, _, w in tokens]
        n = len(tokens)
        hits: list[tuple[int, int]] = []
        first = self.first
        i = 0
        while i < n:
            key = keys[i]
            start, end, word = tokens[i]
            if key in TITLES and i + 1 < n and keys[i + 1] not in _NOT_AFTER_TITLE:
                end_i = i + 2
                while end_i < n and end_i < i + 5 and keys[end_i] not in STOP_WORDS:
                    end_i += 1
                if end_i == n - 1 and self._surname_too(keys[end_i], ambiguous=False):
                    end_i += 1
                hits.append((start, tokens[end_i - 1][1]))
                view.add(*hits[-1])
                i = end_i
                continue
            if len(key) == 1 and word.endswith("."):
                # Initials and a surname: "J. Smith", "Present: I. K. Popescu".
                j = i + 1
                while j < n and len(keys[j]) == 1 and tokens[j][2].endswith("."):
                    j += 1
                if (
                    j < n
                    and not tokens[j][2].endswith(".")
                    and self._initialled(view, keys[j], start, run_start=i == 0)
                ):
                    hits.append((start, tokens[j][1]))
                    view.add(*hits[-1])
                    i = j + 1
                    continue
            i += 1
            if len(key) < 2 or word.endswith("."):
                continue
            nxt = tokens[i][2] if i < n else None
            ambiguous = key in AMBIGUOUS or key in STOP_WORDS
            if key in first:
                if ambiguous and not self._supported(view, key, start, end, nxt):
                    continue
            elif key in STOP_WORDS or not self._cued(
                view,
                key,
                start,
                end,
                tokens[i] if i < n else None,
                last=i == n - 1,
                third=tokens[i + 1] if i + 1 < n else None,
            ):
                continue
            if i > 1 and keys[i - 2] in PLACE_PREFIXES:
                continue
            if i == 1 and view.ends_with(_SAINT_BEFORE_RE, start, 7):
                continue
            end_i = i
            while end_i < n and end_i - i < 3:
                k = keys[end_i]
                if k in STOP_WORDS or k in TITLES:
                    # "Wayne Hall" is a person, "Victoria Hall Trust" is not.
                    if (
                        end_i == i
                        and (end_i == n - 1 or keys[end_i + 1] in TITLES)
                        and (
                            self._surname_too(k, ambiguous)
                            or (k in SURNAME_PLACES and self._weak_cue(view, start))
                        )
                    ):
                        end_i += 1
                    break
                end_i += 1
            if end_i < n and keys[end_i] in ORG_WORDS:
                i = end_i + 1
                continue
            hits.append((start, tokens[end_i - 1][1]))
            view.add(*hits[-1])
            i = end_i
        return hits

    @staticmethod
    def _remember(
        tokens: list[tuple[int, int, str]],
        start: int,
        end: int,
        words: set[str],
        covered: set[int],
    ) -> None:
        """Mark the words of the name at ``start:end`` as ``covered`` (by their starts) and add
        to ``words`` those that other mentions are found by."""
        position = 0
        for s, _e, w in tokens:
            if s < start or s >= end:
                continue
            covered.add(s)
            key = _clean(w)
            if key in TITLES:
                continue
            # An ambiguous word is repeated only where it was a surname ("Ruth Baker").
            if len(key) > 2 and key not in STOP_WORDS and (position or key not in AMBIGUOUS):
                words.add(w)
            position += 1

    def find(self, text: str) -> Iterable[Span]:
        """Yield every name found, then every other mention of the words of those names.

        Every decision reads the words before a word as the output will show them (see
        :class:`_View`). Once the names found are placeholders, the words left of a run on
        either side of them are runs of their own ("Lane Will" in "Ruth Baker Lane Will" once
        "Ruth" and "Baker" are masked), and the words just after a name found later than they
        were decided read differently; those are decided again until nothing new is found, so
        redacting the redacted text finds nothing new.
        """
        found: list[Span] = []
        words: set[str] = set()
        singles: list[tuple[int, int, str]] = []
        runs: list[list[tuple[int, int, str]]] = []
        covered: set[int] = set()
        view = _View(text)
        first, stop, ordinary = self.first, STOP_WORDS, self.ordinary
        never = self._never_alone
        for m in RUN_RE.finditer(text):
            run = m.group()
            if run in never:
                # "The", "She": skipped as the steps below would skip them, in one lookup.
                continue
            single = " " not in run and "\t" not in run
            if single:
                # One word: the common case, decided without tokenising.
                key = run.casefold()
                if key not in first:
                    if key in stop:
                        # Never a name, a word of one remembered, or joined to one by "and".
                        continue
                    start, end = m.span()
                    if key in ordinary or not (
                        _cue_before(view, start) or _action(view, start, end)
                    ):
                        singles.append((start, end, run))
                        continue
            start, end = m.span()
            if single and run[-1] != ".":
                # A one-word run is its one token (a title's full stop would not be in it).
                tokens = [(start, end, run)]
            else:
                tokens = [
                    (t.start(), t.end(), t.group()) for t in TOKEN_RE.finditer(text, start, end)
                ]
            runs.append(tokens)
            for start, end in self._people_in_run(view, tokens):
                found.append(Span(start, end, "PERSON", 0.85))
                self._remember(tokens, start, end, words, covered)
        if not found and "[" not in text:
            return found
        # Lone unusual words that may be joined to a name by "and" ("Ilinca and Sorin Popescu"):
        # one-word runs, and one word left of a run once the names in it are masked.
        beside = _beside_and(text)
        pairable = {
            s: (s, e, w)
            for s, e, w in (singles if beside else ())
            if (e in beside or s in beside) and self._pairable(w)
        }
        if not found and not (pairable and _PERSON_PLACEHOLDER_RE.search(text)):
            return found
        # A part of a run is known by the starts of its first and last words.
        decided: set[tuple[int, int]] = set()
        split = [tokens for tokens in runs if len(tokens) > 1]
        mentions = [*singles, *(token for tokens in runs for token in tokens)]
        starts = {span.start for span in found}
        ends = {span.end for span in found}
        # Runs (one-word runs too) whose words read differently since they were decided.
        again: list[list[tuple[int, int, str]]] = []
        while True:
            since = len(view)
            new: list[Span] = []
            for s, e, w in mentions:
                if w in words and s not in covered:
                    new.append(Span(s, e, "PERSON", 0.8))
                    covered.add(s)
                    view.add(s, e)
            for tokens, force in [*zip(split, repeat(False)), *zip(again, repeat(True))]:
                part: list[tuple[int, int, str]] = []
                for token in (*tokens, None):
                    if token is not None and token[0] not in covered:
                        part.append(token)
                        continue
                    if part and (force or len(part) < len(tokens)):
                        if (
                            len(part) == 1
                            and (part[0][1] in beside or part[0][0] in beside)
                            and self._pairable(part[0][2])
                        ):
                            pairable.setdefault(part[0][0], part[0])
                        seen = (part[0][0], part[-1][0])
                        if force or seen not in decided:
                            decided.add(seen)
                            for start, end in self._people_in_run(view, part):
                                new.append(Span(start, end, "PERSON", 0.85))
                                self._remember(part, start, end, words, covered)
                    part = []
            for s, e, w in pairable.values():
                if s not in covered and _joined_to_person(text, s, e, starts, ends):
                    new.append(Span(s, e, "PERSON", 0.8))
                    covered.add(s)
                    words.add(w)
                    view.add(s, e)
            if not new:
                return found
            found.extend(new)
            starts.update(span.start for span in new)
            ends.update(span.end for span in new)
            again = [
                tokens
                for tokens in runs
                if any(
                    t not in covered and view.touched_since(since, t, _READS_BEFORE)
                    for t, _e, _w in tokens
                )
            ]
            again.extend(
                [(t.start(), t.end(), t.group()) for t in TOKEN_RE.finditer(text, s, e)]
                for s, e, _w in singles
                if s not in covered and view.touched_since(since, s, _READS_BEFORE)
            )


@hookimpl
def register_recognizers(register: RegisterRecognizers) -> None:
    """Register the built-in PERSON recogniser."""
    register(PersonRecognizer())
