"""Command line: ``python -m bmrs_assets {demo,run,backfill,gaps,dashboard,revenue-report,iris}``.

Arguments are checked before anything starts (``arguments.py``: one ``error:`` line and exit status
2 for a bad one); the commands that use Dagster get ``DAGSTER_HOME`` (default
``data/dagster_home``, created when missing) and none of Dagster's beta/preview/deprecation notices.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from datetime import date, timedelta

from bmrs_assets.cli.arguments import (
    OneLineParser,
    UsageError,
    at_least_one,
    dataset_codes,
    day,
    day_range,
    ensure_dagster_home,
    fail,
)
from bmrs_assets.core.settlement import london_today
from bmrs_assets.settings import setting

DAGSTER_COMMANDS = ("demo", "run", "backfill", "gaps", "dashboard", "revenue-report")


def _show_progress() -> None:
    """Each committed day's line (``defs/io_manager.py``'s ``PROGRESS`` logger) and each reaped run
    (``cli/reaping.py``) on stderr as it happens."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    for name in ("bmrs_assets.progress", "bmrs_assets.reaping"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def run_days(args: argparse.Namespace, today: date | None = None) -> tuple[date, date]:
    """The days of ``run``/``demo``: ``--from``..``--to``; without ``--from``, the ``--days`` days up to
    ``--to``; without ``--to``, up to the last complete day (yesterday in Europe/London)."""
    today = today or london_today()
    n = at_least_one("--days", args.days)
    last = day("--to", args.last)
    end = last or today - timedelta(days=1)
    start = day("--from", args.first) or end - timedelta(days=n - 1)
    return day_range(start, end, last_given=last is not None, today=today)


def _run(start: date, end: date, datasets: list[str] | None, full_refresh: bool = False) -> int:
    from bmrs_assets.cli.runs import format_table, materialize_range

    _show_progress()
    t0 = time.perf_counter()
    result, lines = materialize_range(start, end, datasets, full_refresh=full_refresh)
    print(format_table(lines))
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n{'succeeded' if result.success else 'FAILED'} in {time.perf_counter() - t0:.1f} s, "
          f"peak RSS {peak_mib:.0f} MiB; warehouse: {setting('BMRS_DUCKDB_PATH')}")
    if not result.success:
        for event in result.all_events:
            if event.is_step_failure:
                print(f"  {event.step_key}: {event.step_failure_data.error.message.strip()}", file=sys.stderr)
    return 0 if result.success else 1


def _gaps(args: argparse.Namespace) -> int:
    import dagster as dg

    from bmrs_assets.definitions import warehouse_resource
    from bmrs_assets.defs.elexon.assets import daily_partitions
    from bmrs_assets.defs.quality import report
    from bmrs_assets.elexon.datasets import REGISTRY, get_dataset
    from bmrs_assets.quality.gaps import gaps_of, render_json, render_text
    from bmrs_assets.settings import start_date

    datasets = [get_dataset(d) for d in args.dataset] if args.dataset else list(REGISTRY.values())
    since = day("--since", args.since) or start_date()
    until = day("--until", args.until)
    day_range(since, until or london_today(), "--since", "--until", last_given=until is not None)
    warehouse = warehouse_resource(resolved=True).get()
    with dg.DagsterInstance.get() as instance:
        results = report(datasets, since, instance, warehouse, daily_partitions(), until)
    print(render_json(results) if args.json else render_text(results))
    has_gaps = any(gaps_of(statuses) for statuses in results.values())
    return 3 if args.check and has_gaps else 0


def _dashboard(args: argparse.Namespace) -> int:
    from pathlib import Path

    import dagster as dg

    from bmrs_assets.definitions import warehouse_resource
    from bmrs_assets.defs.elexon.assets import daily_partitions
    from bmrs_assets.defs.monitoring.dashboard import collect
    from bmrs_assets.elexon.datasets import REGISTRY
    from bmrs_assets.monitoring.dashboard import write

    warehouse = warehouse_resource(resolved=True).get()
    with dg.DagsterInstance.get() as instance:
        view = collect(REGISTRY.values(), instance, warehouse, daily_partitions(), days=args.days)
    html_path, _ = write(view, Path(args.out) if args.out else None)
    counts = view["overall"]["counts"]
    print(f"overall {view['overall']['status'].upper()} ({counts['fail']} fail, {counts['warn']} warn, "
          f"{counts['pass']} pass); open {html_path.resolve().as_uri()}")
    return 0


def _revenue_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bmrs_assets.definitions import warehouse_resource
    from bmrs_assets.revenue.report import collect, write

    view = collect(warehouse_resource(resolved=True).get(), last=args.last, days=args.days)
    html_path, _ = write(view, Path(args.out) if args.out else None)
    w, t = view["window"], view["totals"]
    print(f"{w['first']} to {w['last']}: {w['days_with_revenue']} days with revenue, {t['units']} units, "
          f"BM revenue £{t['bm_revenue_gbp']:,.0f} (VLP £{t['vlp_revenue_gbp']:,.0f}); open {html_path.resolve().as_uri()}")
    return 0


