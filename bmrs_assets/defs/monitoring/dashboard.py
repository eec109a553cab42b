"""The ``bmrs/freshness_dashboard`` asset and the sensor that runs it every 15 minutes.

The page itself (view, status rule, HTML) is :mod:`bmrs_assets.monitoring.dashboard`, which
imports no Dagster; :func:`collect` supplies it the instance's facts.
"""

from collections.abc import Iterable
from datetime import datetime

import dagster as dg

from bmrs_assets.core.settlement import UTC
from bmrs_assets.defs.conventions import asset_conventions
from bmrs_assets.defs.elexon.assets import daily_partitions
from bmrs_assets.defs.quality import asset_key, classify, freshness
from bmrs_assets.defs.resources import WarehouseResource
from bmrs_assets.elexon.datasets import REGISTRY, Dataset
from bmrs_assets.monitoring.dashboard import PATH_ENV, WINDOW_DAYS, gather, write
from bmrs_assets.warehouse.contract import Warehouse

EVERY_15_MIN = "*/15 * * * *"  # the dashboard is rewritten on this cron, whatever BMRS_AUTOMATION_CRON says


def collect(datasets: Iterable[Dataset], instance: dg.DagsterInstance, warehouse: Warehouse,
            partitions_def: dg.PartitionsDefinition, now: datetime | None = None, days: int = WINDOW_DAYS) -> dict:
    """Gather the view from the Dagster instance and the warehouse."""
    now = now or datetime.now(UTC)
    return gather(datasets, lambda ds: freshness(instance, ds, now),
                  lambda ds, first, last: classify(ds, first, last, instance, warehouse, partitions_def, now),
                  now, days)


def build_dashboard_asset() -> dg.AssetsDefinition:
    AC = dg.AutomationCondition  # noqa: N806

    # deps: drawn downstream of every dataset, and run after them when one run holds both (make demo)
    @dg.asset(key=["bmrs", "freshness_dashboard"], group_name="monitoring", kinds={"html"}, **asset_conventions(),
              deps=[asset_key(ds) for ds in REGISTRY.values()],
              automation_condition=(AC.cron_tick_passed(EVERY_15_MIN, "Europe/London") & ~AC.in_progress()).with_label(
                  "every 15 minutes"),
              description="Static HTML page: per dataset the age of the newest data, the freshness policy status and a "
                          f"{WINDOW_DAYS}-day coverage heatmap; overall status = the worst dataset. "
                          f"Written to {PATH_ENV} (default data/dashboard/index.html).")
    def freshness_dashboard(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        view = collect(REGISTRY.values(), context.instance, warehouse.get(), daily_partitions())
        html_path, json_path = write(view)
        o = view["overall"]
        return dg.MaterializeResult(metadata={
            "path": dg.MetadataValue.path(str(html_path)),
            "url": dg.MetadataValue.url(html_path.resolve().as_uri()),
            "json_path": dg.MetadataValue.path(str(json_path)),
            "overall_status": o["status"],
            "datasets_fail": o["counts"]["fail"], "datasets_warn": o["counts"]["warn"],
            "datasets_pass": o["counts"]["pass"],
            "problems": dg.MetadataValue.md("\n".join(f"* {p}" for p in o["problems"]) or "none"),
        })

    return freshness_dashboard


def monitoring_automation_sensor() -> dg.AutomationConditionSensorDefinition:
    """Evaluates the ``monitoring`` group's conditions (the dashboard's 15-minute cron); on by default."""
    return dg.AutomationConditionSensorDefinition(
        "bmrs_monitoring_automation", target=dg.AssetSelection.groups("monitoring"),
        default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=60)
