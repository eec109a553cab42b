"""The scenarios: which contender runs what, in which order, against which simulator.

Two simulators run for the whole benchmark, each a separate process keeping the serialized
response bodies (``--body-cache-mb``): one on plain loopback, one adding ``--latency-ms`` per
response. A warm-up repetition (rep -1) fills their caches, so no contender pays for generating
data. Within a repetition the platform and its peer run back to back, and who goes first
alternates between repetitions, so their ratio holds on a noisy machine.
"""

from __future__ import annotations

import argparse
from datetime import date

from bench.peers import same_rows
from bench.runner import Bench
from bmrs_assets.simulator.process import SimulatorProcess

FIRST_DAY = date(2025, 11, 1)  # 44 days of BOALF: 2025-11-01 .. 2025-12-14 (no clock change)
BOD_DAY = date(2025, 12, 17)
LOOPBACK_RATE = 1000.0  # requests/s for the CPU-bound loopback comparison (the floor has no limit)
LATENCY_RATE = 4.0  # the platform's default, for both contenders, where waiting is what is measured
IN_FLIGHT = 4
SCENARIOS = ("boalf", "per_partition", "bod", "latency", "noop")


def cache_mb(args: argparse.Namespace) -> str:
    """The simulators' body cache: enough for every day of every scenario."""
    return str(int(60 + 9 * args.days + 80 * args.bod_days))


def run_scenarios(bench: Bench, args: argparse.Namespace, scenarios: list[str], first: date, last: date,
                  bod_first: date, bod_last: date, meta: dict) -> None:
    """Every repetition of every chosen scenario; the runs land in ``bench.runs``.

    ``meta["dlt_same_rows"]`` is set on the first measured repetition when dlt runs.
    """
    cache = cache_mb(args)
    with SimulatorProcess("--body-cache-mb", cache) as sim, \
            SimulatorProcess("--body-cache-mb", cache if "latency" in scenarios else "0",
                             "--latency-ms", str(args.latency_ms)) as slow:
        url, slow_url = sim.url, slow.url
        reps = ([-1] if not args.no_warmup else []) + list(range(args.reps))
        for rep in reps:
            flip = rep % 2 == 1  # alternate who goes first
            platform_db = None
            if "boalf" in scenarios:
                pair = [lambda r=rep: bench.platform("boalf", r, url, "BOALF", first, last, LOOPBACK_RATE),
                        lambda r=rep: bench.floor("boalf", r, url, "BOALF", first, last, LOOPBACK_RATE)]
                results = [fn() for fn in (reversed(pair) if flip else pair)]
                platform_db = results[1] if flip else results[0]
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
                pair = [lambda r=rep: bench.platform("bod", r, url, "BOD", bod_first, bod_last, LOOPBACK_RATE),
                        lambda r=rep: bench.floor("bod", r, url, "BOD", bod_first, bod_last, LOOPBACK_RATE)]
                for fn in (reversed(pair) if flip else pair):
                    fn()
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
