"""The parent side of a measurement: one configuration, one fresh child process, its own figures.

Each child gets its own work directory and DuckDB file (and, for the platform, its own Dagster
instance with the instance YAML the project ships), so its wall time and peak RSS (``ru_maxrss``
from ``wait4``) are that configuration's own.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Run:
    scenario: str
    contender: str
    rep: int  # -1: warm-up
    seconds: float
    peak_rss_mib: float
    process_seconds: float
    extra: dict = field(default_factory=dict)
    cpu_seconds: float | None = None  # the child's user + system CPU (``wait4``), its descendants waited for


@dataclass
class Exit:
    """How a child process ended, measured from outside: its output, peak RSS, wall and CPU seconds."""
    code: int
    stdout: str
    peak_rss_mib: float
    wall: float
    cpu: float


def spawn(argv: list[str], env: dict[str, str], cwd: str | Path, log: Path) -> Exit:
    """Run ``argv`` to its end; wall from spawn to exit, ``ru_maxrss`` and user + system CPU from ``wait4``.

    Its stderr is appended to ``log``.
    """
    started = time.perf_counter()
    with open(log, "ab") as err:
        err.write(f"\n$ {' '.join(argv)}  (in {cwd})\n".encode())
        err.flush()
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, env=env, cwd=cwd)
        out = b""
        assert proc.stdout is not None
        for chunk in iter(lambda: proc.stdout.read(65536), b""):
            out += chunk
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    return Exit(proc.returncode, out.decode(errors="replace"), usage.ru_maxrss / 1024.0, wall,
                usage.ru_utime + usage.ru_stime)


def with_root(env: dict[str, str], root: Path = ROOT) -> dict[str, str]:
    """``env`` with ``root`` first on ``PYTHONPATH``: the code a child runs is that tree's."""
    return {**env, "PYTHONPATH": os.pathsep.join([str(root), *filter(None, [env.get("PYTHONPATH")])])}


def run_child(spec: dict, env: dict[str, str], log: Path) -> tuple[dict, Exit]:
    """Run one configuration in a child (``python -m bench --child SPEC``); its result and how it ended.

    The child runs in its work directory, so the repository goes on its ``PYTHONPATH``: ``bench``
    is not an installed package (only ``bmrs_assets`` is).
    """
    env = with_root(env)
    first = env.pop("BENCH_PYTHONPATH_FIRST", None)  # e.g. another revision's bmrs_assets (bench/cuts.py)
    if first:
        env["PYTHONPATH"] = os.pathsep.join([first, env["PYTHONPATH"]])
    ended = spawn([sys.executable, "-m", "bench", "--child", json.dumps(spec)], env, spec["work"], log)
    if ended.code != 0:
        raise RuntimeError(f"{spec['kind']} child failed (exit {ended.code}); see {log}")
    line = [ln for ln in ended.stdout.splitlines() if ln.startswith("BENCH-RESULT ")][-1]
    return json.loads(line[len("BENCH-RESULT "):]), ended


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args, self.work = args, work
        self.runs: list[Run] = []
        self.n = 0
        self.log = work / "children.log"

    def fresh(self, name: str) -> Path:
        self.n += 1
        d = self.work / f"{self.n:03d}-{name}"
        d.mkdir()
        return d

    def platform_env(self, d: Path, url: str, rate: float, db: Path, in_flight: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BMRS_")}
        env.update(BMRS_API_BASE_URL=url, BMRS_DUCKDB_PATH=str(db), BMRS_RATE_LIMIT_PER_S=str(rate),
                   BMRS_RATE_LIMIT_FILE=str(d / "rate"), BMRS_API_IN_FLIGHT=str(in_flight),
                   BMRS_START_DATE="2025-01-01", DAGSTER_HOME=str(d / "dagster_home"))
        (d / "dagster_home").mkdir(exist_ok=True)
        # the instance the project ships (make demo/ui): run queue, elexon_api pool, no telemetry
        (d / "dagster_home" / "dagster.yaml").write_text((ROOT / "deploy" / "instance" / "dagster.yaml").read_text())
        return env

    def measure(self, scenario: str, contender: str, rep: int, spec: dict, env: dict[str, str]) -> Run:
        result, ended = run_child(spec, env, self.log)
        return self.record(Run(scenario, contender, rep, result.pop("seconds"), round(ended.peak_rss_mib, 1),
                               round(ended.wall, 3), result, round(ended.cpu, 3)))

    def record(self, run: Run) -> Run:
        """Keep ``run`` and print its line."""
        self.runs.append(run)
        result = run.extra
        tag = "warm-up" if run.rep < 0 else f"rep {run.rep + 1}"
        print(f"  {run.scenario:<14} {run.contender:<22} {tag:<8} {run.seconds:8.2f} s  peak RSS {run.peak_rss_mib:7.1f} MiB  "
              f"{json.dumps(result)}", flush=True)
        return run

    def platform(self, scenario: str, rep: int, url: str, dataset: str, first: date, last: date, rate: float,
                 per_partition: bool = False, db: Path | None = None, contender: str = "platform",
                 in_flight: int = 1, env: dict[str, str] | None = None) -> Path:
        """``env``: set on top of the platform's (``BENCH_PYTHONPATH_FIRST``: a directory put before this tree)."""
        d = self.fresh(f"{scenario}-{contender}")
        db = db or d / "warehouse.duckdb"
        spec = {"kind": "platform", "work": str(d), "db": str(db), "dataset": dataset, "first": first.isoformat(),
                "last": last.isoformat(), "per_partition": per_partition}
        self.measure(scenario, contender, rep, spec, {**self.platform_env(d, url, rate, db, in_flight), **(env or {})})
        return db

    def floor(self, scenario: str, rep: int, url: str, dataset: str, first: date, last: date, rate: float,
              in_flight: int = 1, contender: str = "floor", processes: int = 0) -> Run:
        d = self.fresh(f"{scenario}-{contender}")
        spec = {"kind": "floor", "work": str(d), "db": str(d / "floor.duckdb"), "dataset": dataset, "url": url,
                "first": first.isoformat(), "last": last.isoformat(), "rate": rate, "in_flight": in_flight,
                "processes": processes}
        return self.measure(scenario, contender, rep, spec, dict(os.environ))

    def dlt(self, scenario: str, rep: int, url: str, dataset: str, first: date, last: date, rate: float) -> Path:
        d = self.fresh(f"{scenario}-dlt")
        spec = {"kind": "dlt", "work": str(d), "db": str(d / "dlt.duckdb"), "dataset": dataset, "url": url,
                "first": first.isoformat(), "last": last.isoformat(), "rate": rate, "format": "parquet"}
        env = dict(os.environ, RUNTIME__LOG_LEVEL="WARNING", DLT_DATA_DIR=str(d / "dlt_data"))
        self.measure(scenario, "dlt-parquet", rep, spec, env)
        return Path(spec["db"])
