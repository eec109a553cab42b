"""History-length ranges: committed in chunks, a bad day costs that day only, a killed run resumes.

Both backends: the embedded DuckDB file and the BigQuery emulator, through the real Dagster run
(the asset, the IO manager, the instance's partition statuses) against the simulator on loopback.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster._core.storage.partition_status_cache import get_and_update_asset_status_cache_value

from bmrs_assets.cli.runs import materialize_range
from bmrs_assets.defs.elexon.assets import daily_partitions
from bmrs_assets.elexon.datasets import COSTS
from bmrs_assets.simulator.faults import FaultPlan
from bmrs_assets.simulator.server import SimulatorConfig, start_in_thread
from bmrs_assets.warehouse.bigquery_backend import BigQueryWarehouse
from bmrs_assets.warehouse.contract import DIGESTS_TABLE
from bmrs_assets_tests.support.helpers import failure_text, metadata_of
from bmrs_assets_tests.support.range_child import run_range

FIRST = date(2025, 11, 1)  # November 2025: no clock change, 48 periods every day
DAYS = [FIRST + timedelta(days=i) for i in range(20)]
OUTAGE = DAYS[6]  # day 7 of 20
KEY = dg.AssetKey(["bmrs", "costs"])


def history_env(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """On top of ``platform_env``: the API at ``url``, a fast rate limit and retries, chunks of 3 days."""
    monkeypatch.setenv("BMRS_API_BASE_URL", url)
    monkeypatch.setenv("BMRS_RATE_LIMIT_PER_S", "200")
    monkeypatch.setenv("BMRS_API_MAX_RETRIES", "1")
    monkeypatch.setenv("BMRS_API_BACKOFF_S", "0.01")
    monkeypatch.setenv("BMRS_CHUNK_DAYS", "3")  # 20 days: seven chunks


def partition_status(instance: dg.DagsterInstance) -> tuple[set[str], set[str]]:
    """(materialized, failed) partition keys of bmrs/costs, as the Dagster UI shows them."""
    partitions = daily_partitions()
    value = get_and_update_asset_status_cache_value(instance, KEY, partitions)
    materialized = value.deserialize_materialized_partition_subsets(partitions).get_partition_keys()
    failed = value.deserialize_failed_partition_subsets(partitions).get_partition_keys()
    return set(materialized), set(failed)


def test_an_outage_on_day_7_of_20_costs_day_7_only_and_the_rerun_resumes(monkeypatch, warehouse):
    plan = FaultPlan(outage={("COSTS", OUTAGE.isoformat())})
    server = start_in_thread(SimulatorConfig(faults=plan))
    try:
        history_env(monkeypatch, server.url)
        with dg.DagsterInstance.ephemeral() as instance:
            bad, _ = materialize_range(DAYS[0], DAYS[-1], ["COSTS"], instance=instance)
            assert not bad.success, "the run ends failed, so the gap stays visible"
            text = failure_text(bad)
            assert f"COSTS partition {OUTAGE}" in text and "gave up after 2 attempts" in text, text
            assert "1 of 20 day(s) not committed" in text and "19 were committed" in text, text
            stored = warehouse.count_by_day(COSTS, DAYS[0], DAYS[-1])
            assert stored == {d: 48 for d in DAYS if d != OUTAGE}, "the chunks before and after day 7 are committed"
            materialized, failed = partition_status(instance)
            assert materialized == {d.isoformat() for d in DAYS if d != OUTAGE}
            assert failed == {OUTAGE.isoformat()}
            records = instance.fetch_materializations(KEY, limit=50).records  # each committed day: its own count
            assert {r.asset_materialization.partition: r.asset_materialization.metadata["dagster/row_count"].value
                    for r in records} == {d.isoformat(): 48 for d in DAYS if d != OUTAGE}
            assert len(warehouse.remembered_digests(COSTS, DAYS)) == 19

            plan.outage.clear()  # Elexon answers day 7 again: the re-run resumes
            requests_before = len(server.requests)
            good, _ = materialize_range(DAYS[0], DAYS[-1], ["COSTS"], instance=instance)
            assert good.success, failure_text(good)
            meta = metadata_of(good, "COSTS")
            assert meta["days_unchanged_body"] == 19, "days already merged are recognised by digest, not parsed"
            assert (meta["rows_inserted"], meta["rows_updated"], meta["rows_unchanged"]) == (48, 0, 19 * 48)
            assert len(server.requests) - requests_before == 20  # one request per day, none repeated
            assert warehouse.count_by_day(COSTS, DAYS[0], DAYS[-1]) == {d: 48 for d in DAYS}
            assert warehouse.key_counts(COSTS, DAYS[0], DAYS[-1]) == (20 * 48, 0)
            materialized, failed = partition_status(instance)
            assert materialized == {d.isoformat() for d in DAYS} and not failed
    finally:
        server.shutdown()


def test_a_long_range_logs_each_committed_day_with_the_time_left(platform_env, monkeypatch, simulator):
    history_env(monkeypatch, simulator.url)
    with dg.DagsterInstance.ephemeral() as instance:
        result, _ = materialize_range(DAYS[0], DAYS[9], ["COSTS"], instance=instance, log_level="INFO")
        assert result.success
        entries = [e.message for e in instance.all_logs(result.run_id)
                   if e.message and " committed, " in e.message]
    lines = [line for entry in entries for line in entry.splitlines()]  # one run-log entry per chunk, a line a day
    assert len(lines) == 10
    for k, (day, line) in enumerate(zip(DAYS[:10], lines, strict=True), start=1):
        assert line.startswith(f"COSTS {day}: day {k} of 10 committed, 48 rows (48 inserted, 0 updated, 0 unchanged)")
        assert " s; about " in line and line.endswith(" left")
    meta = metadata_of(result, "COSTS")
    assert meta["chunks"] == 4 == len(entries)  # 3 + 3 + 3 + 1 days, one run-log entry each


def stored_days(db: Path) -> tuple[dict[date, int], set[date]]:
    """Rows per stored day, and the days with a remembered digest."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = dict(con.execute('SELECT "settlementDate", count(*) FROM bmrs_costs GROUP BY 1').fetchall())
        digests = {d for (d,) in con.execute(f"SELECT day FROM {DIGESTS_TABLE} WHERE dataset = 'COSTS'").fetchall()}
        return rows, digests
    finally:
        con.close()


