"""Bounded retries: when a failed partition day may be requested again, and when it needs a person.

A day that keeps failing (Elexon never publishes it, a schema change) must not be re-run at every
15-minute tick: after its first failure it is retried after 15 min, 1 h, 4 h, then once a day
(``BMRS_RETRY_INTERVALS``), at most ``BMRS_RETRY_MAX_ATTEMPTS`` times; then automation leaves it
alone and the alert sensor reports it once, with the last error, as a gap that needs a person. A success resets the count. Plain
data only; the Dagster side (``defs/elexon/retries.py``) reads the failures from the instance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bmrs_assets.settings import value


def retry_intervals() -> tuple[timedelta, ...]:
    """The waits before the 1st, 2nd, ... retry; the last repeats (default 15 min, 1 h, 4 h, 1 day)."""
    return value("BMRS_RETRY_INTERVALS")


def max_retries() -> int:
    return value("BMRS_RETRY_MAX_ATTEMPTS")


def retry_interval(failures: int) -> timedelta:
    """The wait after the ``failures``-th consecutive failure (1-based): by default 15 min, 1 h, 4 h, then daily."""
    intervals = retry_intervals()
    return intervals[min(max(failures, 1), len(intervals)) - 1]


@dataclass(frozen=True)
class RetryState:
    """A partition day's consecutive failures since its last success, and the last one's time and error."""

    failures: int
    last_failure: datetime | None = None
    last_error: str = ""

    def exhausted(self, retries: int | None = None) -> bool:
        """The first attempt and ``retries`` retries all failed: a person must look."""
        return self.failures > (max_retries() if retries is None else retries)

    def next_attempt(self, retries: int | None = None) -> datetime | None:
        """When the day may be requested again; None once retries are exhausted (or it never failed)."""
        if self.failures == 0 or self.last_failure is None or self.exhausted(retries):
            return None
        return self.last_failure + retry_interval(self.failures)

    def due(self, now: datetime, retries: int | None = None) -> bool:
        at = self.next_attempt(retries)
        return at is not None and now >= at
