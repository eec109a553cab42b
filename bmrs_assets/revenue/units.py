"""Every BM unit's revenue per day: the hybrid cashflow summed per unit, its volumes, the SO/STOR/deemed
split, its value at the system prices, and the revenue per MW of registered capacity.

See ``method.py`` for the specification. VLP revenue (``vlp.py``) is a filter of these rows by
classification, less the configured costs.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from bmrs_assets.revenue.classification import classify_units, match_reference, reference_as_of
from bmrs_assets.revenue.common import rows_of_day, unit_key
from bmrs_assets.revenue.hybrid import EBOCF, ESTIMATE, join_key

DAYS_PER_YEAR = 365  # annualised GBP/MW/yr = GBP/MW/day x 365, as public BESS leaderboards quote it
# the BOALF flags split out: (the flag column, the prefix of its columns here)
FLAGS = (("soFlag", "so"), ("storFlag", "stor"), ("deemedBoFlag", "deemed"))
FLAG_COLUMNS = tuple(f"{p}_{c}" for _, p in FLAGS for c in ("offer_volume_mwh", "bid_volume_mwh", "estimate_cashflow_gbp"))

UNIT_REVENUE_COLUMNS = (
    "settlementDate", "bmUnit", "nationalGridBmUnit", "classification", "classification_source", "leadPartyName",
    "fuelType", "periods", "periods_ebocf", "periods_estimate", "acceptances", "offer_volume_mwh", "bid_volume_mwh",
    "unpriced_volume_mwh", "offer_cashflow_gbp", "bid_cashflow_gbp", "bm_revenue_gbp", "ebocf_revenue_gbp",
    "estimate_revenue_gbp", *FLAG_COLUMNS, "system_price_value_gbp", "system_priced_periods", "bm_premium_gbp",
    "capacity_mw", "gbp_per_mw_day", "gbp_per_mw_year",
)
_MONEY_AND_VOLUMES = tuple(c for c in UNIT_REVENUE_COLUMNS if c.endswith(("_gbp", "_mwh")))


def registered_capacity_mw(reference_rows: pd.DataFrame) -> pd.Series:
    """A unit's registered capacity: the larger of ``generationCapacity`` and ``|demandCapacity|`` (the
    reference serves both as strings; a battery registers both, about equal). Null where the unit is
    unlisted or neither is a positive number."""
    def numeric(col: str) -> pd.Series:
        raw = reference_rows[col] if col in reference_rows else pd.Series(np.nan, index=reference_rows.index)
        return pd.to_numeric(raw, errors="coerce").astype(float)

    gen, dem = numeric("generationCapacity"), numeric("demandCapacity").abs()
    cap = pd.concat([gen, dem], axis=1).max(axis=1, skipna=True)
    return cap.where(cap > 0)


def _system_price_value(h: pd.DataFrame, prices: pd.DataFrame | None) -> tuple[pd.Series, pd.Series]:
    """Per hybrid row: the period's accepted energy at the system prices (offer MWh x SSP + bid MWh x
    SBP), and whether the period had prices (null value where it has energy and no prices)."""
    if prices is None:
        return pd.Series(np.nan, index=h.index), pd.Series(False, index=h.index)
    p = prices.drop_duplicates("settlementPeriod", keep="last").set_index("settlementPeriod")
    ssp = h["settlementPeriod"].map(p["systemSellPrice"]).astype(float)
    sbp = h["settlementPeriod"].map(p["systemBuyPrice"]).astype(float)
    priced = ssp.notna() & sbp.notna()
    return (h["_ov"] * ssp + h["_bv"] * sbp).where(priced), priced


def bm_unit_revenue(hybrid: pd.DataFrame, day: date, priced: pd.DataFrame | None = None,
                    system_prices: pd.DataFrame | None = None, csv: pd.DataFrame | None = None,
                    bm_units: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per unit with a hybrid row on ``day`` (every class): see ``method.py``.

    ``hybrid``: ``bm_cashflow_hybrid`` rows; ``priced``: ``boalf_with_prices`` rows (acceptance counts
    and the flag split; without them those are 0); ``system_prices``: COSTS rows (without them, or a
    period with energy and no price, ``system_price_value_gbp`` is null); ``csv``: the operator's
    classification override; ``bm_units``: reference snapshots (classification, lead party, fuel,
    capacity; the one in force on ``day``)."""
    h = rows_of_day(hybrid, day)
    if h is None:
        return pd.DataFrame(columns=list(UNIT_REVENUE_COLUMNS))
    h = h.assign(_u=join_key(h))
    offer_e, bid_e = h["offer_source"] == EBOCF, h["bid_source"] == EBOCF
    offer_s, bid_s = h["offer_source"] == ESTIMATE, h["bid_source"] == ESTIMATE
    offer, bid = h["offer_cashflow_gbp"].astype(float), h["bid_cashflow_gbp"].astype(float)
    h = h.assign(_e=offer.where(offer_e, 0.0) + bid.where(bid_e, 0.0),
                 _s=offer.where(offer_s, 0.0) + bid.where(bid_s, 0.0),
                 _pe=(offer_e | bid_e).astype(int), _ps=(h["source"] != EBOCF).astype(int),
                 _ov=h["offer_volume_mwh"].astype(float).fillna(0.0), _bv=h["bid_volume_mwh"].astype(float).fillna(0.0),
                 _uv=h["unpriced_volume_mwh"].astype(float).fillna(0.0))
    value, has_prices = _system_price_value(h, rows_of_day(system_prices, day))
    has_energy = (h["_ov"] != 0) | (h["_bv"] != 0)
    h = h.assign(_sv=value.fillna(0.0), _sp=(has_prices & has_energy).astype(int),
                 _unvalued=(has_energy & ~has_prices).astype(int))
    daily = h.groupby("_u", sort=True).agg(
        bmUnit=("bmUnit", "first"), nationalGridBmUnit=("nationalGridBmUnit", "first"),
        periods=("settlementPeriod", "nunique"), periods_ebocf=("_pe", "sum"), periods_estimate=("_ps", "sum"),
        offer_volume_mwh=("_ov", "sum"), bid_volume_mwh=("_bv", "sum"), unpriced_volume_mwh=("_uv", "sum"),
        offer_cashflow_gbp=("offer_cashflow_gbp", "sum"), bid_cashflow_gbp=("bid_cashflow_gbp", "sum"),
        bm_revenue_gbp=("cashflow_gbp", "sum"), ebocf_revenue_gbp=("_e", "sum"), estimate_revenue_gbp=("_s", "sum"),
        system_price_value_gbp=("_sv", "sum"), system_priced_periods=("_sp", "sum"), _unvalued=("_unvalued", "sum"),
    )
    daily["system_price_value_gbp"] = daily["system_price_value_gbp"].where(daily.pop("_unvalued") == 0)
    daily["bm_premium_gbp"] = daily["bm_revenue_gbp"] - daily["system_price_value_gbp"]
    _add_acceptances(daily, rows_of_day(priced, day))
    daily = daily.reset_index(drop=True)

    reference = reference_as_of(bm_units, day)
    classes = classify_units(daily, reference, csv=csv)
    daily["classification"] = classes["classification"].to_numpy()
    daily["classification_source"] = classes["classification_source"].to_numpy()
    listed = match_reference(daily, reference)
    for col in ("leadPartyName", "fuelType"):
        daily[col] = listed[col].to_numpy() if col in listed else None
        daily[col] = daily[col].astype(object).where(daily[col].notna(), None)
    daily["capacity_mw"] = registered_capacity_mw(listed).to_numpy()
    daily["gbp_per_mw_day"] = daily["bm_revenue_gbp"] / daily["capacity_mw"]
    daily["gbp_per_mw_year"] = daily["gbp_per_mw_day"] * DAYS_PER_YEAR
    for col in (*_MONEY_AND_VOLUMES, "capacity_mw", "gbp_per_mw_day", "gbp_per_mw_year"):
        daily[col] = daily[col].astype(float).round(6) + 0.0
    for col in ("periods", "periods_ebocf", "periods_estimate", "acceptances", "system_priced_periods"):
        daily[col] = daily[col].astype(int)
    daily["settlementDate"] = day
    daily = daily.assign(_k=unit_key(daily)).sort_values("_k", kind="stable")  # by Elexon id, as the hybrid
    return daily[list(UNIT_REVENUE_COLUMNS)].reset_index(drop=True)


