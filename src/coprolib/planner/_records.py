"""Typed constructors and ``evolve`` for the records the planner builds, and its clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar, cast

import attrs

from coprolib.records import Consent, ConsentEvent, Feedback, Share, SharedQuote

#: The record classes as plain callables, for mypy (which does not see the records' attrs alias).
make_share = cast(Callable[..., Share], Share)
make_quote = cast(Callable[..., SharedQuote], SharedQuote)
make_feedback = cast(Callable[..., Feedback], Feedback)
make_consent = cast(Callable[..., Consent], Consent)
make_event = cast(Callable[..., ConsentEvent], ConsentEvent)

T = TypeVar("T")


def evolve(record: T, **changes: object) -> T:
    """``attrs.evolve`` typed for mypy (which does not see the records' attrs alias)."""
    new: T = attrs.evolve(cast(Any, record), **changes)
    return new


def utc_now() -> dt.datetime:
    """The current time, in UTC (the default moment of a plan, withdrawal or recheck)."""
    return dt.datetime.now(dt.UTC)
