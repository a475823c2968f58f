"""Secrets by reference, and hiding them: the one ``$env:NAME`` rule and the one URL mask.

A secret is never written in ``coprolib.toml``: a setting holds a reference such as
``"$env:CRM_SECRET"``, and the value is read from the environment variable ``CRM_SECRET`` when
it is needed. :class:`SecretRef` is that reference, for every reader of configuration: the
destinations' settings (:mod:`coprolib.config.model`), ``[plugins.serve]``
(:mod:`coprolib.serve.settings`) and adapters' ``Secret`` fields
(:mod:`coprolib.adapters.secrets`). :func:`mask_url` hides the password of a URL wherever one
is shown: configuration listings, ledger locations and log lines.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

import attrs

#: What a masked secret looks like in listings.
MASK = "********"
#: How a reference starts.
ENV_PREFIX = "$env:"

_ENV_REF = re.compile(r"\$env:([A-Za-z_][A-Za-z0-9_]*)")
_NOT_A_REFERENCE = "write secrets as $env:NAME, never in the file, and set NAME in the environment"
_MALFORMED = (
    "a secret reference is written $env:NAME (letters, digits and _, not starting with a digit)"
)


@attrs.frozen
class SecretRef:
    """A reference to a secret held in the environment variable ``name``, written
    ``$env:NAME``."""

    name: str

    def __str__(self) -> str:
        return f"{ENV_PREFIX}{self.name}"

    @classmethod
    def parse(cls, value: object) -> SecretRef | None:
        """The reference ``value`` is written as, or None when it is not a reference."""
        if isinstance(value, str):
            match = _ENV_REF.fullmatch(value)
            if match is not None:
                return cls(match.group(1))
        return None

    @classmethod
    def require(cls, value: object) -> SecretRef:
        """The reference ``value`` must be: :class:`ValueError` saying how to write one when
        it is a literal (a secret written in the file) or a mistyped reference."""
        ref = cls.parse(value)
        if ref is None:
            raise ValueError(_MALFORMED if is_malformed(value) else _NOT_A_REFERENCE)
        return ref

    def resolve(self, environ: Mapping[str, str] | None = None) -> str:
        """The secret: the variable's value. :class:`ValueError` naming the variable (never a
        value) when it is unset or empty; the caller adds which setting refers to it."""
        env = os.environ if environ is None else environ
        value = env.get(self.name)
        if value is None:
            raise ValueError(f"refers to environment variable {self.name}, which is not set")
        if not value:
            raise ValueError(f"refers to environment variable {self.name}, which is empty")
        return value

    def masked(self, mask: str = MASK) -> str:
        """How the reference is shown in a listing: the mask, and where the value comes from."""
        return f"{mask} (from ${self.name})"


def is_malformed(value: object) -> bool:
    """Whether ``value`` was meant as a reference but is not one (``"$env: X"``, ``"$envX"``)."""
    return isinstance(value, str) and value.startswith("$env") and SecretRef.parse(value) is None


# scheme://user:password@ : the user may be empty; the password runs to the "@" (a "/" in it
# is masked too, as PostgreSQL URLs are often written with the raw password).
_URL_PASSWORD = re.compile(r"\b([a-z][a-z0-9+.-]*://[^/\s:@]*):[^@\s]*@", re.IGNORECASE)


def mask_url(text: str, mask: str | None = MASK) -> str:
    """``text`` with the password of every URL in it masked: ``postgresql://user:pw@host/db``
    becomes ``postgresql://user:********@host/db``; with ``mask=None`` the password is left
    out (``postgresql://user@host/db``)."""
    if mask is None:
        return _URL_PASSWORD.sub(lambda m: f"{m.group(1)}@", text)
    return _URL_PASSWORD.sub(lambda m: f"{m.group(1)}:{mask}@", text)
