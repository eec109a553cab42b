"""Bounded retries: a day that never succeeds is retried after 15 min, 1 h, 4 h (then daily), at most
BMRS_RETRY_MAX_ATTEMPTS times, then left to a person with one alert; driven by Dagster's own automation
evaluation over three simulated days, every requested run really executed against the simulator."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import dagster as dg
from dagster._core.test_utils import freeze_time

from bmrs_assets.cli.runs import asset_job, materialize_range
from bmrs_assets.definitions import build_definitions
from bmrs_assets.defs.elexon.assets import daily_partitions
from bmrs_assets.defs.monitoring.alerts import evaluate_problems
from bmrs_assets.elexon.datasets import COSTS
from bmrs_assets.monitoring.alerts import Reported, diff
from bmrs_assets.warehouse.duckdb_backend import DuckDBWarehouse

KEY = dg.AssetKey(["bmrs", "costs"])
BAD = date(2025, 12, 9)
START = datetime(2025, 12, 10, 0, 7, tzinfo=UTC)  # 00:07 London, just after midnight


def test_a_day_that_never_succeeds_is_retried_boundedly_then_alerted_once(platform_env, simulator, monkeypatch):
    monkeypatch.setenv("BMRS_START_DATE", "2025-12-08")
    monkeypatch.setenv("BMRS_HEAL_LOOKBACK_DAYS", "3")
    monkeypatch.setenv("BMRS_RETRY_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("BMRS_API_MAX_RETRIES", "0")
    simulator.config.faults.outage = {("COSTS", BAD.isoformat())}
    defs, job = build_definitions(), asset_job(["COSTS"])
    requests: dict[str, list[datetime]] = {}
    cursor = None
    with dg.DagsterInstance.ephemeral() as instance:
        t = START
        while t <= START + timedelta(days=3):
            with freeze_time(t):
                result = dg.evaluate_automation_conditions(defs, instance, asset_selection=dg.AssetSelection.keys(KEY),
                                                           evaluation_time=t, cursor=cursor)
                cursor = result.cursor
                for day in sorted(result.get_requested_partitions(KEY)):
                    requests.setdefault(day, []).append(t)
                    d = date.fromisoformat(day)
                    materialize_range(d, d, ["COSTS"], instance=instance, job=job)
            t += timedelta(minutes=15)
        bad = requests[BAD.isoformat()]
        # the first attempt, then 3 retries at (at least) 15 min, 1 h and 4 h after each failure; no more
        assert len(bad) == 4, bad
        gaps = [b - a for a, b in pairwise(bad)]
        assert [g >= w for g, w in zip(gaps, (timedelta(minutes=15), timedelta(hours=1), timedelta(hours=4)),
                                       strict=True)] == [True] * 3, gaps
        assert all(g < w + timedelta(minutes=16) for g, w in zip(
            gaps, (timedelta(minutes=15), timedelta(hours=1), timedelta(hours=4)), strict=True)), gaps
        total = sum(len(v) for v in requests.values())
        assert total <= 4 + 2 * 6, f"{total} runs in 3 days: {requests}"  # every good day: missing once, re-pulls
        good = {d: v for d, v in requests.items() if d != BAD.isoformat()}
        assert good and all(len(v) <= 3 for v in good.values()), good

        # one alert with the last error; the same problem on the next tick is not new
        wh = DuckDBWarehouse(str(platform_env))
        now = START + timedelta(days=3)
        evaluation = evaluate_problems([COSTS], instance, wh, daily_partitions(), now)
        retries = [p for p in evaluation.problems if p.kind == "retries"]
        assert len(retries) == 1 and retries[0].first == BAD
        assert f"COSTS {BAD} failed 4 times" in retries[0].text and "needs a person" in retries[0].text
        assert f"COSTS partition {BAD}" in retries[0].text, "the last error is in the alert"
        reported = [Reported.of(p, now) for p in evaluation.problems]
        again = evaluate_problems([COSTS], instance, wh, daily_partitions(), now + timedelta(minutes=1), reported=reported)
        assert not [p for p in diff(reported, again.problems, again.unavailable).new if p.kind == "retries"]
