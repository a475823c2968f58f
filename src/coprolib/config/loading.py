"""Reading ``coprolib.toml`` into a :class:`~coprolib.config.model.Config`.

The file is checked by a converter built as the records' one is
(:func:`coprolib.records.convert.make_converter`: strict types, enumerations, unknown keys
refused), structuring it into the shape the file is written in (``_ConfigFile`` and the tables
below it); the rules between keys (what a destination that carries feedback may say, what an
insight destination must say) follow in :func:`_destination`. Every error is one
:class:`ConfigError` line naming the file, the line and the key.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_mapping_structure_fn

from coprolib.config.lines import forget, key_lines, lookup_line
from coprolib.config.model import (
    CARRIES_FEEDBACK,
    CARRIES_INSIGHT,
    CONFIG_ENV,
    CONFIG_NAME,
    DESTINATION_NAME,
    SENDABLE_CHANNELS,
    Config,
    ConfigError,
    Destination,
    FeedbackPolicy,
    ImpactPolicy,
)
from coprolib.config.secrets import SecretRef
from coprolib.records import RecordError, convert
from coprolib.records.enums import (
    Audience,
    FeedbackChannel,
    IdentityLevel,
    InvolvementRole,
    Purpose,
)

T = TypeVar("T")

# --- the file's shape ---------------------------------------------------------------------


def _days(instance: Any, attribute: attrs.Attribute[int | None], value: int | None) -> None:
    if value is not None and value < 0:
        raise RecordError(
            attribute.name, f"must be a whole number of days (0 or more), not {value!r}"
        )


def _text(must_be: str) -> Any:
    """A validator refusing blank text, saying what the key ``must be``."""

    def check(instance: Any, attribute: attrs.Attribute[str | None], value: str | None) -> None:
        if value is not None and not value.strip():
            raise RecordError(attribute.name, f"must be {must_be}")

    return check


def _carries(instance: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in (CARRIES_INSIGHT, CARRIES_FEEDBACK):
        raise RecordError(
            attribute.name, f"{value!r} is not one of: {CARRIES_INSIGHT}, {CARRIES_FEEDBACK}"
        )


def _at_least_one(instance: Any, attribute: attrs.Attribute[int | None], value: int | None) -> None:
    if value is not None and value < 1:
        raise RecordError(attribute.name, f"must be a whole number, 1 or more, not {value!r}")


def _rates(
    instance: Any, attribute: attrs.Attribute[dict[InvolvementRole, float]], value: Any
) -> None:
    for role, pounds in value.items():
        if pounds < 0:
            raise RecordError(
                f"{attribute.name}.{role}", f"must be pounds an hour (0 or more), not {pounds!r}"
            )


@attrs.frozen(kw_only=True)
class _FeedbackTable:
    """``[feedback]``, or a destination's ``feedback``: only the days written."""

    scheduled_days: int | None = attrs.field(default=None, validator=_days)
    shared_days: int | None = attrs.field(default=None, validator=_days)

    def over(self, base: FeedbackPolicy) -> FeedbackPolicy:
        """``base`` with the days written here."""
        written = {k: v for k, v in attrs.asdict(self).items() if v is not None}
        return attrs.evolve(base, **written)


@attrs.frozen(kw_only=True)
class _ImpactTable:
    """``[impact]``: hourly rates in pounds as written (the policy holds pence)."""

    stalled_after_days: int | None = attrs.field(default=None, validator=_days)
    follow_up_days: int | None = attrs.field(default=None, validator=_days)
    hourly_rates: dict[InvolvementRole, float] = attrs.field(factory=dict, validator=_rates)


@attrs.frozen(kw_only=True)
class _DestinationTable:
    """``[destinations.NAME]`` as written; which keys a destination needs depends on what it
    carries, so that is checked after structuring (:func:`_destination`)."""

    adapter: str | None = attrs.field(default=None, validator=_text("the name of an adapter"))
    carries: str = attrs.field(default=CARRIES_INSIGHT, validator=_carries)
    audience: Audience | None = None
    purposes: tuple[Purpose, ...] | None = None
    max_identity: IdentityLevel | None = None
    quotes: bool | None = None
    min_contributors: int | None = attrs.field(default=None, validator=_at_least_one)
    channels: tuple[FeedbackChannel, ...] | None = None
    feedback: _FeedbackTable | None = None
    settings: dict[str, Any] = attrs.field(factory=dict)


_INSIGHT_ONLY = ("audience", "purposes", "max_identity", "quotes", "min_contributors")


