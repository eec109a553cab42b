"""The revenue code location part: assets, checks, the sensor, the report and the ``vlp`` resource."""

from __future__ import annotations

import dagster as dg

from bmrs_assets.defs.elexon.assets import daily_partitions
from bmrs_assets.defs.revenue.assets import build_revenue_assets, build_revenue_checks, vlp_resource_from_env
from bmrs_assets.defs.revenue.report import build_revenue_report_asset
from bmrs_assets.defs.revenue.sensor import build_revenue_sensor
from bmrs_assets.defs.revenue.volume_check import build_volume_check, build_volume_check_sensor


def build_revenue_definitions(partitions: dg.PartitionsDefinition | None = None) -> dg.Definitions:
    """Assets (the revenue tables and the report page), checks, sensor and the ``vlp`` resource; the
    warehouse resources come from definitions.py."""
    partitions = partitions or daily_partitions()
    checks = [*build_revenue_checks(partitions), build_volume_check(partitions)]
    return dg.Definitions(assets=[*build_revenue_assets(partitions), build_revenue_report_asset()], asset_checks=checks,
                          sensors=[build_revenue_sensor(), build_volume_check_sensor()],
                          resources={"vlp": vlp_resource_from_env()})
