"""A crash frees what it held: a run killed inside its ``elexon_api`` step does not block the next.

Real ``python -m bmrs_assets run`` processes on one ``DAGSTER_HOME`` (the local instance file: pool
limit 1, op granularity) against the simulator, slowed to 1 s a response so a step stays inside the
pool while the test acts. Figures are printed (``-s``); docs/reliability.md describes the behaviour.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.events import DagsterEventType

from bmrs_assets.cli.reaping import WORKER_TAG
from bmrs_assets.core.processes import start_process_group, stop_process_group
from bmrs_assets.simulator.server import SimulatorConfig
from bmrs_assets_tests.conftest import REPO
from bmrs_assets_tests.support.dagster_ui import start_daemon, tail

POOL = "elexon_api"
LONG = ("2025-11-01", "2025-11-20")  # 20 requests of 1 s: the step holds the slot for 20 s or more
SHORT = ("2025-11-21", "2025-11-21")  # the next run: one request
BLOCKED = "Step blocked by limit"


@pytest.fixture
def sim_config() -> SimulatorConfig:
    return SimulatorConfig(latency_s=1.0)


@pytest.fixture
def home(platform_env: Path, tmp_path: Path) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "instance" / "dagster.yaml", home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)):
        pass  # storage created once, before two processes would race to migrate it
    return home


class Runs:
    """CLI runs on one instance, each its own process group; every one stopped at the end."""

    def __init__(self, home: Path, logs: Path) -> None:
        self.home, self.logs = home, logs
        self.env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONUNBUFFERED": "1"}
        self.procs: list[subprocess.Popen] = []

    def start(self, days: tuple[str, str]) -> tuple[subprocess.Popen, float]:
        log = self.logs / f"run{len(self.procs)}.log"
        proc = start_process_group([sys.executable, "-m", "bmrs_assets", "run", "--dataset", "COSTS",
                                    "--from", days[0], "--to", days[1]], self.env, log, cwd=REPO)
        self.procs.append(proc)
        return proc, time.monotonic()

    def log(self, proc: subprocess.Popen) -> str:
        return tail(self.logs / f"run{self.procs.index(proc)}.log")

    def run_of(self, instance: dg.DagsterInstance, proc: subprocess.Popen) -> dg.DagsterRun | None:
        """The run whose worker tag names ``proc``."""
        for run in instance.get_runs():
            if run.tags.get(WORKER_TAG, "").split(":")[-2:-1] == [str(proc.pid)]:
                return run
        return None

    def wait_for(self, proc: subprocess.Popen, seen: Callable[[dg.DagsterInstance, str], bool],
                 timeout: float = 120) -> tuple[str, float]:
        """Poll the instance until ``seen(instance, run_id)`` holds for ``proc``'s run; the id and when."""
        deadline = time.monotonic() + timeout
        while True:
            with dg.DagsterInstance.from_config(str(self.home)) as instance:
                run = self.run_of(instance, proc)
                if run is not None and seen(instance, run.run_id):
                    return run.run_id, time.monotonic()
            assert proc.poll() is None, self.log(proc)
            assert time.monotonic() < deadline, self.log(proc)
            time.sleep(0.1)

    def stop_all(self) -> None:
        for proc in self.procs:
            stop_process_group(proc, timeout=10)


@pytest.fixture
def runs(home: Path, tmp_path: Path) -> Iterator[Runs]:
    r = Runs(home, tmp_path)
    try:
        yield r
    finally:
        r.stop_all()


def step_started(instance: dg.DagsterInstance, run_id: str) -> bool:
    return bool(instance.all_logs(run_id, of_type=DagsterEventType.STEP_START))


def blocked(instance: dg.DagsterInstance, run_id: str) -> bool:
    return any(BLOCKED in (e.message or "") for e in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT))


def claimed(instance: dg.DagsterInstance) -> list[str]:
    return [s.run_id for s in instance.event_log_storage.get_concurrency_info(POOL).claimed_slots]


@pytest.mark.slow
def test_a_sigkilled_run_frees_its_slot_for_the_next_run_at_once(runs: Runs):
    first, launched = runs.start(LONG)
    killed_id, started = runs.wait_for(first, step_started)
    baseline = started - launched  # launch to STEP_START with the pool free: loading the code location
    os.killpg(first.pid, signal.SIGKILL)
    assert first.wait(timeout=10) == -signal.SIGKILL
    with dg.DagsterInstance.from_config(str(runs.home)) as instance:
        assert claimed(instance) == [killed_id], "the killed run left its slot claimed (what is being fixed)"
        assert instance.get_run_by_id(killed_id).status == dg.DagsterRunStatus.STARTED

    second, launched = runs.start(SHORT)
    second_id, started = runs.wait_for(second, step_started)
    delay = started - launched
    assert second.wait(timeout=120) == 0, runs.log(second)
    print(f"\nlaunch to STEP_START: first run (pool free) {baseline:.1f} s, next run after the SIGKILL {delay:.1f} s")
    with dg.DagsterInstance.from_config(str(runs.home)) as instance:
        killed = instance.get_run_record_by_id(killed_id)
        assert killed.dagster_run.status == dg.DagsterRunStatus.FAILURE
        failure = instance.all_logs(killed_id, of_type=DagsterEventType.RUN_FAILURE)[-1]
        assert f"Run worker process {first.pid} on " in failure.message and "is gone" in failure.message
        assert not blocked(instance, second_id), "the next run never waited for the pool"
        assert instance.get_run_by_id(second_id).status == dg.DagsterRunStatus.SUCCESS
        assert claimed(instance) == [] and not instance.event_log_storage.get_concurrency_info(POOL).pending_steps
    assert f"reaped run {killed_id}: its process {first.pid} on " in runs.log(second)
    assert delay < baseline + 10, "the next run's step started within seconds of what loading takes"


