"""The revenue report's view (revenue/report.py) on hand-made frames; every figure worked out beside it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest

from bmrs_assets.revenue.report import CHARTS, build_view, render_html, scatter_points, window
from bmrs_assets_tests.support.browser import Dom

D1, D2 = date(2025, 12, 16), date(2025, 12, 17)
NOW = datetime(2025, 12, 18, 10, 0, tzinfo=UTC)
DAYS = window(D2, 2)
approx = pytest.approx


def unit_row(day: date, bm: str, ng: str, cls: str, gbp: float, cap: float | None) -> dict:
    return {"settlementDate": day, "bmUnit": bm, "nationalGridBmUnit": ng, "classification": cls,
            "leadPartyName": f"{bm} Ltd", "bm_revenue_gbp": gbp, "capacity_mw": cap,
            "gbp_per_mw_day": gbp / cap if cap else np.nan}


UNITS = pd.DataFrame([
    unit_row(D1, "V__A", "AG-A", "vlp", 100.0, 10.0), unit_row(D1, "2__B", "AG-B", "supplier", 50.0, None),
    unit_row(D1, "T_C-1", "C-1", "transmission", 300.0, 100.0),
    unit_row(D2, "V__A", "AG-A", "vlp", 250.0, 10.0), unit_row(D2, "2__B", "AG-B", "supplier", -20.0, None),
    unit_row(date(2025, 12, 1), "V__A", "AG-A", "vlp", 1e6, 10.0),  # outside the window: never counted
])
HYBRID = pd.DataFrame({"settlementDate": [D1, D1, D1, D2],
                       "ebocf_cashflow_gbp": [100.0, 50.0, np.nan, -20.0],
                       "estimate_cashflow_gbp": [110.0, 50.0, 10.0, -30.0]})
PRICED = pd.DataFrame({"settlementDate": [D1] * 4, "match_status": ["matched", "matched", "partial", "no_volume"],
                       "offer_volume_mwh": [1.0, 1.0, 2.0, 0.0], "bid_volume_mwh": [0.0] * 4,
                       "unpriced_volume_mwh": [0.0, 0.0, 1.0, 0.0], "unmatched_reason": [None, None, "no_bod", None]})


def view() -> dict:
    return build_view(UNITS, HYBRID, PRICED, DAYS, NOW)


def test_totals_and_revenue_by_class_per_day():
    v = view()
    assert v["window"] == {"first": "2025-12-16", "last": "2025-12-17", "days": 2, "days_with_revenue": 2}
    # 100 + 50 + 300 + 250 - 20 = 680; VLP: 100 + 250 = 350
    assert v["totals"] == {"bm_revenue_gbp": 680.0, "vlp_revenue_gbp": 350.0, "units": 3}
    # classes in CLASSES order, a class's missing day is 0
    assert v["by_class"] == {"vlp": [100.0, 250.0], "supplier": [50.0, -20.0], "transmission": [300.0, 0.0]}
    # a class an operator's CSV named, outside the standard ones, is charted too (after them)
    custom = pd.concat([UNITS, pd.DataFrame([unit_row(D2, "E_X", "X", "battery_fleet", 5.0, None)])], ignore_index=True)
    assert build_view(custom, HYBRID, PRICED, DAYS, NOW)["by_class"]["battery_fleet"] == [0.0, 5.0]
    assert list(build_view(custom, HYBRID, PRICED, DAYS, NOW)["by_class"])[-1] == "battery_fleet"


def test_top_units_rank_by_revenue_with_gbp_per_mw_year():
    top = view()["top_units"]
    assert [(t["unit"], t["bm_revenue_gbp"], t["days"]) for t in top] == [("AG-A", 350.0, 2), ("C-1", 300.0, 1),
                                                                          ("AG-B", 30.0, 2)]
    # AG-A: 100 / 10 = 10 and 250 / 10 = 25 GBP/MW/day -> mean 17.5 x 365 = 6,387.5 GBP/MW/yr
    assert top[0]["gbp_per_mw_year"] == approx(6387.5) and top[0]["capacity_mw"] == 10.0
    # C-1: 300 / 100 = 3 x 365 = 1,095; AG-B has no capacity: no per-MW figure (not 0)
    assert top[1]["gbp_per_mw_year"] == approx(1095.0) and top[2]["gbp_per_mw_year"] is None


def test_match_rate_and_reconciliation_per_day():
    v = view()
    # D1: 3 rows with volume, 2 matched -> 0.6667; energy 1 - 1 unpriced / 4 accepted = 0.75; D2 has no rows
    assert v["match"] == [{"day": "2025-12-16", "match_rate": approx(0.6667, abs=1e-4), "energy_match_rate": 0.75,
                           "rows_with_volume": 3}]
    rec = {r["day"]: r for r in v["reconciliation"]}
    # D1: errors 110 - 100 = 10 (10 %) and 0 -> median 5 %; within £1 or 1 %: the second only -> 0.5
    assert (rec["2025-12-16"]["compared"], rec["2025-12-16"]["median_abs_pct_error"],
            rec["2025-12-16"]["within_1pct_or_1gbp"]) == (2, 0.05, 0.5)
    # D2: -30 against -20: 10 / 20 = 50 %
    assert (rec["2025-12-17"]["compared"], rec["2025-12-17"]["median_abs_pct_error"]) == (1, 0.5)


def test_scatter_holds_the_unit_periods_with_both_figures_and_thins_evenly():
    s = view()["scatter"]
    # the row without EBOCF is left out; sorted by EBOCF
    assert s == {"points": 3, "shown": 3, "ebocf_gbp": [-20.0, 50.0, 100.0], "estimate_gbp": [-30.0, 50.0, 110.0]}
    thin = scatter_points(HYBRID, DAYS, cap=2)  # the two ends of the range kept
    assert (thin["points"], thin["shown"], thin["ebocf_gbp"]) == (3, 2, [-20.0, 100.0])


def test_the_page_has_a_chart_per_section_and_the_view_as_data():
    v = view()
    page = render_html(v, plotly_js="/* plotly.js */")
    dom = Dom(page)
    for name in CHARTS:
        assert dom.find(id=f"chart-{name}") and dom.find(id=f"plot-{name}")
    data = json.loads(dom.find(id="report-data")[0]["text"])
    assert data == json.loads(json.dumps(v))
    rows = [e["attrs"]["data-unit"] for e in dom.elements if e["tag"] == "tr" and "data-unit" in e["attrs"]]
    assert rows == ["AG-A", "C-1", "AG-B"]
    assert "£680" in dom.find(id="total-bm")[0]["text"] and "£350" in dom.find(id="total-vlp")[0]["text"]
    empty = build_view(UNITS.iloc[:0], HYBRID.iloc[:0], PRICED.iloc[:0], DAYS, NOW)  # nothing computed yet
    assert empty["totals"] == {"bm_revenue_gbp": 0.0, "vlp_revenue_gbp": 0.0, "units": 0} and empty["by_class"] == {}
    assert Dom(render_html(empty, plotly_js="")).find(id="plot-scatter")
