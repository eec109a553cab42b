"""Nothing lost, nothing doubled: faults, crashes, concurrent writers and the rate limit.

Figures these tests measure are printed (``-s``); what each test does is in docs/reliability.md.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from bmrs_assets.cli.runs import materialize_range
from bmrs_assets.elexon.datasets import REGISTRY
from bmrs_assets.simulator.faults import FaultPlan
from bmrs_assets.simulator.server import SimulatorConfig, start_in_thread
from bmrs_assets_tests.support.helpers import failure_text, metadata_of
from bmrs_assets_tests.support.range_child import run_range

FIRST = date(2025, 11, 1)
LAST = FIRST + timedelta(days=29)


def key_hashes(db: Path, code: str) -> set[tuple]:
    ds = REGISTRY[code]
    cols = ", ".join(f'"{k}"' for k in (*ds.key, "_hash_key"))
    con = duckdb.connect(str(db), read_only=True)
    try:
        return set(con.execute(f"SELECT {cols} FROM {ds.table}").fetchall())
    finally:
        con.close()




def fast_client(monkeypatch, tmp_path):
    monkeypatch.setenv("BMRS_API_BACKOFF_S", "0.02")
    monkeypatch.setenv("BMRS_API_TIMEOUT_S", "1.0")
    monkeypatch.setenv("BMRS_API_MAX_RETRIES", "8")
    monkeypatch.setenv("BMRS_RATE_LIMIT_PER_S", "200")
    monkeypatch.setenv("BMRS_RATE_LIMIT_FILE", str(tmp_path / "rate"))
    monkeypatch.setenv("BMRS_START_DATE", "2024-01-01")


@pytest.mark.slow
def test_a_30_day_backfill_with_20_percent_faults_equals_a_fault_free_one(tmp_path, monkeypatch):
    fast_client(monkeypatch, tmp_path)
    codes = ["BOALF", "COSTS", "MID"]
    plan = FaultPlan(rate=0.2, seed=7, slow_s=4.0, retry_after_s=1)
    monkeypatch.setenv("BMRS_API_TIMEOUT_S", "3.0")  # a 'slow' fault outlasts it; a loaded machine does not
    faulty = start_in_thread(SimulatorConfig(faults=plan))
    clean = start_in_thread(SimulatorConfig())
    try:
        results = {}
        for name, server in (("faulty", faulty), ("clean", clean)):
            monkeypatch.setenv("BMRS_API_BASE_URL", server.url)
            monkeypatch.setenv("BMRS_DUCKDB_PATH", str(tmp_path / f"{name}.duckdb"))
            with dg.DagsterInstance.ephemeral() as instance:
                result, _ = materialize_range(FIRST, LAST, codes, instance=instance)
            assert result.success, name
            results[name] = result
    finally:
        faulty.shutdown()
        clean.shutdown()
    injected = dict(plan.injected)
    print(f"\nfaults injected: {sum(injected.values())} of {len(faulty.requests)} requests: {injected}")
    assert sum(injected.values()) >= 20 and set(injected) == set(plan.kinds)
    for code in codes:
        assert key_hashes(tmp_path / "faulty.duckdb", code) == key_hashes(tmp_path / "clean.duckdb", code), code
    rows = {c: len(key_hashes(tmp_path / "clean.duckdb", c)) for c in codes}
    print(f"rows compared (key + content hash): {rows}")
    assert rows["COSTS"] == 30 * 48 and rows["MID"] == 2 * rows["COSTS"]  # November 2025: no clock change
    retries = {c: metadata_of(results["faulty"], c)["api_retries"] for c in codes}
    splits = {c: metadata_of(results["faulty"], c)["api_window_splits"] for c in codes}
    assert sum(retries.values()) >= sum(injected.values()) - sum(splits.values())  # every fault cost a retry or a split
    print(f"retries recorded in metadata: {retries}; window splits: {splits}")


def test_a_day_whose_faults_outlast_the_retry_budget_fails_with_the_body(tmp_path, monkeypatch):
    fast_client(monkeypatch, tmp_path)
    monkeypatch.setenv("BMRS_API_MAX_RETRIES", "2")
    server = start_in_thread(SimulatorConfig(faults=FaultPlan(outage={("COSTS", "2025-11-02")})))
    try:
        monkeypatch.setenv("BMRS_API_BASE_URL", server.url)
        monkeypatch.setenv("BMRS_DUCKDB_PATH", str(tmp_path / "w.duckdb"))
        with dg.DagsterInstance.ephemeral() as instance:
            ok, _ = materialize_range(FIRST, FIRST, ["COSTS"], instance=instance)
            bad, _ = materialize_range(FIRST, date(2025, 11, 3), ["COSTS"], instance=instance)
    finally:
        server.shutdown()
    assert ok.success and not bad.success
    text = failure_text(bad)
    assert "COSTS partition 2025-11-02" in text and "gave up after 3 attempts" in text
    assert "simulated outage: this day never answers" in text
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    days = con.execute('SELECT DISTINCT "settlementDate" FROM bmrs_costs ORDER BY 1').fetchall()
    con.close()
    assert days == [(FIRST,), (date(2025, 11, 3),)], "the failed day costs that day only, not the range"


@pytest.mark.slow
@pytest.mark.parametrize("point", ["duckdb:staged", "duckdb:merged-uncommitted"])
def test_a_killed_duckdb_write_leaves_the_table_before_or_after(tmp_path, monkeypatch, point):
    fast_client(monkeypatch, tmp_path)
    config = SimulatorConfig()
    server = start_in_thread(config)
    db = tmp_path / "w.duckdb"
    env = {**os.environ, "BMRS_API_BASE_URL": server.url, "BMRS_DUCKDB_PATH": str(db), "BMRS_RATE_LIMIT_PER_S": "200",
           "BMRS_RATE_LIMIT_FILE": str(tmp_path / "rate"), "BMRS_START_DATE": "2024-01-01"}
    try:
        assert run_range(env, "2025-11-01", "2025-11-02", "COSTS").returncode == 0
        before = key_hashes(db, "COSTS")
        config.run = 1  # a later settlement run revises every price
        crashed = run_range(env, "2025-11-01", "2025-11-03", "COSTS", crash=point)
        assert crashed.returncode == -9, crashed.stderr[-2000:]  # SIGKILL, mid-write
        assert key_hashes(db, "COSTS") == before, "the table is as it was before the run"
        again = run_range(env, "2025-11-01", "2025-11-03", "COSTS")
        assert again.returncode == 0, again.stderr[-2000:]
    finally:
        server.shutdown()
    after = key_hashes(db, "COSTS")
    assert len(after) == 3 * 48 and not (after & before), "every row revised, none duplicated"
    assert not list(tmp_path.glob("w.duckdb.wal")) or db.exists()


def _serve_in_own_process(conn) -> None:
    """A simulator in a process of its own; sends its URL, then on request its arrival times, and stops."""
    server = start_in_thread(SimulatorConfig())
    conn.send(server.url)
    conn.recv()
    server.shutdown()
    conn.send(list(server.request_times))


class SimulatorOwnProcess:
    """The simulator in a separate (spawned) process, so that arrival times are stamped as requests come in.

    In a thread of the test process the simulator stamps a request only once it gets the GIL back from
    generating another response (a BOALF day is over a second of Python), which bunches arrivals that the
    clients spaced correctly; a process of its own measures what the platform sent."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve_in_own_process, args=(child,), daemon=True)
        self.proc.start()
        if not self._conn.poll(60):
            self.proc.kill()
            raise RuntimeError("simulator process did not start within 60 s")
        self.url: str = self._conn.recv()
        self.request_times: list[tuple[float, str, str | None]] = []

    def shutdown(self) -> None:
        """Stop the server, collect its arrival times, and end the process by its PID."""
        try:
            self._conn.send("stop")
            if self._conn.poll(30):
                self.request_times = self._conn.recv()
        finally:
            self.proc.join(timeout=10)
            if self.proc.is_alive():
                os.kill(self.proc.pid, 9)
                self.proc.join()


