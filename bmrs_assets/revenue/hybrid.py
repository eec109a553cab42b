"""The hybrid cashflow (per side: EBOCF where published, else the BOALF x BOD estimate) and its reconciliation.

See ``method.py`` for the specification.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date

import numpy as np
import pandas as pd

from bmrs_assets.revenue.common import VOLUME_TOLERANCE_MWH, rows_of_day, unit_key
from bmrs_assets.revenue.tables import HYBRID_SOURCES, SIDE_SOURCES

# --- the hybrid cashflow ------------------------------------------------------------------------
HYBRID_COLUMNS = (
    "settlementDate", "settlementPeriod", "bmUnit", "nationalGridBmUnit", "source", "offer_source", "bid_source",
    "cashflow_gbp", "offer_cashflow_gbp", "bid_cashflow_gbp", "ebocf_cashflow_gbp", "estimate_cashflow_gbp",
    "estimate_status", "acceptances", "offer_volume_mwh", "bid_volume_mwh", "unpriced_volume_mwh",
)
EBOCF, ESTIMATE, MIXED = HYBRID_SOURCES  # ``source``: where the row's two sides came from
NONE = SIDE_SOURCES[2]  # ``offer_source`` / ``bid_source``: EBOCF, BOALF_BOD_estimate or none


def _worst_status(statuses: Iterable[str]) -> str:
    s = set(statuses) - {"no_volume"}
    if not s:
        return "no_volume"
    if s == {"matched"}:
        return "matched"
    if s == {"unmatched"}:
        return "unmatched"
    return "partial"


def join_key(frame: pd.DataFrame) -> pd.Series:
    """The hybrid's unit key: ``nationalGridBmUnit`` (on every BOALF and EBOCF row), ``BM:<bmUnit>`` if it is null."""
    ng = frame["nationalGridBmUnit"].astype(object)
    return ng.where(ng.notna(), "BM:" + frame["bmUnit"].astype(object).fillna("")).astype(object)


def _first_valid(s: pd.Series) -> object:
    v = s.dropna()
    return v.iloc[0] if len(v) else None


def cashflow_hybrid(priced: pd.DataFrame, ebocf: pd.DataFrame, day: date) -> pd.DataFrame:
    """One row per (unit, settlement period) of ``day``, each side (offer, bid) from EBOCF where EBOCF
    publishes that side for it, else from the estimate (see ``method.py``)."""
    p, e = rows_of_day(priced, day), rows_of_day(ebocf, day)
    frames, names = [], []
    if p is not None:
        p = p.assign(_u=join_key(p))
        est = p.groupby(["_u", "settlementPeriod"], sort=False).agg(
            p_bmUnit=("bmUnit", _first_valid), nationalGridBmUnit=("nationalGridBmUnit", "first"),
            acceptances=("acceptanceNumber", "nunique"),
            offer_volume_mwh=("offer_volume_mwh", lambda s: s.sum(min_count=1)),
            bid_volume_mwh=("bid_volume_mwh", lambda s: s.sum(min_count=1)),
            unpriced_volume_mwh=("unpriced_volume_mwh", lambda s: s.sum(min_count=1)),
            est_offer=("offer_cashflow_gbp", "sum"), est_bid=("bid_cashflow_gbp", "sum"),
            estimate_status=("match_status", _worst_status),
        )
        frames.append(est)
        names.append(p[["_u", "bmUnit"]])
    if e is not None:
        is_offer, is_bid = e["bidOffer"] == "offer", e["bidOffer"] == "bid"
        e = e.assign(_u=join_key(e), _offer=e["totalCashflow"].where(is_offer), _bid=e["totalCashflow"].where(is_bid))
        pub = e.groupby(["_u", "settlementPeriod"], sort=False).agg(
            e_ng=("nationalGridBmUnit", "first"),
            ebocf_offer=("_offer", lambda s: s.sum(min_count=1)), ebocf_bid=("_bid", lambda s: s.sum(min_count=1)))
        frames.append(pub)
        names.insert(0, e[["_u", "bmUnit"]])  # EBOCF's bmUnit first: the name the row is written under
    if not frames:
        return pd.DataFrame(columns=list(HYBRID_COLUMNS))
    h = pd.concat(frames, axis=1, join="outer") if len(frames) == 2 else frames[0]
    for col in ("nationalGridBmUnit", "est_offer", "est_bid", "acceptances", "offer_volume_mwh", "bid_volume_mwh",
                "unpriced_volume_mwh", "estimate_status", "e_ng", "ebocf_offer", "ebocf_bid"):
        if col not in h.columns:
            h[col] = np.nan
    h = h.reset_index()
    # one bmUnit per unit for the whole day: the first non-null one, EBOCF's before BOALF's (BOALF has null
    # bmUnit for some units); a unit with none anywhere keeps a null bmUnit
    named = pd.concat(names, ignore_index=True).dropna(subset=["bmUnit"]).drop_duplicates("_u")
    h["bmUnit"] = h["_u"].map(dict(zip(named["_u"], named["bmUnit"], strict=True))).astype(object)
    h["bmUnit"] = h["bmUnit"].where(h["bmUnit"].notna(), None)
    has_estimate = h["acceptances"].notna()
    h["nationalGridBmUnit"] = h["nationalGridBmUnit"].where(has_estimate, h["e_ng"])
    tol = VOLUME_TOLERANCE_MWH
    # each side on its own: EBOCF where it publishes the side, else the estimate where its acceptances have
    # energy (or cashflow) on that side, else none (0)
    est_offer_side = has_estimate & ((h["offer_volume_mwh"].fillna(0) > tol) | (h["est_offer"].fillna(0) != 0))
    est_bid_side = has_estimate & ((h["bid_volume_mwh"].fillna(0) < -tol) | (h["est_bid"].fillna(0) != 0))
    pub_offer, pub_bid = h["ebocf_offer"].notna(), h["ebocf_bid"].notna()
    h["offer_source"] = np.where(pub_offer, EBOCF, np.where(est_offer_side, ESTIMATE, NONE))
    h["bid_source"] = np.where(pub_bid, EBOCF, np.where(est_bid_side, ESTIMATE, NONE))
    h["offer_cashflow_gbp"] = h["ebocf_offer"].where(pub_offer, h["est_offer"].where(est_offer_side, 0.0))
    h["bid_cashflow_gbp"] = h["ebocf_bid"].where(pub_bid, h["est_bid"].where(est_bid_side, 0.0))
    h["cashflow_gbp"] = h["offer_cashflow_gbp"] + h["bid_cashflow_gbp"]
    any_ebocf = pub_offer | pub_bid
    any_estimate = (h["offer_source"] == ESTIMATE) | (h["bid_source"] == ESTIMATE)
    h["source"] = np.where(any_ebocf & any_estimate, MIXED, np.where(any_ebocf, EBOCF, ESTIMATE))
    h["ebocf_cashflow_gbp"] = (h["ebocf_offer"].fillna(0) + h["ebocf_bid"].fillna(0)).where(any_ebocf)
    h["estimate_cashflow_gbp"] = (h["est_offer"] + h["est_bid"]).where(has_estimate)
    h["acceptances"] = h["acceptances"].fillna(0).astype(int)
    h["estimate_status"] = h["estimate_status"].where(has_estimate, None)
    for col in ("cashflow_gbp", "offer_cashflow_gbp", "bid_cashflow_gbp", "ebocf_cashflow_gbp",
                "estimate_cashflow_gbp", "offer_volume_mwh", "bid_volume_mwh", "unpriced_volume_mwh"):
        h[col] = h[col].astype(float).round(6) + 0.0
    h["settlementDate"] = day
    h = h.assign(_k=unit_key(h)).sort_values(["_k", "settlementPeriod"], kind="stable")
    return h[list(HYBRID_COLUMNS)].reset_index(drop=True)


