"""The revenue sensor requests a derived day only when every input day it reads exists and passed its
blocking checks; a day held back is requested once the input is re-run and passes."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest

from bmrs_assets.defs.revenue.lineage import DERIVED_KEYS
from bmrs_assets.defs.revenue.sensor import build_revenue_sensor, plan_requests
from bmrs_assets_tests.support.helpers import run_stand_in

DAY = date(2025, 12, 17)
PARTITIONS = dg.DailyPartitionsDefinition(start_date="2025-12-01", timezone="Europe/London", end_offset=1)


def key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["bmrs", name])


@pytest.fixture
def instance(monkeypatch):
    monkeypatch.setenv("BMRS_START_DATE", "2025-12-01")
    with dg.DagsterInstance.ephemeral() as inst:
        yield inst


def run(instance: dg.DagsterInstance, name: str, day: date, passed: bool = True) -> None:
    """A real run of ``day`` of source ``name``: it materializes, its blocking check passes or fails."""
    run_stand_in(instance, key(name), PARTITIONS, day, passed)


def requested(instance: dg.DagsterInstance, cursor: int) -> tuple[list[str], int]:
    requests, cursor = plan_requests(instance, cursor)
    assert all(set(r.asset_selection) == set(DERIVED_KEYS) for r in requests)
    return [r.partition_key for r in requests], cursor


def test_inputs_good_then_the_day_is_requested(instance):
    for name, day in (("boalf", DAY.replace(day=16)), ("boalf", DAY), ("bod", DAY), ("pn", DAY), ("ebocf", DAY)):
        run(instance, name, day)
    result = build_revenue_sensor()(dg.build_sensor_context(instance=instance))
    assert [r.partition_key for r in result.run_requests] == [DAY.isoformat()]


def test_a_failed_input_check_holds_the_day_until_it_is_rerun_and_passes(instance):
    for name in ("bod", "pn", "ebocf"):
        run(instance, name, DAY)
    run(instance, "boalf", DAY.replace(day=16))
    run(instance, "boalf", DAY, passed=False)  # blocking complete_partition failed (ERROR)
    days, cursor = requested(instance, 0)
    assert days == []
    run(instance, "boalf", DAY)  # re-run, passes
    days, cursor = requested(instance, cursor)
    assert days == [DAY.isoformat()]


def test_a_failed_previous_day_or_a_missing_input_holds_the_day(instance):
    for name in ("boalf", "bod", "pn", "ebocf"):
        run(instance, name, DAY)
    days, cursor = requested(instance, 0)
    assert days == []  # BOALF of the day before (acceptances running past midnight) is missing
    run(instance, "boalf", DAY.replace(day=16), passed=False)
    days, cursor = requested(instance, cursor)
    assert days == []  # ... and then failed its check: the 16th is not requested either (its own inputs are missing)
    run(instance, "boalf", DAY.replace(day=16))
    days, cursor = requested(instance, cursor)
    assert days == [DAY.isoformat()]  # the 17th was waiting only for the 16th: requested now (the 16th still lacks BOD)
    days, cursor = requested(instance, cursor)
    assert days == []  # once
