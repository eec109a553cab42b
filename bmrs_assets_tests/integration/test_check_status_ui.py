"""After a range run, the UI shows each check's result for each day of the range: passed or failed,
never skipped - read from the real webserver's GraphQL API with the queries the asset checks tab
sends (``support/dagster_ui.py``)."""

from __future__ import annotations

import os

import pytest

from bmrs_assets.core.processes import free_port, stop_process_group
from bmrs_assets.core.settlement import days_between, parse_day
from bmrs_assets.simulator.server import SimulatorConfig
from bmrs_assets_tests.support.check_scenario import (
    DAYS,
    EXPECTED,
    REPO,
    SHORT_DAY,
    prepare_home,
    run_range,
    simulator_config,
)
from bmrs_assets_tests.support.dagster_ui import asset_checks, check_executions, start_webserver


@pytest.fixture
def sim_config() -> SimulatorConfig:
    return simulator_config()


def day_statuses(check: dict) -> dict[str, str]:
    """Partition key -> status from ``partitionStatuses``' ranges (the check's partition health bar)."""
    statuses = check["partitionStatuses"]
    assert statuses["__typename"] == "AssetCheckTimePartitionStatuses", statuses
    return {d.isoformat(): r["status"] for r in statuses["ranges"]
            for d in days_between(parse_day(r["startKey"]), parse_day(r["endKey"]))}


@pytest.mark.slow
def test_checks_tab_shows_each_day_of_a_range_run_passed_or_failed(platform_env, tmp_path):
    home = prepare_home(tmp_path / "dagster_home")
    result = run_range(home)
    assert not result.success  # FREQ's blocking complete_partition failed on the short day
    env = {**os.environ, "DAGSTER_HOME": str(home), "BMRS_AUTOMATION": "off", "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": str(REPO)}
    port = free_port()
    proc = start_webserver(port, env, tmp_path / "webserver.log")
    try:
        keys = [d.isoformat() for d in DAYS]
        for (path, name), expected in EXPECTED.items():
            check = asset_checks(port, list(path))[name]
            assert check["blocking"] is True
            assert day_statuses(check) == dict(zip(keys, expected, strict=True)), (path, name)
            latest = check["executionForLatestMaterialization"]
            assert latest and latest["status"] in ("SUCCEEDED", "FAILED") and latest["partition"] in keys, latest
            for key, status in zip(keys, expected, strict=True):
                executions = check_executions(port, list(path), name, key)
                assert [e["status"] for e in executions] == [status], (path, name, key, executions)
                evaluation = executions[0]["evaluation"]
                assert evaluation["partition"] == key and evaluation["success"] is (status == "SUCCEEDED")
                if name == "complete_partition":  # that day's own figures
                    assert {"rows", "expected", "reason"} <= {m["label"] for m in evaluation["metadataEntries"]}
        short = check_executions(port, ["bmrs", "freq"], "complete_partition", SHORT_DAY.isoformat())[0]["evaluation"]
        assert short["severity"] == "ERROR" and short["description"] == f"{SHORT_DAY}: 2880 of 5760 rows"
    finally:
        stop_process_group(proc)