def _iris(args: argparse.Namespace) -> int:
    import fcntl
    import json
    import logging
    import threading
    from datetime import timedelta
    from pathlib import Path

    from bmrs_assets.iris.consumer import ConfigError, IrisConfig, install_signal_handlers, run_forever
    from bmrs_assets.iris.landing import LandingStore

    if args.status:
        print(json.dumps(LandingStore(Path(setting("BMRS_IRIS_LANDING_PATH"))).summary(), indent=1, default=str))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("azure", "uamqp", "msal"):  # the SDKs' own chatter; never the credential either way
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        config = IrisConfig.from_env()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    lock_path = Path(config.landing_path + ".consumer.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:  # IRIS allows one connection per queue: one consumer per landing store
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"error: another IRIS consumer holds {lock_path}", file=sys.stderr)
            return 2
        stop = threading.Event()
        install_signal_handlers(stop)
        run_forever(config, stop, max_messages=args.max_messages, max_batch_bytes=args.max_batch_mib * 1024 * 1024,
                    max_wait_s=args.max_wait, retention=timedelta(days=args.retention_days))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m bmrs_assets")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("demo", "offline: start the simulator, load the last days into DuckDB"),
                       ("run", "load the last days from BMRS_API_BASE_URL (the live API by default)")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--days", type=int, default=3,
                       help="number of settlement days up to --to, or the last complete ones (default 3)")
        p.add_argument("--dataset", action="append", help="limit to these datasets (repeatable)")
        p.add_argument("--from", dest="first", help="first settlement day (YYYY-MM-DD)")
        p.add_argument("--to", dest="last", help="last settlement day (YYYY-MM-DD)")
        p.add_argument("--full-refresh", action="store_true",
                       help="parse and MERGE every day, even one whose response is the one last merged")
    b = sub.add_parser("backfill", help="submit a Dagster asset backfill (runs by the daemon, through the run queue)")
    b.add_argument("--dataset", action="append",
                   help="dataset code (repeatable); `all` or none: every registry dataset")
    b.add_argument("--from", dest="first", required=True, help="first settlement day (YYYY-MM-DD)")
    b.add_argument("--to", dest="last", required=True, help="last settlement day (YYYY-MM-DD)")
    b.add_argument("--wait", action="store_true", help="follow it until it ends; exit 1 unless every partition succeeded")
    b.add_argument("--plan", action="store_true", help="print days, runs, requests, rows, bytes and duration; launch nothing")
    b.add_argument("--history-runs", type=int, default=5, help="recent runs per dataset the plan measures (default 5)")
    b.add_argument("--poll", type=float, default=2.0, help="seconds between progress reads with --wait (default 2)")
    g = sub.add_parser("gaps", help="classify every partition day; print missing ranges ready for a backfill")
    g.add_argument("--dataset", action="append", help="limit to these datasets (repeatable)")
    g.add_argument("--since", help="first day (default BMRS_START_DATE)")
    g.add_argument("--until", help="last day (default today)")
    g.add_argument("--json", action="store_true", help="machine-readable output, every day included")
    g.add_argument("--check", action="store_true", help="exit with status 3 if any day is not complete")
    h = sub.add_parser("dashboard", help="write the freshness dashboard (HTML + JSON) from the instance and warehouse")
    h.add_argument("--out", help="HTML file to write (default BMRS_DASHBOARD_PATH)")
    h.add_argument("--days", type=int, default=60, help="days in the coverage heatmap (default 60)")
    r = sub.add_parser("revenue-report", help="write the revenue report (charts, HTML + JSON) from the warehouse")
    r.add_argument("--out", help="HTML file to write (default BMRS_REVENUE_REPORT_PATH)")
    r.add_argument("--days", type=int, default=30, help="settlement days shown (default 30)")
    r.add_argument("--last", help="last settlement day shown (default the newest day computed)")
    i = sub.add_parser("iris", help="the long-lived IRIS consumer (run beside `dagster dev`): queue -> landing store")
    i.add_argument("--max-messages", type=int, default=100, help="most messages received per batch (default 100)")
    i.add_argument("--max-batch-mib", type=int, default=32, help="most body bytes landed per transaction (default 32 MiB)")
    i.add_argument("--max-wait", type=float, default=5.0, help="seconds a receive waits for messages (default 5)")
    i.add_argument("--retention-days", type=int, default=30,
                   help="delete landed messages this long after they were merged (never unmerged ones; default 30)")
    i.add_argument("--status", action="store_true", help="print the landing store's counts and exit")
    args = parser.parse_args(argv)
    try:
        return _dispatch(args)
    except UsageError as exc:
        return fail(exc)


def _dispatch(args: argparse.Namespace) -> int:
    if args.command in DAGSTER_COMMANDS:
        from bmrs_assets.defs.env import ignore_dagster_notices

        ignore_dagster_notices()  # for the whole command: loading the code location and running it
    if args.command in ("demo", "run", "gaps"):
        args.dataset = dataset_codes(args.dataset)
    if args.command in ("dashboard", "revenue-report"):
        at_least_one("--days", args.days)
    if args.command == "revenue-report":
        args.last = day("--last", args.last)
    if args.command in ("demo", "run"):
        start, end = run_days(args)
    if args.command in DAGSTER_COMMANDS:
        ensure_dagster_home()
    if args.command == "backfill":
        from bmrs_assets.cli.backfill import run

        return run(args)
    if args.command == "gaps":
        return _gaps(args)
    if args.command == "dashboard":
        return _dashboard(args)
    if args.command == "revenue-report":
        return _revenue_report(args)
    if args.command == "iris":
        return _iris(args)
    if args.command == "demo":
        from bmrs_assets.simulator.process import SimulatorProcess

        with SimulatorProcess() as sim:
            os.environ["BMRS_API_BASE_URL"] = sim.url
            print(f"Elexon simulator on {sim.url} (pid {sim.proc.pid})")
            return _run(start, end, args.dataset, args.full_refresh)
    return _run(start, end, args.dataset, args.full_refresh)


if __name__ == "__main__":
    sys.exit(main())
