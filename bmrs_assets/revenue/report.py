"""The revenue report: one self-contained HTML page of charts (plus the same data as JSON).

Over the last ``WINDOW_DAYS`` settlement days up to the newest computed one it shows: daily BM
revenue by unit class (``bm_unit_revenue``), the top units by revenue with their GBP/MW/yr, the
estimate's match rate per day (``boalf_with_prices``), its reconciliation error against EBOCF per
day (``bm_cashflow_hybrid``) and the estimate vs EBOCF scatter of every unit-period where both
exist. Charts are Plotly's (plotly.js inlined once, so the file opens offline and from a file URL).

:func:`build_view` is pure (frames in, a JSON-able dict out) and :func:`render_html` renders it;
:func:`collect` reads the frames from a warehouse. This module imports no Dagster: the asset
``bmrs/revenue_report`` (:mod:`bmrs_assets.defs.revenue.report`) and ``python -m bmrs_assets
revenue-report`` gather and write.
"""

from __future__ import annotations

import html
import json
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from bmrs_assets.core.pages import write_page
from bmrs_assets.core.settlement import UTC, london_today
from bmrs_assets.revenue.classification import CLASSES
from bmrs_assets.revenue.hybrid import reconciliation
from bmrs_assets.revenue.pricing import match_summary
from bmrs_assets.revenue.report_page import PATH_ENV, WINDOW_DAYS
from bmrs_assets.revenue.tables import BM_CASHFLOW_HYBRID, BM_UNIT_REVENUE, BOALF_WITH_PRICES
from bmrs_assets.revenue.units import DAYS_PER_YEAR
from bmrs_assets.settings import setting
from bmrs_assets.warehouse.contract import Warehouse

TOP_UNITS = 15
SCATTER_MAX_POINTS = 5_000  # evenly spaced over the sorted points beyond this, so the page stays light
CHARTS = ("by-class", "top-units", "match-rate", "reconciliation", "scatter")
WIDE = ("by-class", "top-units", "scatter")  # the full width of the page; the other two side by side
CLASS_COLOURS = {"vlp": "#1b9e77", "supplier": "#7570b3", "transmission": "#d95f02", "embedded": "#e7298a",
                 "interconnector": "#66a61e", "cfd": "#e6ab02", "other": "#a6761d"}


def window(last: date, days: int = WINDOW_DAYS) -> list[date]:
    """The ``days`` settlement days ending on ``last``, oldest first."""
    return [last - timedelta(days=i) for i in range(days - 1, -1, -1)]


def _of(frame: pd.DataFrame | None, days: list[date]) -> pd.DataFrame:
    if frame is None or not len(frame):
        return pd.DataFrame(columns=["settlementDate"])
    d = pd.to_datetime(frame["settlementDate"]).dt.date
    return frame[d.isin(set(days))].assign(_day=d)


def _r(x: object, places: int = 2) -> float | None:
    return None if x is None or pd.isna(x) else round(float(x), places)


def daily_by_class(units: pd.DataFrame, days: list[date]) -> dict:
    """BM revenue (GBP) per day for each class that has any row, zeros on days without: the standard
    classes in their order, then any other an operator's CSV named (so the bars add up to the total)."""
    u = _of(units, days)
    sums = u.groupby(["_day", "classification"])["bm_revenue_gbp"].sum() if len(u) else pd.Series(dtype=float)
    seen = set(u["classification"]) if len(u) else set()
    present = [c for c in CLASSES if c in seen] + sorted(seen - set(CLASSES))
    return {c: [_r(sums.get((d, c), 0.0)) for d in days] for c in present}


def top_units(units: pd.DataFrame, days: list[date], n: int = TOP_UNITS) -> list[dict]:
    """The ``n`` units with the most BM revenue over ``days``; GBP/MW/yr over the days it had a capacity
    (its revenue on those days / capacity / days x 365), null without one."""
    u = _of(units, days)
    if not len(u):
        return []
    u = u.assign(_unit=u["nationalGridBmUnit"].where(u["nationalGridBmUnit"].notna(), u["bmUnit"]),
                 _per_mw=u["gbp_per_mw_day"].astype(float))
    rows = []
    for unit, g in u.groupby("_unit", sort=False):
        rated = g["_per_mw"].dropna()
        rows.append({
            "unit": unit, "bmUnit": g["bmUnit"].dropna().iloc[0] if g["bmUnit"].notna().any() else None,
            "classification": g["classification"].iloc[-1], "leadPartyName": g["leadPartyName"].dropna().iloc[-1]
            if g["leadPartyName"].notna().any() else None,
            "capacity_mw": _r(g["capacity_mw"].dropna().iloc[-1]) if g["capacity_mw"].notna().any() else None,
            "bm_revenue_gbp": _r(g["bm_revenue_gbp"].sum()), "days": int(g["_day"].nunique()),
            "gbp_per_mw_year": _r(rated.mean() * DAYS_PER_YEAR) if len(rated) else None})
    rows.sort(key=lambda r: (-r["bm_revenue_gbp"], str(r["unit"])))
    return rows[:n]


