"""Retry timing: exponential backoff with jitter that never undercuts ``Retry-After``."""

from __future__ import annotations

import random

import attrs


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How often and how patiently a job is retried before it becomes a dead letter.

    Attempt ``n`` (1-based) waits a random time between ``base * 2**(n-1) * (1 - jitter)`` and
    ``base * 2**(n-1)``, capped at ``cap`` seconds, and never less than the destination's
    ``Retry-After``. After ``max_attempts`` failed attempts the job is dead-lettered.
    """

    max_attempts: int = 8
    base: float = 2.0
    cap: float = 3600.0
    jitter: float = 0.5

    def __attrs_post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"jitter must be between 0 and 1, got {self.jitter}")


def backoff_delay(
    attempt: int,
    policy: RetryPolicy,
    *,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before attempt ``attempt + 1``, after ``attempt`` failures (>= 1)."""
    ceiling = min(policy.cap, policy.base * 2.0 ** max(0, attempt - 1))
    floor = ceiling * (1.0 - policy.jitter)
    delay = (rng or random).uniform(floor, ceiling)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay
