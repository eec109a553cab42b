"""The benchmark: bmrs_assets against the floor and against dlt, on loopback (``make bench``).

    python -m bench [--days 44] [--reps 3] [--no-dlt]
                    [--scenarios boalf,per_partition,bod,latency,noop,process,import,history]
                    [--import-reps 7] [--import-baseline-rev 197e1ba]
                    [--history-bod-days 30] [--history-boalf-days 365] [--history-reps 1]

Every measured configuration runs in its own child process with its own fresh DuckDB file (and,
for the platform, its own Dagster instance), so each wall time and peak RSS is that configuration's
own: the peak RSS is the child's ``ru_maxrss`` from ``wait4``. The simulator is a separate process
that keeps the serialized response bodies (``--body-cache-mb``), and a warm-up pass fills it, so no
contender pays for generating data. The platform and the floor are alternated, run after run, so
their ratio holds on a noisy machine; every figure is the median of ``--reps`` runs.

Contenders:

* **platform** - bmrs_assets through Dagster, as a user's backfill runs: one single-run range
  backfill (``runner.materialize_range``), and separately the per-partition default (one run per
  day, in one process).
* **floor** - the least a loader can do: httpx GET -> orjson -> typed Arrow table -> DuckDB
  ``MERGE INTO`` on the natural key, one day at a time, no validation, no hashing, no metadata, no
  orchestration; beside it in ``boalf`` and ``bod`` its parallel variants, ``floor-threads`` (2
  threads fetching and typing responses) and ``floor-procs`` (2 worker processes handing Arrow tables
  back), and in ``latency`` 4 in flight. The best parallel floor of a repetition is the faster
  variant in it.
* **dlt** - the same days loaded with dlt (``write_disposition="merge"`` on the same primary key,
  parquet loader, its fastest configuration) into DuckDB, checked to hold the same rows (the
  ``bench`` extra: ``pip install -e '.[bench]'``).

Wall seconds are measured inside each child around the load itself (interpreter start and imports
excluded for every contender); each child's whole process wall time and CPU seconds are recorded too.

The **process** scenario (``bench/whole.py``) measures runs from process start to exit, as a user
starts them: ``dagster asset materialize`` of one COSTS day, and ``python -m bmrs_assets run`` over
the BOALF range paired with the serial floor child's own spawn-to-exit time. The **import**
scenario measures the CPU seconds of importing the code location, against a baseline revision's
(``--import-baseline-rev``, in a temporary git worktree) and against ``import dagster``,
``--import-reps`` times.

The **history** scenario (last, platform only) asks whether a long range in one run stays flat:
BOD over 1 day and over ``--history-bod-days`` (30) consecutive days from 2025-12-17, each in one
run (target: the long run's peak RSS ≤ 1.3 × the 1-day run's), and BOALF over
``--history-boalf-days`` (365) days from 2025-11-01 in one run (targets: peak RSS ≤ 1024 MiB, and
seconds per day ≤ 1.2 × those of the ``--days`` BOALF run: the ``boalf`` scenario's platform figure
when it ran, otherwise a run of those days the history scenario measures itself). Its figures are
medians of ``--history-reps`` (default 1: the 365-day run is long). It has no warm-up repetition
and does not use ``--body-cache-mb``: generating BOALF takes the simulator about 1.5 s a day, so a
warm-up through one simulator would outlast the rest of the bench. Instead a replay process
(``bench/replay.py``) serves each dataset's bodies from memory (one dataset at a time: ~2 GB for 30
BOD days, ~2.7 GB for 365 BOALF days), filled beforehand, in parallel, from uncached simulators,
one per core; ``--no-warmup`` does not skip that fill. The bodies are kept out of this process on
purpose: a child's ``ru_maxrss`` includes the RSS of the process that spawned it, so the parent
stays small (its own peak is recorded as ``parent_peak_rss_mib``).

Modules: ``scenarios`` (what runs in which order), ``runner`` (one child process per measurement),
``children`` (the platform contender, inside its child), ``peers`` (the floor and dlt), ``whole``
(the process and import scenarios), ``replay`` (the history scenario's server), ``report`` (the
table, the ratios and the verdicts), ``output`` (the result files).
"""


from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.children import child_count, child_platform
from bench.cuts import add_arguments as add_cuts_arguments
from bench.output import write_report
from bench.peers import child_dlt, child_floor
from bench.report import machine, row_counts, summarise, verdicts, versions
from bench.runner import ROOT, Bench
from bench.scenarios import (
    BOD_DAY,
    FIRST_DAY,
    FLOOR_PROCESSES,
    FLOOR_THREADS,
    IN_FLIGHT,
    LATENCY_RATE,
    LOOPBACK_RATE,
    SCENARIOS,
    run_scenarios,
)

