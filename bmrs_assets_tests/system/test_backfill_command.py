"""``python -m bmrs_assets backfill --wait`` against a real ``dagster-daemon``: the backfill it submits
is run by the daemon's backfill loop, through the run queue and the ``elexon_api`` pool, in runs of
``BMRS_BACKFILL_MAX_DAYS_PER_RUN`` days; ``--wait`` follows it to the end and exits by Dagster's own
accounting of it.

Two backfills share one daemon, so the daemon's 30-second backfill loop is waited for once: five
clean COSTS days (three runs) and two days of which the simulator never answers one (503 forever, no
retries) - that run fails and the command exits 1 naming the day. Both commands are started, and
have submitted their backfill, before the daemon starts, so its first iteration launches every run.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.execution.backfill import BulkActionStatus

from bmrs_assets.core.processes import start_process_group, stop_process_group
from bmrs_assets.definitions import warehouse_resource
from bmrs_assets.defs.elexon.assets import RANGE_END, RANGE_START
from bmrs_assets.elexon.datasets import COSTS
from bmrs_assets.simulator.faults import FaultPlan
from bmrs_assets.simulator.server import SimulatorConfig, start_in_thread
from bmrs_assets_tests.conftest import REPO
from bmrs_assets_tests.support.dagster_ui import start_daemon, tail

CLEAN = ("2025-12-01", "2025-12-05")
BROKEN = ("2025-12-09", "2025-12-10")
OUTAGE = "2025-12-10"
ID = re.compile(r"^backfill id: ([a-z]+)$", re.M)
TIMEOUT_S = 300


@dataclass
class Finished:
    """One ``backfill --wait`` command, ended: its exit code, output and backfill id."""

    code: int
    output: str
    backfill_id: str

    def progress(self) -> list[str]:
        return [line for line in self.output.splitlines() if line.startswith("[")]


@dataclass
class Launched:
    home: Path
    env: dict[str, str]
    clean: Finished
    broken: Finished


def _command(first: str, last: str) -> list[str]:
    return [sys.executable, "-m", "bmrs_assets", "backfill", "--dataset", "COSTS", "--from", first, "--to", last,
            "--wait", "--poll", "1"]


def _until(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


@pytest.fixture(scope="module")
def launched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launched]:
    tmp = tmp_path_factory.mktemp("backfill_command")
    home = tmp / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "instance" / "dagster.yaml", home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)):
        pass  # storage created once, before several processes would race to migrate it
    sim = start_in_thread(SimulatorConfig(faults=FaultPlan(outage={("COSTS", OUTAGE)})))
    env = {**os.environ, "DAGSTER_HOME": str(home), "BMRS_API_BASE_URL": sim.url,
           "BMRS_DUCKDB_PATH": str(tmp / "bmrs.duckdb"), "BMRS_START_DATE": "2024-01-01",
           "BMRS_RATE_LIMIT_PER_S": "50", "BMRS_RATE_LIMIT_FILE": str(tmp / "rate_limit"),
           "BMRS_BACKFILL_MAX_DAYS_PER_RUN": "2", "BMRS_API_MAX_RETRIES": "0", "BMRS_API_BACKOFF_S": "0.05",
           "BMRS_AUTOMATION": "off", "BMRS_IRIS_SENSOR": "off", "PYTHONUNBUFFERED": "1"}
    logs = {name: tmp / f"{name}.log" for name in ("clean", "broken", "daemon")}
    procs: dict[str, subprocess.Popen] = {}
    try:
        procs["clean"] = start_process_group(_command(*CLEAN), env, logs["clean"], cwd=REPO)
        procs["broken"] = start_process_group(_command(*BROKEN), env, logs["broken"], cwd=REPO)
        _until(lambda: all(ID.search(logs[n].read_text()) or procs[n].poll() is not None for n in ("clean", "broken")),
               120, "the commands did not submit their backfills")
        procs["daemon"] = start_daemon(env, logs["daemon"])
        finished = {}
        for name in ("clean", "broken"):
            try:
                code = procs[name].wait(timeout=TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pytest.fail(f"{name} backfill still waiting after {TIMEOUT_S} s\n{tail(logs[name])}\n{tail(logs['daemon'])}")
            output = logs[name].read_text()
            match = ID.search(output)
            assert match, output
            finished[name] = Finished(code, output, match[1])
        yield Launched(home, env, finished["clean"], finished["broken"])
    finally:
        for proc in reversed(procs.values()):
            stop_process_group(proc)
        sim.shutdown()
        sim.server_close()


@pytest.mark.slow
def test_backfill_wait_succeeds_in_runs_of_the_policy(launched, monkeypatch):
    clean = launched.clean
    assert clean.code == 0, clean.output
    assert "bmrs/costs: 3 run(s) of up to 2 day(s)" in clean.output
    assert f"UI: http://127.0.0.1:3000/runs/b/{clean.backfill_id}" in clean.output
    assert "] 5/5 done, 0 failed, 0 remaining" in clean.progress()[-1], clean.output
    states = [(line.split(" | ")[0], line.split(" | ")[-1]) for line in clean.progress()]
    assert all(a != b for a, b in itertools.pairwise(states))  # off a terminal: a line per change
    assert clean.output.rstrip().endswith(f"backfill {clean.backfill_id} succeeded: 5 of 5 partitions materialized")

    with dg.DagsterInstance.from_config(str(launched.home)) as instance:
        backfill = instance.get_backfill(clean.backfill_id)
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": clean.backfill_id}))
    assert backfill is not None and backfill.status == BulkActionStatus.COMPLETED_SUCCESS
    assert len(runs) == 3 and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
    assert sorted((r.tags[RANGE_START], r.tags[RANGE_END]) for r in runs) == [
        ("2025-12-01", "2025-12-02"), ("2025-12-03", "2025-12-04"), ("2025-12-05", "2025-12-05")]
    with dg.DagsterInstance.from_config(str(launched.home)) as instance:  # each went through the run queue
        assert all(instance.all_logs(r.run_id, of_type=dg.DagsterEventType.RUN_ENQUEUED) for r in runs)

    monkeypatch.setenv("BMRS_DUCKDB_PATH", launched.env["BMRS_DUCKDB_PATH"])
    counts = warehouse_resource(resolved=True).get().count_by_day(COSTS, date(2025, 12, 1), date(2025, 12, 5))
    assert counts == {date(2025, 12, d): 48 for d in range(1, 6)}


@pytest.mark.slow
def test_backfill_wait_fails_naming_the_failed_partition(launched):
    broken = launched.broken
    assert broken.code == 1, broken.output
    assert "bmrs/costs: 1 run(s) of up to 2 day(s)" in broken.output
    last = broken.progress()[-1]
    assert "failed" in last and " 0 failed" not in last and "COMPLETED_FAILED" in last, broken.output
    failed = [line for line in broken.output.splitlines() if line.startswith("  failed bmrs/costs: ")]
    assert len(failed) == 1 and OUTAGE in failed[0], broken.output
    assert re.search(rf"  run [0-9a-f-]+ \(2025-12-09\.\.\.{OUTAGE}\) FAILURE", broken.output), broken.output

    with dg.DagsterInstance.from_config(str(launched.home)) as instance:
        backfill = instance.get_backfill(broken.backfill_id)
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": broken.backfill_id}))
    assert backfill is not None and backfill.status == BulkActionStatus.COMPLETED_FAILED
    assert [r.status for r in runs] == [dg.DagsterRunStatus.FAILURE]


@pytest.mark.slow
def test_plan_measures_the_runs_the_daemon_made(launched):
    """``--plan`` after the backfills: COSTS from its three clean runs (the failed run recorded no run
    metadata), FREQ from the registry; nothing more is launched."""
    planned = subprocess.run([sys.executable, "-m", "bmrs_assets", "backfill", "--plan", "--dataset", "COSTS",
                              "--dataset", "FREQ", "--from", "2025-11-01", "--to", "2025-11-30"],
                             env=launched.env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert planned.returncode == 0, planned.stderr
    assert "COSTS: rows: the last 3 runs (5 days), 48/day" in planned.stdout, planned.stdout
    assert "FREQ: rows: registry rows_per_day (5,760/day), no run recorded" in planned.stdout
    costs = next(line.split() for line in planned.stdout.splitlines() if line.startswith("COSTS "))
    assert costs[1:5] == ["30", "15", "2", "30"]  # 30 days in runs of 2, one request a day
    with dg.DagsterInstance.from_config(str(launched.home)) as instance:  # (the dashboard's sensor may add its runs)
        assert len(instance.get_backfills()) == 2
        assert len([r for r in instance.get_runs() if "dagster/backfill" in r.tags]) == 4
