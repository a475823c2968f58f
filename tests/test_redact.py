"""Tests for coprolib.redaction, the built-in recognisers and the ``coprolib redact`` command."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import coprolib
from coprolib.cli import build_cli
from coprolib.hookspecs import hookimpl
from coprolib.plugins import get_plugin_manager
from coprolib.records.enums import IdentityLevel
from coprolib.redaction import (
    PLACEHOLDER_RE,
    PatternRecognizer,
    Redaction,
    Span,
    find_spans,
    get_recognizers,
    merge_spans,
    redact,
    reset_recognizers,
)
from coprolib.redaction.recognizers_uk import nhs_check_digit_ok

MUST_SHOW = "Mrs Khan (NHS 943 476 5919) lives at 12 Mill Lane, OL1 1AA"


def labelled(text: str, known: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(surface, label) for every span found in ``text``."""
    return [(text[s.start : s.end], s.label) for s in find_spans(text, known)]


def found(text: str, label: str) -> list[str]:
    """The surfaces of ``text`` found with ``label``."""
    return [surface for surface, lab in labelled(text) if lab == label]


# --- the must-show example -------------------------------------------------------------------


def test_must_show_example_masks_all_four() -> None:
    out = redact(MUST_SHOW).text
    assert out == "[PERSON] (NHS [NHS_NUMBER]) lives at [STREET_ADDRESS], [UK_POSTCODE]"
    for secret in ("Khan", "943", "5919", "Mill", "OL1", "1AA"):
        assert secret not in out


def test_must_show_example_through_the_installed_command() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "from coprolib.cli import main; main()", "redact"],
        input=MUST_SHOW + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "[PERSON] (NHS [NHS_NUMBER]) lives at [STREET_ADDRESS], [UK_POSTCODE]\n"


# --- NHS numbers -----------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["9434765919", "943 476 5919", "943-476-5919"])
def test_nhs_number_layouts(number: str) -> None:
    assert found(f"NHS number {number} on file", "NHS_NUMBER") == [number]


def test_nhs_check_digit() -> None:
    assert nhs_check_digit_ok("943 476 5919")
    assert not nhs_check_digit_ok("943 476 5918")
    # Remainder 1 gives check digit 10: never a valid NHS number.
    assert not any(nhs_check_digit_ok(f"000000006{d}") for d in range(10))
    assert nhs_check_digit_ok("4010232137")
    # Remainder 0 gives check digit 0.
    assert nhs_check_digit_ok("907 483 3780")
    assert not nhs_check_digit_ok("907 483 3781")
    # A digit that is not a decimal digit ("²") makes it no NHS number, not an error.
    assert not nhs_check_digit_ok("943 476 591²")


@pytest.mark.parametrize(
    "text",
    [
        "Ref 9434765918 was logged",  # fails Modulus 11
        "Ref 943 476 5918 was logged",
        "order 19434765919 shipped",  # inside a longer number
        "mixed 943 476-5919 separators",
    ],
)
def test_nhs_number_hard_negatives(text: str) -> None:
    assert found(text, "NHS_NUMBER") == []


# --- National Insurance numbers --------------------------------------------------------------


@pytest.mark.parametrize("ni", ["AB123456C", "AB 12 34 56 C", "ce 12 34 56 a", "JZ123456D"])
def test_ni_number_valid(ni: str) -> None:
    assert found(f"NI {ni} held", "NI_NUMBER") == [ni]


@pytest.mark.parametrize(
    "ni",
    [
        "BG123456A",  # prefixes never issued
        "GB123456A",
        "NK123456A",
        "KN123456A",
        "TN123456A",
        "NT123456A",
        "ZZ123456A",
        "DA123456A",  # D is never a first letter
        "AO123456A",  # O is never a second letter
        "AB123456E",  # suffix must be A-D
        "QQ123456C",
    ],
)
def test_ni_number_invalid_prefix_or_suffix(ni: str) -> None:
    assert found(f"NI {ni} held", "NI_NUMBER") == []


