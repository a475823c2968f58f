"""The configuration's types: the ledger, the destinations and what each may receive, feedback
due days. :mod:`coprolib.config.loading` reads them from ``coprolib.toml``:

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
from collections.abc import Mapping
from typing import Any

import attrs

from coprolib.config.lines import line_for
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
                key, str(exc), path=dest.source, line=line_for(dest.source, key)
            ) from None
    if isinstance(value, Mapping):
        return {k: _resolve(v, f"{key}.{k}", env, dest) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_resolve(v, f"{key}[{i}]", env, dest) for i, v in enumerate(value)]
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


#: What a destination name may be (checked when the configuration is loaded): it becomes a file
#: name, a job column and a log field, so letters, digits, - and _ only, and it can never climb
#: out of a folder or carry markup.
DESTINATION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
