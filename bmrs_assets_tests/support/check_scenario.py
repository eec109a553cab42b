"""A range run whose checks the UI must show day by day: 3 days of BOALF and FREQ against the
simulator, FREQ's middle day served short (half its rows), so its ``complete_partition`` fails
that day and passes the other two. Used by ``integration/test_check_status_ui.py`` and
``tools/checks_screenshot.py``."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from bmrs_assets.simulator.server import SimulatorConfig

REPO = Path(__file__).resolve().parents[2]
DAYS = [date(2025, 12, 10) + timedelta(days=i) for i in range(3)]
SHORT_DAY = DAYS[1]
DATASETS = ["BOALF", "FREQ"]
# (asset path, check name) -> the status the UI must show for each of DAYS
EXPECTED: dict[tuple[tuple[str, ...], str], list[str]] = {
    (("bmrs", "boalf"), "complete_partition"): ["SUCCEEDED"] * 3,
    (("bmrs", "boalf"), "unique_natural_key"): ["SUCCEEDED"] * 3,
    (("bmrs", "freq"), "complete_partition"): ["SUCCEEDED", "FAILED", "SUCCEEDED"],
    (("bmrs", "freq"), "unique_natural_key"): ["SUCCEEDED"] * 3,
}


def simulator_config(short_day: date = SHORT_DAY) -> SimulatorConfig:
    """The bundled simulator, serving half of FREQ's rows of ``short_day``."""
    return SimulatorConfig(short={f"FREQ/{short_day.isoformat()}": 0.5})


def prepare_home(home: Path) -> Path:
    """A DAGSTER_HOME with the project's instance settings (``deploy/instance/dagster.yaml``) and its
    storage created, before the webserver and this process would race to migrate it."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "deploy" / "instance" / "dagster.yaml", home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)):
        pass
    return home


def run_range(home: Path, days: list[date] = DAYS) -> dg.ExecuteInProcessResult:
    """One run over ``days`` of :data:`DATASETS` into the instance at ``home`` (the platform's
    environment, BMRS_API_BASE_URL and BMRS_DUCKDB_PATH, already set); it fails: FREQ's blocking
    ``complete_partition`` fails on the short day."""
    from bmrs_assets.cli.runs import materialize_range

    with dg.DagsterInstance.from_config(str(home)) as instance:
        result, _ = materialize_range(days[0], days[-1], DATASETS, instance=instance)
    return result