# --- postcodes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "postcode",
    [
        "M1 1AE",  # A9 9AA
        "B33 8TH",  # A99 9AA
        "W1A 0AX",  # A9A 9AA
        "CR2 6XH",  # AA9 9AA
        "DN55 1PT",  # AA99 9AA
        "EC1A 1BB",  # AA9A 9AA
        "OL1 1AA",
        "ol1 1aa",  # any case
        "OL11AA",  # no space
        "ec1a1bb",
        "GIR 0AA",
    ],
)
def test_postcode_formats(postcode: str) -> None:
    assert found(f"lives near {postcode} now", "UK_POSTCODE") == [postcode]


@pytest.mark.parametrize("text", ["QA1 1AA", "M1 1CA", "AB12 34CD", "room 1 1AA", "M11 1AAA"])
def test_postcode_negatives(text: str) -> None:
    assert found(f"see {text} here", "UK_POSTCODE") == []


# --- phones ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    [
        "07700 900123",
        "07700900123",
        "07700-900-123",
        "+44 7700 900123",
        "+447700900123",
        "0044 7700 900123",
        "+44 (0) 161 496 0000",
        "+44(0)29 2018743",
        "(0161) 496 0000",
        "0161 496 0000",
        "020 7946 0000",
        "(020)79460000",
    ],
)
def test_uk_phone_layouts(phone: str) -> None:
    assert found(f"call {phone} today", "UK_PHONE") == [phone]


@pytest.mark.parametrize(
    "text",
    [
        "The case reference is SAR-2023-014.",
        "We met at 10:30 and again at 2.15pm.",
        "She owed £1,250.00 in arrears.",
        "It took 12 weeks and 7 calls.",
        "Dial 999 or 111.",
        "It cost 0.75 per unit.",
    ],
)
def test_uk_phone_hard_negatives(text: str) -> None:
    assert labelled(text) == []


# --- email and URL ---------------------------------------------------------------------------


def test_email_and_url() -> None:
    text = "Write to jo.bloggs+sab@example.co.uk or see https://example.org/sab/report?id=3."
    assert labelled(text) == [
        ("jo.bloggs+sab@example.co.uk", "EMAIL"),
        ("https://example.org/sab/report?id=3", "URL"),
    ]
    assert found("visit www.example.org/help, then", "URL") == ["www.example.org/help"]
    # Found in any case (the recogniser looks for "www." without lower-casing the text).
    for www in ("WWW", "wWw", "WwW", "wwW"):
        assert found(f"see {www}.example.org now", "URL") == [f"{www}.example.org"]
    assert found("an @ sign alone, or user@localhost", "EMAIL") == []


# --- dates of birth --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("She was born on 3 March 1958 in Leeds.", "3 March 1958"),
        ("DOB: 03/03/1958.", "03/03/1958"),
        ("d.o.b. 03/03/1958", "03/03/1958"),
        ("D.O.B 3.3.1958", "3.3.1958"),
        ("Date of birth 3rd March 1958", "3rd March 1958"),
        ("his date of birth is the 3rd of March 1958", "3rd of March 1958"),
        ("born March 3, 1958", "March 3, 1958"),
        ("(DOB 03-03-1958)", "03-03-1958"),
        ("born in 1958", "1958"),
    ],
)
def test_date_of_birth_in_context(text: str, date: str) -> None:
    assert found(text, "DATE_OF_BIRTH") == [date]


def test_dates_outside_a_birth_context_stay() -> None:
    text = "The board met on 3 March 2023 and again on 03/04/2023."
    assert redact(text).text == text


# --- street addresses ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "12 Mill Lane",
        "14a Church Street",
        "Flat 3, 22 Rosewood Court",
        "Flat 4, Hunt House, 9 Elm Crescent",
        "191 McDonald Parade",
        "131 O'Donnell Square",
        "7 Market Park Avenue",
        "2-4 High Street",
        "5 Station Rd",
        "Rose Cottage, Mill Lane",
    ],
)
def test_street_address(address: str) -> None:
    assert found(f"She lives at {address}, Oldham.", "STREET_ADDRESS") == [address]


@pytest.mark.parametrize(
    "text",
    [
        "I have 2 close friends left.",
        "It took 3 weeks to hear back.",
        "Ward 12 Street team",
        "She paid £12 Park charges.",
    ],
)
def test_street_address_negatives(text: str) -> None:
    assert found(text, "STREET_ADDRESS") == []


