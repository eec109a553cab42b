"""VLP revenue: the hybrid cashflow summed per Virtual Lead Party unit and day, less configured costs.

See ``method.py`` for the specification.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import orjson
import pandas as pd

from bmrs_assets.revenue.common import rounded, unit_key

# --- VLP revenue --------------------------------------------------------------------------------
ID_RULES = (("V__", "vlp"), ("2__", "secondary"), ("T_", "transmission"), ("E_", "embedded"),
            ("I_", "interconnector"), ("M_", "miscellaneous"))
VLP = "vlp"


def classify_by_id(bm_unit: str | None) -> str:
    """The documented rule on the Elexon BM unit id: ``V__`` = Virtual Lead Party unit, ``2__`` =
    secondary (supplier additional) unit, ``T_`` transmission, ``E_`` embedded, ``I_`` or a null
    ``bmUnit`` interconnector, ``M_`` miscellaneous, anything else ``other``."""
    if bm_unit is None or (isinstance(bm_unit, float) and np.isnan(bm_unit)):
        return "interconnector"
    for prefix, cls in ID_RULES:
        if str(bm_unit).startswith(prefix):
            return cls
    return "other"


def classify_units(units: pd.DataFrame, reference: pd.DataFrame | None = None) -> pd.DataFrame:
    """``classification`` and ``classification_source`` for each (bmUnit, nationalGridBmUnit) row.

    A reference table (columns ``bmUnit``, ``classification``) wins where it names the unit; its
    ``bmUnit`` is matched against ``bmUnit``, or against ``nationalGridBmUnit`` for units without one.
    Classifications are compared lower-case.
    """
    out = units[["bmUnit", "nationalGridBmUnit"]].copy()
    out["classification"] = [classify_by_id(u) for u in out["bmUnit"].tolist()]
    out["classification_source"] = "bm_unit_id_rule"
    if reference is not None and len(reference):
        ref = dict(zip(reference["bmUnit"].astype(str).str.strip(),
                       reference["classification"].astype(str).str.strip().str.lower(), strict=True))
        ids = out["bmUnit"].where(out["bmUnit"].notna(), out["nationalGridBmUnit"])
        hit = ids.map(lambda u: ref.get(u) if isinstance(u, str) else None)
        out["classification"] = hit.where(hit.notna(), out["classification"])
        out["classification_source"] = np.where(hit.notna(), "reference_table", "bm_unit_id_rule")
    return out


@dataclass(frozen=True)
class CostComponent:
    """A configured cost: ``per_mwh_gbp`` x accepted MWh (offer + |bid|) plus ``share_of_revenue`` x
    max(gross revenue, 0) (e.g. an aggregator's share). No value is built in."""

    name: str
    per_mwh_gbp: float = 0.0
    share_of_revenue: float = 0.0


VLP_COLUMNS = (
    "settlementDate", "bmUnit", "nationalGridBmUnit", "classification", "classification_source", "periods",
    "periods_ebocf", "periods_estimate", "gross_revenue_gbp", "ebocf_revenue_gbp", "estimate_revenue_gbp",
    "offer_volume_mwh", "bid_volume_mwh", "costs_gbp", "net_revenue_gbp", "cost_breakdown",
)


def vlp_revenue(hybrid: pd.DataFrame, day: date, reference: pd.DataFrame | None = None,
                costs: Sequence[CostComponent] = ()) -> pd.DataFrame:
    """Daily revenue per VLP unit from the hybrid cashflow (each period counted once)."""
    h = hybrid[pd.to_datetime(hybrid["settlementDate"]).dt.date == day] if len(hybrid) else hybrid
    if not len(h):
        return pd.DataFrame(columns=list(VLP_COLUMNS))
    h = h.assign(_u=unit_key(h))
    # each side counts where it came from (a ``mixed`` period has one side from each, and counts in both periods_)
    offer_e, bid_e = h["offer_source"] == "EBOCF", h["bid_source"] == "EBOCF"
    offer_s, bid_s = h["offer_source"] == "BOALF_BOD_estimate", h["bid_source"] == "BOALF_BOD_estimate"
    offer, bid = h["offer_cashflow_gbp"].astype(float), h["bid_cashflow_gbp"].astype(float)
    h = h.assign(_e=offer.where(offer_e, 0.0) + bid.where(bid_e, 0.0),
                 _s=offer.where(offer_s, 0.0) + bid.where(bid_s, 0.0),
                 _pe=(offer_e | bid_e).astype(int), _ps=(h["source"] != "EBOCF").astype(int),
                 _ov=h["offer_volume_mwh"].astype(float).fillna(0.0), _bv=h["bid_volume_mwh"].astype(float).fillna(0.0))
    daily = h.groupby("_u", sort=True).agg(
        bmUnit=("bmUnit", "first"), nationalGridBmUnit=("nationalGridBmUnit", "first"),
        periods=("settlementPeriod", "nunique"), periods_ebocf=("_pe", "sum"), periods_estimate=("_ps", "sum"),
        gross_revenue_gbp=("cashflow_gbp", "sum"), ebocf_revenue_gbp=("_e", "sum"), estimate_revenue_gbp=("_s", "sum"),
        offer_volume_mwh=("_ov", "sum"), bid_volume_mwh=("_bv", "sum"),
    ).reset_index(drop=True)
    classes = classify_units(daily, reference)
    daily["classification"] = classes["classification"].to_numpy()
    daily["classification_source"] = classes["classification_source"].to_numpy()
    daily = daily[daily["classification"] == VLP].reset_index(drop=True)
    breakdowns, totals = [], []
    for gross, ov, bv in zip(daily["gross_revenue_gbp"], daily["offer_volume_mwh"], daily["bid_volume_mwh"], strict=True):
        parts = {c.name: rounded(c.per_mwh_gbp * (ov - bv) + c.share_of_revenue * max(gross, 0.0)) for c in costs}
        breakdowns.append(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS).decode() if parts else None)
        totals.append(sum(parts.values()))
    daily["costs_gbp"] = np.asarray(totals, dtype=float)
    daily["cost_breakdown"] = breakdowns
    for col in ("gross_revenue_gbp", "ebocf_revenue_gbp", "estimate_revenue_gbp", "offer_volume_mwh",
                "bid_volume_mwh", "costs_gbp"):
        daily[col] = daily[col].astype(float).round(6) + 0.0
    daily["net_revenue_gbp"] = (daily["gross_revenue_gbp"] - daily["costs_gbp"]).round(6) + 0.0
    daily["settlementDate"] = day
    return daily[list(VLP_COLUMNS)]
