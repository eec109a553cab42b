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

# --- unit classification ------------------------------------------------------------------------
# Elexon's BM unit naming (the fallback for a unit the reference does not list): ``V__`` secondary BM
# units of Virtual Lead Parties; ``2__`` Supplier (primary) BM units, base or additional; ``C__``
# additional Supplier BM units registered solely to allocate CfD assets; ``T_`` directly connected;
# ``E_`` embedded; ``I_`` interconnector; anything else (``M_`` miscellaneous included) ``other``.
ID_RULES = (("V__", "vlp"), ("2__", "supplier"), ("C__", "cfd"), ("T_", "transmission"), ("E_", "embedded"),
            ("I_", "interconnector"))
# The reference's bmUnitType (``bmrs/bm_units``) per class; a supplier-type unit named ``C__`` is a CfD unit.
REFERENCE_TYPES = {"V": "vlp", "S": "supplier", "T": "transmission", "E": "embedded", "I": "interconnector",
                   "M": "other"}
CLASSES = ("vlp", "supplier", "transmission", "embedded", "interconnector", "cfd", "other")
SOURCES = ("csv", "reference", "prefix")
VLP = "vlp"


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def classify_by_id(bm_unit: str | None) -> str:
    """The naming rule on the Elexon BM unit id (``ID_RULES``); a null ``bmUnit`` is an interconnector."""
    if _missing(bm_unit):
        return "interconnector"
    for prefix, cls in ID_RULES:
        if str(bm_unit).startswith(prefix):
            return cls
    return "other"


def classify_by_reference(elexon_bm_unit: str | None, bm_unit_type: str | None) -> str | None:
    """The class a reference row gives (``REFERENCE_TYPES``), or None for a type it does not map."""
    cls = None if _missing(bm_unit_type) else REFERENCE_TYPES.get(str(bm_unit_type).strip().upper())
    if cls == "supplier" and not _missing(elexon_bm_unit) and str(elexon_bm_unit).startswith("C__"):
        return "cfd"  # bmUnitType does not tell CfD allocation units from other supplier units; the name does
    return cls


def reference_as_of(bm_units: pd.DataFrame | None, day: date) -> pd.DataFrame | None:
    """Each unit's row in the latest ``bmrs/bm_units`` snapshot on or before ``day`` (the earliest
    snapshot for a day before any was taken: the list is the best there is)."""
    if bm_units is None or not len(bm_units):
        return None
    snaps = pd.to_datetime(bm_units["snapshotDate"]).dt.date
    past = snaps <= day
    chosen = snaps[past].max() if past.any() else snaps.min()
    return bm_units[snaps == chosen]


def classify_units(units: pd.DataFrame, reference: pd.DataFrame | None = None,
                   csv: pd.DataFrame | None = None) -> pd.DataFrame:
    """``classification`` and ``classification_source`` for each (bmUnit, nationalGridBmUnit) row.

    In order: an operator's CSV (columns ``bmUnit``, ``classification``) for the units it names
    (``csv``); the BM unit reference (rows of one ``bmrs/bm_units`` snapshot) for the units it lists
    with a mapped ``bmUnitType`` (``reference``); the naming rule otherwise (``prefix``). A unit is
    looked up by ``bmUnit`` (the reference's ``elexonBmUnit``), or by ``nationalGridBmUnit`` when it
    has no ``bmUnit`` (interconnectors).
    """
    out = units[["bmUnit", "nationalGridBmUnit"]].copy()
    bm, ng = out["bmUnit"].tolist(), out["nationalGridBmUnit"].tolist()
    classes = [classify_by_id(u) for u in bm]
    sources = ["prefix"] * len(out)
    if reference is not None and len(reference):
        by_bm, by_ng = {}, {}
        for e, n, t in zip(reference["elexonBmUnit"], reference["nationalGridBmUnit"], reference["bmUnitType"],
                           strict=True):
            cls = classify_by_reference(e, t)
            if cls is None:
                continue
            if not _missing(e):
                by_bm[str(e)] = cls
            elif not _missing(n):
                by_ng[str(n)] = cls
        for i, (b, n) in enumerate(zip(bm, ng, strict=True)):
            hit = by_bm.get(str(b)) if not _missing(b) else by_ng.get(str(n)) if not _missing(n) else None
            if hit is not None:
                classes[i], sources[i] = hit, "reference"
    if csv is not None and len(csv):
        table = dict(zip(csv["bmUnit"].astype(str).str.strip(),
                         csv["classification"].astype(str).str.strip().str.lower(), strict=True))
        for i, (b, n) in enumerate(zip(bm, ng, strict=True)):
            uid = n if _missing(b) else b
            hit = table.get(uid) if isinstance(uid, str) else None
            if hit is not None:
                classes[i], sources[i] = hit, "csv"
    out["classification"] = classes
    out["classification_source"] = sources
    return out


# --- VLP revenue --------------------------------------------------------------------------------
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
                costs: Sequence[CostComponent] = (), bm_units: pd.DataFrame | None = None) -> pd.DataFrame:
    """Daily revenue per VLP unit from the hybrid cashflow (each period counted once).

    ``reference``: the operator's CSV override; ``bm_units``: ``bmrs/bm_units`` rows (any snapshots; the
    latest on or before ``day`` classifies), see :func:`classify_units`."""
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
    classes = classify_units(daily, reference_as_of(bm_units, day), csv=reference)
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
