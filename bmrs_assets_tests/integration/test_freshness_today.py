"""Freshness is judged on the latest partition days and their blocking checks, and what the UI shows
(the ``fresh_latest_partitions`` check evaluation recorded in the instance) agrees with the evaluator
the alerts and the dashboard use, on every instance state built here (events at frozen times)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest
from dagster._core.test_utils import freeze_time

from bmrs_assets.defs.monitoring.freshness import CHECK_NAME, build_freshness_sensor, check_key, record_changes
from bmrs_assets.defs.quality import asset_key, freshness
from bmrs_assets.elexon.datasets import COSTS, EBOCF, FREQ, Dataset
from bmrs_assets_tests.support.helpers import run_stand_in

NOW = datetime(2025, 12, 17, 12, 0, tzinfo=UTC)  # 12:00 London (GMT)
TODAY, YESTERDAY = date(2025, 12, 17), date(2025, 12, 16)


@pytest.fixture
def instance(monkeypatch):
    monkeypatch.setenv("BMRS_START_DATE", "2025-11-01")
    with dg.DagsterInstance.ephemeral() as inst:
        yield inst


def materialize(instance: dg.DagsterInstance, ds: Dataset, day: date, at: datetime) -> None:
    with freeze_time(at):
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=asset_key(ds), partition=day.isoformat()))


def check(instance: dg.DagsterInstance, ds: Dataset, day: date, at: datetime, passed: bool,
          severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR) -> None:
    with freeze_time(at):
        instance.report_runless_asset_event(dg.AssetCheckEvaluation(
            asset_key=asset_key(ds), check_name="complete_partition", passed=passed, severity=severity,
            partition=day.isoformat()))


def run(instance: dg.DagsterInstance, ds: Dataset, day: date, at: datetime, passed: bool) -> None:
    """A real run of ``day`` at ``at``: materialized, then its blocking ``complete_partition`` evaluated."""
    partitions = dg.DailyPartitionsDefinition(start_date="2025-11-01", timezone="Europe/London", end_offset=1)
    with freeze_time(at):
        run_stand_in(instance, asset_key(ds), partitions, day, passed)


def judged(instance: dg.DagsterInstance, ds: Dataset, now: datetime) -> str:
    """The evaluator's state, after asserting the UI's check evaluation (recorded by the sensor's step) agrees."""
    status = freshness(instance, ds, now)
    record_changes(instance, [ds], now)
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key([check_key(ds)])[check_key(ds)]
    shown = latest.event.asset_check_evaluation
    assert shown.check_name == CHECK_NAME and shown.passed == (status.state == "pass")
    assert shown.metadata["state"].value == status.state and shown.description == status.detail
    assert shown.severity == (dg.AssetCheckSeverity.WARN if status.state == "warn" else dg.AssetCheckSeverity.ERROR)
    return status.state


def test_realtime_fresh_only_when_today_and_yesterday_are_recent(instance):
    assert judged(instance, FREQ, NOW) == "fail"  # never materialized
    materialize(instance, FREQ, TODAY, NOW - timedelta(minutes=10))
    materialize(instance, FREQ, YESTERDAY, NOW - timedelta(minutes=10))
    assert judged(instance, FREQ, NOW) == "pass"
    assert judged(instance, FREQ, NOW + timedelta(minutes=35)) == "warn"
    # today's data stopped four hours ago; a heal run of a 10-day-old partition just now does not make it fresh
    later = NOW + timedelta(hours=4)
    materialize(instance, FREQ, TODAY - timedelta(days=10), later - timedelta(minutes=1))
    newest_any = instance.get_latest_materialization_event(asset_key(FREQ))
    assert later.timestamp() - newest_any.timestamp < 120  # what Dagster's FreshnessPolicy would have judged: fresh
    assert judged(instance, FREQ, later) == "fail"
    status = freshness(instance, FREQ, later)
    assert status.day == TODAY and status.age == timedelta(hours=4, minutes=10)
    # yesterday stale although today is fresh: not fresh either
    materialize(instance, FREQ, TODAY, later)
    assert judged(instance, FREQ, later) == "fail" and freshness(instance, FREQ, later).day == YESTERDAY
    materialize(instance, FREQ, YESTERDAY, later)
    assert judged(instance, FREQ, later) == "pass"


def test_a_latest_partition_whose_blocking_check_failed_is_not_fresh(instance):
    for day in (TODAY, YESTERDAY):
        materialize(instance, FREQ, day, NOW - timedelta(minutes=5))
    check(instance, FREQ, TODAY, NOW - timedelta(minutes=4), passed=False, severity=dg.AssetCheckSeverity.WARN)
    assert judged(instance, FREQ, NOW) == "pass"  # WARN: today is still in progress, it blocks nothing
    check(instance, FREQ, YESTERDAY, NOW - timedelta(minutes=4), passed=False)
    assert judged(instance, FREQ, NOW) == "fail"
    assert "complete_partition" in freshness(instance, FREQ, NOW).detail
    run(instance, FREQ, YESTERDAY, NOW - timedelta(minutes=2), passed=True)  # re-run, and this time it passes
    assert judged(instance, FREQ, NOW) == "pass"
    run(instance, FREQ, TODAY, NOW - timedelta(minutes=1), passed=False)  # a real run whose check fails (ERROR)
    assert judged(instance, FREQ, NOW) == "fail" and freshness(instance, FREQ, NOW).day == TODAY


@pytest.mark.parametrize("ds", [COSTS, EBOCF], ids=lambda ds: ds.code)
def test_settlement_feeds_against_their_deadline(instance, ds):
    # by 08:00 London on the 17th the 16th must be in, materialized since 08:00 on the 16th
    materialize(instance, ds, YESTERDAY, datetime(2025, 12, 17, 3, tzinfo=UTC))
    assert judged(instance, ds, NOW) == "pass"
    before_deadline = datetime(2025, 12, 18, 7, 30, tzinfo=UTC)  # the 17th is not due yet
    assert judged(instance, ds, before_deadline) == "pass"
    after_deadline = datetime(2025, 12, 18, 9, tzinfo=UTC)  # now the 17th is due; a heal of the 10th does not count
    materialize(instance, ds, date(2025, 12, 10), after_deadline - timedelta(minutes=1))
    assert judged(instance, ds, after_deadline) == "fail"
    assert freshness(instance, ds, after_deadline).day == TODAY
    materialize(instance, ds, TODAY, after_deadline)  # late, but in
    assert judged(instance, ds, after_deadline + timedelta(minutes=1)) == "pass"
    check(instance, ds, TODAY, after_deadline, passed=False)
    assert judged(instance, ds, after_deadline + timedelta(minutes=2)) == "fail"


def test_the_sensor_records_only_changes(instance):
    sensor = build_freshness_sensor([FREQ])
    sensor(dg.build_sensor_context(instance=instance))
    sensor(dg.build_sensor_context(instance=instance))
    history = instance.event_log_storage.get_asset_check_execution_history(check_key(FREQ), limit=10)
    assert len(history) == 1 and not history[0].event.asset_check_evaluation.passed
