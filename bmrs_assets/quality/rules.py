"""The quality rules a registry entry declares: what a complete partition day and a fresh dataset look like.

``completeness.py`` and ``freshness.py`` evaluate them; the Dagster wiring turns them into checks and
freshness policies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Completeness:
    """What a complete partition day looks like, so a partial day fails loudly.

    Exact rules where the shape is fixed, a trailing-median floor where it is not (the old
    system's BOALF fell from 31,553 rows to 50 and nobody noticed).
    """

    per_period: int | None = None  # exact rows per settlement period (COSTS 1, MID 2)
    interval: timedelta | None = None  # exact rows per interval of the London day (FREQ 15 s)
    group_by: str | None = None  # apply the exact rule to each value of this column (fuelType)
    all_periods: bool = False  # every settlement period of the day must appear
    median_fraction: float | None = None  # fail under this fraction of the trailing median
    median_days: int = 28
    min_rows: int = 1


@dataclass(frozen=True)
class Freshness:
    """How stale the newest materialization may get before the dataset is late.

    ``cron`` (with ``cron_lower_bound``) is for datasets published on a schedule (settlement runs);
    otherwise a time window since the last materialization.
    """

    fail_after: timedelta = timedelta(hours=6)
    warn_after: timedelta | None = None
    cron: str | None = None
    cron_lower_bound: timedelta | None = None
    realtime: bool = False  # refresh today's and yesterday's partitions every 15 minutes
    resettlement_days: tuple[int, ...] = ()  # ages (days) at which later settlement runs revise a day