def match_by_day(priced: pd.DataFrame, days: list[date]) -> list[dict]:
    """The estimate's match rate (rows and energy) for each day with priced acceptances."""
    p = _of(priced, days)
    out = []
    for d in days:
        rows = p[p["_day"] == d] if len(p) else p
        if len(rows):
            s = match_summary(rows)
            out.append({"day": d.isoformat(), "match_rate": _r(s.match_rate, 4),
                        "energy_match_rate": _r(s.energy_match_rate, 4), "rows_with_volume": s.rows_with_volume})
    return out


def reconciliation_by_day(hybrid: pd.DataFrame, days: list[date]) -> list[dict]:
    """The estimate against EBOCF per day, where both exist for a unit-period (``hybrid.reconciliation``)."""
    h = _of(hybrid, days)
    out = []
    for d in days:
        rows = h[h["_day"] == d] if len(h) else h
        rec = reconciliation(rows) if len(rows) else None
        if rec is not None and rec.compared:
            out.append({"day": d.isoformat(), "compared": rec.compared,
                        "median_abs_pct_error": rec.median_abs_pct_error,
                        "within_1pct_or_1gbp": rec.within_1pct_or_1gbp,
                        "median_abs_error_gbp": rec.median_abs_error_gbp})
    return out


def scatter_points(hybrid: pd.DataFrame, days: list[date], cap: int = SCATTER_MAX_POINTS) -> dict:
    """Estimate vs EBOCF (GBP) per unit-period where both exist; beyond ``cap`` points an evenly spaced
    ``cap`` of them (sorted by EBOCF, so the range is kept), with the total count."""
    h = _of(hybrid, days)
    both = h[h["ebocf_cashflow_gbp"].notna() & h["estimate_cashflow_gbp"].notna()] if len(h) else h
    both = both.sort_values(["ebocf_cashflow_gbp", "estimate_cashflow_gbp"], kind="stable") if len(both) else both
    total = len(both)
    if total > cap:
        both = both.iloc[np.linspace(0, total - 1, cap).round().astype(int)]
    return {"points": total, "shown": len(both),
            "ebocf_gbp": [_r(x) for x in both["ebocf_cashflow_gbp"]] if len(both) else [],
            "estimate_gbp": [_r(x) for x in both["estimate_cashflow_gbp"]] if len(both) else []}


def build_view(units: pd.DataFrame, hybrid: pd.DataFrame, priced: pd.DataFrame, days: list[date],
               now: datetime) -> dict:
    """Everything the page shows, as plain data (also written as the JSON beside the page)."""
    u = _of(units, days)
    vlp = u[u["classification"] == "vlp"] if len(u) else u
    return {
        "generated_utc": now.astimezone(UTC).isoformat(),
        "window": {"first": days[0].isoformat(), "last": days[-1].isoformat(), "days": len(days),
                   "days_with_revenue": int(u["_day"].nunique()) if len(u) else 0},
        "totals": {"bm_revenue_gbp": _r(u["bm_revenue_gbp"].sum()) if len(u) else 0.0,
                   "vlp_revenue_gbp": _r(vlp["bm_revenue_gbp"].sum()) if len(vlp) else 0.0,
                   "units": int(u["nationalGridBmUnit"].nunique()) if len(u) else 0},
        "days": [d.isoformat() for d in days],
        "by_class": daily_by_class(units, days),
        "top_units": top_units(units, days),
        "match": match_by_day(priced, days),
        "reconciliation": reconciliation_by_day(hybrid, days),
        "scatter": scatter_points(hybrid, days),
    }


def newest_day(warehouse: Warehouse, today: date, lookback: int = 400) -> date | None:
    """The newest settlement day ``bm_unit_revenue`` has rows for (within ``lookback`` days of today)."""
    counts = warehouse.count_by_day(BM_UNIT_REVENUE, today - timedelta(days=lookback), today)
    days = [d for d, n in counts.items() if n]
    return max(days) if days else None


def collect(warehouse: Warehouse, last: date | None = None, days: int = WINDOW_DAYS,
            now: datetime | None = None) -> dict:
    """The view from the warehouse's revenue tables, over ``days`` days ending ``last`` (default: the
    newest day computed, else today)."""
    now = now or datetime.now(UTC)
    last = last or newest_day(warehouse, london_today(now)) or london_today(now)
    span = window(last, days)
    read = (lambda t: warehouse.read(t, span[0], span[-1]))  # noqa: E731
    return build_view(read(BM_UNIT_REVENUE), read(BM_CASHFLOW_HYBRID), read(BOALF_WITH_PRICES), span, now)


