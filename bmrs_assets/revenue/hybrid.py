"""The hybrid cashflow (EBOCF where published, else the BOALF x BOD estimate) and its reconciliation.

See ``method.py`` for the specification.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date

import numpy as np
import pandas as pd

from bmrs_assets.revenue.common import unit_key

# --- the hybrid cashflow ------------------------------------------------------------------------
HYBRID_COLUMNS = (
    "settlementDate", "settlementPeriod", "bmUnit", "nationalGridBmUnit", "source", "cashflow_gbp",
    "offer_cashflow_gbp", "bid_cashflow_gbp", "ebocf_cashflow_gbp", "estimate_cashflow_gbp", "estimate_status",
    "acceptances", "offer_volume_mwh", "bid_volume_mwh", "unpriced_volume_mwh",
)


def _worst_status(statuses: Iterable[str]) -> str:
    s = set(statuses) - {"no_volume"}
    if not s:
        return "no_volume"
    if s == {"matched"}:
        return "matched"
    if s == {"unmatched"}:
        return "unmatched"
    return "partial"


def cashflow_hybrid(priced: pd.DataFrame, ebocf: pd.DataFrame, day: date) -> pd.DataFrame:
    """One row per (unit, settlement period) of ``day``: EBOCF where published for it, else the estimate."""
    p = priced[pd.to_datetime(priced["settlementDate"]).dt.date == day] if len(priced) else priced
    e = ebocf[pd.to_datetime(ebocf["settlementDate"]).dt.date == day] if ebocf is not None and len(ebocf) else None
    frames = []
    if len(p):
        p = p.assign(_u=unit_key(p))
        est = p.groupby(["_u", "settlementPeriod"], sort=False).agg(
            bmUnit=("bmUnit", "first"), nationalGridBmUnit=("nationalGridBmUnit", "first"),
            acceptances=("acceptanceNumber", "nunique"),
            offer_volume_mwh=("offer_volume_mwh", lambda s: s.sum(min_count=1)),
            bid_volume_mwh=("bid_volume_mwh", lambda s: s.sum(min_count=1)),
            unpriced_volume_mwh=("unpriced_volume_mwh", lambda s: s.sum(min_count=1)),
            est_offer=("offer_cashflow_gbp", "sum"), est_bid=("bid_cashflow_gbp", "sum"),
            estimate_status=("match_status", _worst_status),
        )
        frames.append(est)
    if e is not None and len(e):
        e = e.assign(_u=unit_key(e), _offer=np.where(e["bidOffer"] == "offer", e["totalCashflow"], 0.0),
                     _bid=np.where(e["bidOffer"] == "bid", e["totalCashflow"], 0.0))
        pub = e.groupby(["_u", "settlementPeriod"], sort=False).agg(
            e_bmUnit=("bmUnit", "first"), e_ng=("nationalGridBmUnit", "first"),
            ebocf_offer=("_offer", "sum"), ebocf_bid=("_bid", "sum"))
        frames.append(pub)
    if not frames:
        return pd.DataFrame(columns=list(HYBRID_COLUMNS))
    h = pd.concat(frames, axis=1, join="outer") if len(frames) == 2 else frames[0]
    for col in ("bmUnit", "nationalGridBmUnit", "est_offer", "est_bid", "acceptances", "offer_volume_mwh",
                "bid_volume_mwh", "unpriced_volume_mwh", "estimate_status", "e_bmUnit", "e_ng", "ebocf_offer",
                "ebocf_bid"):
        if col not in h.columns:
            h[col] = np.nan
    h = h.reset_index()
    published = h["ebocf_offer"].notna()
    has_estimate = h["acceptances"].notna()
    h["bmUnit"] = h["bmUnit"].where(has_estimate, h["e_bmUnit"])
    h["nationalGridBmUnit"] = h["nationalGridBmUnit"].where(has_estimate, h["e_ng"])
    h["ebocf_cashflow_gbp"] = (h["ebocf_offer"] + h["ebocf_bid"]).where(published)
    h["estimate_cashflow_gbp"] = (h["est_offer"] + h["est_bid"]).where(has_estimate)
    h["source"] = np.where(published, "EBOCF", "BOALF_BOD_estimate")
    h["offer_cashflow_gbp"] = h["ebocf_offer"].where(published, h["est_offer"])
    h["bid_cashflow_gbp"] = h["ebocf_bid"].where(published, h["est_bid"])
    h["cashflow_gbp"] = h["ebocf_cashflow_gbp"].where(published, h["estimate_cashflow_gbp"])
    h["acceptances"] = h["acceptances"].fillna(0).astype(int)
    h["estimate_status"] = h["estimate_status"].where(has_estimate, None)
    for col in ("cashflow_gbp", "offer_cashflow_gbp", "bid_cashflow_gbp", "ebocf_cashflow_gbp",
                "estimate_cashflow_gbp", "offer_volume_mwh", "bid_volume_mwh", "unpriced_volume_mwh"):
        h[col] = h[col].astype(float).round(6) + 0.0
    h["settlementDate"] = day
    h = h.sort_values(["_u", "settlementPeriod"], kind="stable")
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
