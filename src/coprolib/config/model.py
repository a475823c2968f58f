"""``coprolib.toml``: the ledger, the destinations and what each may receive, feedback due days.

```toml
ledger = "sqlite:///coprolib.db"

[feedback]                      # defaults for every destination
scheduled_days = 7              # "on DATE we will share this at PLACE": days after planning
shared_days = 28                # "this is what happened": days after planning

[destinations.dynamics-partners]
adapter = "dataverse"
audience = "partners"
purposes = ["service_improvement", "commissioning"]
max_identity = "anonymous"
quotes = false
min_contributors = 3
feedback = { shared_days = 42 }
settings = { url = "https://example.crm.dynamics.com", client_secret = "$env:DYN_SECRET" }

[destinations.contributors-email]   # carries feedback to contributors, not insights
adapter = "email"
carries = "feedback"
channels = ["email"]            # the feedback channels (email, sms, letter) it reaches
settings = { host = "smtp.example.org", from_address = "feedback@example.org" }

[impact]                        # what the board report calls stalled, and the involvement policy
stalled_after_days = 90         # a change with no new status for this long is stalled
follow_up_days = 180            # involved once and not contacted for this long: a warning
hourly_rates = { participant = 20, trainer = 30 }   # pounds an hour, by role
```

A destination ``carries`` insights (the default) or ``"feedback"``. A feedback destination takes
the messages owed to contributors about their own stories (:func:`coprolib.feedback.owed.
plan_feedback`); it is never offered an insight, so ``audience``, ``purposes``, ``max_identity``,
``quotes`` and ``min_contributors`` mean nothing for it and are refused if written.

Secrets are never written in the file: a setting whose value is ``"$env:NAME"`` is read from the
environment when :meth:`Destination.resolved_settings` is called (inside lists and tables too),
and is shown masked by :meth:`Destination.masked_settings`. Every error names the key and the line.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import attrs

from coprolib.config.secrets import MASK, SecretRef, mask_url
from coprolib.errors import CoprolibError
from coprolib.records.enums import (
    Audience,
    FeedbackChannel,
    IdentityLevel,
    InvolvementRole,
    Purpose,
)

#: The environment variable naming the configuration file.
CONFIG_ENV = "COPROLIB_CONFIG"
#: The file looked for in the working directory.
CONFIG_NAME = "coprolib.toml"
#: What a destination carries: insights for practitioners (the default) or feedback to contributors.
CARRIES_INSIGHT = "insight"
CARRIES_FEEDBACK = "feedback"
#: The feedback channels a feedback destination can reach (the others are for a person to do).
SENDABLE_CHANNELS = (FeedbackChannel.EMAIL, FeedbackChannel.SMS, FeedbackChannel.LETTER)

_SECRET_WORDS = ("secret", "password", "passwd", "token", "api_key", "apikey", "private_key")


class ConfigError(CoprolibError, ValueError):
    """A problem in the configuration: the key, what is wrong with it, and where it is written
    (the file and the line) when that is known.

    This is the one configuration error: ``coprolib.toml``'s own keys, the ``[plugins.serve]``
    table and each adapter's settings all raise it (``coprolib.adapters.ConfigError`` is this
    class), so a host catches every configuration problem with one ``except`` clause and every
    message has the same shape: ``coprolib.toml, line 12: destinations.crm.audience: ...``.
    """

    def __init__(
        self, key: str, message: str, *, path: str | None = None, line: int | None = None
    ) -> None:
        where = path or ("<config>" if line is not None else "")
        if line is not None:
            where = f"{where}, line {line}"
        super().__init__(f"{where}: {key}: {message}" if where else f"{key}: {message}")
        self.key = key
        self.message = message
        self.path = path
        self.line = line


@attrs.frozen(kw_only=True)
class FeedbackPolicy:
    """How many days after planning each kind of feedback to a contributor falls due."""

    scheduled_days: int = 7
    shared_days: int = 28


@attrs.frozen(kw_only=True)
class ImpactPolicy:
    """The ``[impact]`` section: when a change counts as stalled, when a person involved once
    should have been contacted again, and the hourly rate offered for each role (in pence)."""

    stalled_after_days: int = 90
    follow_up_days: int = 180
    hourly_rates: Mapping[InvolvementRole, int] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class Destination:
    """A place shares go, and the most it may receive.

    A destination ``carries`` insights (``audience`` and ``purposes`` then say who sees them and
    why) or feedback (``channels`` says which feedback channels it reaches; ``audience`` is None
    and ``purposes`` empty, as a message to a person about their own story is not a share of it).
    ``settings`` are the adapter's own settings exactly as written (secrets as ``$env:NAME``
    references), read-only; call :meth:`resolved_settings` for a plain copy with the values the
    adapter needs.
    """

    name: str
    adapter: str
    audience: Audience | None = None
    purposes: tuple[Purpose, ...] = ()
    carries: str = CARRIES_INSIGHT
    channels: tuple[FeedbackChannel, ...] = ()
    max_identity: IdentityLevel = IdentityLevel.ANONYMOUS
    quotes: bool = False
    min_contributors: int = 1
    feedback: FeedbackPolicy = attrs.field(factory=FeedbackPolicy)
    settings: Mapping[str, Any] = attrs.field(factory=dict, repr=False)
    line: int | None = attrs.field(default=None, eq=False, repr=False)
    source: str | None = attrs.field(default=None, eq=False, repr=False)

    @property
    def carries_feedback(self) -> bool:
        """Whether this destination carries feedback to contributors rather than insights."""
        return self.carries == CARRIES_FEEDBACK

    def resolved_settings(self, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
        """A new copy of the settings with every ``$env:NAME`` replaced by its value.

        Raises :class:`ConfigError` naming the setting (not the value) when a variable is unset.
        """
        env = os.environ if environ is None else environ
        resolved: dict[str, Any] = _resolve(
            self.settings, f"destinations.{self.name}.settings", env, self
        )
        return resolved

    def masked_settings(self) -> dict[str, Any]:
        """A copy of the settings safe to print: secret references and secret-like keys masked."""
        masked: dict[str, Any] = _mask(self.settings, "")
        return masked

    def secret_refs(self) -> tuple[str, ...]:
        """The environment variable names the settings refer to."""
        return tuple(sorted(_env_names(self.settings)))


@attrs.frozen(kw_only=True)
class Config:
    """A loaded ``coprolib.toml``."""

    ledger: str | None = None
    #: The organisation's name, shown on the board report.
    organisation: str | None = None
    destinations: Mapping[str, Destination] = attrs.field(factory=dict)
    feedback: FeedbackPolicy = attrs.field(factory=FeedbackPolicy)
    plugins: Mapping[str, Any] = attrs.field(factory=dict)
    impact: ImpactPolicy = attrs.field(factory=ImpactPolicy)
    path: str | None = None

    def destination(self, name: str) -> Destination:
        """The destination called ``name``; :class:`ConfigError` if there is none."""
        try:
            return self.destinations[name]
        except KeyError:
            known = ", ".join(sorted(self.destinations)) or "none configured"
            raise ConfigError(
                f"destinations.{name}", f"no such destination (known: {known})", path=self.path
            ) from None

    def insight_destinations(self) -> dict[str, Destination]:
        """The destinations that carry insights (what the sharing planner routes to)."""
        return {n: d for n, d in self.destinations.items() if not d.carries_feedback}

    def feedback_destinations(self) -> dict[str, Destination]:
        """The destinations that carry feedback to contributors."""
        return {n: d for n, d in self.destinations.items() if d.carries_feedback}

    def describe(self) -> dict[str, Any]:
        """The configuration as plain data for listings, with every secret masked."""
        return {
            "path": self.path,
            "ledger": mask_url(self.ledger) if self.ledger else None,
            "organisation": self.organisation,
            "feedback": attrs.asdict(self.feedback),
            "impact": {
                "stalled_after_days": self.impact.stalled_after_days,
                "follow_up_days": self.impact.follow_up_days,
                "hourly_rates_pence": {str(r): p for r, p in self.impact.hourly_rates.items()},
            },
            "destinations": {
                name: {
                    "adapter": d.adapter,
                    "carries": d.carries,
                    "channels": [str(c) for c in d.channels],
                    "audience": None if d.audience is None else str(d.audience),
                    "purposes": [str(p) for p in d.purposes],
                    "max_identity": str(d.max_identity),
                    "quotes": d.quotes,
                    "min_contributors": d.min_contributors,
                    "feedback": attrs.asdict(d.feedback),
                    "settings": d.masked_settings(),
                }
                for name, d in self.destinations.items()
            },
        }


# --- secrets ------------------------------------------------------------------------------


def _resolve(value: Any, key: str, env: Mapping[str, str], dest: Destination) -> Any:
    if isinstance(value, str):
        ref = SecretRef.parse(value)
        if ref is None:
            return value
        try:
            return ref.resolve(env)
        except ValueError as exc:
            raise ConfigError(
                key, str(exc), path=dest.source, line=_line_for(dest.source, key)
            ) from None
    if isinstance(value, Mapping):
        return {k: _resolve(v, f"{key}.{k}", env, dest) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_resolve(v, f"{key}[{i}]", env, dest) for i, v in enumerate(value)]
    return value


def _frozen(value: Any) -> Any:
    """A read-only copy: tables become mapping proxies and lists tuples, all the way down."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