# --- people ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Mrs Khan said it was fine.", "Mrs Khan"),
        ("Then Dr. Oluwaseun Adeyemi came.", "Dr. Oluwaseun Adeyemi"),
        ("I told Ruth Baker-Jones everything.", "Ruth Baker-Jones"),
        ("Later Siobhan rang me.", "Siobhan"),
        ("my son Kai Okonkwo moved in", "Kai Okonkwo"),
        ("The officer, Cllr Wayne Hall, agreed.", "Cllr Wayne Hall"),
        ("Present: Noxolo Baasit (Chair), others", "Noxolo Baasit"),
        ("Mark O'Neill explained the plan.", "Mark O'Neill"),
        ("Chukwudi Dumanli's sister raised the alert.", "Chukwudi Dumanli"),
        ("hiya its Franciszek here", "Franciszek"),
        ("the school saw Jaydon go quiet", "Jaydon"),
        ("Khanyisile Mbhobho from the council rang.", "Khanyisile Mbhobho"),
        ("Present: Yameen Mac Arta (Police)", "Yameen Mac Arta"),
    ],
)
def test_person_names(text: str, name: str) -> None:
    assert name in found(text, "PERSON")


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("My daughter Hope visits on Sundays.", "Hope"),
        ("Will Smith said he would call.", "Will Smith"),
        ("We asked May Walsh about it.", "May Walsh"),
        ("I spoke to Faith yesterday.", "Faith"),
    ],
)
def test_ambiguous_first_names_with_support(text: str, name: str) -> None:
    assert name in found(text, "PERSON")


@pytest.mark.parametrize(
    "text",
    [
        "Will anyone tell me what happens next?",
        "I hope someone listens. We will see.",
        "Hope is what kept me going.",
        "Faith groups were invited to the listening event.",
        "May I say how much that meeting meant.",
        "In May 2023 the board agreed the new pathway.",
        "Healthwatch shared the survey results.",
        "The Domestic Abuse Partnership will review the referral route.",
        "She was referred to Hope House for support.",
        "The Safeguarding Adults Board asked Citizens Advice and Age UK to comment.",
        "Ward 12 was short of staff on Monday.",
        "Minutes of the meeting, 13 January 2025. Present: Chair.",
        "Greater Manchester Police gave an update.",
        "The case reference is SAR-2023-014.",
        "Names, NHS and National Insurance numbers are removed.",
        "Think Local Act Personal's ladder of co-production.",
        "Northdale Women's Aid (fictional) runs the group.",
        "We drove from Dudley to Preston, then Bradford.",
        "Hi All, thanks Healthwatch. Love Mum.",
    ],
)
def test_hard_negatives_stay_untouched(text: str) -> None:
    assert redact(text).text == text


def test_an_ambiguous_first_name_is_not_repeated_as_a_word() -> None:
    text = "Will anyone tell me? Mr Will Hughes came. Will you call? Hughes did."
    assert redact(text).text == "Will anyone tell me? [PERSON] came. Will you call? [PERSON] did."


def test_other_mentions_of_a_found_name_are_masked() -> None:
    text = "Ruth Baker rang. Later, Baker said Ruth was scared."
    assert redact(text).text == "[PERSON] rang. Later, [PERSON] said [PERSON] was scared."


# --- known identifiers -----------------------------------------------------------------------


def test_known_identifiers_any_case_possessive_and_spacing() -> None:
    text = "ZIGGY's flat on mill  lane; ziggy said Ziggys cat and the Ziggy-fan club."
    out = redact(text, known_identifiers=["Ziggy", "Mill Lane"]).text
    assert "ziggy" not in out.casefold().replace("[known_identifier]", "").replace("-fan", "")
    assert out.startswith("[KNOWN_IDENTIFIER]'s flat on [KNOWN_IDENTIFIER];")


def test_known_identifiers_match_whole_words_only() -> None:
    assert redact("Annual planning", known_identifiers=["Ann"]).text == "Annual planning"
    assert redact("Ann's plan", known_identifiers=["ann"]).text == "[KNOWN_IDENTIFIER]'s plan"