@pytest.mark.slow
@pytest.mark.alone  # measures request arrivals across processes: run alone, not beside other tests
def test_concurrent_runs_share_the_duckdb_file_and_the_rate_limit(tmp_path, monkeypatch):
    fast_client(monkeypatch, tmp_path)
    server = SimulatorOwnProcess()
    home = tmp_path / "home"
    home.mkdir()
    with dg.DagsterInstance.local_temp(str(home)):
        pass  # the instance exists (storage created) before runs start, as in any deployment
    db = tmp_path / "w.duckdb"
    rate = 4.0
    env = {**os.environ, "BMRS_API_BASE_URL": server.url, "BMRS_DUCKDB_PATH": str(db), "DAGSTER_HOME": str(home),
           "BMRS_API_TIMEOUT_S": "60",  # no faults here: five processes share one simulator
           "BMRS_RATE_LIMIT_PER_S": str(rate), "BMRS_RATE_LIMIT_FILE": str(tmp_path / "rate"),
           "BMRS_START_DATE": "2024-01-01"}
    jobs = [("BOALF", "2025-11-01", "2025-11-02"), ("BOALF", "2025-11-03", "2025-11-04"),
            ("COSTS", "2025-11-01", "2025-11-04"), ("MID", "2025-11-01", "2025-11-04"), ("FREQ", "2025-11-01", "2025-11-03")]
    try:
        started = time.monotonic()
        procs = [subprocess.Popen([sys.executable, "-m", "bmrs_assets", "run", "--dataset", c, "--from", a, "--to", b],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c, a, b in jobs]
        outputs = [p.communicate(timeout=300) for p in procs]
        elapsed = time.monotonic() - started
    finally:
        server.shutdown()
    assert [p.returncode for p in procs] == [0] * len(jobs), "\n".join(o[0][-800:] + o[1][-1500:] for o in outputs)
    con = duckdb.connect(str(db), read_only=True)
    counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("bmrs_costs", "bmrs_mid", "bmrs_freq")}
    boalf_days = con.execute('SELECT count(DISTINCT "settlementDate") FROM bmrs_boalf').fetchone()[0]
    con.close()
    assert counts == {"bmrs_costs": 4 * 48, "bmrs_mid": 4 * 96, "bmrs_freq": 3 * 5760} and boalf_days == 4
    times = sorted(t for t, _, _ in server.request_times)
    busiest = max(sum(1 for u in times if t <= u < t + 2.0) for t in times)
    print(f"\n{len(jobs)} concurrent runs, {len(times)} API requests in {elapsed:.1f} s; busiest 2 s: {busiest} requests")
    # request starts are spaced 1/rate apart across the processes (exactly: see the limiter test below);
    # arrivals at the server jitter with load, so allow one extra in any 2-second window
    assert busiest <= 2 * rate + 1