@pytest.mark.parametrize("point", ["duckdb:staged@4", "duckdb:merged-uncommitted@4"])
def test_a_sigkill_in_the_middle_of_a_long_range_leaves_whole_chunks_and_the_rerun_completes(platform_env, monkeypatch,
                                                                                          simulator, point):
    history_env(monkeypatch, simulator.url)
    db = platform_env
    env = dict(os.environ)

    def child(crash: str | None = None) -> subprocess.CompletedProcess:
        return run_range(env, DAYS[0].isoformat(), DAYS[-1].isoformat(), "COSTS", crash=crash)

    killed = child(point)
    assert killed.returncode == -9, killed.stderr[-2000:]  # SIGKILL inside the fourth chunk
    rows, digests = stored_days(db)
    assert rows == {d: 48 for d in DAYS[:9]}, "three whole chunks of three days, nothing of the fourth"
    assert digests == set(DAYS[:9]), "each committed day's digest was committed with it"
    requests_before = len(simulator.requests)
    again = child()
    assert again.returncode == 0, again.stderr[-2000:]
    rows, digests = stored_days(db)
    assert rows == {d: 48 for d in DAYS} and digests == set(DAYS)
    assert len(simulator.requests) - requests_before == 20
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute('SELECT count(*) - count(DISTINCT ("settlementDate", "settlementPeriod")) '
                           "FROM bmrs_costs").fetchone()[0] == 0
    finally:
        con.close()


@pytest.mark.slow
def test_a_sigkill_after_a_bigquery_chunk_merged_costs_a_parse_not_a_day(platform_env, monkeypatch, simulator,
                                                                         bq_emulator):
    """Killed after the fourth chunk's MERGE, before its digests were recorded: the MERGEs are whole, the
    re-run parses the fourth chunk's days again (no digest) and finds them unchanged."""
    history_env(monkeypatch, simulator.url)
    dataset = f"kill_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "BMRS_WAREHOUSE": "bigquery", "BMRS_BQ_PROJECT": bq_emulator.project,
           "BMRS_BQ_DATASET": dataset, "BIGQUERY_EMULATOR_HOST": bq_emulator.url, "BMRS_BQ_STAGING_STALE_S": "0"}
    wh = BigQueryWarehouse(project=bq_emulator.project, dataset=dataset, client_factory=bq_emulator.client)

    def child(crash: str | None = None) -> subprocess.CompletedProcess:
        return run_range(env, DAYS[0].isoformat(), DAYS[-1].isoformat(), "COSTS", bigquery_project=bq_emulator.project,
                         crash=crash)

    killed = child("bigquery:merged@4")
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert wh.count_by_day(COSTS, DAYS[0], DAYS[-1]) == {d: 48 for d in DAYS[:12]}, "four whole chunks"
    assert set(wh.remembered_digests(COSTS, DAYS)) == set(DAYS[:9]), "the fourth chunk's digests were never recorded"
    again = child()
    assert again.returncode == 0, again.stderr[-2000:]
    assert wh.count_by_day(COSTS, DAYS[0], DAYS[-1]) == {d: 48 for d in DAYS}
    assert wh.key_counts(COSTS, DAYS[0], DAYS[-1]) == (20 * 48, 0)
    assert set(wh.remembered_digests(COSTS, DAYS)) == set(DAYS)
    assert wh.staging_tables() == [], "the re-run removed the killed run's staging table"
