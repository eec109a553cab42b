"""The Dagster code location: ``dagster dev -m bmrs_assets.definitions`` (see workspace.yaml)."""

from __future__ import annotations

import warnings

import dagster as dg

from bmrs_assets.core.memory import freeze_loaded_objects
from bmrs_assets.defs.elexon.assets import build_dataset_assets, daily_partitions
from bmrs_assets.defs.elexon.automation import automation_sensor
from bmrs_assets.defs.elexon.checks import build_checks
from bmrs_assets.defs.env import env_or_default, ignore_dagster_notices
from bmrs_assets.defs.executor import step_executor
from bmrs_assets.defs.io_manager import WarehouseIOManager
from bmrs_assets.defs.iris.landed_runs import iris_sensor
from bmrs_assets.defs.monitoring.alerts import build_alert_sensor
from bmrs_assets.defs.monitoring.dashboard import build_dashboard_asset, monitoring_automation_sensor
from bmrs_assets.defs.monitoring.freshness import build_freshness_checks, build_freshness_sensor
from bmrs_assets.defs.monitoring.run_failures import build_run_failure_sensor
from bmrs_assets.defs.resources import ElexonApiResource, WarehouseResource
from bmrs_assets.defs.revenue.definitions import build_revenue_definitions
from bmrs_assets.settings import setting, value


def warehouse_resource(resolved: bool = False) -> WarehouseResource:
    """The warehouse resource from the environment; ``resolved`` gives plain values for use outside a run."""
    read = setting if resolved else env_or_default
    return WarehouseResource(backend=read("BMRS_WAREHOUSE"), duckdb_path=read("BMRS_DUCKDB_PATH"),
                             bq_project=read("BMRS_BQ_PROJECT"), bq_dataset=read("BMRS_BQ_DATASET"),
                             bq_location=read("BMRS_BQ_LOCATION"), bq_credentials=read("BMRS_BQ_CREDENTIALS") or "")


def build_definitions() -> dg.Definitions:
    partitions = daily_partitions()
    warehouse = warehouse_resource()
    return dg.Definitions(
        assets=[*build_dataset_assets(partitions), build_dashboard_asset()],
        asset_checks=[*build_checks(partitions), *build_freshness_checks()],
        executor=step_executor,
        sensors=[automation_sensor(), build_alert_sensor(), build_run_failure_sensor(), monitoring_automation_sensor(),
                 iris_sensor(), build_freshness_sensor()],
        resources={
            "elexon": ElexonApiResource(base_url=env_or_default("BMRS_API_BASE_URL"),
                                        rate_limit_per_s=value("BMRS_RATE_LIMIT_PER_S"),
                                        rate_limit_file=setting("BMRS_RATE_LIMIT_FILE"),
                                        max_retries=value("BMRS_API_MAX_RETRIES"),
                                        backoff_s=value("BMRS_API_BACKOFF_S"),
                                        timeout_s=value("BMRS_API_TIMEOUT_S"),
                                        deadline_s=value("BMRS_API_DEADLINE_S"),
                                        retry_after_max_s=value("BMRS_API_RETRY_AFTER_MAX_S"),
                                        in_flight=value("BMRS_API_IN_FLIGHT"),
                                        typing_workers=value("BMRS_TYPING_WORKERS")),
            "warehouse": warehouse,
            "warehouse_io_manager": WarehouseIOManager(warehouse=warehouse, chunk_rows=value("BMRS_CHUNK_ROWS"),
                                                       chunk_days=value("BMRS_CHUNK_DAYS"),
                                                       give_up_after=value("BMRS_RANGE_GIVE_UP_AFTER")),
        },
    )


def build_all_definitions() -> dg.Definitions:
    """The datasets plus the Balancing Mechanism revenue assets, checks, sensor and resource.

    Built without Dagster's beta/preview/deprecation notices about its own API (``env.DAGSTER_NOTICES``):
    whoever loads the code location (``dagster dev``, the commands, a run worker) is not told that
    ``backfill_policy`` or a partitioned check is beta on every load."""
    with warnings.catch_warnings():
        ignore_dagster_notices()
        return dg.Definitions.merge(build_definitions(), build_revenue_definitions())


defs = build_all_definitions()
freeze_loaded_objects()  # the loaded code location lives as long as the process: no GC pass walks it again