LIMITER_SCRIPT = """
import sys, time
from bmrs_assets.elexon.client import RateLimiter
limiter = RateLimiter(20, state_path=sys.argv[1])
for _ in range(10):
    limiter.acquire()
    print(time.time(), flush=True)
"""


def test_the_shared_rate_limiter_spaces_requests_across_processes(tmp_path):
    procs = [subprocess.Popen([sys.executable, "-c", LIMITER_SCRIPT, str(tmp_path / "rate")], stdout=subprocess.PIPE,
                              text=True) for _ in range(3)]
    starts = sorted(float(line) for p in procs for line in p.communicate(timeout=60)[0].split())
    assert len(starts) == 30
    # slots are 50 ms apart across all three processes; a process may wake a little late from its
    # sleep on a loaded machine, never early: so no half second ever holds more than 10 (+1) starts
    busiest = max(sum(1 for u in starts if t <= u < t + 0.5) for t in starts)
    assert busiest <= 11, starts
    assert starts[-1] - starts[0] >= 29 * 0.05 - 0.01


@pytest.mark.slow
@pytest.mark.parametrize("point", ["bigquery:staged", "bigquery:merged"])
def test_a_killed_bigquery_write_leaves_the_table_before_or_after(tmp_path, monkeypatch, bq_emulator, point):
    import uuid

    fast_client(monkeypatch, tmp_path)
    config = SimulatorConfig()
    server = start_in_thread(config)
    dataset = f"crash_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "BMRS_API_BASE_URL": server.url, "BMRS_WAREHOUSE": "bigquery", "BMRS_BQ_PROJECT": bq_emulator.project,
           "BMRS_BQ_DATASET": dataset, "BIGQUERY_EMULATOR_HOST": bq_emulator.url, "BMRS_BQ_STAGING_STALE_S": "0",
           "BMRS_RATE_LIMIT_PER_S": "200", "BMRS_RATE_LIMIT_FILE": str(tmp_path / "rate"), "BMRS_START_DATE": "2024-01-01"}

    def child(first: str, last: str, dataset: str, crash: str | None = None) -> subprocess.CompletedProcess:
        return run_range(env, first, last, dataset, bigquery_project=bq_emulator.project, crash=crash)

    client = bq_emulator.client()

    def stored():
        table = f"`{bq_emulator.project}.{dataset}.bmrs_costs`"
        rows = client.query(f"SELECT settlementDate, settlementPeriod, _hash_key FROM {table}").result()
        return {(r["settlementDate"], r["settlementPeriod"], r["_hash_key"]) for r in rows}

    def staging():
        tables = client.list_tables(f"{bq_emulator.project}.{dataset}")
        return [t.table_id for t in tables if t.table_id.startswith("_bmrs_stage_")]

    try:
        first = child("2025-11-01", "2025-11-02", "COSTS")
        assert first.returncode == 0, first.stderr[-2000:]
        before = stored()
        config.run = 1
        crashed = child("2025-11-01", "2025-11-03", "COSTS", crash=point)
        assert crashed.returncode == -9, crashed.stderr[-2000:]
        now = stored()
        if point == "bigquery:staged":
            assert now == before, "killed before the MERGE: the table is as it was"
        else:
            assert len(now) == 3 * 48 and not (now & before), "killed after the MERGE: the table is as after the run"
        assert len(staging()) == 1, "the killed run left its staging table"
        again = child("2025-11-01", "2025-11-03", "COSTS")
        assert again.returncode == 0, again.stderr[-2000:]
        after = stored()
        assert len(after) == 3 * 48 and not (after & before)
        assert staging() == [], "the next run removed the stale staging table"
    finally:
        client.close()
        server.shutdown()
