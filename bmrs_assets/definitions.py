"""The Dagster code location: ``dagster dev -m bmrs_assets.definitions`` (see workspace.yaml)."""

from __future__ import annotations

import dagster as dg

from bmrs_assets.assets import build_dataset_assets, daily_partitions
from bmrs_assets.checks import build_checks
from bmrs_assets.config import env_or_default, setting
from bmrs_assets.derived_assets import build_revenue_definitions
from bmrs_assets.io_managers import WarehouseIOManager
from bmrs_assets.resources import ElexonApiResource, WarehouseResource


def build_definitions() -> dg.Definitions:
    partitions = daily_partitions()
    warehouse = WarehouseResource(backend=env_or_default("BMRS_WAREHOUSE"),
                                  duckdb_path=env_or_default("BMRS_DUCKDB_PATH"))
    return dg.Definitions(
        assets=build_dataset_assets(partitions),
        asset_checks=build_checks(partitions),
        resources={
            "elexon": ElexonApiResource(base_url=env_or_default("BMRS_API_BASE_URL"),
                                        rate_limit_per_s=float(setting("BMRS_RATE_LIMIT_PER_S"))),
            "warehouse": warehouse,
            "warehouse_io_manager": WarehouseIOManager(warehouse=warehouse),
        },
    )


def build_all_definitions() -> dg.Definitions:
    """The datasets plus the Balancing Mechanism revenue assets, checks, sensor and resource."""
    return dg.Definitions.merge(build_definitions(), build_revenue_definitions())


defs = build_all_definitions()
