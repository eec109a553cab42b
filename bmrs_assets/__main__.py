"""Command line: ``python -m bmrs_assets {demo,run}``."""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import warnings

from bmrs_assets.config import setting
from bmrs_assets.settlement import parse_day


def _run(days: int, datasets: list[str] | None, first: str | None, last: str | None) -> int:
    from bmrs_assets.runner import format_table, last_complete_days, materialize_range

    span = last_complete_days(days)
    start = parse_day(first) if first else span[0]
    end = parse_day(last) if last else span[-1]
    t0 = time.perf_counter()
    result, lines = materialize_range(start, end, datasets)
    print(format_table(lines))
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n{'succeeded' if result.success else 'FAILED'} in {time.perf_counter() - t0:.1f} s, "
          f"peak RSS {peak_mib:.0f} MiB; warehouse: {setting('BMRS_DUCKDB_PATH')}")
    if not result.success:
        for event in result.all_events:
            if event.is_step_failure:
                print(f"  {event.step_key}: {event.step_failure_data.error.message.strip()}", file=sys.stderr)
    return 0 if result.success else 1


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore", module="dagster")
    parser = argparse.ArgumentParser(prog="python -m bmrs_assets")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("demo", "offline: start the simulator, load the last days into DuckDB"),
                       ("run", "load the last days from BMRS_API_BASE_URL (the live API by default)")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--days", type=int, default=3, help="number of complete settlement days (default 3)")
        p.add_argument("--dataset", action="append", help="limit to these datasets (repeatable)")
        p.add_argument("--from", dest="first", help="first settlement day (YYYY-MM-DD)")
        p.add_argument("--to", dest="last", help="last settlement day (YYYY-MM-DD)")
    args = parser.parse_args(argv)
    if args.dataset:
        from bmrs_assets.registry import get_dataset
        args.dataset = [get_dataset(d).code for d in args.dataset]
    if args.command == "demo":
        from bmrs_assets.runner import SimulatorProcess

        with SimulatorProcess() as sim:
            os.environ["BMRS_API_BASE_URL"] = sim.url
            print(f"Elexon simulator on {sim.url} (pid {sim.proc.pid})")
            return _run(args.days, args.dataset, args.first, args.last)
    return _run(args.days, args.dataset, args.first, args.last)


if __name__ == "__main__":
    sys.exit(main())
