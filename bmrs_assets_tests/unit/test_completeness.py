"""Completeness rules and freshness status: exact where the shape is fixed, a median floor where not."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bmrs_assets.elexon.datasets import BOALF, COSTS, DISBSAD, FREQ, FUELINST, MID, REGISTRY
from bmrs_assets.quality.completeness import evaluate
from bmrs_assets.quality.freshness import PartitionFacts, freshness_status, last_cron_deadline, required_days
from bmrs_assets.warehouse.contract import DayStats

LATER = datetime(2027, 1, 1, tzinfo=UTC)
SPRING, AUTUMN, WINTER = date(2025, 3, 30), date(2025, 10, 26), date(2025, 12, 17)


@pytest.mark.parametrize(("ds", "day", "good", "bad"), [
    (COSTS, SPRING, 46, 48), (COSTS, AUTUMN, 50, 48), (COSTS, WINTER, 48, 47),
    (MID, WINTER, 96, 48), (MID, AUTUMN, 100, 96),
    (FREQ, WINTER, 5760, 5759), (FREQ, SPRING, 5520, 5760), (FREQ, AUTUMN, 6000, 5760),
])
def test_exact_counts(ds, day, good, bad):
    assert evaluate(ds, day, DayStats(rows=good), {}, LATER).passed
    verdict = evaluate(ds, day, DayStats(rows=bad), {}, LATER)
    assert not verdict.passed and verdict.reason == f"{bad} of {good} rows"


def test_fuelinst_needs_288_readings_of_every_fuel_type():
    full = {f: 288 for f in ("CCGT", "WIND", "NUCLEAR")}
    assert evaluate(FUELINST, WINTER, DayStats(rows=864, groups=full), {}, LATER).passed
    short = evaluate(FUELINST, WINTER, DayStats(rows=863, groups={**full, "WIND": 287}), {}, LATER)
    assert not short.passed and "WIND=287" in short.reason and short.expected == "288 rows per fuelType"
    assert evaluate(FUELINST, AUTUMN, DayStats(rows=300, groups={"CCGT": 300}), {}, LATER).passed  # 25 h day


def test_every_period_must_appear_for_disbsad():
    assert evaluate(DISBSAD, WINTER, DayStats(rows=90, periods=48), {}, LATER).passed
    assert evaluate(DISBSAD, SPRING, DayStats(rows=90, periods=46), {}, LATER).passed
    assert evaluate(DISBSAD, WINTER, DayStats(rows=90, periods=47), {}, LATER).reason == "47 of 48 periods present"


def test_the_boalf_collapse_fails_the_median_floor():
    # the origin system's BOALF: ~31,553 rows a day, then 50, then nothing
    history = {WINTER - timedelta(days=i): 31_553 + (i % 5) * 300 for i in range(1, 29)}
    assert evaluate(BOALF, WINTER, DayStats(rows=31_000), history, LATER).passed
    collapse = evaluate(BOALF, WINTER, DayStats(rows=50), history, LATER)
    assert not collapse.passed
    assert "50 rows is under 0.5 x the 28-day median (32153)" in collapse.reason  # median of 31,553..32,753 steps
    nothing = evaluate(BOALF, WINTER, DayStats(rows=0), history, LATER)
    assert not nothing.passed and nothing.reason == "no rows stored for this day"


def test_the_floor_fraction_is_configurable(monkeypatch):
    history = {WINTER - timedelta(days=i): 1000 for i in range(1, 29)}
    assert evaluate(BOALF, WINTER, DayStats(rows=600), history, LATER).passed
    monkeypatch.setenv("BMRS_MEDIAN_FLOOR_FRACTION", "0.8")
    assert not evaluate(BOALF, WINTER, DayStats(rows=600), history, LATER).passed


def test_without_history_the_floor_cannot_apply_and_says_so():
    verdict = evaluate(BOALF, WINTER, DayStats(rows=10), {WINTER - timedelta(days=1): 30_000}, LATER)
    assert verdict.passed and "too few for a median floor" in verdict.reason


def test_today_is_in_progress():
    now = datetime(2025, 12, 17, 12, tzinfo=UTC)
    verdict = evaluate(COSTS, WINTER, DayStats(rows=24), {}, now)
    assert not verdict.passed and verdict.in_progress


def test_every_dataset_declares_completeness_and_freshness():
    for ds in REGISTRY.values():
        rule = ds.completeness
        assert rule.per_period or rule.interval or rule.all_periods or rule.median_fraction, ds.code
    assert FREQ.freshness.fail_after == timedelta(hours=1) and FUELINST.freshness.fail_after == timedelta(hours=1)
    assert BOALF.freshness.fail_after <= timedelta(hours=3) and COSTS.freshness.cron == "0 8 * * *"


def latest(ds, when, now):
    """Every required day of ``ds`` last materialized at ``when`` (None: never)."""
    return {d: PartitionFacts(d, when) for d in required_days(ds.freshness, now)}


def test_freshness_status_time_window_and_cron():
    now = datetime(2025, 12, 17, 12, tzinfo=UTC)
    assert required_days(FREQ.freshness, now) == (date(2025, 12, 17), date(2025, 12, 16))
    assert freshness_status(FREQ, latest(FREQ, now - timedelta(minutes=10), now), now).state == "pass"
    assert freshness_status(FREQ, latest(FREQ, now - timedelta(minutes=45), now), now).state == "warn"
    stale = freshness_status(FREQ, latest(FREQ, now - timedelta(hours=2), now), now)
    assert stale.state == "fail" and stale.age == timedelta(hours=2)
    future = freshness_status(FREQ, latest(FREQ, now + timedelta(minutes=5), now), now)  # clock skew: never negative
    assert future.age == timedelta(0)
    assert freshness_status(FREQ, {}, now).state == "fail"
    # today's partition not materialized yet, 10 minutes into the day: not late yet; yesterday decides
    early = datetime(2025, 12, 17, 0, 10, tzinfo=UTC)
    fresh_yesterday = {date(2025, 12, 16): PartitionFacts(date(2025, 12, 16), early - timedelta(minutes=5))}
    assert freshness_status(FREQ, fresh_yesterday, early).state == "pass"
    # a failed blocking check on a required day fails it, however recent
    failed = {d: PartitionFacts(d, now, ("complete_partition",)) for d in required_days(FREQ.freshness, now)}
    assert freshness_status(FREQ, failed, now).state == "fail"
    # COSTS: yesterday's prices due by 08:00 London; materialized within the 24 h before the deadline
    assert last_cron_deadline("0 8 * * *", now) == datetime(2025, 12, 17, 8, tzinfo=UTC)
    assert last_cron_deadline("0 8 * * *", datetime(2025, 7, 1, 7, 30, tzinfo=UTC)) == datetime(2025, 7, 1, 7, tzinfo=UTC)
    assert last_cron_deadline("0 8 * * *", datetime(2025, 7, 1, 6, tzinfo=UTC)) == datetime(2025, 6, 30, 7, tzinfo=UTC)
    assert required_days(COSTS.freshness, now) == (date(2025, 12, 16),)
    assert freshness_status(COSTS, latest(COSTS, datetime(2025, 12, 16, 9, tzinfo=UTC), now), now).state == "pass"
    assert freshness_status(COSTS, latest(COSTS, datetime(2025, 12, 16, 7, tzinfo=UTC), now), now).state == "fail"


def test_a_daily_snapshot_is_judged_by_its_newest_snapshot():
    """BM_UNITS (36 h fail, 26 h warn): today's snapshot if taken, else yesterday's."""
    from bmrs_assets.elexon.datasets import BM_UNITS

    today, yesterday = date(2025, 12, 17), date(2025, 12, 16)  # GMT: London days are UTC days
    at = datetime(2025, 12, 17, 13, tzinfo=UTC)
    taken_today = {today: PartitionFacts(today, datetime(2025, 12, 17, 0, 5, tzinfo=UTC))}
    assert freshness_status(BM_UNITS, taken_today, at).state == "pass"
    # not taken today; yesterday's at 00:05 is 36 h 55 min old at 13:00: late
    taken_yesterday = {yesterday: PartitionFacts(yesterday, datetime(2025, 12, 16, 0, 5, tzinfo=UTC))}
    late = freshness_status(BM_UNITS, taken_yesterday, at)
    assert (late.state, late.day) == ("fail", yesterday)
    # ... 27 h 55 min old at 04:00: warn; 9 h 55 min old at 10:00 the same day: pass
    assert freshness_status(BM_UNITS, taken_yesterday, datetime(2025, 12, 17, 4, tzinfo=UTC)).state == "warn"
    assert freshness_status(BM_UNITS, taken_yesterday, datetime(2025, 12, 16, 10, tzinfo=UTC)).state == "pass"
    # never taken: yesterday began 37 h before 13:00 (fail), 25 h before 01:00 (pass: within 26 h)
    assert freshness_status(BM_UNITS, {}, at).detail == "2025-12-16: never materialized"
    assert freshness_status(BM_UNITS, {}, at).state == "fail"
    assert freshness_status(BM_UNITS, {}, datetime(2025, 12, 17, 1, tzinfo=UTC)).state == "pass"
