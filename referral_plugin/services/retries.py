"""Retry timing shared by the jobs that call out (store API, SMTP): exponential backoff."""

from __future__ import annotations

from datetime import timedelta

BASE_DELAY = timedelta(minutes=1)
MAX_DELAY = timedelta(hours=6)


def backoff_delay(
    attempts: int, *, base: timedelta = BASE_DELAY, cap: timedelta = MAX_DELAY
) -> timedelta:
    """The wait after the `attempts`-th failure: base, 2x base, 4x base, ... capped at `cap`.

    Deterministic (no jitter): rows are retried at their own `next_attempt_at`, which already
    spreads them, and tests can assert the schedule exactly.
    """
    exponent = max(attempts - 1, 0)
    if exponent >= 32:
        return cap
    return min(base * (2**exponent), cap)
