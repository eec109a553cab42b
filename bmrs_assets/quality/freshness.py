"""Freshness: were a dataset's *latest* partitions materialized recently, and did they pass their checks?

A dataset is fresh when each partition day its rule requires now (:func:`required_days`) has a
materialization recent enough for the rule and no blocking check of that day failed:

* real-time feeds (``realtime``): today's and yesterday's London partitions, each materialized within
  ``fail_after`` (``warn_after`` warns); today's partition, never materialized yet, is within its
  window while the day is younger than the window;
* settlement-run feeds (``cron``): the newest settlement day the schedule says exists by the last
  deadline (the day before the deadline's London day), materialized since ``cron_lower_bound``
  before that deadline;
* any other time-window rule (daily snapshots): the newest snapshot decides, today's if it was
  taken, else yesterday's (never taken: late once yesterday began longer ago than the window), so a
  dataset never materialized is not fresh all day just because today is young.

A heal run of an old day therefore never makes a dataset fresh, and a latest day whose blocking
check failed with ERROR severity is not fresh (a WARN failure is a day still in progress; Dagster's
blocking checks block on ERROR only). Dagster's own ``FreshnessPolicy`` judges the newest
materialization of *any* partition, so the assets carry none: the ``fresh_latest_partitions``
check (``defs/monitoring/freshness.py``) shows this verdict in the UI, and the alert sensor and the
dashboard call the same function on the same facts (``defs/quality.latest_partitions``). Ages are
never negative. Holes behind the latest days are the job of ``gaps.py`` and the completeness checks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bmrs_assets.core.settlement import LONDON, UTC, day_window, london_today
from bmrs_assets.elexon.datasets import Dataset
from bmrs_assets.quality.rules import Freshness

DAILY_CRON = re.compile(r"^(\d{1,2}) (\d{1,2}) \* \* \*$")
SEVERITY_RANK = {"pass": 0, "warn": 1, "fail": 2}  # the worst state decides (alerts and dashboard too)


@dataclass(frozen=True)
class PartitionFacts:
    """What the instance knows of one partition day: its latest materialization, and the blocking
    checks whose latest evaluation of that day failed with ERROR severity."""

    day: date
    materialized: datetime | None = None
    failed_checks: tuple[str, ...] = ()


@dataclass(frozen=True)
class FreshnessStatus:
    dataset: str
    state: str  # "pass" | "warn" | "fail"
    last_materialized: datetime | None  # of the deciding partition day
    age: timedelta | None  # since then; never negative
    detail: str
    day: date | None = None  # the partition day that decided the state


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


def required_days(rule: Freshness, now: datetime, first: date | None = None) -> tuple[date, ...]:
    """The partition days whose state decides freshness at ``now``, newest first (none before ``first``)."""
    today = london_today(now)
    if rule.cron:
        days: tuple[date, ...] = (last_cron_deadline(rule.cron, now).astimezone(LONDON).date() - timedelta(days=1),)
    elif rule.realtime:
        days = (today, today - timedelta(days=1))
    else:
        days = (today, today - timedelta(days=1))  # the newest snapshot decides: see freshness_status
    return tuple(d for d in days if first is None or d >= first)


def _judge(ds: Dataset, facts: PartitionFacts, now: datetime) -> FreshnessStatus:
    """One required day's verdict."""
    rule, day, when = ds.freshness, facts.day, facts.materialized
    age = None if when is None else max(timedelta(0), now - when)

    def status(state: str, detail: str) -> FreshnessStatus:
        return FreshnessStatus(ds.code, state, when, age, f"{day.isoformat()}: {detail}", day)

    if facts.failed_checks:
        return status("fail", f"blocking check {', '.join(facts.failed_checks)} failed on its latest materialization")
    if rule.cron:
        deadline = last_cron_deadline(rule.cron, now)
        window_start = deadline - (rule.cron_lower_bound or timedelta(days=1))
        if when is None:
            return status("fail", f"never materialized, due by the {deadline:%Y-%m-%d %H:%M} UTC deadline")
        if when >= window_start:
            return status("pass", f"materialized since {window_start:%Y-%m-%d %H:%M} UTC")
        return status("fail", f"not materialized between {window_start:%Y-%m-%d %H:%M} and the "
                              f"{deadline:%Y-%m-%d %H:%M} UTC deadline")
    # a day never materialized holds no data older than the day itself: late once it is older than the window
    elapsed = age if age is not None else max(timedelta(0), now - day_window(day).start)
    never = "never materialized" if when is None else None
    if elapsed > rule.fail_after:
        return status("fail", never or f"older than {rule.fail_after}")
    if rule.warn_after and elapsed > rule.warn_after:
        return status("warn", never or f"older than {rule.warn_after}")
    return status("pass", f"day begun {elapsed} ago, not materialized yet" if never else f"within {rule.fail_after}")


def freshness_status(ds: Dataset, partitions: Mapping[date, PartitionFacts], now: datetime | None = None,
                     first: date | None = None) -> FreshnessStatus:
    """Pass, warn or fail for ``ds`` from the facts of its required days (:func:`required_days`).

    ``partitions`` holds the facts of (at least) those days; a day missing from it was never
    materialized. The worst day decides; among equals the oldest materialization.
    """
    now = now or datetime.now(UTC)
    days = required_days(ds.freshness, now, first)
    if not days:
        return FreshnessStatus(ds.code, "pass", None, None, "no partition day due yet")
    facts = [partitions.get(d) or PartitionFacts(d) for d in days]
    if not (ds.freshness.cron or ds.freshness.realtime):  # a snapshot: today's if taken, else yesterday's
        facts = [next((f for f in facts if f.materialized is not None), facts[-1])]
    verdicts = [_judge(ds, f, now) for f in facts]
    return max(verdicts, key=lambda v: (SEVERITY_RANK[v.state], v.age is None, v.age or timedelta(0)))
