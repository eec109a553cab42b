"""The production instance (``deploy/instance/dagster.production.yaml``) against a real PostgreSQL server.

A cluster is created for this module with Debian's PostgreSQL binaries (``.ci/run`` installs them; a
missing binary fails the tests, it does not skip them). Each test gets its own database and reaches it
as production does: over TCP on 127.0.0.1 with a password, every setting from ``DAGSTER_PG_*``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path

import dagster as dg
import psycopg2
import pytest
import yaml
from dagster._core.definitions.run_request import InstigatorType
from dagster._core.scheduler.instigation import TickStatus

from bmrs_assets.cli.runs import materialize_range
from bmrs_assets.core.processes import free_port, stop_process_group
from bmrs_assets.definitions import warehouse_resource
from bmrs_assets.elexon.datasets import COSTS, FREQ
from bmrs_assets_tests.conftest import REPO
from bmrs_assets_tests.support.dagster_ui import launch_backfill, start_daemon, start_webserver, tail
from bmrs_assets_tests.support.postgres_server import PostgresServer, find_bindir

PRODUCTION_YAML = REPO / "deploy" / "instance" / "dagster.production.yaml"
BIN = Path(sys.executable).parent
FIRST, LAST = date(2025, 12, 10), date(2025, 12, 12)
DAYS = ["2025-12-10", "2025-12-11", "2025-12-12"]
PG_USER = "dagster"

@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    bindir = find_bindir()
    if bindir is None:
        pytest.fail("PostgreSQL server programs (initdb, postgres, pg_ctl) not found on PATH or in "
                    "/usr/lib/postgresql/<version>/bin: install Debian's package (`apt-get install -y postgresql`; "
                    ".ci/run does it)", pytrace=False)
    server = PostgresServer(bindir).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_env(postgres: PostgresServer, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Mapping[str, str]:
    """A fresh database for this test, owned by a password role; ``DAGSTER_PG_*`` set in the environment."""
    env = postgres.create_database(f"dagster_{request.node.name.lower()[:50]}", PG_USER)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


@pytest.fixture
def prod_home(pg_env: Mapping[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A DAGSTER_HOME holding the production dagster.yaml, unchanged."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PRODUCTION_YAML, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def pg_query(env: Mapping[str, str], query: str, params: tuple = ()) -> list[tuple]:
    """Read Dagster's tables directly, as the production role over TCP."""
    conn = psycopg2.connect(host=env["DAGSTER_PG_HOST"], port=int(env["DAGSTER_PG_PORT"]), user=env["DAGSTER_PG_USER"],
                            password=env["DAGSTER_PG_PASSWORD"], dbname=env["DAGSTER_PG_DB"], connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall()
    finally:
        conn.close()


def test_production_yaml_loads_a_postgres_instance(prod_home, pg_env, monkeypatch):
    cfg = yaml.safe_load(PRODUCTION_YAML.read_text())
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        assert type(instance.run_storage).__module__.startswith("dagster_postgres.")
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert type(instance.run_launcher).__name__ == "DefaultRunLauncher"

        # the run queue with the limits written under `concurrency:`
        concurrency = instance.get_concurrency_config()
        queue = concurrency.run_queue_config
        assert queue is not None
        assert queue.max_concurrent_runs == cfg["concurrency"]["runs"]["max_concurrent_runs"] > 0
        assert queue.should_block_op_concurrency_limited_runs and queue.op_concurrency_slot_buffer == 0
        assert queue.max_user_code_failure_retries == cfg["run_coordinator"]["config"]["max_user_code_failure_retries"]
        # one step on the Elexon API at a time (API politeness), held per step
        assert concurrency.pool_config.default_pool_limit == 1
        assert concurrency.pool_config.pool_granularity.value == "op"

        monitoring = cfg["run_monitoring"]
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_start_timeout_seconds == monitoring["start_timeout_seconds"]
        assert instance.run_monitoring_cancel_timeout_seconds == monitoring["cancel_timeout_seconds"]
        assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] == \
            monitoring["free_slots_after_run_end_seconds"] > 0
        assert instance.run_monitoring_max_resume_run_attempts == 0  # the default launcher cannot resume
        assert instance.run_retries_enabled and instance.run_retries_max_retries == cfg["run_retries"]["max_retries"]
        assert not instance.run_retries_retry_on_asset_or_op_failure
        sensor_ticks = instance.get_tick_retention_settings(InstigatorType.SENSOR)
        assert sensor_ticks[TickStatus.SKIPPED] == cfg["retention"]["sensor"]["purge_after_days"]["skipped"] > 0
        assert sensor_ticks[TickStatus.FAILURE] == cfg["retention"]["sensor"]["purge_after_days"]["failure"] > 0
        assert instance.get_tick_retention_settings(InstigatorType.SCHEDULE)[TickStatus.SUCCESS] > 0
        assert not instance.get_settings("telemetry")["enabled"]
        # the daemons `dagster-daemon run` starts on this instance: queue, run monitoring, run retries
        assert {"QUEUED_RUN_COORDINATOR", "MONITORING", "EVENT_LOG_CONSUMER", "BACKFILL", "SENSOR"} <= set(
            instance.get_required_daemon_types())

    # Dagster created its schema in the database named by DAGSTER_PG_DB, as DAGSTER_PG_USER.
    tables = {t for (t,) in pg_query(pg_env, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                                             "AND tableowner = %s", (PG_USER,))}
    assert {"runs", "event_logs", "jobs", "job_ticks", "instigators", "bulk_actions", "concurrency_limits",
            "concurrency_slots", "daemon_heartbeats"} <= tables

    # Every connection setting comes from the environment: without the password the instance does not load.
    monkeypatch.delenv("DAGSTER_PG_PASSWORD")
    with pytest.raises(dg.DagsterInvalidConfigError, match="DAGSTER_PG_PASSWORD"):
        dg.DagsterInstance.get()