def _add_acceptances(daily: pd.DataFrame, priced: pd.DataFrame | None) -> None:
    """Acceptance count and the SO/STOR/deemed split per unit (index: the hybrid's unit key), from the
    ``boalf_with_prices`` rows: volumes and the estimate's cashflow of the acceptances carrying each flag."""
    for col in ("acceptances", *FLAG_COLUMNS):
        daily[col] = 0 if col == "acceptances" else 0.0
    if priced is None:
        return
    p = priced.assign(_u=join_key(priced), _ov=priced["offer_volume_mwh"].astype(float).fillna(0.0),
                      _bv=priced["bid_volume_mwh"].astype(float).fillna(0.0),
                      _cf=priced["cashflow_gbp"].astype(float).fillna(0.0))
    units = p.groupby("_u")
    daily["acceptances"] = units["acceptanceNumber"].nunique().reindex(daily.index).fillna(0)
    for flag, prefix in FLAGS:
        flagged = p[p[flag].astype("boolean").fillna(False).astype(bool)].groupby("_u")
        for src, col in (("_ov", "offer_volume_mwh"), ("_bv", "bid_volume_mwh"), ("_cf", "estimate_cashflow_gbp")):
            daily[f"{prefix}_{col}"] = flagged[src].sum().reindex(daily.index).fillna(0.0)