def _looks_secret(key: str) -> bool:
    k = key.lower()
    return any(word in k for word in _SECRET_WORDS)


def _mask(value: Any, key: str) -> Any:
    if isinstance(value, str):
        ref = SecretRef.parse(value)
        if ref is not None:
            return ref.masked()
        return MASK if _looks_secret(key) else mask_url(value)
    if isinstance(value, Mapping):
        return {k: _mask(v, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(v, key) for v in value]
    return MASK if _looks_secret(key) else value


def _env_names(value: Any) -> set[str]:
    if isinstance(value, str):
        ref = SecretRef.parse(value)
        return {ref.name} if ref else set()
    if isinstance(value, Mapping):
        return set().union(*(_env_names(v) for v in value.values())) if value else set()
    if isinstance(value, list | tuple):
        return set().union(*(_env_names(v) for v in value)) if value else set()
    return set()


# --- finding the line of a key --------------------------------------------------------------

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEYVAL = re.compile(
    r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*="""
)
_PART = re.compile(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""")
_INLINE_KEY = re.compile(r"""(?:[{,]\s*)([A-Za-z0-9_-]+|"[^"]*"|'[^']*')\s*=""")


def _parts(dotted: str) -> tuple[str, ...]:
    return tuple(p.strip("\"'") for p in _PART.findall(dotted))


def key_lines(text: str) -> dict[tuple[str, ...], int]:
    """Map each key path in a TOML text to the (1-based) line where it first appears."""
    lines: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = _parts(header.group(1))
            for i in range(1, len(table) + 1):
                lines.setdefault(table[:i], number)
            continue
        kv = _KEYVAL.match(line)
        if not kv:
            continue
        path = table + _parts(kv.group(1))
        for i in range(len(table) + 1, len(path) + 1):
            lines.setdefault(path[:i], number)
        rest = line[kv.end() :]
        # Keys of an inline table on the same line, one level down (enough to point at a line).
        for inner in _INLINE_KEY.findall(rest):
            lines.setdefault((*path, inner.strip("\"'")), number)
    return lines


_line_cache: dict[str, dict[tuple[str, ...], int]] = {}


def _line_for(path: str | None, key: str) -> int | None:
    if path is None:
        return None
    table = _line_cache.get(path)
    if table is None:
        try:
            table = key_lines(Path(path).read_text(encoding="utf-8"))
        except OSError:
            return None
        _line_cache[path] = table
    return _lookup_line(table, key)


def _lookup_line(table: Mapping[tuple[str, ...], int], key: str) -> int | None:
    parts = tuple(p for p in re.split(r"\.|\[\d+\]", key) if p)
    for n in range(len(parts), 0, -1):
        if parts[:n] in table:
            return table[parts[:n]]
    return None


# --- loading --------------------------------------------------------------------------------

_DEST_KEYS = {
    "adapter",
    "audience",
    "purposes",
    "max_identity",
    "quotes",
    "min_contributors",
    "feedback",
    "settings",
    "carries",
    "channels",
}
_INSIGHT_ONLY_KEYS = ("audience", "purposes", "max_identity", "quotes", "min_contributors")
_TOP_KEYS = {"ledger", "organisation", "destinations", "feedback", "plugins", "impact"}
_IMPACT_KEYS = {"stalled_after_days", "follow_up_days", "hourly_rates"}
_FEEDBACK_KEYS = {"scheduled_days", "shared_days"}


class _Reader:
    """Validates parsed TOML, raising errors with the key and its line."""

    def __init__(self, text: str, path: str | None) -> None:
        self.lines = key_lines(text)
        self.path = path

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(key, message, path=self.path, line=_lookup_line(self.lines, key))

    def check_keys(self, table: Mapping[str, Any], known: set[str], prefix: str) -> None:
        for k in table:
            if k not in known:
                key = f"{prefix}.{k}" if prefix else k
                raise self.fail(key, f"unknown key (known keys: {', '.join(sorted(known))})")

    def enum(self, value: Any, cls: type[Any], key: str) -> Any:
        try:
            return cls(value)
        except ValueError:
            choices = ", ".join(str(m.value) for m in cls)
            raise self.fail(key, f"{value!r} is not one of: {choices}") from None

    def table(self, value: Any, key: str) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a table, not {type(value).__name__}")
        return value

    def feedback(self, raw: Any, key: str, base: FeedbackPolicy) -> FeedbackPolicy:
        table = self.table(raw, key)
        self.check_keys(table, _FEEDBACK_KEYS, key)
        values = attrs.asdict(base)
        for k, v in table.items():
            if type(v) is not int or v < 0:
                raise self.fail(
                    f"{key}.{k}", f"must be a whole number of days (0 or more), not {v!r}"
                )
            values[k] = v
        return FeedbackPolicy(**values)

    def impact(self, raw: Any) -> ImpactPolicy:
        table = self.table(raw, "impact")
        self.check_keys(table, _IMPACT_KEYS, "impact")
        days: dict[str, int] = {}
        for k in ("stalled_after_days", "follow_up_days"):
            if k in table:
                v = table[k]
                if type(v) is not int or v < 0:
                    raise self.fail(
                        f"impact.{k}", f"must be a whole number of days (0 or more), not {v!r}"
                    )
                days[k] = v
        rates: dict[InvolvementRole, int] = {}
        for role, v in self.table(table.get("hourly_rates", {}), "impact.hourly_rates").items():
            key = f"impact.hourly_rates.{role}"
            member = self.enum(role, InvolvementRole, key)
            if type(v) not in (int, float) or v < 0:
                raise self.fail(key, f"must be pounds an hour (0 or more), not {v!r}")
            rates[member] = round(v * 100)
        return ImpactPolicy(**days, hourly_rates=MappingProxyType(rates))

    def destination(self, name: str, raw: Any, feedback: FeedbackPolicy) -> Destination:
        key = f"destinations.{name}"
        # The name becomes a file name, a job column and a log field: letters, digits, - and _
        # only, so it can never climb out of a folder or carry markup.
        if not DESTINATION_NAME.fullmatch(name):
            raise self.fail(
                f"destinations.{name!r}",
                "a destination name is 1 to 64 letters, digits, '-' or '_', starting with a "
                "letter or digit",
            )
        table = self.table(raw, key)
        self.check_keys(table, _DEST_KEYS, key)
        carries = table.get("carries", CARRIES_INSIGHT)
        if carries not in (CARRIES_INSIGHT, CARRIES_FEEDBACK):
            raise self.fail(
                f"{key}.carries",
                f"{carries!r} is not one of: {CARRIES_INSIGHT}, {CARRIES_FEEDBACK}",
            )
        if carries == CARRIES_FEEDBACK:
            return self.feedback_destination(name, table, feedback)
        if "channels" in table:
            raise self.fail(
                f"{key}.channels", 'only a destination with carries = "feedback" reaches channels'
            )
        for required in ("adapter", "audience", "purposes"):
            if required not in table:
                raise self.fail(key, f"is missing '{required}'")
        adapter = table["adapter"]
        if not isinstance(adapter, str) or not adapter.strip():
            raise self.fail(f"{key}.adapter", "must be the name of an adapter")
        audience = self.enum(table["audience"], Audience, f"{key}.audience")
        purposes_raw = table["purposes"]
        if not isinstance(purposes_raw, list) or not purposes_raw:
            raise self.fail(f"{key}.purposes", "must be a non-empty list of purposes")
        purposes = tuple(self.enum(p, Purpose, f"{key}.purposes") for p in purposes_raw)
        if len(set(purposes)) != len(purposes):
            raise self.fail(f"{key}.purposes", "lists a purpose more than once")
        max_identity = self.enum(
            table.get("max_identity", "anonymous"), IdentityLevel, f"{key}.max_identity"
        )
        quotes = table.get("quotes", False)
        if not isinstance(quotes, bool):
            raise self.fail(f"{key}.quotes", f"must be true or false, not {quotes!r}")
        min_contributors = table.get("min_contributors", 1)
        if type(min_contributors) is not int or min_contributors < 1:
            raise self.fail(
                f"{key}.min_contributors",
                f"must be a whole number, 1 or more, not {min_contributors!r}",
            )
        policy = (
            self.feedback(table["feedback"], f"{key}.feedback", feedback)
            if "feedback" in table
            else feedback
        )
        settings = self.table(table.get("settings", {}), f"{key}.settings")
        self._check_refs(settings, f"{key}.settings")
        return Destination(
            name=name,
            adapter=adapter,
            audience=audience,
            purposes=purposes,
            max_identity=max_identity,
            quotes=quotes,
            min_contributors=min_contributors,
            feedback=policy,
            settings=_frozen(settings),
            line=_lookup_line(self.lines, key),
            source=self.path,
        )

    def adapter_name(self, table: Mapping[str, Any], key: str) -> str:
        if "adapter" not in table:
            raise self.fail(key, "is missing 'adapter'")
        adapter = table["adapter"]
        if not isinstance(adapter, str) or not adapter.strip():
            raise self.fail(f"{key}.adapter", "must be the name of an adapter")
        return adapter

    def feedback_destination(
        self, name: str, table: Mapping[str, Any], feedback: FeedbackPolicy
    ) -> Destination:
        """A destination with ``carries = "feedback"``: adapter, channels, settings."""
        key = f"destinations.{name}"
        adapter = self.adapter_name(table, key)
        for k in _INSIGHT_ONLY_KEYS:
            if k in table:
                raise self.fail(
                    f"{key}.{k}",
                    'is for destinations that carry insights; one with carries = "feedback" '
                    "sends each contributor only their own feedback, so remove it",
                )
        if "channels" not in table:
            raise self.fail(key, "is missing 'channels' (which of email, sms, letter it reaches)")
        raw = table["channels"]
        if not isinstance(raw, list) or not raw:
            raise self.fail(f"{key}.channels", "must be a non-empty list such as ['email']")
        channels = tuple(self.enum(c, FeedbackChannel, f"{key}.channels") for c in raw)
        for c in channels:
            if c not in SENDABLE_CHANNELS:
                raise self.fail(
                    f"{key}.channels",
                    f"{c} feedback is given by a person, not sent; a feedback destination "
                    "reaches only: " + ", ".join(str(s) for s in SENDABLE_CHANNELS),
                )
        if len(set(channels)) != len(channels):
            raise self.fail(f"{key}.channels", "lists a channel more than once")
        policy = (
            self.feedback(table["feedback"], f"{key}.feedback", feedback)
            if "feedback" in table
            else feedback
        )
        settings = self.table(table.get("settings", {}), f"{key}.settings")
        self._check_refs(settings, f"{key}.settings")
        return Destination(
            name=name,
            adapter=adapter,
            carries=CARRIES_FEEDBACK,
            channels=channels,
            feedback=policy,
            settings=_frozen(settings),
            line=_lookup_line(self.lines, key),
            source=self.path,
        )

    def _check_refs(self, value: Any, key: str) -> None:
        if isinstance(value, str) and value.startswith("$env"):
            try:
                SecretRef.require(value)
            except ValueError as exc:
                raise self.fail(key, str(exc)) from None
        if isinstance(value, dict):
            for k, v in value.items():
                self._check_refs(v, f"{key}.{k}")
        elif isinstance(value, list):
            for v in value:
                self._check_refs(v, key)


def parse_config(text: str, path: str | None = None) -> Config:
    """Build a :class:`Config` from TOML text; ``path`` is used in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("(syntax)", str(exc), path=path) from None
    except RecursionError:
        raise ConfigError("(syntax)", "nested too deeply to read", path=path) from None
    reader = _Reader(text, path)
    reader.check_keys(data, _TOP_KEYS, "")
    ledger = data.get("ledger")
    if ledger is not None and (not isinstance(ledger, str) or not ledger.strip()):
        raise reader.fail("ledger", "must be a ledger URL such as sqlite:///coprolib.db")
    organisation = data.get("organisation")
    if organisation is not None and (not isinstance(organisation, str) or not organisation.strip()):
        raise reader.fail("organisation", "must be the organisation's name, as text")
    feedback = (
        reader.feedback(data["feedback"], "feedback", FeedbackPolicy())
        if "feedback" in data
        else FeedbackPolicy()
    )
    destinations = {
        name: reader.destination(name, raw, feedback)
        for name, raw in reader.table(data.get("destinations", {}), "destinations").items()
    }
    plugins = reader.table(data.get("plugins", {}), "plugins")
    impact = reader.impact(data["impact"]) if "impact" in data else ImpactPolicy()
    return Config(
        impact=impact,
        ledger=ledger,
        organisation=organisation,
        destinations=destinations,
        feedback=feedback,
        plugins=plugins,
        path=path,
    )


#: What a destination name may be (checked when the configuration is loaded).
DESTINATION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


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
    _line_cache.pop(str(found), None)
    return parse_config(text, str(found))