def test_range_run_is_recorded_in_postgres(prod_home, pg_env, platform_env):
    with dg.DagsterInstance.get() as instance:
        result, lines = materialize_range(FIRST, LAST, ["COSTS"], instance=instance)
        assert result.success
        run_id = result.run_id
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.SUCCESS
        costs = dg.AssetKey(["bmrs", "costs"])
        assert instance.get_materialized_partitions(costs) == set(DAYS)
        # an in-process run bypasses the run queue but not the pool: its step took the elexon_api slot,
        # which created the pool in PostgreSQL with the default limit, and gave it back
        pool = instance.event_log_storage.get_concurrency_info("elexon_api")
        assert pool.slot_count == 1 and pool.claimed_slots == []

    assert [(ln.day, ln.rows, ln.inserted) for ln in lines] == [(d, 48, 48) for d in DAYS]
    # ... stored in PostgreSQL, read back with a plain driver connection
    assert pg_query(pg_env, "SELECT status FROM runs WHERE run_id = %s", (run_id,)) == [("SUCCESS",)]
    materialized = pg_query(pg_env, "SELECT partition FROM event_logs WHERE run_id = %s AND "
                                    "dagster_event_type = 'ASSET_MATERIALIZATION' AND asset_key = %s ORDER BY partition",
                            (run_id, costs.to_string()))
    assert [p for (p,) in materialized] == DAYS
    # the blocking checks' results too (the recent-days gap check fails here by design: only 3 days are stored)
    checks = pg_query(pg_env, "SELECT check_name FROM asset_check_executions WHERE run_id = %s "
                              "AND execution_status = 'SUCCEEDED'", (run_id,))
    assert {"unique_natural_key", "complete_partition"} <= {c for (c,) in checks}
    # ... and the rows in the warehouse
    wh = warehouse_resource(resolved=True).get()
    assert wh.count_by_day(COSTS, FIRST, LAST) == {FIRST: 48, date(2025, 12, 11): 48, LAST: 48}