@attrs.frozen(kw_only=True)
class _ConfigFile:
    """The whole of ``coprolib.toml``."""

    ledger: str | None = attrs.field(
        default=None, validator=_text("a ledger URL such as sqlite:///coprolib.db")
    )
    organisation: str | None = attrs.field(
        default=None, validator=_text("the organisation's name, as text")
    )
    destinations: dict[str, _DestinationTable] = attrs.field(factory=dict)
    feedback: _FeedbackTable | None = None
    plugins: dict[str, Any] = attrs.field(factory=dict)
    impact: _ImpactTable | None = None


# --- the converter --------------------------------------------------------------------------


def _describe(value: Any) -> str:
    return {bool: "true or false", dict: "a table", list: "a list", str: "text"}.get(
        type(value), type(value).__name__
    )


def _enum_hook(cls: type[Any]) -> Any:
    by_value = {m.value: m for m in cls}
    choices = ", ".join(str(m.value) for m in cls)

    def hook(value: Any, _: Any) -> Any:
        if isinstance(value, str) and value in by_value:
            return by_value[value]
        raise ValueError(f"{value!r} is not one of: {choices}")

    return hook


def _table_of(make: Any) -> Any:
    """A hook that refuses anything but a TOML table before ``make`` structures it."""

    def factory(cls: Any) -> Any:
        inner = make(cls)

        def hook(value: Any, _: Any) -> Any:
            if not isinstance(value, dict):
                raise TypeError(f"must be a table, not {_describe(value)}")
            return inner(value, cls)

        return hook

    return factory


def _make_converter() -> cattrs.Converter:
    conv = convert.make_converter()
    # In a configuration file the choices are listed as they are written.
    for cls in (Audience, FeedbackChannel, IdentityLevel, InvolvementRole, Purpose):
        conv.register_structure_hook(cls, _enum_hook(cls))
    conv.register_structure_hook_factory(
        attrs.has, _table_of(lambda cls: make_dict_structure_fn(cls, conv))
    )
    conv.register_structure_hook_factory(
        lambda t: getattr(t, "__origin__", None) is dict,
        _table_of(lambda t: make_mapping_structure_fn(t, conv)),
    )
    # Tables whose keys are the adapter's or a plugin's own: kept as written, checked later.
    conv.register_structure_hook_func(lambda t: t == dict[str, Any], _plain_table)
    return conv


def _plain_table(value: Any, _: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"must be a table, not {_describe(value)}")
    return value


_converter = _make_converter()


# --- from the file's shape to the configuration ----------------------------------------------


