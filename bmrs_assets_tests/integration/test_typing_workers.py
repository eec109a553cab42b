"""Typing workers end to end: the same days as typed serially, the same failures, a dead worker costs nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import date, timedelta

import dagster as dg
import duckdb
import orjson

from bmrs_assets.elexon import api_source
from bmrs_assets.elexon.client import ElexonClient
from bmrs_assets.elexon.datasets import BOALF, BOD
from bmrs_assets.simulator.data import GENERATORS, SimState
from bmrs_assets.warehouse.contract import FailedDay
from bmrs_assets_tests.support.scripted_server import Reply, ScriptedServer

DAYS = [date(2025, 12, 10) + timedelta(days=i) for i in range(4)]


def frames(url: str, workers: int, days: list[date] = DAYS, max_retries: int = 3, kill_after: int | None = None):
    """(day -> table without _ingested_utc, or the FailedDay's reason; the source's stats)."""
    source = api_source.ApiSource(BOALF, ElexonClient(base_url=url, rate_limit_per_s=1000, max_retries=max_retries),
                                  workers=workers, pool_min_rows=0)
    out = {}
    for i, (day, frame) in enumerate(source.frames(days)):
        out[day] = frame.reason if isinstance(frame, FailedDay) else frame.drop_columns(["_ingested_utc"])
        if kill_after is not None and i == kill_after:
            for pid in list(source._pool._executor._processes):
                os.kill(pid, signal.SIGKILL)
    return out, source.stats


def test_days_typed_by_workers_are_the_days_typed_serially(simulator):
    serial, serial_stats = frames(simulator.url, 0)
    pooled, stats = frames(simulator.url, 2)
    assert list(pooled) == DAYS
    for day in DAYS:
        assert pooled[day].num_rows > 10_000 and pooled[day].equals(serial[day]), day
    assert serial_stats.bodies_typed == stats.bodies_typed == len(DAYS)
    assert serial_stats.bodies_typed_by_workers == 0 and stats.bodies_typed_by_workers == len(DAYS)
    assert stats.rows_fetched == serial_stats.rows_fetched


def test_a_bad_body_fails_its_day_as_serially_and_costs_no_other(simulator):
    bad = DAYS[1].isoformat()

    def reply(path: str, n: int) -> Reply:
        day = next(d for d in DAYS if d.isoformat() in path)
        if day.isoformat() == bad:
            return Reply(body=orjson.dumps([{"settlementDate": bad, "levelFrom": "ten"}]))
        return Reply(body=orjson.dumps(GENERATORS["BOALF"].make(day, SimState())))

    server = ScriptedServer(reply)
    try:
        serial, _ = frames(server.url, 0, max_retries=0)
        pooled, stats = frames(server.url, 2, max_retries=0)
    finally:
        server.stop()
    assert isinstance(pooled[DAYS[1]], str) and pooled[DAYS[1]] == serial[DAYS[1]]
    assert pooled[DAYS[1]].startswith(f"BOALF partition {bad}: cannot type the API response")
    assert all(pooled[d].equals(serial[d]) for d in DAYS if d != DAYS[1])
    assert stats.bodies_typed_by_workers == len(DAYS) - 1  # the bad one was declined, then typed here


def test_workers_killed_mid_range_cost_no_day(simulator):
    serial, _ = frames(simulator.url, 0)
    pooled, stats = frames(simulator.url, 2, kill_after=0)
    assert list(pooled) == DAYS and all(pooled[d].equals(serial[d]) for d in DAYS)
    assert stats.bodies_typed == len(DAYS) and stats.bodies_typed_by_workers < len(DAYS)


def test_dagster_asset_materialize_types_a_bod_day_in_workers(simulator, platform_env, tmp_path):
    """Dagster's own command runs a one-partition run's steps in the run worker (``defs/executor.py``):
    the typing workers are forked from it, and the day is stored whole."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {**os.environ, "DAGSTER_HOME": str(home), "BMRS_TYPING_WORKERS": "2"}
    dagster = os.path.join(os.path.dirname(sys.executable), "dagster")
    done = subprocess.run([dagster, "asset", "materialize", "-m", "bmrs_assets.definitions", "--select", "bmrs/bod",
                           "--partition", "2025-12-17"], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    con = duckdb.connect(str(platform_env), read_only=True)
    stored = con.execute("SELECT count(*) FROM bmrs_bod").fetchone()[0]
    con.close()
    expected = sum(t.num_rows for _, t in api_source.ApiSource(BOD, ElexonClient(
        base_url=simulator.url, rate_limit_per_s=1000)).frames([date(2025, 12, 17)]))
    assert stored == expected > 250_000
    with dg.DagsterInstance.from_config(str(home)) as instance:
        (record,) = instance.fetch_materializations(dg.AssetKey(["bmrs", "bod"]), limit=5).records
    metadata = record.asset_materialization.metadata
    assert metadata["bodies_typed"].value == 9 and metadata["bodies_typed_by_workers"].value == 9


def test_a_day_whose_keys_repeat_is_still_stored_once_per_key(tmp_path):
    """The workers mark a day unique only when it is: a repeated key still takes the de-duplicating MERGE."""
    from bmrs_assets.warehouse.chunks import write_in_chunks
    from bmrs_assets.warehouse.duckdb_backend import DuckDBWarehouse

    day_rows = {d: GENERATORS["BOALF"].make(d, SimState()) for d in DAYS[:2]}
    day_rows[DAYS[1]] = day_rows[DAYS[1]] + day_rows[DAYS[1]][:5]  # five keys sent twice

    def reply(path: str, n: int) -> Reply:
        return Reply(body=orjson.dumps(next(r for d, r in day_rows.items() if d.isoformat() in path)))

    server = ScriptedServer(reply)
    try:
        source = api_source.ApiSource(BOALF, ElexonClient(base_url=server.url, rate_limit_per_s=1000),
                                      workers=2, pool_min_rows=0)
        result = write_in_chunks(DuckDBWarehouse(str(tmp_path / "w.duckdb")), source.batch(DAYS[:2]),
                                 max_rows=10**6, max_days=31)
    finally:
        server.stop()
    assert source.stats.bodies_typed_by_workers == 2
    assert result.merged.duplicates_in_batch == 5
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    stored = con.execute("SELECT count(*) FROM bmrs_boalf").fetchone()[0]
    con.close()
    assert stored == len(day_rows[DAYS[0]]) + len(day_rows[DAYS[1]]) - 5
