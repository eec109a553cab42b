"""A real ``dagster-webserver`` (and daemon) for the tests that go through the UI's GraphQL API."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from bmrs_assets.core.processes import start_process_group
from bmrs_assets_tests.conftest import REPO

BIN = Path(sys.executable).parent
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


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else ""


def start_webserver(port: int, env: dict[str, str], log: Path, timeout: float = 120) -> subprocess.Popen:
    """``dagster-webserver`` on 127.0.0.1:port over workspace.yaml, returned once it answers."""
    proc = start_process_group([str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port),
                                "-w", "workspace.yaml"], env, log, cwd=REPO)
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, tail(log)
        try:
            if httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "webserver did not come up"
        time.sleep(0.5)


def start_daemon(env: dict[str, str], log: Path) -> subprocess.Popen:
    return start_process_group([str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"], env, log, cwd=REPO)


def launch_backfill(port: int, days: list[str], asset_paths: list[list[str]], title: str) -> str:
    """What the UI's backfill dialog sends: ``launchPartitionBackfill``; the backfill's id."""
    params = {"partitionNames": days, "assetSelection": [{"path": p} for p in asset_paths], "title": title}
    launched = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": LAUNCH, "variables": {"params": params}},
                          timeout=60).json()
    result = launched["data"]["launchPartitionBackfill"]
    assert result["__typename"] == "LaunchBackfillSuccess", result
    return result["backfillId"]


def backfill_status(port: int, backfill_id: str) -> dict:
    body = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": STATUS, "variables": {"id": backfill_id}},
                      timeout=30).json()
    return body["data"]["partitionBackfillOrError"]


# What the UI's asset checks tab reads (dagster-webserver 1.13's AssetChecksQuery /
# AssetCheckTableFragment and AssetCheckPartitionDetailQuery), cut to the fields the tests assert.
CHECKS = """
query($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) {
    __typename
    ... on AssetNode {
      assetChecksOrError {
        __typename
        ... on AssetChecks {
          checks {
            name
            blocking
            executionForLatestMaterialization { status partition evaluation { success partition } }
            partitionStatuses {
              __typename
              ... on AssetCheckTimePartitionStatuses { ranges { startKey endKey status } }
            }
          }
        }
      }
    }
  }
}"""
CHECK_EXECUTIONS = """
query($assetKey: AssetKeyInput!, $checkName: String!, $partitionKey: String!) {
  assetCheckExecutions(assetKey: $assetKey, checkName: $checkName, partition: $partitionKey, limit: 1000) {
    status
    partition
    evaluation { success partition severity description metadataEntries { label } }
  }
}"""


def graphql(port: int, query: str, variables: dict) -> dict:
    """``data`` of one GraphQL request to the webserver (an ``errors`` answer fails the test)."""
    body = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": query, "variables": variables},
                      timeout=60).json()
    assert not body.get("errors"), body["errors"]
    return body["data"]


def asset_checks(port: int, asset_path: list[str]) -> dict[str, dict]:
    """Check name -> the check as the asset's checks tab reads it (``assetNodeOrError.assetChecksOrError``)."""
    node = graphql(port, CHECKS, {"assetKey": {"path": asset_path}})["assetNodeOrError"]
    assert node["__typename"] == "AssetNode", node
    checks = node["assetChecksOrError"]
    assert checks["__typename"] == "AssetChecks", checks
    return {c["name"]: c for c in checks["checks"]}


def check_executions(port: int, asset_path: list[str], check: str, partition: str) -> list[dict]:
    """A check's executions for one partition, newest first (the check's Partitions tab, one partition)."""
    return graphql(port, CHECK_EXECUTIONS, {"assetKey": {"path": asset_path}, "checkName": check,
                                            "partitionKey": partition})["assetCheckExecutions"]