def test_known_identifiers_ignore_blank_and_punctuation_only() -> None:
    assert redact("a - b", known_identifiers=["", "  ", "-"]).text == "a - b"


# --- merging, levels, placeholders -----------------------------------------------------------


def test_overlapping_spans_merge_keeping_the_strongest_label() -> None:
    spans = [Span(0, 5, "PERSON", 0.8), Span(3, 9, "KNOWN_IDENTIFIER", 1.0), Span(12, 14, "URL")]
    assert merge_spans(spans) == [Span(0, 9, "KNOWN_IDENTIFIER", 1.0), Span(12, 14, "URL")]
    assert merge_spans([Span(0, 2, "A"), Span(2, 4, "B")]) == [Span(0, 2, "A"), Span(2, 4, "B")]


def test_span_rejects_empty_or_negative_ranges() -> None:
    with pytest.raises(ValueError, match="start < end"):
        Span(3, 3, "PERSON")
    with pytest.raises(ValueError):
        Span(-1, 2, "PERSON")


def test_spans_point_into_the_original_text() -> None:
    result = redact(MUST_SHOW)
    assert [MUST_SHOW[s.start : s.end] for s in result.spans] == [
        "Mrs Khan",
        "943 476 5919",
        "12 Mill Lane",
        "OL1 1AA",
    ]
    assert result.placeholders == ("[PERSON]", "[NHS_NUMBER]", "[STREET_ADDRESS]", "[UK_POSTCODE]")


def test_pseudonymous_numbers_are_consistent_within_a_document() -> None:
    text = "Ruth Baker met Mrs Khan. Later Ruth rang Khan, and Ruth Baker cried."
    out = redact(text, "pseudonymous").text
    assert (
        out == "[PERSON 1] met [PERSON 2]. Later [PERSON 1] rang [PERSON 2], and [PERSON 1] cried."
    )


def test_pseudonymous_numbers_per_label() -> None:
    text = "Call 07700 900123 or 07700 900456, or again 07700 900123."
    out = redact(text, IdentityLevel.PSEUDONYMOUS).text
    assert out == "Call [UK_PHONE 1] or [UK_PHONE 2], or again [UK_PHONE 1]."


@pytest.mark.parametrize("level", [IdentityLevel.NAMED, "named"])
def test_named_level_returns_text_unchanged(level: IdentityLevel | str) -> None:
    result = redact(MUST_SHOW, level, known_identifiers=["Khan"])
    assert result.text == MUST_SHOW
    assert result.spans == ()
    assert result.level is IdentityLevel.NAMED


@pytest.mark.parametrize("level", [IdentityLevel.ANONYMOUS, "anonymous"])
def test_levels_accept_enum_or_string(level: IdentityLevel | str) -> None:
    assert isinstance(redact(MUST_SHOW, level), Redaction)
    assert redact(MUST_SHOW, level).level is IdentityLevel.ANONYMOUS


def test_unknown_level_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="level must be one of anonymous, pseudonymous, named"):
        redact("x", "secret")


def test_placeholders_are_not_detected_again() -> None:
    once = redact(MUST_SHOW + " Ruth Baker", "pseudonymous").text
    assert find_spans(once, known_identifiers=["PERSON", "1"]) == []
    assert redact(once, "pseudonymous", ["person"]).text == once