CHILDREN = {"platform": child_platform, "floor": child_floor, "dlt": child_dlt, "count": child_count}


def child_main(spec: dict) -> None:
    """Inside a child (``--child SPEC``): run the configuration, print its ``BENCH-RESULT`` line."""
    result = CHILDREN[spec["kind"]](spec)
    print("BENCH-RESULT " + json.dumps(result), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--days", type=int, default=44)
    parser.add_argument("--bod-days", type=int, default=1)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--no-warmup", action="store_true")
    parser.add_argument("--no-dlt", action="store_true", help="skip dlt (e.g. without the bench extra)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--latency-ms", type=float, default=500.0)
    parser.add_argument("--history-bod-days", type=int, default=30, help="history: BOD days in one run (vs 1)")
    parser.add_argument("--history-boalf-days", type=int, default=365, help="history: BOALF days in one run")
    parser.add_argument("--history-reps", type=int, default=1, help="history: repetitions (default 1)")
    parser.add_argument("--import-reps", type=int, default=7, help="import: repetitions of the three imports")
    add_cuts_arguments(parser)
    parser.add_argument("--import-baseline-rev", default="197e1ba",
                        help="import: the revision whose code location import is the baseline (before the cheap start)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--render", metavar="JSON", help="write latest.md (and the JSON) again from a result file's "
                        "runs, with this tree's report (nothing is measured)")
    args = parser.parse_args(argv)
    if args.child:
        child_main(json.loads(args.child))
        return 0
    if args.render:
        return render(Path(args.render), Path(args.out), args)
    scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}")
    if "history" in scenarios and (min(args.history_bod_days - 1, args.history_boalf_days, args.history_reps) < 1
                                   or args.history_boalf_days == args.days):
        parser.error("history needs --history-bod-days ≥ 2, --history-reps ≥ 1 and --history-boalf-days ≥ 1 "
                     "other than --days (the BOALF range it is compared with)")
    if "import" in scenarios and args.import_reps < 1:
        parser.error("import needs --import-reps ≥ 1")
    if not args.no_dlt:
        try:
            import dlt  # noqa: F401
        except ImportError:
            parser.error("dlt is not installed: pip install -e '.[bench]', or pass --no-dlt")
    started_utc = datetime.now(UTC)
    first, last = FIRST_DAY, FIRST_DAY + timedelta(days=args.days - 1)
    bod_first, bod_last = BOD_DAY, BOD_DAY + timedelta(days=args.bod_days - 1)
    work = Path(tempfile.mkdtemp(prefix="bmrs-bench-"))
    bench = Bench(args, work)
    meta: dict = {"started_utc": started_utc.isoformat(timespec="seconds"), "machine": machine(),
                  "versions": versions(), "reps": args.reps, "days": args.days, "bod_days": args.bod_days,
                  "first_day": first.isoformat(), "bod_day": bod_first.isoformat(), "scenarios": scenarios,
                  "loopback_rate_per_s": LOOPBACK_RATE, "latency_rate_per_s": LATENCY_RATE, "in_flight": IN_FLIGHT,
                  "latency_ms": args.latency_ms, "history_bod_days": args.history_bod_days,
                  "history_boalf_days": args.history_boalf_days, "history_reps": args.history_reps,
                  "floor_threads": FLOOR_THREADS, "floor_processes": FLOOR_PROCESSES, "work": str(work)}
    print(f"bmrs_assets benchmark: {args.days} days of BOALF from {first}, {args.reps} reps; work in {work}", flush=True)
    total = time.perf_counter()
    run_scenarios(bench, args, scenarios, first, last, bod_first, bod_last, meta)
    meta["total_seconds"] = round(time.perf_counter() - total, 1)
    # a child's ru_maxrss includes the RSS of the process that spawned it: this one stays small
    meta["parent_peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    rows, ratios = summarise(bench.runs, args)
    meta["verdicts"] = verdicts(ratios)
    meta["row_counts"] = row_counts(bench.runs)
    write_report(Path(args.out), started_utc, bench.runs, rows, ratios, meta)
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0


def render(path: Path, out: Path, args: argparse.Namespace) -> int:
    """The report of an earlier run, from its JSON: the runs as measured, the tables and verdicts of this tree.

    The run's own arguments (days, reps, revisions) come from its ``meta``."""
    from bench.runner import Run

    saved = json.loads(path.read_text())
    meta = saved["meta"]
    runs = [Run(**r) for r in saved["runs"]]
    for name in ("days", "bod_days", "reps", "history_bod_days", "history_boalf_days", "history_reps"):
        if name in meta:
            setattr(args, name, meta[name])
    rows, ratios = summarise(runs, args)
    meta["verdicts"] = verdicts(ratios)
    write_report(out, datetime.fromisoformat(meta["started_utc"]), runs, rows, ratios, meta)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
