"""``boalf_with_prices`` rows from the integrated energy, and the match rate of a day (see ``method.py``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date

import numpy as np
import orjson
import pandas as pd

from bmrs_assets.revenue.common import VOLUME_TOLERANCE_MWH, rounded
from bmrs_assets.revenue.energy import PAIRS, REASONS, build_intervals, integrate, timestamps

# --- boalf_with_prices -------------------------------------------------------------------------
PRICED_COLUMNS = (
    "settlementDate", "settlementPeriod", "bmUnit", "nationalGridBmUnit", "acceptanceNumber", "acceptanceTime",
    "timeFrom", "timeTo", "soFlag", "storFlag", "rrFlag", "deemedBoFlag", "baseline", "direction",
    "offer_volume_mwh", "bid_volume_mwh", "net_volume_mwh", "unpriced_volume_mwh", "offer_price_gbp_per_mwh",
    "bid_price_gbp_per_mwh", "offer_cashflow_gbp", "bid_cashflow_gbp", "cashflow_gbp", "pricing_source",
    "match_status", "unmatched_reason", "priced_pairs",
)


def _unknown(x: float) -> float:
    return float("nan")


def _pairs_json(r: dict[str, np.ndarray]) -> list[str | None]:
    """Per output row: the energy by pair and direction, its price and cashflow (sentinel bands unpriced)."""
    entries: dict[int, list[dict]] = {}
    sides = (("offer", "offer_e", "offer_cf", "sentinel_pos"), ("bid", "bid_e", "bid_cf", "sentinel_neg"))
    for side, e_key, cf_key, s_key in sides:
        energy, cash, unpriced = r[e_key], r[cf_key], r[s_key]
        for g, j in zip(*np.nonzero(np.abs(energy) > VOLUME_TOLERANCE_MWH), strict=True):
            entries.setdefault(int(g), []).append({
                "pairId": PAIRS[j], "side": side, "volume_mwh": rounded(energy[g, j]),
                "price_gbp_per_mwh": rounded(cash[g, j] / energy[g, j]), "cashflow_gbp": rounded(cash[g, j])})
        for g, j in zip(*np.nonzero(np.abs(unpriced) > VOLUME_TOLERANCE_MWH), strict=True):
            entries.setdefault(int(g), []).append({
                "pairId": PAIRS[j], "side": side, "volume_mwh": rounded(unpriced[g, j]), "price_gbp_per_mwh": None,
                "cashflow_gbp": None, "unpriced_reason": "sentinel_price"})
    order = {pid: i for i, pid in enumerate(PAIRS)}
    out: list[str | None] = [None] * len(r["unknown"])
    for g, items in entries.items():
        items.sort(key=lambda x: (order[x["pairId"]], x["side"] == "bid", x["price_gbp_per_mwh"] is None))
        out[g] = orjson.dumps(items, option=orjson.OPT_SORT_KEYS).decode()
    return out


def price_acceptances(boalf: pd.DataFrame, bod: pd.DataFrame, pn: pd.DataFrame, day: date) -> pd.DataFrame:
    """``boalf_with_prices`` rows of settlement day ``day`` (see the module docstring).

    ``boalf`` should hold the BOALF rows of ``day`` and of the day before (acceptances running past
    midnight); ``bod`` and ``pn`` those of ``day``. Rows of other days are ignored.
    """
    intervals, ident = build_intervals(boalf, pn, bod, day)
    if ident.empty:
        return pd.DataFrame(columns=list(PRICED_COLUMNS))
    r = integrate(intervals, len(ident))
    pairs_json = _pairs_json(r)
    out: list[dict] = []
    tol = VOLUME_TOLERANCE_MWH
    for g in range(len(ident)):
        unknown = r["unknown"][g] > 0
        offer_v, bid_v = r["offer_volume"][g], r["bid_volume"][g]
        priced_offer, priced_bid = r["offer_e"][g].sum(), r["bid_e"][g].sum()
        offer_cf, bid_cf = r["offer_cf"][g].sum(), r["bid_cf"][g].sum()
        reasons = [x for x in REASONS if r[f"r_{x}"][g] > tol]
        unpriced = sum(r[f"r_{x}"][g] for x in REASONS)
        has_offer, has_bid = offer_v > tol, -bid_v > tol
        if unknown:
            status, reasons = "unmatched", ["no_pn"]
        elif not (has_offer or has_bid):
            status, reasons = "no_volume", []
        elif unpriced <= tol:
            status = "matched"
        elif priced_offer - priced_bid > tol:
            status = "partial"
        else:
            status = "unmatched"
        baseline = ("PN+previous_acceptance" if r["from_pn"][g] and r["from_acc"][g]
                    else "previous_acceptance" if r["from_acc"][g] else "PN")
        nan = float("nan")
        known = _unknown if unknown else rounded
        out.append({
            "baseline": baseline,
            "direction": "both" if has_offer and has_bid else "offer" if has_offer else "bid" if has_bid else "none",
            "offer_volume_mwh": known(offer_v), "bid_volume_mwh": known(bid_v),
            "net_volume_mwh": known(offer_v + bid_v), "unpriced_volume_mwh": known(unpriced),
            "offer_price_gbp_per_mwh": rounded(offer_cf / priced_offer) if priced_offer > tol and not unknown else nan,
            "bid_price_gbp_per_mwh": rounded(bid_cf / priced_bid) if -priced_bid > tol and not unknown else nan,
            "offer_cashflow_gbp": known(offer_cf), "bid_cashflow_gbp": known(bid_cf),
            "cashflow_gbp": known(offer_cf + bid_cf),
            "pricing_source": "BOD" if not unknown and priced_offer - priced_bid > tol else None,
            "match_status": status,
            "unmatched_reason": ",".join(reasons) or None,
            "priced_pairs": None if unknown else pairs_json[g],
        })
    frame = pd.concat([ident.reset_index(drop=True), pd.DataFrame(out)], axis=1)
    frame["settlementDate"] = day
    frame["timeFrom"] = timestamps(r["time_from"])
    frame["timeTo"] = timestamps(r["time_to"])
    for flag in ("soFlag", "storFlag", "rrFlag", "deemedBoFlag"):
        if flag not in frame.columns:
            frame[flag] = None
    frame = frame.sort_values(["_u", "acceptanceNumber", "settlementPeriod"], kind="stable")
    return frame[list(PRICED_COLUMNS)].reset_index(drop=True)


# --- match rate ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class MatchSummary:
    """How much of a day's accepted energy could be priced from BOD."""

    rows: int
    rows_with_volume: int
    matched: int
    partial: int
    unmatched: int
    no_volume: int
    match_rate: float  # matched rows / rows with volume (1.0 when nothing was accepted)
    energy_match_rate: float  # priced MWh / accepted MWh (both directions, absolute)
    unmatched_reasons: dict[str, int]  # rows naming each reason

    def as_dict(self) -> dict:
        return asdict(self)


def match_summary(priced: pd.DataFrame) -> MatchSummary:
    status = priced["match_status"].value_counts().to_dict() if len(priced) else {}
    counts = {s: int(status.get(s, 0)) for s in ("matched", "partial", "unmatched", "no_volume")}
    with_volume = counts["matched"] + counts["partial"] + counts["unmatched"]
    accepted = (priced["offer_volume_mwh"].fillna(0) - priced["bid_volume_mwh"].fillna(0)).sum() if len(priced) else 0.0
    unpriced = priced["unpriced_volume_mwh"].fillna(0).sum() if len(priced) else 0.0
    reasons: dict[str, int] = {}
    for text in priced["unmatched_reason"].dropna() if len(priced) else []:
        for reason in str(text).split(","):
            reasons[reason] = reasons.get(reason, 0) + 1
    return MatchSummary(
        rows=len(priced), rows_with_volume=with_volume, **counts,
        match_rate=round(counts["matched"] / with_volume, 6) if with_volume else 1.0,
        energy_match_rate=round(float(1 - unpriced / accepted), 6) if accepted > VOLUME_TOLERANCE_MWH else 1.0,
        unmatched_reasons=dict(sorted(reasons.items())),
    )
