"""Freshness: is each dataset's newest materialization recent enough for its publication cadence?

Dagster's ``FreshnessPolicy`` on every asset (built from the registry rule by
:func:`bmrs_assets.defs.quality.freshness_policy`) makes the UI show it; :func:`freshness_status`
evaluates the same rule in plain Python for the alert sensor and the dashboard, so they never
depend on a preview API. Ages are never negative. Note that freshness
only looks at the newest materialization of any partition: holes behind it are the job of
``gaps.py`` and the completeness checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from bmrs_assets.core.settlement import LONDON, UTC
from bmrs_assets.elexon.datasets import Dataset

DAILY_CRON = re.compile(r"^(\d{1,2}) (\d{1,2}) \* \* \*$")


@dataclass(frozen=True)
class FreshnessStatus:
    dataset: str
    state: str  # "pass" | "warn" | "fail"
    last_materialized: datetime | None
    age: timedelta | None  # never negative
    detail: str


def last_cron_deadline(cron: str, now: datetime) -> datetime:
    """The latest daily deadline (``M H * * *``, London time) at or before ``now``."""
    m = DAILY_CRON.match(cron)
    if not m:
        raise ValueError(f"only daily 'M H * * *' deadlines are supported, got {cron!r}")
    local = now.astimezone(LONDON)
    deadline = local.replace(hour=int(m[2]), minute=int(m[1]), second=0, microsecond=0)
    if deadline > local:
        deadline = (local - timedelta(days=1)).replace(hour=int(m[2]), minute=int(m[1]), second=0, microsecond=0)
    return deadline.astimezone(UTC)


def freshness_status(ds: Dataset, last_materialized: datetime | None, now: datetime | None = None) -> FreshnessStatus:
    """Pass, warn or fail for ``ds`` given when it was last materialized."""
    now = now or datetime.now(UTC)
    rule = ds.freshness
    if last_materialized is None:
        return FreshnessStatus(ds.code, "fail", None, None, "never materialized")
    age = max(timedelta(0), now - last_materialized)
    if rule.cron:
        deadline = last_cron_deadline(rule.cron, now)
        window_start = deadline - (rule.cron_lower_bound or timedelta(days=1))
        if last_materialized >= window_start:
            return FreshnessStatus(ds.code, "pass", last_materialized, age,
                                   f"materialized since {window_start:%Y-%m-%d %H:%M} UTC")
        return FreshnessStatus(ds.code, "fail", last_materialized, age,
                               f"nothing materialized between {window_start:%Y-%m-%d %H:%M} and the "
                               f"{deadline:%Y-%m-%d %H:%M} UTC deadline")
    if age > rule.fail_after:
        return FreshnessStatus(ds.code, "fail", last_materialized, age, f"older than {rule.fail_after}")
    if rule.warn_after and age > rule.warn_after:
        return FreshnessStatus(ds.code, "warn", last_materialized, age, f"older than {rule.warn_after}")
    return FreshnessStatus(ds.code, "pass", last_materialized, age, f"within {rule.fail_after}")
