"""Declarative automation, evaluated by the Dagster daemon (``dagster dev`` runs it; no cron).

Per dataset, from its registry ``Freshness`` rule:

* real-time feeds refresh today's and yesterday's partitions every 15 minutes (every tick of
  ``BMRS_AUTOMATION_CRON``, which paces every rule here);
* every dataset requests partitions that are missing, within a lookback (``BMRS_HEAL_LOOKBACK_DAYS``,
  default 14), so an outage heals itself; a partition whose last run failed is requested again only
  when its next retry is due (15 min, 1 h, 4 h, then daily; at most ``BMRS_RETRY_MAX_ATTEMPTS``
  times, ``retries.py``), by every rule below alike, and after that left to a person (the alert
  sensor reports it once);
* settlement-derived feeds (COSTS, EBOCF) re-pull a day when a later settlement run is due, i.e.
  at the day ages listed in ``resettlement_days``.

Requests against the API are bounded by the ``elexon_api`` pool (see ``dagster.yaml``).
"""

from __future__ import annotations

from datetime import timedelta
from functools import reduce

import dagster as dg

from bmrs_assets.defs.elexon.retries import RetryDue
from bmrs_assets.elexon.datasets import Dataset
from bmrs_assets.settings import value

HEAL_LOOKBACK_ENV = "BMRS_HEAL_LOOKBACK_DAYS"


def heal_lookback() -> timedelta:
    return timedelta(days=value(HEAL_LOOKBACK_ENV))


def within_days(n: int) -> dg.AutomationCondition:
    """Today's partition and the ``n`` before it (a lookback of d days spans d partitions)."""
    return dg.AutomationCondition.in_latest_time_window(timedelta(days=n + 1))


def days_ago(n: int) -> dg.AutomationCondition:
    """True for the one daily partition ``n`` days before today's."""
    if n == 0:
        return dg.AutomationCondition.in_latest_time_window()
    return within_days(n) & ~within_days(n - 1)


def automation_condition(ds: Dataset) -> dg.AutomationCondition:
    AC = dg.AutomationCondition  # noqa: N806
    tick = AC.cron_tick_passed(value("BMRS_AUTOMATION_CRON"), "Europe/London")
    retry = (AC.execution_failed() & RetryDue()).with_label("failed, and its next retry is due")
    not_failed_or_due = (~AC.execution_failed() | RetryDue()).with_label("not failed, or its next retry is due")
    # a partition that failed and never succeeded is still "missing" to Dagster: it heals only by the retry rule
    never_tried = (AC.missing() & ~AC.execution_failed()).with_label("missing, never failed")
    heal = (within_days(heal_lookback().days) & (never_tried | retry) & tick).with_label(
        "heal missing partitions and retry failed ones (bounded)")
    conditions = [heal]
    if ds.freshness.realtime:
        conditions.append((within_days(1) & tick & not_failed_or_due).with_label(
            "refresh today and yesterday every 15 minutes"))
    if ds.freshness.resettlement_days:
        ages = reduce(lambda a, b: a | b, (days_ago(n) for n in ds.freshness.resettlement_days))
        conditions.append((ages & AC.cron_tick_passed("0 9 * * *", "Europe/London") & not_failed_or_due).with_label(
            "re-pull days when a later settlement run is due"))
    return reduce(lambda a, b: a | b, conditions) & ~AC.in_progress()


def automation_sensor() -> dg.AutomationConditionSensorDefinition:
    """The daemon evaluates every dataset's condition; on by default (``BMRS_AUTOMATION=off`` to start it stopped)."""
    running = value("BMRS_AUTOMATION")
    return dg.AutomationConditionSensorDefinition(
        "bmrs_automation", target=dg.AssetSelection.groups("elexon"),
        default_status=dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED,
        minimum_interval_seconds=60,
        use_user_code_server=True)  # RetryDue is Python of ours: evaluated where the code is
