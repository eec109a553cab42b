"""Gap classification from the Dagster instance and the warehouse, the gaps CLI, and automation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from bmrs_assets.cli.runs import materialize_range
from bmrs_assets.definitions import build_definitions, warehouse_resource
from bmrs_assets.defs.elexon.assets import daily_partitions
from bmrs_assets.defs.quality import classify, partition_status
from bmrs_assets.elexon.datasets import COSTS, FREQ
from bmrs_assets.quality.gaps import gaps_of
from bmrs_assets_tests.support.scripted_server import Reply, ScriptedServer

D1, D2, D3, D4, D5 = (date(2025, 12, 10) + timedelta(days=i) for i in range(5))


def test_days_are_classified_complete_partial_missing_failed(platform_env, persistent_instance, monkeypatch, simulator):
    instance, home = persistent_instance
    assert materialize_range(D1, D2, ["FREQ"], instance=instance)[0].success          # complete
    few = [{"dataset": "FREQ", "measurementTime": f"2025-12-13T00:{m:02d}:00Z", "frequency": 50.0} for m in range(50)]
    partial = ScriptedServer(lambda p, n: Reply(body=json.dumps(few).encode()))
    broken = ScriptedServer(lambda p, n: Reply(status=404, body=b'{"error":"gone"}'))
    try:
        monkeypatch.setenv("BMRS_API_BASE_URL", partial.url)
        result, _ = materialize_range(D4, D4, ["FREQ"], instance=instance)           # stored, but 50 rows
        checks = {e.event_specific_data.check_name: e.event_specific_data for e in result.all_events
                  if e.event_type_value == "ASSET_CHECK_EVALUATION"}
        assert not checks["complete_partition"].passed
        assert checks["complete_partition"].severity == dg.AssetCheckSeverity.ERROR
        monkeypatch.setenv("BMRS_API_BASE_URL", broken.url)
        assert not materialize_range(D5, D5, ["FREQ"], instance=instance)[0].success   # failed
    finally:
        partial.stop()
        broken.stop()
    wh = warehouse_resource(resolved=True).get()
    statuses = classify(FREQ, D1, D5, instance, wh, daily_partitions())
    assert [(s.day, s.status) for s in statuses] == [
        (D1, "complete"), (D2, "complete"), (D3, "missing"), (D4, "partial"), (D5, "failed")]
    assert statuses[3].rows == 50 and "50 of 5760 rows" in statuses[3].detail
    assert [(g.status, g.first, g.last) for g in gaps_of(statuses)] == [
        ("missing", D3, D3), ("partial", D4, D4), ("failed", D5, D5)]

    # the command line, against the same instance and warehouse, in another process
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    text = subprocess.run([sys.executable, "-m", "bmrs_assets", "gaps", "--dataset", "freq", "--since", D1.isoformat(),
                           "--until", D5.isoformat(), "--check"], env=env, capture_output=True, text=True, timeout=120)
    assert text.returncode == 3, text.stderr
    assert "FREQ: 2 complete, 1 partial, 1 missing, 1 failed" in text.stdout
    assert "python -m bmrs_assets backfill --dataset FREQ --from 2025-12-12 --to 2025-12-12" in text.stdout
    out = subprocess.run([sys.executable, "-m", "bmrs_assets", "gaps", "--dataset", "FREQ", "--since", D1.isoformat(),
                          "--until", D5.isoformat(), "--json"], env=env, capture_output=True, text=True, timeout=120)
    payload = json.loads(out.stdout)["FREQ"]
    assert payload["summary"] == {"complete": 2, "partial": 1, "missing": 1, "failed": 1}
    assert [g["partition_range"] for g in payload["gaps"]] == ["2025-12-12...2025-12-12", "2025-12-13...2025-12-13",
                                                                "2025-12-14...2025-12-14"]


def test_a_refilled_gap_becomes_complete(platform_env, instance):
    assert materialize_range(D1, D1, ["COSTS"], instance=instance)[0].success
    assert materialize_range(D3, D3, ["COSTS"], instance=instance)[0].success
    wh = warehouse_resource(resolved=True).get()
    before = classify(COSTS, D1, D3, instance, wh, daily_partitions())
    assert [s.status for s in before] == ["complete", "missing", "complete"]
    assert materialize_range(D2, D2, ["COSTS"], instance=instance)[0].success
    assert [s.status for s in classify(COSTS, D1, D3, instance, wh, daily_partitions())] == ["complete"] * 3


def requested(result, code):
    return sorted(result.get_requested_partitions(dg.AssetKey(["bmrs", code.lower()])))


def test_automation_heals_refreshes_and_follows_settlement_runs(monkeypatch):
    monkeypatch.setenv("BMRS_START_DATE", "2024-01-01")
    defs = build_definitions()
    with dg.DagsterInstance.ephemeral() as instance:
        # 09:00 London on 2025-12-17: every cron tick has passed since the (absent) previous evaluation
        now = datetime(2025, 12, 17, 9, 1, tzinfo=UTC)
        first = dg.evaluate_automation_conditions(defs, instance, evaluation_time=now - timedelta(minutes=20))
        result = dg.evaluate_automation_conditions(defs, instance, evaluation_time=now, cursor=first.cursor)
    heal_days = [(date(2025, 12, 17) - timedelta(days=i)).isoformat() for i in range(14, -1, -1)]
    # nothing was ever materialized: the last 14 days and today are requested to heal the gap
    assert requested(result, "FREQ") == heal_days
    assert requested(result, "BOD") == heal_days
    # COSTS also re-pulls the days that later settlement runs revise (7, 22, 55, ... days old)
    costs = requested(result, "COSTS")
    assert set(heal_days) <= set(costs)
    # 22, 55, 117, 216 and 410 days before 2025-12-17
    assert {"2025-11-25", "2025-10-23", "2025-08-22", "2025-05-15", "2024-11-02"} <= set(costs)
    assert "2025-11-24" not in costs


def test_realtime_refresh_requests_only_today_and_yesterday(platform_env, monkeypatch):
    defs = build_definitions()
    with dg.DagsterInstance.ephemeral() as instance:
        # mark 15 days as materialized so only the refresh rule applies
        for i in range(15):
            instance.report_runless_asset_event(dg.AssetMaterialization(
                asset_key=dg.AssetKey(["bmrs", "freq"]), partition=(date(2025, 12, 17) - timedelta(days=i)).isoformat()))
        now = datetime(2025, 12, 17, 12, 16, tzinfo=UTC)
        first = dg.evaluate_automation_conditions(defs, instance, evaluation_time=now - timedelta(minutes=10))
        result = dg.evaluate_automation_conditions(defs, instance, evaluation_time=now, cursor=first.cursor)
    assert requested(result, "FREQ") == ["2025-12-16", "2025-12-17"]


def test_a_refresh_in_progress_keeps_a_stored_day_complete(platform_env, instance):
    """A day materialized before and being refreshed now still has its rows: it is not a gap (the
    alert sensor would post it and its resolution at every refresh), while a first run in progress is."""
    seen: list[str] = []
    pdef = daily_partitions()

    @dg.asset(key=dg.AssetKey(["bmrs", COSTS.asset_name]), partitions_def=pdef)
    def costs_stand_in(context) -> None:  # reads the status while its own run is going
        seen.append(partition_status(context.instance, COSTS, [context.partition_key], pdef)[context.partition_key])

    for _ in range(2):
        assert dg.materialize([costs_stand_in], instance=instance, partition_key=D1.isoformat()).success
    assert seen == ["IN_PROGRESS", "MATERIALIZED"]
    assert partition_status(instance, COSTS, [D1.isoformat(), D2.isoformat()], pdef) == {D1.isoformat(): "MATERIALIZED"}
