"""Produce docs/dashboard.png: the freshness dashboard over a realistic state built by real runs.

Everything happens in a temporary DAGSTER_HOME and DuckDB file, against the bundled simulator on
127.0.0.1 (in this process): COSTS, MID, NETBSAD, FUELHH, DISBSAD and FREQ are loaded for the last
60 complete days; BOALF is loaded for 16 days, then one day comes back with 50 rows (the proxy
below cuts the simulator's answer short) and nothing after that: the old system's 44 lost days.
One thing is not real time: FREQ's last materialization is taken as 5 hours earlier than it was,
to show a stale feed without waiting 5 hours (``--stale-hours``).

    .venv/bin/python tools/dashboard_screenshot.py [--out docs/dashboard.png]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

warnings.filterwarnings("ignore")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import dagster as dg  # noqa: E402

from bmrs_assets.simulator.server import start_in_thread  # noqa: E402
from bmrs_assets_tests.support.scripted_server import Reply, ScriptedServer  # noqa: E402

COMPLETE = ["COSTS", "MID", "NETBSAD", "FUELHH", "DISBSAD", "FREQ"]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(REPO / "docs" / "dashboard.png"))
    parser.add_argument("--stale-hours", type=float, default=5.0)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bmrs-dash-"))
    sim = start_in_thread()
    os.environ.update(BMRS_API_BASE_URL=sim.url, BMRS_DUCKDB_PATH=str(tmp / "bmrs.duckdb"), BMRS_START_DATE="2024-01-01",
                      BMRS_RATE_LIMIT_PER_S="50", BMRS_DASHBOARD_PATH=str(tmp / "dashboard" / "index.html"))

    def short(path: str, n: int) -> Reply:  # the simulator's answer, cut to its first 50 rows
        body = httpx.get(sim.url.split("/bmrs/api/v1")[0] + path, timeout=60).json()
        if isinstance(body, dict) and "data" in body:
            body["data"] = body["data"][:50]
        else:
            body = body[:50]
        return Reply(body=json.dumps(body).encode())

    from bmrs_assets.cli.runs import materialize_range
    from bmrs_assets.core.settlement import london_today
    from bmrs_assets.definitions import warehouse_resource
    from bmrs_assets.defs.elexon.assets import daily_partitions
    from bmrs_assets.defs.monitoring.dashboard import collect
    from bmrs_assets.defs.quality import last_materialized
    from bmrs_assets.elexon.datasets import get_dataset
    from bmrs_assets.monitoring.dashboard import build_view, dataset_view, write
    from bmrs_assets.quality.freshness import freshness_status

    today = london_today()
    first, last = today - timedelta(days=60), today - timedelta(days=1)
    try:
        (tmp / "dagster_home").mkdir()
        with dg.DagsterInstance.local_temp(str(tmp / "dagster_home")) as instance:
            result, _ = materialize_range(first, last, COMPLETE, instance=instance)
            assert result.success
            boalf_short = first + timedelta(days=16)
            assert materialize_range(first, boalf_short - timedelta(days=1), ["BOALF"], instance=instance)[0].success
            proxy = ScriptedServer(short)
            try:
                os.environ["BMRS_API_BASE_URL"] = proxy.url + "/bmrs/api/v1"
                materialize_range(boalf_short, boalf_short, ["BOALF"], instance=instance)  # stored, check fails
            finally:
                proxy.stop()
            datasets = [get_dataset(c) for c in ["BOALF", *COMPLETE]]
            now = datetime.now(UTC)
            view = collect(datasets, instance, warehouse_resource(resolved=True).get(), daily_partitions(), now)
            freq = get_dataset("FREQ")
            stopped = last_materialized(instance, freq) - timedelta(hours=args.stale_hours)
            rows = [dataset_view(d["dataset"], d["description"], freshness_status(freq, stopped, now),
                                 {datetime.fromisoformat(c["day"]).date(): _day(c) for c in d["days"]},
                                 [datetime.fromisoformat(c["day"]).date() for c in d["days"]])
                    if d["dataset"] == "FREQ" else d for d in view["datasets"]]
            view = build_view(rows, now, [datetime.fromisoformat(c["day"]).date() for c in view["datasets"][0]["days"]])
            page, _ = write(view, tmp / "dashboard" / "index.html")
    finally:
        sim.shutdown()
        sim.server_close()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    (tmp / "home").mkdir(exist_ok=True)
    proc = subprocess.Popen([shutil.which("chromium") or "chromium", *FLAGS, f"--user-data-dir={tmp / 'profile'}",
                             f"--screenshot={out}", "--window-size=1400,760", page.as_uri()],
                            env={**os.environ, "HOME": str(tmp / "home")}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        proc.wait(timeout=90)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    print(f"{view['overall']['status'].upper()}: {out} (page: {page})")
    for p in view["overall"]["problems"]:
        print(" ", p)
    return proc.returncode


def _day(c: dict):
    from bmrs_assets.quality.gaps import DayStatus

    return DayStatus("FREQ", datetime.fromisoformat(c["day"]).date(), c["status"], c["rows"], c["detail"])


if __name__ == "__main__":
    sys.exit(main())