class _Reader:
    """Turns the structured file into a :class:`Config`; errors name the key and its line."""

    def __init__(self, text: str, path: str | None) -> None:
        self.lines = key_lines(text)
        self.path = path

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(key, message, path=self.path, line=lookup_line(self.lines, key))

    def structure(self, data: Mapping[str, Any]) -> _ConfigFile:
        destinations = data.get("destinations")
        if isinstance(destinations, dict):
            for name in destinations:
                if not DESTINATION_NAME.fullmatch(name):
                    raise self.fail(
                        f"destinations.{name!r}",
                        "a destination name is 1 to 64 letters, digits, '-' or '_', starting "
                        "with a letter or digit",
                    )
        try:
            return convert.structure_with(_converter, data, _ConfigFile, path="")
        except convert.StructureError as exc:
            problems = sorted(
                exc.problems, key=lambda p: lookup_line(self.lines, p.path) or len(self.lines) + 1
            )
            problems = [_in_keys(p) for p in problems]
            first, *more = problems
            message = "; ".join([first.message, *(str(p) for p in more)])
            raise self.fail(first.path or "(file)", message) from None

    def destination(self, name: str, table: _DestinationTable, base: FeedbackPolicy) -> Destination:
        key = f"destinations.{name}"
        feedback = table.feedback.over(base) if table.feedback is not None else base
        self.check_refs(table.settings, f"{key}.settings")
        common: dict[str, Any] = {
            "name": name,
            "adapter": table.adapter,
            "feedback": feedback,
            "settings": _frozen(table.settings),
            "line": lookup_line(self.lines, key),
            "source": self.path,
        }
        if table.adapter is None:
            raise self.fail(key, "is missing 'adapter'")
        if table.carries == CARRIES_FEEDBACK:
            for k in _INSIGHT_ONLY:
                if getattr(table, k) is not None:
                    raise self.fail(
                        f"{key}.{k}",
                        'is for destinations that carry insights; one with carries = "feedback" '
                        "sends each contributor only their own feedback, so remove it",
                    )
            if table.channels is None:
                raise self.fail(
                    key, "is missing 'channels' (which of email, sms, letter it reaches)"
                )
            channels = self.listed(
                table.channels, f"{key}.channels", "channel", "a non-empty list such as ['email']"
            )
            for c in channels:
                if c not in SENDABLE_CHANNELS:
                    raise self.fail(
                        f"{key}.channels",
                        f"{c} feedback is given by a person, not sent; a feedback destination "
                        "reaches only: " + ", ".join(str(s) for s in SENDABLE_CHANNELS),
                    )
            return Destination(carries=CARRIES_FEEDBACK, channels=channels, **common)
        if table.channels is not None:
            raise self.fail(
                f"{key}.channels", 'only a destination with carries = "feedback" reaches channels'
            )
        for required in ("audience", "purposes"):
            if getattr(table, required) is None:
                raise self.fail(key, f"is missing '{required}'")
        assert table.purposes is not None
        return Destination(
            audience=table.audience,
            purposes=self.listed(
                table.purposes, f"{key}.purposes", "purpose", "a non-empty list of purposes"
            ),
            max_identity=table.max_identity or IdentityLevel.ANONYMOUS,
            quotes=bool(table.quotes),
            min_contributors=1 if table.min_contributors is None else table.min_contributors,
            **common,
        )

    def listed(self, values: tuple[T, ...], key: str, what: str, shape: str) -> tuple[T, ...]:
        """``values``, refused when empty (it ``must be`` ``shape``) or listing one twice."""
        if not values:
            raise self.fail(key, f"must be {shape}")
        if len(set(values)) != len(values):
            raise self.fail(key, f"lists a {what} more than once")
        return values

    def check_refs(self, value: Any, key: str) -> None:
        if isinstance(value, str) and value.startswith("$env"):
            try:
                SecretRef.require(value)
            except ValueError as exc:
                raise self.fail(key, str(exc)) from None
        if isinstance(value, dict):
            for k, v in value.items():
                self.check_refs(v, f"{key}.{k}")
        elif isinstance(value, list):
            for v in value:
                self.check_refs(v, key)


def _in_keys(problem: convert.Problem) -> convert.Problem:
    """The problem in a TOML file's words: it has keys, where records have fields."""
    unknown = "unknown field (known fields: "
    if problem.message.startswith(unknown):
        return attrs.evolve(
            problem, message="unknown key (known keys: " + problem.message[len(unknown) :]
        )
    return problem


def _frozen(value: Any) -> Any:
    """A read-only copy: tables become mapping proxies and lists tuples, all the way down."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


def _impact(table: _ImpactTable | None) -> ImpactPolicy:
    if table is None:
        return ImpactPolicy()
    days = {
        k: v
        for k in ("stalled_after_days", "follow_up_days")
        if (v := getattr(table, k)) is not None
    }
    pence = {role: round(pounds * 100) for role, pounds in table.hourly_rates.items()}
    return ImpactPolicy(**days, hourly_rates=MappingProxyType(pence))


def parse_config(text: str, path: str | None = None) -> Config:
    """Build a :class:`Config` from TOML text; ``path`` is used in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("(syntax)", str(exc), path=path) from None
    except RecursionError:
        raise ConfigError("(syntax)", "nested too deeply to read", path=path) from None
    reader = _Reader(text, path)
    file = reader.structure(data)
    feedback = file.feedback.over(FeedbackPolicy()) if file.feedback else FeedbackPolicy()
    return Config(
        impact=_impact(file.impact),
        ledger=file.ledger,
        organisation=file.organisation,
        destinations={
            name: reader.destination(name, table, feedback)
            for name, table in file.destinations.items()
        },
        feedback=feedback,
        plugins=file.plugins,
        path=path,
    )


def find_config(path: str | os.PathLike[str] | None = None) -> Path | None:
    """The configuration file to use: ``path``, else ``$COPROLIB_CONFIG``, else ./coprolib.toml."""
    if path is not None:
        return Path(path)
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    local = Path.cwd() / CONFIG_NAME
    return local if local.exists() else None


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load ``coprolib.toml`` (see :func:`find_config`); an empty :class:`Config` if none."""
    found = find_config(path)
    if found is None:
        return Config()
    try:
        text = found.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("(file)", f"cannot read: {exc.strerror}", path=str(found)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            "(file)", f"not UTF-8 text (byte {exc.start}); save it as UTF-8", path=str(found)
        ) from None
    forget(str(found))
    return parse_config(text, str(found))
