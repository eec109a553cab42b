"""The scenarios: which contender runs what, in which order, against which simulator.

Two simulators run for the whole benchmark, each a separate process keeping the serialized
response bodies (``--body-cache-mb``): one on plain loopback, one adding ``--latency-ms`` per
response. A warm-up repetition (rep -1) fills their caches, so no contender pays for generating
data. Within a repetition the platform and its peers (the floor's serial, threads and processes
variants) run back to back, and the order is reversed every other repetition, so their ratios
hold on a noisy machine. The process scenario runs in each repetition too (``bench/whole.py``);
the import scenario after the repetitions, with its own (``--import-reps``).

The history scenario runs last, on its own servers (``bench/replay.py``): its ranges are too long
for a warm-up repetition and for one simulator's cache, see :func:`run_history`.
"""

from __future__ import annotations

import argparse
import os
from contextlib import ExitStack
from datetime import date, timedelta

from bench.cuts import baseline_code, run_cuts
from bench.peers import same_rows
from bench.replay import ReplayProcess
from bench.runner import Bench
from bench.whole import run_import, run_process
from bmrs_assets.simulator.process import SimulatorProcess

FIRST_DAY = date(2025, 11, 1)  # 44 days of BOALF: 2025-11-01 .. 2025-12-14 (no clock change)
BOD_DAY = date(2025, 12, 17)
LOOPBACK_RATE = 1000.0  # requests/s for the CPU-bound loopback comparison (the floor has no limit)
LATENCY_RATE = 4.0  # the platform's default, for both contenders, where waiting is what is measured
IN_FLIGHT = 4
FLOOR_THREADS = 2  # floor-threads: responses fetched and typed by this many threads
FLOOR_PROCESSES = 2  # floor-procs: responses fetched and typed by this many worker processes (a core each here)
SCENARIOS = ("boalf", "per_partition", "bod", "latency", "noop", "process", "cuts", "import", "history")


def cache_mb(args: argparse.Namespace) -> str:
    """The simulators' body cache: enough for every day of every scenario."""
    return str(int(60 + 9 * args.days + 80 * args.bod_days))


def run_scenarios(bench: Bench, args: argparse.Namespace, scenarios: list[str], first: date, last: date,
                  bod_first: date, bod_last: date, meta: dict) -> None:
    """Every repetition of every chosen scenario; the runs land in ``bench.runs``.

    ``meta["dlt_same_rows"]`` is set on the first measured repetition when dlt runs.
    """
    cache = cache_mb(args)
    with ExitStack() as stack:
        shim = stack.enter_context(baseline_code(bench, args.cuts_baseline_rev)) if "cuts" in scenarios else None
        meta["cuts_baseline_rev"] = args.cuts_baseline_rev if shim else None
        _run_reps(bench, args, scenarios, first, last, bod_first, bod_last, meta, cache, shim)
    if "import" in scenarios:
        run_import(bench, args, meta)
    if "history" in scenarios:
        run_history(bench, args, scenarios, meta)


def _run_reps(bench: Bench, args: argparse.Namespace, scenarios: list[str], first: date, last: date,
              bod_first: date, bod_last: date, meta: dict, cache: str, shim: object) -> None:
    with SimulatorProcess("--body-cache-mb", cache) as sim, \
            SimulatorProcess("--body-cache-mb", cache if "latency" in scenarios else "0",
                             "--latency-ms", str(args.latency_ms)) as slow:
        url, slow_url = sim.url, slow.url
        reps = ([-1] if not args.no_warmup else []) + list(range(args.reps))
        for rep in reps:
            flip = rep % 2 == 1  # alternate who goes first
            platform_db = None
            if "boalf" in scenarios:
                platform_db = with_floors(bench, "boalf", rep, flip, url, "BOALF", first, last)
                if not args.no_dlt and rep >= 0:
                    dlt_db = bench.dlt("boalf", rep, url, "BOALF", first, last, LOOPBACK_RATE)
                    if rep == 0:
                        ds_cols = ["dataset", "settlementDate", "settlementPeriodFrom", "settlementPeriodTo", "timeFrom",
                                   "timeTo", "levelFrom", "levelTo", "acceptanceNumber", "acceptanceTime",
                                   "deemedBoFlag", "soFlag", "amendmentFlag", "storFlag", "rrFlag"]
                        key = ["bmUnit", "nationalGridBmUnit", "acceptanceNumber", "settlementDate", "timeFrom"]
                        meta["dlt_same_rows"] = same_rows(platform_db, dlt_db, "bmrs_boalf", key,
                                                          [c for c in ds_cols if c not in key])
                        print(f"  dlt same rows: {meta['dlt_same_rows']}", flush=True)
            if "noop" in scenarios:  # the same days again on the warehouse just loaded, nothing changed upstream
                if "boalf" not in scenarios:
                    platform_db = bench.platform("noop", rep, url, "BOALF", first, last, LOOPBACK_RATE,
                                                 contender="platform-first")
                bench.platform("noop", rep, url, "BOALF", first, last, LOOPBACK_RATE, db=platform_db,
                               contender="platform-rerun")
            if "bod" in scenarios:
                with_floors(bench, "bod", rep, flip, url, "BOD", bod_first, bod_last)
            if "latency" in scenarios:
                pair = [lambda r=rep: bench.platform("latency", r, slow_url, "BOALF", first, last, LATENCY_RATE,
                                                     in_flight=IN_FLIGHT),
                        lambda r=rep: bench.floor("latency", r, slow_url, "BOALF", first, last, LATENCY_RATE,
                                                  in_flight=IN_FLIGHT, contender="floor-4-in-flight")]
                for fn in (reversed(pair) if flip else pair):
                    fn()
                if rep >= 0:
                    bench.floor("latency", rep, slow_url, "BOALF", first, last, LATENCY_RATE, contender="floor-serial")
            if "per_partition" in scenarios and rep >= 0:
                bench.platform("per_partition", rep, url, "BOALF", first, last, LOOPBACK_RATE, per_partition=True,
                               contender="platform-per-partition")
            if "process" in scenarios:
                run_process(bench, rep, flip, url, first, last, BOD_DAY, LOOPBACK_RATE)
            if "cuts" in scenarios:  # its warm-up repetition compiles the baseline and warms its BOD day
                run_cuts(bench, rep, url, shim, [("BOALF", first, last), ("BOD", bod_first, bod_last)], LOOPBACK_RATE)


