"""VLP revenue: every unit's revenue (``units.py``) filtered to Virtual Lead Party units, less configured costs.

See ``method.py`` for the specification.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import orjson
import pandas as pd

from bmrs_assets.revenue.classification import VLP
from bmrs_assets.revenue.common import rounded, rows_of_day
from bmrs_assets.revenue.costs import CostComponent
from bmrs_assets.revenue.units import bm_unit_revenue

# --- VLP revenue --------------------------------------------------------------------------------
VLP_COLUMNS = (
    "settlementDate", "bmUnit", "nationalGridBmUnit", "classification", "classification_source", "periods",
    "periods_ebocf", "periods_estimate", "gross_revenue_gbp", "ebocf_revenue_gbp", "estimate_revenue_gbp",
    "offer_volume_mwh", "bid_volume_mwh", "costs_gbp", "net_revenue_gbp", "cost_breakdown",
)


def vlp_from_units(units: pd.DataFrame, day: date, costs: Sequence[CostComponent] = ()) -> pd.DataFrame:
    """The day's VLP rows of ``bm_unit_revenue`` (classification ``vlp``), less the configured costs."""
    u = rows_of_day(units, day)
    u = None if u is None else u[u["classification"] == VLP]
    if u is None or not len(u):
        return pd.DataFrame(columns=list(VLP_COLUMNS))
    daily = u.rename(columns={"bm_revenue_gbp": "gross_revenue_gbp"}).reset_index(drop=True)
    breakdowns, totals = [], []
    for gross, ov, bv in zip(daily["gross_revenue_gbp"], daily["offer_volume_mwh"], daily["bid_volume_mwh"], strict=True):
        parts = {c.name: rounded(c.per_mwh_gbp * (ov - bv) + c.share_of_revenue * max(gross, 0.0)) for c in costs}
        breakdowns.append(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS).decode() if parts else None)
        totals.append(sum(parts.values()))
    daily["costs_gbp"] = np.asarray(totals, dtype=float).round(6) + 0.0
    daily["cost_breakdown"] = breakdowns
    daily["net_revenue_gbp"] = (daily["gross_revenue_gbp"].astype(float) - daily["costs_gbp"]).round(6) + 0.0
    daily["settlementDate"] = day
    return daily[list(VLP_COLUMNS)]


def vlp_revenue(hybrid: pd.DataFrame, day: date, reference: pd.DataFrame | None = None,
                costs: Sequence[CostComponent] = (), bm_units: pd.DataFrame | None = None) -> pd.DataFrame:
    """Daily revenue per VLP unit from the hybrid cashflow: :func:`units.bm_unit_revenue` filtered by
    :func:`vlp_from_units` (``reference``: the operator's CSV override; ``bm_units``: reference snapshots)."""
    return vlp_from_units(bm_unit_revenue(hybrid, day, csv=reference, bm_units=bm_units), day, costs)
