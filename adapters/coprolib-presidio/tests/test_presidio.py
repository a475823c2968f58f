"""coprolib-presidio: Presidio's pattern recognisers registered through coprolib's hook."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from coprolib_presidio import (
    DEFAULT_ENTITIES,
    PresidioRecognizer,
    PresidioSettingError,
    presidio_recognizers,
    recognizers_from_environment,
)

from coprolib import redact
from coprolib.plugins import get_plugin_manager, load_errors
from coprolib.redaction import find_spans, get_recognizers, reset_recognizers

NOTE = (
    "Adult's NHS 943 476 5919 and NI AB 12 34 56 C. Car AB12 CDE seen outside. "
    "Lives near OL1 1AA. Call 0161 496 0000."
)


@pytest.fixture
def clean_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.delenv("COPROLIB_PRESIDIO", raising=False)
    monkeypatch.delenv("COPROLIB_PRESIDIO_YAML", raising=False)
    reset_recognizers()
    yield monkeypatch
    reset_recognizers()


def test_the_plugin_is_loaded_from_its_entry_point() -> None:
    assert get_plugin_manager().get_plugin("presidio") is not None


def test_nothing_is_registered_until_switched_on(clean_registry: pytest.MonkeyPatch) -> None:
    assert not [r for r in get_recognizers() if r.name.startswith("presidio:")]


def test_switched_on_its_recognisers_run_in_every_redaction(
    clean_registry: pytest.MonkeyPatch,
) -> None:
    before = redact(NOTE).text
    assert "AB12 CDE" in before  # coprolib has no vehicle registration recogniser
    clean_registry.setenv("COPROLIB_PRESIDIO", "1")
    reset_recognizers()
    names = {r.name for r in get_recognizers()}
    assert {"presidio:NhsRecognizer", "presidio:UkVehicleRegistrationRecognizer"} <= names
    out = redact(NOTE).text
    assert "[UK_VEHICLE_REGISTRATION]" in out and "AB12 CDE" not in out
    for secret in ("943 476 5919", "AB 12 34 56 C", "OL1 1AA", "0161 496 0000"):
        assert secret not in out


def test_an_entity_list_selects_recognisers(clean_registry: pytest.MonkeyPatch) -> None:
    found = recognizers_from_environment({"COPROLIB_PRESIDIO": "uk_nhs, UK_NINO"})
    assert [r.labels for r in found] == [("NHS_NUMBER",), ("NI_NUMBER",)]
    assert recognizers_from_environment({"COPROLIB_PRESIDIO": "off"}) == []


def test_presidio_spans_on_their_own() -> None:
    only = presidio_recognizers()
    assert len(only) == len(DEFAULT_ENTITIES)
    spans = {(NOTE[s.start : s.end], s.label) for s in find_spans(NOTE, recognizers=only)}
    assert ("943 476 5919", "NHS_NUMBER") in spans
    assert ("AB 12 34 56 C", "NI_NUMBER") in spans
    assert ("AB12 CDE", "UK_VEHICLE_REGISTRATION") in spans
    # Presidio's NHS check rejects a number failing Modulus 11, as coprolib's does.
    assert find_spans("Ref 943 476 5918 logged", recognizers=only) == []


def test_min_score_drops_weak_results() -> None:
    (postcode,) = presidio_recognizers(["UK_POSTCODE"])
    assert list(postcode.find("near OL1 1AA")) != []
    (strict,) = presidio_recognizers(["UK_POSTCODE"], min_score=0.5)
    assert list(strict.find("near OL1 1AA")) == []  # Presidio scores a bare postcode 0.1


def test_a_councils_yaml_recognisers_are_added(tmp_path: Path) -> None:
    path = tmp_path / "recognizers.yaml"
    path.write_text(
        """
recognizers:
  - name: "Northdale case reference"
    supported_language: "en"
    supported_entity: "CASE_REF"
    patterns:
      - name: "sar"
        regex: "\\\\bSAR-\\\\d{4}-\\\\d{3}\\\\b"
        score: 0.9
""",
        encoding="utf-8",
    )
    found = presidio_recognizers([], yaml_path=path)
    assert [r.labels for r in found] == [("CASE_REF",)]
    out = redact("The review SAR-2023-014 for Mrs Khan.", recognizers=found).text
    assert out == "The review [CASE_REF] for Mrs Khan."


def test_bad_settings_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(PresidioSettingError, match="unknown entity 'UK_SHOE_SIZE'"):
        presidio_recognizers(["UK_SHOE_SIZE"])
    with pytest.raises(PresidioSettingError, match="no recogniser YAML file"):
        presidio_recognizers([], yaml_path=tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("recognizers: [1, 2", encoding="utf-8")
    with pytest.raises(PresidioSettingError, match="is not a Presidio recogniser file"):
        presidio_recognizers([], yaml_path=bad)


def test_a_bad_setting_is_reported_as_a_plugin_load_error(
    clean_registry: pytest.MonkeyPatch,
) -> None:
    clean_registry.setenv("COPROLIB_PRESIDIO", "UK_SHOE_SIZE")
    reset_recognizers()
    assert not [r for r in get_recognizers() if r.name.startswith("presidio:")]
    assert any("UK_SHOE_SIZE" in e.error for e in load_errors())


def test_the_wrapper_is_a_coprolib_recognizer() -> None:
    from presidio_analyzer import Pattern, PatternRecognizer

    from coprolib.redaction import Recognizer

    council = PatternRecognizer(
        supported_entity="CASE_REF", patterns=[Pattern("sar", r"\bSAR-\d{4}-\d{3}\b", 0.9)]
    )
    wrapped = PresidioRecognizer(council)
    assert isinstance(wrapped, Recognizer)
    assert [(s.start, s.end, s.label) for s in wrapped.find("see SAR-2023-014")] == [
        (4, 16, "CASE_REF")
    ]


def test_the_readme_example_runs_as_written(tmp_path: Path) -> None:
    import re
    import subprocess
    import sys

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    expected = re.findall(r"^# (.*)$", block, flags=re.M)[-1]
    result = subprocess.run(
        [sys.executable, "-c", block],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected
