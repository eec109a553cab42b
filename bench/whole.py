"""Whole-process scenarios: a run measured as a user starts it, and the code location's import.

* ``process``: from process start to exit, each in a fresh Dagster instance and DuckDB file.
  ``dagster asset materialize`` of one COSTS day (the shape of every 15-minute automation run),
  and ``python -m bmrs_assets run --from --to --dataset BOALF`` over the ``--days`` range (how a
  user runs a range in one process: ``dagster asset materialize --partition-range`` is refused for
  these assets, see docs/backfills.md), paired with the serial floor's own child, whose process
  wall time (spawn to exit, interpreter start and imports included) is the whole-process floor.
* ``import``: ``python -c "import bmrs_assets.definitions"`` of this tree and of a baseline
  revision (a temporary ``git worktree``), and ``python -c "import dagster"``, in turn, CPU seconds
  (user + system, ``wait4``) and wall.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

from bench.runner import ROOT, Bench, Exit, Run, run_child, spawn, with_root

CHECK_IMPORT = "import bmrs_assets.definitions, bmrs_assets; print(bmrs_assets.__file__)"
IMPORTS = {"current": "import bmrs_assets.definitions", "baseline": "import bmrs_assets.definitions",
           "dagster": "import dagster"}


def _rows(bench: Bench, d: Path, db: Path, table: str) -> int:
    result, _ = run_child({"kind": "count", "work": str(d), "db": str(db), "table": table}, dict(os.environ),
                          bench.log)
    return result["rows_in_table"]


def _whole(bench: Bench, scenario: str, contender: str, rep: int, argv: list[str], url: str, rate: float,
           table: str) -> Run:
    """One platform command from process start to exit in a fresh instance and warehouse; it must exit 0."""
    d = bench.fresh(f"{scenario}-{contender}")
    db = d / "warehouse.duckdb"
    logged = bench.log.stat().st_size if bench.log.exists() else 0
    ended = spawn(argv, with_root(bench.platform_env(d, url, rate, db, 1)), d, bench.log)
    if ended.code != 0:
        raise RuntimeError(f"{' '.join(argv)} failed (exit {ended.code}); see {bench.log}")
    with open(bench.log, "rb") as log:  # its own stderr: how many step processes the run started
        log.seek(logged)
        steps = log.read().count(b"STEP_WORKER_STARTING")
    rows = _rows(bench, d, db, table)
    return bench.record(Run(scenario, contender, rep, round(ended.wall, 3), round(ended.peak_rss_mib, 1),
                            round(ended.wall, 3), {"rows_in_table": rows, "step_processes": steps, "argv": argv[1:]},
                            round(ended.cpu, 3)))


def run_process(bench: Bench, rep: int, flip: bool, url: str, first: date, last: date, costs_day: date,
                rate: float) -> None:
    """One repetition: the COSTS day, then the BOALF range and the whole-process floor, back to back
    (who goes first alternating). A COSTS day must hold 48 rows and the two BOALF tables the same rows."""
    dagster = str(Path(sys.executable).with_name("dagster"))  # the venv's, beside its python
    costs = _whole(bench, "process", "platform-costs-1d", rep,
                   [dagster, "asset", "materialize", "-m", "bmrs_assets.definitions", "--select", "bmrs/costs",
                    "--partition", costs_day.isoformat()], url, rate, "bmrs_costs")
    if costs.extra["rows_in_table"] != 48:
        raise RuntimeError(f"COSTS {costs_day}: {costs.extra['rows_in_table']} rows, not 48")
    pair = [lambda: _whole(bench, "process", "platform", rep,
                           [sys.executable, "-m", "bmrs_assets", "run", "--from", first.isoformat(), "--to",
                            last.isoformat(), "--dataset", "BOALF"], url, rate, "bmrs_boalf"),
            lambda: bench.floor("process", rep, url, "BOALF", first, last, rate)]
    platform, floor = [fn() for fn in (reversed(pair) if flip else pair)][:: -1 if flip else 1]
    if platform.extra["rows_in_table"] != floor.extra["rows_in_table"]:
        raise RuntimeError(f"process: the platform loaded {platform.extra['rows_in_table']} BOALF rows, "
                           f"the floor {floor.extra['rows_in_table']}")


def git(*argv: str) -> str:
    """``git -C <repository> ...``, its output; raises if git fails."""
    return subprocess.run(["git", "-C", str(ROOT), *argv], check=True, capture_output=True, text=True).stdout.strip()


def _import(bench: Bench, d: Path, root: Path | None, code: str) -> Exit:
    env = bench.platform_env(d, "http://127.0.0.1:9", 1.0, d / "unused.duckdb", 1)
    ended = spawn([sys.executable, "-c", code], with_root(env, root) if root else env, d, bench.log)
    if ended.code != 0:
        raise RuntimeError(f"python -c {code!r} failed (exit {ended.code}); see {bench.log}")
    return ended


def run_import(bench: Bench, args: argparse.Namespace, meta: dict) -> None:
    """``--import-reps`` repetitions of the three imports, the order rotated each repetition.

    The baseline is ``--import-baseline-rev`` checked out in a detached worktree (removed afterwards)
    and put first on ``PYTHONPATH``; every import runs in a directory outside the repository, so
    the package imported is the one intended, which a check run of each proves by printing
    ``bmrs_assets.__file__`` (those runs also compile the baseline's bytecode and warm the file
    cache; they are not measured). ``meta["import"]`` records the revision and the files.
    """
    rev = args.import_baseline_rev
    tree = bench.work / "baseline"
    git("worktree", "add", "--detach", str(tree), rev)
    try:
        roots = {"current": ROOT, "baseline": tree, "dagster": None}
        d = bench.fresh("import")
        files = {}
        for name in ("current", "baseline"):
            files[name] = _import(bench, d, roots[name], CHECK_IMPORT).stdout.strip().splitlines()[-1]
            if Path(files[name]) != roots[name] / "bmrs_assets" / "__init__.py":
                raise RuntimeError(f"import {name}: bmrs_assets came from {files[name]}, not {roots[name]}")
        _import(bench, d, None, IMPORTS["dagster"])
        meta["import"] = {"baseline_rev": rev, "baseline_commit": git("rev-parse", rev), "files": files,
                          "reps": args.import_reps}
        print(f"import: this tree, baseline {rev} ({files['baseline']}) and dagster, {args.import_reps} reps",
              flush=True)
        names = list(IMPORTS)
        for rep in range(args.import_reps):
            for name in names[rep % 3:] + names[: rep % 3]:
                ended = _import(bench, d, roots[name], IMPORTS[name])
                bench.record(Run("import", f"import-{name}", rep, round(ended.wall, 3), round(ended.peak_rss_mib, 1),
                                 round(ended.wall, 3), {}, round(ended.cpu, 3)))
    finally:
        git("worktree", "remove", "--force", str(tree))
