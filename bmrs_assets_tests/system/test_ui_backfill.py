"""The path users rely on: a partition backfill launched through the webserver's GraphQL API (what
the UI's backfill dialog sends), executed by a real daemon, heals the gap the report showed."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from datetime import date

import dagster as dg
import pytest

from bmrs_assets.core.processes import free_port, stop_process_group
from bmrs_assets.definitions import warehouse_resource
from bmrs_assets.defs.elexon.assets import daily_partitions
from bmrs_assets.defs.quality import classify
from bmrs_assets.elexon.datasets import COSTS, FREQ
from bmrs_assets_tests.conftest import REPO
from bmrs_assets_tests.support.dagster_ui import backfill_status, launch_backfill, start_daemon, start_webserver, tail

DAYS = ["2025-12-10", "2025-12-11", "2025-12-12"]


@pytest.mark.slow
def test_backfill_through_graphql_heals_the_gap(platform_env, tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "instance" / "dagster.yaml", home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)):
        pass  # storage created once, before two processes would race to migrate it
    # runs of at most 2 days (a history backfill's runs are sized from the registry; capped here to see two)
    env = {**os.environ, "DAGSTER_HOME": str(home), "BMRS_AUTOMATION": "off", "PYTHONUNBUFFERED": "1",
           "BMRS_BACKFILL_MAX_DAYS_PER_RUN": "2"}
    port = free_port()
    procs: list[subprocess.Popen] = []
    try:
        procs.append(start_webserver(port, env, tmp_path / "webserver.log"))
        procs.append(start_daemon(env, tmp_path / "daemon.log"))
        monkeypatch.setenv("DAGSTER_HOME", str(home))
        with dg.DagsterInstance.get() as instance:
            wh = warehouse_resource(resolved=True).get()
            before = classify(COSTS, date(2025, 12, 10), date(2025, 12, 12), instance, wh, daily_partitions())
        assert [s.status for s in before] == ["missing"] * 3

        backfill_id = launch_backfill(port, DAYS, [["bmrs", "costs"], ["bmrs", "freq"]], "heal December gap")
        deadline = time.monotonic() + 300
        status = None
        while time.monotonic() < deadline:
            status = backfill_status(port, backfill_id)
            if status.get("status") in ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"):
                break
            assert procs[1].poll() is None, tail(tmp_path / "daemon.log")
            time.sleep(1)
        assert status and status["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), (
            status, tail(tmp_path / "daemon.log"))
        assert status["numPartitions"] == 3

        with dg.DagsterInstance.get() as instance:
            runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
            after = {ds.code: classify(ds, date(2025, 12, 10), date(2025, 12, 12), instance, wh, daily_partitions())
                     for ds in (COSTS, FREQ)}
        assert runs and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        spans = sorted((r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
                       for r in runs)
        assert spans == [(DAYS[0], DAYS[1]), (DAYS[2], DAYS[2])], "BackfillPolicy.multi_run: runs of at most 2 days"
        for code, statuses in after.items():
            assert [s.status for s in statuses] == ["complete"] * 3, code
        assert wh.count_by_day(COSTS, date(2025, 12, 10), date(2025, 12, 12)) == {
            date(2025, 12, 10): 48, date(2025, 12, 11): 48, date(2025, 12, 12): 48}
    finally:
        for proc in reversed(procs):
            stop_process_group(proc)
