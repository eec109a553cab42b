"""Settings read from the environment, with the documented defaults.

Resources take their values through Dagster ``EnvVar`` when a variable is set, so the UI shows
where a value came from; otherwise the default below applies.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from dagster import EnvVar

from bmrs_assets.core.settlement import parse_day
from bmrs_assets.elexon.client import LIVE_BASE_URL

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULTS: dict[str, str] = {
    "BMRS_API_BASE_URL": LIVE_BASE_URL,
    "BMRS_WAREHOUSE": "duckdb",
    "BMRS_DUCKDB_PATH": str(PROJECT_ROOT / "data" / "bmrs.duckdb"),
    "BMRS_BQ_PROJECT": "",  # empty: the application-default credentials' project
    "BMRS_BQ_DATASET": "bmrs",
    "BMRS_BQ_LOCATION": "",  # empty: the dataset's location (BigQuery's default when it is created)
    "BMRS_START_DATE": "2022-01-01",
    "BMRS_RATE_LIMIT_PER_S": "4",
    "BMRS_RATE_LIMIT_FILE": str(PROJECT_ROOT / "data" / ".elexon_rate_limit"),
    "BMRS_API_MAX_RETRIES": "5",
    "BMRS_API_BACKOFF_S": "1",
    "BMRS_API_TIMEOUT_S": "60",
    "BMRS_DASHBOARD_PATH": str(PROJECT_ROOT / "data" / "dashboard" / "index.html"),
    # IRIS (real-time push); client id, secret and queue have no default (see ``iris.py``)
    "BMRS_IRIS_NAMESPACE": "elexon-insights-iris.servicebus.windows.net",
    "BMRS_IRIS_TENANT_ID": "4203b7a0-7773-4de5-b830-8b263a20426e",
    "BMRS_IRIS_LANDING_PATH": str(PROJECT_ROOT / "data" / "iris_landing.sqlite"),
    "BMRS_API_IN_FLIGHT": "1",
}


def setting(name: str) -> str:
    """The value in force for ``name``: the environment's, else the default."""
    return os.environ.get(name) or DEFAULTS[name]


def env_or_default(name: str) -> str | EnvVar:
    """An ``EnvVar`` when the variable is set (so Dagster records its source), else the default."""
    return EnvVar(name) if os.environ.get(name) else DEFAULTS[name]


def start_date() -> date:
    value = setting("BMRS_START_DATE")
    try:
        return parse_day(value)
    except ValueError as exc:
        raise ValueError(f"BMRS_START_DATE: {exc}") from None
