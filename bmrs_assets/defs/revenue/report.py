"""The ``bmrs/revenue_report`` asset: the revenue report page, rewritten every morning.

The page (view, charts, HTML) is :mod:`bmrs_assets.revenue.report`, which imports no Dagster; this
asset reads the warehouse's revenue tables through the warehouse resource and writes it. It is in
the ``monitoring`` group, so the ``bmrs_monitoring_automation`` sensor (on by default) evaluates its
daily cron, after the settlement-run feeds' 08:00 deadline and the revenue sensor's re-runs.
"""

import dagster as dg

from bmrs_assets.defs.conventions import asset_conventions
from bmrs_assets.defs.resources import WarehouseResource
from bmrs_assets.defs.revenue.lineage import DERIVED_KEYS
from bmrs_assets.revenue.report_page import PATH_ENV, WINDOW_DAYS

DAILY_AT_10 = "0 10 * * *"  # Europe/London: EBOCF and COSTS are due by 08:00, the revenue days follow them


def build_revenue_report_asset() -> dg.AssetsDefinition:
    AC = dg.AutomationCondition  # noqa: N806

    @dg.asset(key=["bmrs", "revenue_report"], group_name="monitoring", kinds={"html"}, **asset_conventions(),
              deps=list(DERIVED_KEYS),
              automation_condition=(AC.cron_tick_passed(DAILY_AT_10, "Europe/London") & ~AC.in_progress()).with_label(
                  "daily at 10:00 London"),
              description=f"Static HTML page of charts over the last {WINDOW_DAYS} settlement days: daily BM revenue "
                          "by unit class, the top units (GBP, GBP/MW/yr), the estimate's match rate and its "
                          "reconciliation error against EBOCF per day, estimate vs EBOCF scatter. Written to "
                          f"{PATH_ENV} (default data/revenue_report/index.html).")
    def revenue_report(warehouse: WarehouseResource) -> dg.MaterializeResult:
        from bmrs_assets.revenue.report import collect, write  # pandas: when the page is written

        view = collect(warehouse.get())
        html_path, json_path = write(view)
        w, t = view["window"], view["totals"]
        return dg.MaterializeResult(metadata={
            "path": dg.MetadataValue.path(str(html_path)), "url": dg.MetadataValue.url(html_path.resolve().as_uri()),
            "json_path": dg.MetadataValue.path(str(json_path)), "first_day": w["first"], "last_day": w["last"],
            "days_with_revenue": w["days_with_revenue"], "units": t["units"],
            "bm_revenue_gbp": t["bm_revenue_gbp"], "vlp_revenue_gbp": t["vlp_revenue_gbp"],
            "unit_periods_reconciled": view["scatter"]["points"]})

    return revenue_report
