"""The path users rely on: a partition backfill launched through the webserver's GraphQL API (what
the UI's backfill dialog sends), executed by a real daemon, heals the gap the report showed."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import dagster as dg
import httpx
import pytest

from bmrs_assets.assets import daily_partitions
from bmrs_assets.definitions import warehouse_resource
from bmrs_assets.gaps import classify
from bmrs_assets.registry import COSTS, FREQ

from .conftest import REPO

BIN = Path(sys.executable).parent
DAYS = ["2025-12-10", "2025-12-11", "2025-12-12"]
LAUNCH = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on InvalidSubsetError { message }
    ... on UnauthorizedError { message }
  }
}"""
STATUS = """
query($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { status numPartitions }
    ... on PythonError { message }
  }
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.mark.slow
def test_backfill_through_graphql_heals_the_gap(platform_env, tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "bmrs_assets" / "instance" / "dagster.yaml", home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)):
        pass  # storage created once, before two processes would race to migrate it
    env = {**os.environ, "DAGSTER_HOME": str(home), "BMRS_AUTOMATION": "off", "PYTHONUNBUFFERED": "1"}
    port = free_port()
    logs = {name: open(tmp_path / f"{name}.log", "w") for name in ("webserver", "daemon")}
    webserver = subprocess.Popen([str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"],
                                 cwd=REPO, env=env, stdout=logs["webserver"], stderr=subprocess.STDOUT, start_new_session=True)
    daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
                              cwd=REPO, env=env, stdout=logs["daemon"], stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/graphql"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert webserver.poll() is None, (tmp_path / "webserver.log").read_text()[-3000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "webserver did not come up"
            time.sleep(0.5)

        monkeypatch.setenv("DAGSTER_HOME", str(home))
        with dg.DagsterInstance.get() as instance:
            wh = warehouse_resource(resolved=True).get()
            before = classify(COSTS, date(2025, 12, 10), date(2025, 12, 12), instance, wh, daily_partitions())
        assert [s.status for s in before] == ["missing"] * 3

        params = {"partitionNames": DAYS, "assetSelection": [{"path": ["bmrs", "costs"]}, {"path": ["bmrs", "freq"]}],
                  "title": "heal December gap"}
        launched = httpx.post(url, json={"query": LAUNCH, "variables": {"params": params}}, timeout=60).json()
        result = launched["data"]["launchPartitionBackfill"]
        assert result["__typename"] == "LaunchBackfillSuccess", result
        backfill_id = result["backfillId"]

        deadline = time.monotonic() + 300
        status = None
        while time.monotonic() < deadline:
            body = httpx.post(url, json={"query": STATUS, "variables": {"id": backfill_id}}, timeout=30).json()
            status = body["data"]["partitionBackfillOrError"]
            if status.get("status") in ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"):
                break
            assert daemon.poll() is None, (tmp_path / "daemon.log").read_text()[-3000:]
            time.sleep(1)
        assert status and status["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), (
            status, (tmp_path / "daemon.log").read_text()[-3000:])
        assert status["numPartitions"] == 3

        with dg.DagsterInstance.get() as instance:
            runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
            after = {ds.code: classify(ds, date(2025, 12, 10), date(2025, 12, 12), instance, wh, daily_partitions())
                     for ds in (COSTS, FREQ)}
        assert runs and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        assert len(runs) == 1, "BackfillPolicy.single_run: one run for the whole range"
        for code, statuses in after.items():
            assert [s.status for s in statuses] == ["complete"] * 3, code
        assert wh.count_by_day(COSTS, date(2025, 12, 10), date(2025, 12, 12)) == {
            date(2025, 12, 10): 48, date(2025, 12, 11): 48, date(2025, 12, 12): 48}
    finally:
        stop(daemon)
        stop(webserver)
        for f in logs.values():
            f.close()