@pytest.mark.slow
def test_backfill_through_daemon_on_the_production_instance(prod_home, pg_env, platform_env, tmp_path):
    """The UI path on the production instance: ``dagster-webserver`` stores a partition backfill (GraphQL
    ``launchPartitionBackfill``, what the UI's dialog sends) in PostgreSQL; ``dagster-daemon run`` picks it up,
    queues its run, dequeues it under the run limits and runs it, the two dataset steps taking turns on the
    ``elexon_api`` pool (limit 1). Every process is stopped by its PID (process group).

    The daemon is started after the launch so its first backfill pass (every 30 s) finds the backfill at once;
    the test waits for the run, not for the backfill's own COMPLETED bookkeeping, which comes on a later pass
    (that is covered on the local instance by test_ui_backfill.py)."""
    env = {**os.environ, "BMRS_AUTOMATION": "off", "PYTHONUNBUFFERED": "1"}
    port = free_port()
    procs: list[subprocess.Popen] = []

    def log(name: str) -> str:
        return tail(tmp_path / f"{name}.log")

    try:
        procs.append(start_webserver(port, env, tmp_path / "webserver.log"))
        backfill_id = launch_backfill(port, DAYS, [["bmrs", "costs"], ["bmrs", "freq"]], "production instance backfill")
        # the webserver wrote the request to PostgreSQL; nothing runs until the daemon picks it up
        assert pg_query(pg_env, "SELECT status FROM bulk_actions WHERE key = %s", (backfill_id,)) == [("REQUESTED",)]

        daemon = start_daemon(env, tmp_path / "daemon.log")
        procs.append(daemon)
        deadline = time.monotonic() + 240
        run = None
        with dg.DagsterInstance.get() as instance:
            while time.monotonic() < deadline:
                runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
                if runs and all(r.is_finished for r in runs):
                    break
                assert daemon.poll() is None, log("daemon")
                time.sleep(1)
            assert len(runs) == 1, "a 3-day range fits one run of the datasets' days_per_run"
            run = runs[0]
            assert run.status == dg.DagsterRunStatus.SUCCESS, (run.status, log("daemon"))
            for key in (["bmrs", "costs"], ["bmrs", "freq"]):
                assert instance.get_materialized_partitions(dg.AssetKey(key)) == set(DAYS)
            # the pool was created in PostgreSQL with the default limit of 1, and its slot was given back
            pool = instance.event_log_storage.get_concurrency_info("elexon_api")
            assert pool.slot_count == 1
            assert pool.claimed_slots == [] and pool.pending_steps == []

        # The daemon's threads heartbeat into PostgreSQL: run queue, run monitoring, run retries, backfills.
        beats = {t for (t,) in pg_query(pg_env, "SELECT daemon_type FROM daemon_heartbeats")}
        assert {"QUEUED_RUN_COORDINATOR", "MONITORING", "EVENT_LOG_CONSUMER", "BACKFILL"} <= beats, beats
    finally:
        for proc in reversed(procs):
            stop_process_group(proc)

    events = pg_query(pg_env, "SELECT dagster_event_type, step_key, timestamp, event FROM event_logs "
                              "WHERE run_id = %s AND dagster_event_type IS NOT NULL ORDER BY id", (run.run_id,))
    types = [t for t, _, _, _ in events]
    # through the queue: enqueued at submission, launched (STARTING) by the run queue daemon, then started
    assert types.index("PIPELINE_ENQUEUED") < types.index("PIPELINE_STARTING") < types.index("PIPELINE_START")
    # both dataset steps ran, one after the other: the elexon_api pool lets one step hold the API at a time
    spans: dict[str, list] = {}
    for t, step, ts, _ in events:
        if step in ("bmrs__costs", "bmrs__freq") and t in ("STEP_START", "STEP_SUCCESS"):
            spans.setdefault(step, []).append(ts)
    assert set(spans) == {"bmrs__costs", "bmrs__freq"} and all(len(v) == 2 for v in spans.values()), spans
    (_, first_end), (second_start, _) = sorted(spans.values())
    assert first_end <= second_start, f"dataset steps overlapped: {spans}"
    if (os.cpu_count() or 1) >= 2:  # the multiprocess executor tried both at once, and the pool held one back
        assert any(t == "ENGINE_EVENT" and "blocked by limit for pool elexon_api" in body for t, _, _, body in events)

    wh = warehouse_resource(resolved=True).get()
    assert wh.count_by_day(COSTS, FIRST, LAST) == {FIRST: 48, date(2025, 12, 11): 48, LAST: 48}
    assert wh.count_by_day(FREQ, FIRST, LAST) == {FIRST: 5760, date(2025, 12, 11): 5760, LAST: 5760}
