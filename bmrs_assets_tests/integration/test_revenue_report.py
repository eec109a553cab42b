"""The revenue report from real simulator runs: the asset and the command write it from the warehouse,
its figures are the warehouse's, and headless Chromium draws every chart (Plotly's SVG) and a screenshot."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from datetime import date

import dagster as dg
import duckdb

from bmrs_assets.cli.runs import materialize_range
from bmrs_assets.definitions import build_all_definitions
from bmrs_assets.revenue.report import CHARTS
from bmrs_assets_tests.support.browser import Dom, chromium, descendants

DAY = date(2025, 12, 17)
SOURCES = ["BOALF", "BOD", "PN", "EBOCF", "COSTS", "BM_UNITS"]
DERIVED = ["boalf_with_prices", "bm_cashflow_hybrid", "bm_unit_revenue", "vlp_revenue"]


def query(db, sql):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_the_report_is_the_warehouse_drawn_in_chromium(platform_env, instance, tmp_path, monkeypatch):
    db = platform_env
    monkeypatch.setenv("BMRS_START_DATE", DAY.isoformat())
    page = tmp_path / "report" / "index.html"
    monkeypatch.setenv("BMRS_REVENUE_REPORT_PATH", str(page))
    assert materialize_range(DAY, DAY, SOURCES, instance=instance)[0].success
    assert materialize_range(DAY, DAY, DERIVED, instance=instance)[0].success

    job = build_all_definitions().resolve_implicit_global_asset_job_def().get_subset(
        asset_selection={dg.AssetKey(["bmrs", "revenue_report"])})
    result = job.execute_in_process(instance=instance)
    assert result.success
    meta = {k: v.value for k, v in result.asset_materializations_for_node("bmrs__revenue_report")[0].metadata.items()}
    data = json.loads(page.with_suffix(".json").read_text())

    # the figures are the warehouse's: totals, per class, top unit, the reconciled unit-periods
    (total, vlp, units), = query(db, "SELECT round(sum(bm_revenue_gbp), 2), round(sum(bm_revenue_gbp) FILTER "
                                     "(WHERE classification = 'vlp'), 2), count(DISTINCT \"nationalGridBmUnit\") "
                                     "FROM bmrs_bm_unit_revenue")
    assert (meta["bm_revenue_gbp"], meta["vlp_revenue_gbp"], meta["units"]) == (total, vlp, units) and units > 10
    assert (meta["last_day"], meta["days_with_revenue"]) == (DAY.isoformat(), 1)  # the newest day computed
    assert data["totals"] == {"bm_revenue_gbp": total, "vlp_revenue_gbp": vlp, "units": units}
    by_class = dict(query(db, "SELECT classification, round(sum(bm_revenue_gbp), 2) FROM bmrs_bm_unit_revenue "
                              "GROUP BY 1"))
    assert {c: ys[-1] for c, ys in data["by_class"].items()} == by_class and len(data["days"]) == 30
    (best, best_gbp), = query(db, 'SELECT "nationalGridBmUnit", round(bm_revenue_gbp, 2) FROM bmrs_bm_unit_revenue '
                                  'ORDER BY bm_revenue_gbp DESC, "nationalGridBmUnit" LIMIT 1')
    assert (data["top_units"][0]["unit"], data["top_units"][0]["bm_revenue_gbp"]) == (best, best_gbp)
    (both,), = query(db, "SELECT count(*) FROM bmrs_bm_cashflow_hybrid WHERE ebocf_cashflow_gbp IS NOT NULL "
                         "AND estimate_cashflow_gbp IS NOT NULL")
    assert data["scatter"]["points"] == meta["unit_periods_reconciled"] == both > 0
    assert data["match"][0]["day"] == DAY.isoformat() and 0 < data["match"][0]["match_rate"] <= 1

    # the command writes the same figures
    out = tmp_path / "cli" / "report.html"
    done = subprocess.run([sys.executable, "-m", "bmrs_assets", "revenue-report", "--out", str(out), "--days", "7",
                           "--last", DAY.isoformat()], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "DAGSTER_HOME": str(tmp_path / "home")})
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"£{total:,.0f}" in done.stdout and out.resolve().as_uri() in done.stdout
    cli = json.loads(out.with_suffix(".json").read_text())
    assert cli["totals"] == data["totals"] and cli["window"]["days"] == 7

    # Chromium runs the page's plotly.js (inlined: no network) and draws each chart as SVG
    dom = Dom(chromium(["--virtual-time-budget=20000", "--dump-dom", page.as_uri()], tmp_path, timeout=120))
    assert dom.find(id="report-data") and next(e for e in dom.elements if e["tag"] == "body")["attrs"].get(
        "data-rendered") == str(len(CHARTS))
    for name in CHARTS:
        plot = dom.find(id=f"plot-{name}")[0]
        assert "js-plotly-plot" in plot["attrs"].get("class", ""), name
        svgs = [e for e in descendants(plot) if e["tag"] == "svg" and "main-svg" in e["attrs"].get("class", "")]
        assert svgs, f"{name}: no chart drawn"
    bars = [e for e in descendants(dom.find(id="plot-by-class")[0]) if e["attrs"].get("class") == "point"]
    assert len(bars) >= len(by_class)  # a bar per class on the day
    shot = tmp_path / "report.png"
    chromium(["--virtual-time-budget=20000", f"--screenshot={shot}", "--window-size=1400,1800", page.as_uri()],
             tmp_path, timeout=120)
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24]) == (1400, 1800)
    assert len(png) > 60_000  # charts in colour, not a blank page