def with_floors(bench: Bench, scenario: str, rep: int, flip: bool, url: str, dataset: str, first: date,
                last: date) -> object:
    """The platform and the floor's three variants (serial, threads, processes), back to back; the
    platform's DuckDB file. The order is reversed every other repetition; all four must hold the
    same number of rows."""
    runs = [lambda: bench.platform(scenario, rep, url, dataset, first, last, LOOPBACK_RATE),
            lambda: bench.floor(scenario, rep, url, dataset, first, last, LOOPBACK_RATE),
            lambda: bench.floor(scenario, rep, url, dataset, first, last, LOOPBACK_RATE, in_flight=FLOOR_THREADS,
                                contender="floor-threads"),
            lambda: bench.floor(scenario, rep, url, dataset, first, last, LOOPBACK_RATE,
                                processes=FLOOR_PROCESSES, contender="floor-procs")]
    results = [fn() for fn in (reversed(runs) if flip else runs)]
    counts = {r.contender: r.extra.get("rows_in_table") for r in bench.runs[-len(runs):]}
    if len(set(counts.values())) != 1:
        raise RuntimeError(f"{scenario} rep {rep + 1}: the contenders loaded different rows: {counts}")
    return results[-1] if flip else results[0]


def run_history(bench: Bench, args: argparse.Namespace, scenarios: list[str], meta: dict) -> None:
    """Long ranges in one platform run: BOD 1 and ``--history-bod-days`` days, BOALF ``--history-boalf-days``.

    Also the ``boalf`` scenario's range (``--days``) of BOALF when that scenario is not run, so the
    seconds-per-day ratio is always paired within one bench run. Each dataset in turn is served by a
    replay (``bench/replay.py``, its own process) over uncached simulators, one per core (up to 4),
    which fills itself first with every request of the range, in parallel: no warm-up repetition
    (no contender runs a range twice) and no ``--body-cache-mb``. A replay holds one dataset's
    bodies (about 70 MB a BOD day, 7.5 MB a BOALF day) and is stopped after it. ``--history-reps``
    repetitions, who goes first alternating. ``meta["history"]`` records the fills and any request
    a run made that the fill did not (``misses``, expected 0).
    """
    n_bod, n_boalf, reps, n_ref = args.history_bod_days, args.history_boalf_days, args.history_reps, args.days
    own = "boalf" not in scenarios  # the range the s/day ratio compares with, measured here
    generators = max(1, min(4, os.cpu_count() or 1))
    info: dict = {"bod_days": n_bod, "boalf_days": n_boalf, "reps": reps, "generators": generators,
                  "boalf_reference": "history" if own else "boalf", "fills": [], "misses": {}}
    meta["history"] = info
    print(f"history: BOD 1 and {n_bod} d from {BOD_DAY}, BOALF {n_boalf} d from {FIRST_DAY}, {reps} reps, "
          f"{generators} generating simulators", flush=True)

    def measure(replay: ReplayProcess, dataset: str, a: date, days: int, rep: int) -> None:
        contender = f"platform-{dataset.lower()}-{days}d"
        misses = replay.stats()["misses"]
        bench.platform("history", rep, replay.url, dataset, a, a + timedelta(days=days - 1), LOOPBACK_RATE,
                       contender=contender)
        info["misses"][f"{contender} rep {rep + 1}"] = replay.stats()["misses"] - misses

    with ExitStack() as stack:
        upstreams = [stack.enter_context(SimulatorProcess()).url for _ in range(generators)]
        for dataset, a, ranges in (("BOD", BOD_DAY, [1, n_bod]), ("BOALF", FIRST_DAY, [n_boalf] + [n_ref] * own)):
            with ReplayProcess(dataset, a, max(ranges), upstreams) as replay:
                info["fills"].append(replay.filled)
                print(f"  history fill: {replay.filled}", flush=True)
                for rep in range(reps):
                    for days in (reversed(ranges) if rep % 2 else ranges):  # alternate who goes first
                        measure(replay, dataset, a, days, rep)