@pytest.mark.slow
def test_sigterm_ends_a_run_in_its_step_and_one_waiting_for_the_pool_promptly(runs: Runs):
    holder, _ = runs.start(LONG)
    holder_id, _ = runs.wait_for(holder, step_started)
    waiter, _ = runs.start(SHORT)
    waiter_id, _ = runs.wait_for(waiter, blocked)  # live holder: the waiter must wait, and is left alone
    cpu = cpu_share(waiter.pid, 2.0)

    os.killpg(waiter.pid, signal.SIGTERM)
    sent = time.monotonic()
    waiter.wait(timeout=30)
    waiter_exit = time.monotonic() - sent
    os.killpg(holder.pid, signal.SIGTERM)
    sent = time.monotonic()
    holder.wait(timeout=30)
    holder_exit = time.monotonic() - sent
    print(f"\nblocked run: {cpu:.0%} of a core while waiting; exit after SIGTERM {waiter_exit:.2f} s; "
          f"run in its step: exit after SIGTERM {holder_exit:.2f} s")
    assert "interrupted while waiting for a pool slot" in runs.log(waiter)
    assert waiter_exit < 5 and holder_exit < 15 and cpu < 0.3
    with dg.DagsterInstance.from_config(str(runs.home)) as instance:
        for run_id in (waiter_id, holder_id):
            assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
        info = instance.event_log_storage.get_concurrency_info(POOL)
        assert info.claimed_slots == [] and info.pending_steps == []


def cpu_share(pid: int, seconds: float) -> float:
    """The share of one core ``pid`` used over the next ``seconds`` (user + system, from /proc)."""
    def ticks() -> int:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])

    before = ticks()
    time.sleep(seconds)  # a measuring interval, not a wait for something to happen
    return (ticks() - before) / os.sysconf("SC_CLK_TCK") / seconds


def run_worker_pids(instance: dg.DagsterInstance, run_id: str) -> set[int]:
    """The run worker's and its step processes' PIDs, as the run's events record them."""
    return {e.dagster_event.pid for e in instance.all_logs(run_id) if e.dagster_event and e.dagster_event.pid}


@pytest.mark.slow
def test_a_sigkilled_daemon_run_is_failed_and_its_slot_freed_within_seconds(home: Path, tmp_path: Path):
    """The daemon path: the code server reports the dead worker's run failed, run monitoring frees the slot.
    (That the next run then starts at once is the CLI test's part: a free slot is all it needs.)"""
    env = {**os.environ, "DAGSTER_HOME": str(home), "BMRS_AUTOMATION": "off", "PYTHONUNBUFFERED": "1"}
    daemon = start_daemon(env, tmp_path / "daemon.log")
    try:
        def backfill(days: tuple[str, str]) -> str:
            out = subprocess.run([sys.executable, "-m", "bmrs_assets", "backfill", "--dataset", "COSTS",
                                  "--from", days[0], "--to", days[1]], env=env, cwd=REPO, capture_output=True,
                                 text=True, timeout=120, check=True)
            return out.stdout

        def wait(check: Callable[[dg.DagsterInstance], object], timeout: float = 120) -> tuple[object, float]:
            deadline = time.monotonic() + timeout
            while True:
                with dg.DagsterInstance.from_config(str(home)) as instance:
                    found = check(instance)
                if found:
                    return found, time.monotonic()
                assert daemon.poll() is None and time.monotonic() < deadline, tail(tmp_path / "daemon.log")
                time.sleep(0.2)

        def started_run(exclude: set[str]) -> Callable[[dg.DagsterInstance], str | None]:
            def check(instance: dg.DagsterInstance) -> str | None:
                for run in instance.get_runs():
                    if run.run_id not in exclude and step_started(instance, run.run_id):
                        return run.run_id
                return None
            return check

        backfill(LONG)
        launched = time.monotonic()
        killed_id, started = wait(started_run(set()), timeout=180)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            pids = run_worker_pids(instance, killed_id)
            assert claimed(instance) == [killed_id]
        for pid in pids:  # the run worker and its step process; the daemon and code server live on
            os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
        _, failed_at = wait(lambda i: i.get_run_by_id(killed_id).status == dg.DagsterRunStatus.FAILURE)
        _, freed_at = wait(lambda i: not claimed(i))
        print(f"\nbackfill submitted to STEP_START {started - launched:.1f} s; its run SIGKILLed (pids {sorted(pids)}): "
              f"FAILURE after {failed_at - killed_at:.1f} s, slot free after {freed_at - killed_at:.1f} s")
        assert freed_at - killed_at < 20  # run monitoring: 5 s after the run's end, checked every 5 s
        with dg.DagsterInstance.from_config(str(home)) as instance:
            assert not instance.event_log_storage.get_concurrency_info(POOL).pending_steps
    finally:
        stop_process_group(daemon, timeout=20)
