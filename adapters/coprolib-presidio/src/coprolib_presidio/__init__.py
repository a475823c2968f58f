"""coprolib-presidio: Microsoft Presidio's pattern recognisers as coprolib recognisers.

For councils that already run Presidio: its predefined pattern recognisers (and any pattern
recognisers a council keeps in a Presidio YAML file) are registered through coprolib's
``register_recognizers`` hook, so every redaction below the "named" identity level runs them
beside coprolib's own. Only recognisers that work without an NLP engine are used: Presidio's
PERSON, LOCATION and other named-entity results need a spaCy model, which this package does not
download or load.

Nothing is registered until ``COPROLIB_PRESIDIO`` is set (installing the package alone changes
no redaction):

* ``COPROLIB_PRESIDIO=1``: the :data:`DEFAULT_ENTITIES`;
* ``COPROLIB_PRESIDIO=UK_NHS,UK_VEHICLE_REGISTRATION``: just those entities;
* ``COPROLIB_PRESIDIO_YAML=/etc/coprolib/recognizers.yaml``: also the pattern recognisers in
  that Presidio recogniser-registry YAML file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coprolib import hookimpl
from coprolib.errors import CoprolibError
from coprolib.hookspecs import RegisterRecognizers
from coprolib.redaction import Span

if TYPE_CHECKING:
    from presidio_analyzer import EntityRecognizer

__all__ = [
    "DEFAULT_ENTITIES",
    "ENTITIES",
    "LABELS",
    "PresidioRecognizer",
    "PresidioSettingError",
    "presidio_recognizers",
    "recognizers_from_environment",
    "register_recognizers",
]

#: Presidio entity types that have a coprolib label; any other keeps Presidio's name.
LABELS: dict[str, str] = {
    "UK_NHS": "NHS_NUMBER",
    "UK_NINO": "NI_NUMBER",
    "UK_POSTCODE": "UK_POSTCODE",
    "PHONE_NUMBER": "UK_PHONE",
    "EMAIL_ADDRESS": "EMAIL",
    "URL": "URL",
    "DATE_TIME": "DATE",
}

#: Every entity this package can register, each from one Presidio predefined recogniser.
ENTITIES: tuple[str, ...] = (
    "UK_NHS",
    "UK_NINO",
    "UK_POSTCODE",
    "UK_PASSPORT",
    "UK_DRIVING_LICENCE",
    "UK_VEHICLE_REGISTRATION",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "DATE_TIME",
    "EMAIL_ADDRESS",
    "URL",
)

#: What ``COPROLIB_PRESIDIO=1`` registers. Left out: DATE_TIME (every date, not only dates of
#: birth), EMAIL_ADDRESS and URL (their check downloads the Public Suffix List on first use).
DEFAULT_ENTITIES: tuple[str, ...] = ENTITIES[:10]

_OFF = {"", "0", "off", "no", "false"}
_ON = {"1", "on", "yes", "true", "default"}


class PresidioSettingError(CoprolibError, ValueError):
    """A ``COPROLIB_PRESIDIO`` setting or argument names something this package cannot load."""


class PresidioRecognizer:
    """One Presidio recogniser that needs no NLP artefacts, as a coprolib recogniser.

    Results below ``min_score`` (Presidio's 0-1 confidence) are dropped; the rest become spans
    with the coprolib label of their entity (:data:`LABELS`) and Presidio's score.
    """

    def __init__(self, recognizer: EntityRecognizer, min_score: float = 0.0) -> None:
        self.recognizer = recognizer
        self.entities: tuple[str, ...] = tuple(recognizer.supported_entities)
        self.name: str = f"presidio:{getattr(recognizer, 'name', type(recognizer).__name__)}"
        self.labels: tuple[str, ...] = tuple(LABELS.get(e, e) for e in self.entities)
        self.min_score = min_score

    def find(self, text: str) -> Iterable[Span]:
        """Yield a span for each Presidio result at or above ``min_score``."""
        # Pattern recognisers read no NLP artefacts: there is no NLP engine to make them.
        results = self.recognizer.analyze(text, list(self.entities), None)  # type: ignore[arg-type]
        for result in results:
            start, end, score = int(result.start), int(result.end), float(result.score)
            if end > start >= 0 and score >= self.min_score:
                label = LABELS.get(result.entity_type, result.entity_type)
                yield Span(start, end, label, min(1.0, max(0.0, score)))

    def __repr__(self) -> str:
        return f"PresidioRecognizer({self.name!r}, labels={self.labels!r})"


def _factories() -> dict[str, Callable[[], Any]]:
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        DateRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        NhsRecognizer,
        PhoneRecognizer,
        UkDrivingLicenceRecognizer,
        UkNinoRecognizer,
        UkPassportRecognizer,
        UkPostcodeRecognizer,
        UkVehicleRegistrationRecognizer,
        UrlRecognizer,
    )

    return {
        "UK_NHS": NhsRecognizer,
        "UK_NINO": UkNinoRecognizer,
        "UK_POSTCODE": UkPostcodeRecognizer,
        "UK_PASSPORT": UkPassportRecognizer,
        "UK_DRIVING_LICENCE": UkDrivingLicenceRecognizer,
        "UK_VEHICLE_REGISTRATION": UkVehicleRegistrationRecognizer,
        # Numbers are read as British ones: "0161 496 0000" without a +44.
        "PHONE_NUMBER": lambda: PhoneRecognizer(supported_regions=("GB",)),
        "CREDIT_CARD": CreditCardRecognizer,
        "IBAN_CODE": IbanRecognizer,
        "IP_ADDRESS": IpRecognizer,
        "DATE_TIME": DateRecognizer,
        "EMAIL_ADDRESS": EmailRecognizer,
        "URL": UrlRecognizer,
    }


def presidio_recognizers(
    entities: Sequence[str] | None = None,
    yaml_path: str | Path | None = None,
    min_score: float = 0.0,
) -> list[PresidioRecognizer]:
    """Presidio recognisers for ``entities`` (default :data:`DEFAULT_ENTITIES`), plus the
    pattern recognisers in the Presidio YAML file ``yaml_path``, wrapped for coprolib."""
    chosen = DEFAULT_ENTITIES if entities is None else tuple(entities)
    unknown = [e for e in chosen if e not in ENTITIES]
    if unknown:
        raise PresidioSettingError(
            f"coprolib-presidio: unknown entity {unknown[0]!r}; choose from {', '.join(ENTITIES)}"
        )
    made: list[Any] = []
    if chosen:
        factories = _factories()
        made.extend(factories[e]() for e in chosen)
    if yaml_path is not None:
        made.extend(_from_yaml(Path(yaml_path)))
    return [PresidioRecognizer(r, min_score) for r in made]


def _from_yaml(path: Path) -> list[Any]:
    from presidio_analyzer import PatternRecognizer, RecognizerRegistry

    if not path.is_file():
        raise PresidioSettingError(f"coprolib-presidio: no recogniser YAML file at {path}")
    registry = RecognizerRegistry(recognizers=[])
    try:
        registry.add_recognizers_from_yaml(path)
    except Exception as exc:
        raise PresidioSettingError(
            f"coprolib-presidio: {path} is not a Presidio recogniser file: {exc}"
        ) from None
    found = list(registry.recognizers)
    needs_nlp = [str(getattr(r, "name", r)) for r in found if not isinstance(r, PatternRecognizer)]
    if needs_nlp:
        raise PresidioSettingError(
            f"coprolib-presidio: {path}: recogniser {needs_nlp[0]!r} is not a pattern recogniser"
        )
    return found


def recognizers_from_environment(environ: dict[str, str] | None = None) -> list[PresidioRecognizer]:
    """The recognisers that ``COPROLIB_PRESIDIO`` and ``COPROLIB_PRESIDIO_YAML`` ask for."""
    env = os.environ if environ is None else environ
    setting = env.get("COPROLIB_PRESIDIO", "").strip()
    yaml_path = env.get("COPROLIB_PRESIDIO_YAML", "").strip() or None
    if setting.lower() in _OFF:
        entities: list[str] | None = []
    elif setting.lower() in _ON:
        entities = None
    else:
        entities = [e.strip().upper() for e in setting.split(",") if e.strip()]
    if entities == [] and yaml_path is None:
        return []
    return presidio_recognizers(entities, yaml_path)


@hookimpl
def register_recognizers(register: RegisterRecognizers) -> None:
    """Register the Presidio recognisers the environment asks for (none by default)."""
    found = recognizers_from_environment()
    if found:
        register(*found)