def test_package_reexports_are_lazy() -> None:
    code = (
        "import sys, coprolib; assert 'coprolib.redaction' not in sys.modules; "
        "print(coprolib.redact('Mrs Khan', 'anonymous').text); "
        "from coprolib import Span, Recognizer, Redaction, find_spans, redact; "
        "print(redact('Mrs Khan').text, find_spans('Mrs Khan')[0].label)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert out.split() == ["[PERSON]", "[PERSON]", "PERSON"]
    assert set(coprolib.__all__) >= {"Span", "Recognizer", "Redaction", "find_spans", "redact"}


# --- properties ------------------------------------------------------------------------------

_FRAGMENTS = [
    "Mrs Khan",
    "Ruth Baker",
    "Will",
    "will",
    "May",
    "Hope",
    "Hope House",
    "943 476 5919",
    "9434765918",
    "AB 12 34 56 C",
    "OL1 1AA",
    "ol11aa",
    "07700 900123",
    "+44 161 496 0000",
    "jo@example.org",
    "https://example.org/x",
    "born on 3 March 1958",
    "DOB: 03/03/1958",
    "12 Mill Lane",
    "Flat 3,",
    "SAR-2023-014",
    "10:30",
    "£1,200",
    "[PERSON]",
    "[PERSON 1]",
    "[",
    "]",
    "Mr",
    "Dr.",
    "my son",
    "said",
    "the",
    "Street",
    "Lane",
    "Park",
    "12",
    ",",
    ".",
    "'s",
    "\n",
]
_texts = st.lists(
    st.one_of(st.sampled_from(_FRAGMENTS), st.text("abcXYZ019 .,'-@", max_size=8)),
    max_size=25,
).map(lambda parts: " ".join(parts))
_identifiers = st.lists(
    st.one_of(
        st.sampled_from(["Khan", "Ruth", "mill lane", "Ziggy", "OL1", "PERSON", "Lane", "1"]),
        st.text("abcdXYZ0 ", min_size=1, max_size=6),
    ),
    max_size=4,
)


def _without_placeholders(text: str) -> str:
    return PLACEHOLDER_RE.sub(" ", text)


_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(text=_texts, known=_identifiers, level=st.sampled_from(["anonymous", "pseudonymous"]))
def test_redaction_is_idempotent(text: str, known: list[str], level: str) -> None:
    once = redact(text, level, known).text
    assert redact(once, level, known).text == once


@_SETTINGS
@given(text=_texts, known=_identifiers)
def test_no_known_identifier_survives_in_any_case(text: str, known: list[str]) -> None:
    out = _without_placeholders(redact(text, "anonymous", known).text)
    for identifier in known:
        words = identifier.split()
        if not words or not any(ch.isalnum() for ch in identifier):
            continue
        pattern = r"(?<!\w)" + r"\s+".join(map(re.escape, words)) + r"(?!\w)"
        for variant in (out, out.upper(), out.lower(), out.swapcase()):
            assert re.search(pattern, variant, re.IGNORECASE) is None, (identifier, out)


@_SETTINGS
@given(text=_texts, known=_identifiers)
def test_spans_stay_inside_the_text_sorted_and_disjoint(text: str, known: list[str]) -> None:
    spans = find_spans(text, known)
    previous_end = 0
    for span in spans:
        assert 0 <= previous_end <= span.start < span.end <= len(text)
        previous_end = span.end


# --- CLI -------------------------------------------------------------------------------------


@pytest.fixture
def runner() -> Iterator[CliRunner]:
    build_cli()
    yield CliRunner()


def test_cli_plain_text(runner: CliRunner) -> None:
    result = runner.invoke(build_cli(), ["redact"], input=MUST_SHOW)
    assert result.exit_code == 0, result.output
    assert result.output == "[PERSON] (NHS [NHS_NUMBER]) lives at [STREET_ADDRESS], [UK_POSTCODE]"


def test_cli_pseudonymous(runner: CliRunner) -> None:
    text = "Ruth Baker met Mrs Khan; Ruth Baker left."
    result = runner.invoke(build_cli(), ["redact", "--level", "pseudonymous"], input=text)
    assert result.exit_code == 0
    assert result.output == "[PERSON 1] met [PERSON 2]; [PERSON 1] left."


def test_cli_jsonl_with_a_bad_line(runner: CliRunner) -> None:
    lines = [
        json.dumps({"id": "a", "text": MUST_SHOW}),
        "{not json",
        json.dumps({"id": 7, "text": "Email jo@example.org"}),
        json.dumps({"id": 8}),
    ]
    result = runner.invoke(build_cli(), ["redact", "--jsonl"], input="\n".join(lines) + "\n")
    assert result.exit_code == 1
    assert "line 2: invalid JSON" in result.stderr
    assert 'line 4: expected an object with a "text" string' in result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["id"] for o in out] == ["a", 7]
    first = out[0]
    assert first["text"] == redact(MUST_SHOW).text
    assert [(s["start"], s["end"], s["label"]) for s in first["spans"]] == [
        (0, 8, "PERSON"),
        (14, 26, "NHS_NUMBER"),
        (37, 49, "STREET_ADDRESS"),
        (51, 58, "UK_POSTCODE"),
    ]
    assert [MUST_SHOW[s["start"] : s["end"]] for s in first["spans"]][1] == "943 476 5919"
    assert out[1] == {
        "id": 7,
        "text": "Email [EMAIL]",
        "spans": [{"start": 6, "end": 20, "label": "EMAIL"}],
    }


def test_cli_jsonl_all_good_exits_zero(runner: CliRunner) -> None:
    line = json.dumps({"id": 1, "text": "call 07700 900123"})
    result = runner.invoke(
        build_cli(), ["redact", "--jsonl", "--level", "pseudonymous"], input=line
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout)["text"] == "call [UK_PHONE 1]"


def test_cli_known_identifier_option(runner: CliRunner) -> None:
    result = runner.invoke(build_cli(), ["redact", "--known", "ziggy"], input="ZIGGY came")
    assert result.output == "[KNOWN_IDENTIFIER] came"


# --- the hook --------------------------------------------------------------------------------


class _CouncilRefs:
    """A third-party plugin: council case references such as SAR-2023-014."""

    @hookimpl
    def register_recognizers(self, register: object) -> None:
        assert callable(register)
        register(
            PatternRecognizer(
                name="council_ref",
                label="CASE_REF",
                pattern=re.compile(r"\bSAR-\d{4}-\d{3}\b"),
            )
        )


def test_hook_register_recognizers() -> None:
    text = "The case reference is SAR-2023-014 for Mrs Khan."
    assert redact(text).text == "The case reference is SAR-2023-014 for [PERSON]."
    pm = get_plugin_manager()
    pm.register(_CouncilRefs(), name="test-council-refs")
    try:
        assert redact(text).text == "The case reference is SAR-2023-014 for [PERSON]."  # cached
        reset_recognizers()
        assert "council_ref" in [r.name for r in get_recognizers()]
        assert redact(text).text == "The case reference is [CASE_REF] for [PERSON]."
        assert redact(redact(text).text).text == "The case reference is [CASE_REF] for [PERSON]."
    finally:
        pm.unregister(name="test-council-refs")
        reset_recognizers()
    assert redact(text).text == "The case reference is SAR-2023-014 for [PERSON]."


class _Broken:
    @hookimpl
    def register_recognizers(self, register: object) -> None:
        assert callable(register)
        register("not a recogniser")


def test_a_registration_that_is_not_a_recogniser_is_named() -> None:
    pm = get_plugin_manager()
    pm.register(_Broken(), name="test-broken-recognizer")
    reset_recognizers()
    try:
        with pytest.raises(TypeError, match="test-broken-recognizer"):
            get_recognizers()
    finally:
        pm.unregister(name="test-broken-recognizer")
        reset_recognizers()


def test_explicit_recognizers_replace_the_registered_ones() -> None:
    only_refs = [
        PatternRecognizer(name="r", label="CASE_REF", pattern=re.compile(r"SAR-\d{4}-\d{3}"))
    ]
    assert redact("Mrs Khan, SAR-2023-014", recognizers=only_refs).text == "Mrs Khan, [CASE_REF]"


class _Exploding:
    name = "exploding"
    labels = ("BOOM",)

    def find(self, text: str) -> Iterable[Span]:
        raise RuntimeError("recogniser bug")


def test_a_failing_recogniser_stops_the_redaction() -> None:
    with pytest.raises(RuntimeError, match="recogniser bug"):
        redact("Mrs Khan", recognizers=[*get_recognizers(), _Exploding()])


def test_name_list_ships_with_its_notice() -> None:
    from importlib import resources

    data = resources.files("coprolib.data")
    header = data.joinpath("first_names.txt").read_text(encoding="utf-8")[:600]
    assert "U.S. Census Bureau" in header and "public domain" in header
    assert "public domain" in data.joinpath("NOTICE").read_text(encoding="utf-8")