# --- the page ---------------------------------------------------------------------------------------
def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _figures(view: dict) -> dict[str, dict]:
    """The Plotly figures (as plain JSON figure dicts) for :data:`CHARTS`."""
    days = view["days"]
    # the top margin holds the mode bar
    layout = {"margin": {"l": 70, "r": 20, "t": 34, "b": 50}, "height": 360, "template": None,
              "paper_bgcolor": "#ffffff", "plot_bgcolor": "#ffffff", "legend": {"orientation": "h", "y": -0.2},
              "xaxis": {"gridcolor": "#eeeeee"}, "yaxis": {"gridcolor": "#eeeeee"}}
    by_class = [{"type": "bar", "name": c, "x": days, "y": ys, "marker": {"color": CLASS_COLOURS.get(c, "#888")},
                 "hovertemplate": f"{c}<br>%{{x}}: £%{{y:,.0f}}<extra></extra>"} for c, ys in view["by_class"].items()]
    top = list(reversed(view["top_units"]))
    top_trace = [{"type": "bar", "orientation": "h", "name": "BM revenue", "x": [t["bm_revenue_gbp"] for t in top],
                  "y": [t["unit"] for t in top],
                  "marker": {"color": [CLASS_COLOURS.get(t["classification"], "#888") for t in top]},
                  "customdata": [[t["classification"], t["gbp_per_mw_year"]] for t in top],
                  "hovertemplate": "%{y} (%{customdata[0]})<br>£%{x:,.0f}<br>£/MW/yr %{customdata[1]:,.0f}"
                                   "<extra></extra>"}]
    m, rec, sc = view["match"], view["reconciliation"], view["scatter"]
    match = [{"type": "scatter", "mode": "lines+markers", "name": name, "x": [r["day"] for r in m],
              "y": [r[key] for r in m]} for key, name in (("match_rate", "rows fully priced"),
                                                           ("energy_match_rate", "energy priced"))]
    recon = [{"type": "scatter", "mode": "lines+markers", "name": "median |estimate - EBOCF| / |EBOCF|",
              "x": [r["day"] for r in rec], "y": [r["median_abs_pct_error"] for r in rec]},
             {"type": "scatter", "mode": "lines+markers", "name": "share within £1 or 1 %",
              "x": [r["day"] for r in rec], "y": [r["within_1pct_or_1gbp"] for r in rec]}]
    values = [v for v in sc["ebocf_gbp"] + sc["estimate_gbp"] if v is not None]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    scatter = [{"type": "scattergl", "mode": "markers", "name": "unit-period", "x": sc["ebocf_gbp"],
                "y": sc["estimate_gbp"], "marker": {"size": 4, "opacity": 0.5, "color": "#1f77b4"},
                "hovertemplate": "EBOCF £%{x:,.2f}<br>estimate £%{y:,.2f}<extra></extra>"},
               {"type": "scatter", "mode": "lines", "name": "estimate = EBOCF", "x": [lo, hi], "y": [lo, hi],
                "line": {"color": "#c62828", "dash": "dash"}}]
    ax = lambda title, **kw: {"title": {"text": title}, "gridcolor": "#eeeeee", **kw}  # noqa: E731
    return {
        "by-class": {"data": by_class, "layout": {**layout, "barmode": "relative", "yaxis": ax("BM revenue, £")}},
        "top-units": {"data": top_trace, "layout": {**layout, "height": max(300, 26 * len(top) + 80),
                                                   "margin": {"l": 130, "r": 20, "t": 34, "b": 50},
                                                   "showlegend": False,
                                                   "xaxis": ax(f"BM revenue over the {view['window']['days']} days, £")}},
        "match-rate": {"data": match, "layout": {**layout, "yaxis": ax("share", tickformat=".0%", range=[0, 1.05])}},
        "reconciliation": {"data": recon, "layout": {**layout, "yaxis": ax("share", tickformat=".0%")}},
        "scatter": {"data": scatter, "layout": {**layout, "height": 460, "xaxis": ax("EBOCF cashflow, £"),
                                                "yaxis": ax("BOALF x BOD estimate, £")}},
    }


CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;color:#212121;background:#fafafa}
header{padding:16px 24px;background:#263238;color:#fff}header h1{margin:0 0 4px;font-size:24px}header p{margin:2px 0}
main{padding:8px 24px 24px;display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:16px}
section{background:#fff;border:1px solid #e0e0e0;border-radius:4px;padding:8px 12px}
section h2{font-size:16px;margin:6px 0}section p{margin:4px 0;color:#616161;font-size:12px}
.wide{grid-column:1/-1}.pair{display:grid;grid-template-columns:minmax(0,11fr) minmax(0,9fr);gap:16px;align-items:start}
table{border-collapse:collapse;width:100%;font-size:12px}th,td{padding:3px 6px;border-bottom:1px solid #eee;text-align:right}
th:first-child,td:first-child,th:nth-child(2),td:nth-child(2),th:nth-child(3),td:nth-child(3){text-align:left}
.figures{display:flex;gap:24px;flex-wrap:wrap}.figure strong{display:block;font-size:20px}
"""

SECTIONS = {
    "by-class": ("Daily BM revenue by unit class", "Sum of bm_unit_revenue.bm_revenue_gbp per settlement day and "
                 "class (classes from Elexon's BM unit reference, else the id prefix)."),
    "top-units": ("Top units", "BM revenue over the window; hover for GBP/MW/yr (revenue per MW of registered "
                  "capacity, annualised x 365)."),
    "match-rate": ("Match rate", "Share of accepted-energy rows (and of the energy) the BOD bands priced, per day."),
    "reconciliation": ("Reconciliation with EBOCF", "Where EBOCF and the BOALF x BOD estimate both exist for a "
                       "unit-period: the median relative error and the share within £1 or 1 %, per day."),
    "scatter": ("Estimate vs EBOCF", "One point per unit-period with both figures; on the dashed line they agree."),
}


def _number(x: float | None, places: int = 0) -> str:
    return "" if x is None else f"{x:,.{places}f}"


def _top_table(view: dict) -> str:
    rows = "".join(
        f'<tr data-unit="{_e(t["unit"])}"><td>{_e(t["unit"])}</td><td>{_e(t["classification"])}</td>'
        f'<td>{_e(t["leadPartyName"] or "")}</td><td>{_number(t["capacity_mw"], 1)}</td>'
        f'<td>{_number(t["bm_revenue_gbp"])}</td><td>{_number(t["gbp_per_mw_year"])}</td></tr>'
        for t in view["top_units"])
    return ('<table id="top-units-table"><thead><tr><th>unit</th><th>class</th><th>lead party</th><th>MW</th>'
            f'<th>£</th><th>£/MW/yr</th></tr></thead><tbody>{rows}</tbody></table>')


def render_html(view: dict, plotly_js: str | None = None) -> str:
    """The page for ``view``: one file, plotly.js inlined (``plotly_js``: the library's text, from the
    installed plotly package by default), the view as JSON in ``<script id="report-data">``."""
    if plotly_js is None:
        from plotly.offline import get_plotlyjs  # the charting library; imported where the page is drawn

        plotly_js = get_plotlyjs()
    w, t = view["window"], view["totals"]
    figures = _figures(view)
    sections = "".join(
        f'<section id="chart-{name}" class="{"wide" if name in WIDE else ""}">'
        f'<h2>{_e(SECTIONS[name][0])}</h2><p>{_e(SECTIONS[name][1])}</p>'
        + (f'<div class="pair"><div id="plot-{name}" class="plot"></div>{_top_table(view)}</div>' if name == "top-units"
           else f'<div id="plot-{name}" class="plot"></div>') + "</section>" for name in CHARTS)
    data = json.dumps(view).replace("</", "<\\/")
    figs = json.dumps(figures).replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>BM revenue, {_e(w["first"])} to {_e(w["last"])}</title>
<style>{CSS}</style>
<script>{plotly_js}</script></head>
<body>
<header><h1>Balancing Mechanism revenue</h1>
<p>{w["days"]} settlement days, {_e(w["first"])} to {_e(w["last"])} ({w["days_with_revenue"]} with revenue computed).
Generated {_e(view["generated_utc"][:16].replace("T", " "))} UTC.</p>
<div class="figures"><span class="figure" id="total-bm">BM revenue<strong>£{t["bm_revenue_gbp"]:,.0f}</strong></span>
<span class="figure" id="total-vlp">of which VLP units<strong>£{t["vlp_revenue_gbp"]:,.0f}</strong></span>
<span class="figure" id="total-units">units<strong>{t["units"]:,}</strong></span>
<span class="figure" id="total-scatter">unit-periods reconciled<strong>{view["scatter"]["points"]:,}</strong></span></div>
</header>
<main>{sections}</main>
<script id="report-data" type="application/json">{data}</script>
<script>
const FIGURES = {figs};
for (const [name, fig] of Object.entries(FIGURES)) {{
  Plotly.newPlot("plot-" + name, fig.data, fig.layout, {{displaylogo: false, responsive: true, staticPlot: false}});
}}
document.body.dataset.rendered = Object.keys(FIGURES).length;
</script>
</body></html>
"""


def report_path() -> Path:
    return Path(setting(PATH_ENV))


def write(view: dict, path: Path | None = None) -> tuple[Path, Path]:
    """Write the page (default ``BMRS_REVENUE_REPORT_PATH``) and the view as ``.json`` beside it, atomically."""
    return write_page(path or report_path(), render_html(view), view)