@dataclass(frozen=True)
class Reconciliation:
    """The estimate against EBOCF where both exist for a (unit, period); error = estimate - EBOCF."""

    compared: int
    ebocf_total_gbp: float
    estimate_total_gbp: float
    mean_error_gbp: float | None
    mean_abs_error_gbp: float | None
    median_abs_error_gbp: float | None
    p90_abs_error_gbp: float | None
    p95_abs_error_gbp: float | None
    max_abs_error_gbp: float | None
    median_abs_pct_error: float | None  # |error| / |EBOCF|, over rows with EBOCF != 0
    within_1pct_or_1gbp: float | None  # share of rows with |error| <= max(£1, 1% of |EBOCF|)

    def as_dict(self) -> dict:
        return asdict(self)


def reconciliation(hybrid: pd.DataFrame) -> Reconciliation:
    both = hybrid[hybrid["ebocf_cashflow_gbp"].notna() & hybrid["estimate_cashflow_gbp"].notna()] if len(hybrid) else hybrid
    if not len(both):
        return Reconciliation(0, 0.0, 0.0, *(None,) * 8)
    ebocf = both["ebocf_cashflow_gbp"].astype(float).to_numpy()
    est = both["estimate_cashflow_gbp"].astype(float).to_numpy()
    err = est - ebocf
    abs_err = np.abs(err)
    nz = ebocf != 0
    pct = abs_err[nz] / np.abs(ebocf[nz])
    r2 = lambda x: round(float(x), 2)  # noqa: E731
    return Reconciliation(
        compared=len(both), ebocf_total_gbp=r2(ebocf.sum()), estimate_total_gbp=r2(est.sum()),
        mean_error_gbp=r2(err.mean()), mean_abs_error_gbp=r2(abs_err.mean()),
        median_abs_error_gbp=r2(np.median(abs_err)), p90_abs_error_gbp=r2(np.quantile(abs_err, 0.9)),
        p95_abs_error_gbp=r2(np.quantile(abs_err, 0.95)), max_abs_error_gbp=r2(abs_err.max()),
        median_abs_pct_error=round(float(np.median(pct)), 4) if len(pct) else None,
        within_1pct_or_1gbp=round(float((abs_err <= np.maximum(1.0, 0.01 * np.abs(ebocf))).mean()), 4),
    )
