"""What the consent decision is asked and what it answers: :class:`ShareRequest`,
:class:`InForce` (one teller's consent folded for one story) and :class:`Decision`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import cast

import attrs

from coprolib.records import (
    Consent,
    ConsentEvent,
    ConsentRef,
    ConsentState,
    ConsentTerms,
    RecordError,
    Story,
)
from coprolib.records.enums import Audience, DecisionBasis, IdentityLevel, Purpose

#: ConsentRef's constructor, typed for mypy whatever it makes of the records' attrs alias.
_consent_ref = cast(Callable[..., ConsentRef], ConsentRef)


@attrs.frozen(kw_only=True, slots=True)
class ShareRequest:
    """What someone wants to do with a story: for which purposes, to whom, where, how identified.

    ``purpose`` and ``purposes`` together name every purpose the destination will use it for;
    consent must cover all of them. ``moment`` must have a time zone.
    """

    audience: Audience
    destination: str
    moment: dt.datetime
    purpose: Purpose | None = None
    purposes: tuple[Purpose, ...] = ()
    identity_level: IdentityLevel = IdentityLevel.ANONYMOUS
    quotes: bool = False
    insight_id: str | None = None
    insight_text_digest: str | None = None
    all_purposes: tuple[Purpose, ...] = attrs.field(init=False, repr=False, eq=False)
    day: dt.date = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        if self.moment.tzinfo is None:
            raise RecordError("moment", "needs a time zone (for example 2025-03-01T10:00:00Z)")
        merged = ((self.purpose,) if self.purpose is not None else ()) + tuple(
            p for p in self.purposes if p != self.purpose
        )
        if not merged:
            raise RecordError("purpose", "a share request must name at least one purpose")
        object.__setattr__(self, "all_purposes", merged)
        object.__setattr__(self, "day", self.moment.date())


@attrs.frozen(kw_only=True, slots=True)
class InForce:
    """One teller's consent for one story as it stands at the request's moment.

    ``consent`` is None when no consent from this contributor covers the story; ``state`` is the
    consent folded to the moment for this story (see :meth:`coprolib.records.Consent.state_at`),
    so a withdrawal naming the story counts here even when the consent covers others too.
    """

    contributor_id: str
    consent: Consent | None
    state: ConsentState | None
    story_id: str | None = None

    @property
    def terms(self) -> ConsentTerms | None:
        """The terms in force, or None when nothing is in force."""
        return self.state.terms if self.state is not None else None

    @property
    def basis(self) -> DecisionBasis | None:
        """How the consent decision was made (None without a consent)."""
        return self.consent.basis if self.consent is not None else None

    @property
    def ref(self) -> ConsentRef | None:
        """The consent and version relied on (None without a consent)."""
        if self.consent is None or self.state is None:
            return None
        return _consent_ref(consent_id=self.consent.id, version=self.consent.version)


@attrs.frozen(kw_only=True, slots=True)
class Decision:
    """The answer: allowed or not, how much was granted, why, and which consents it used.

    ``identity_level`` and ``quotes`` are what was granted (anonymous / False when refused).
    ``reasons`` are plain-words sentences: every veto when refused. ``overrides`` are the
    override events relied on (the caller audits them when the share is planned).
    """

    story_id: str
    allowed: bool
    identity_level: IdentityLevel = IdentityLevel.ANONYMOUS
    quotes: bool = False
    reasons: tuple[str, ...] = ()
    consent_refs: tuple[ConsentRef, ...] = ()
    overrides: tuple[tuple[str, ConsentEvent], ...] = ()


#: A rule: ``(story, consents, request) -> None | reason`` (what a ``consent_veto`` hook does).
Rule = Callable[[Story, Sequence[InForce], ShareRequest], "str | None"]
