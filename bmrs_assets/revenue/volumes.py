"""The platform's accepted volumes against Elexon's settlement acceptance volumes (BOAV).

``boalf_with_prices`` holds, per acceptance and settlement period, the energy of each BOD pair and
side (``priced_pairs``) and of each side in total (``offer_volume_mwh``, ``bid_volume_mwh``). BOAV
publishes the same per acceptance (``acceptanceId``), period, side (the ``bidOffer`` of its path)
and pair (``pairVolumes_positive<n>`` is pair ``n``, ``negative<n>`` pair ``-n``) and in total
(``totalVolumeAccepted``). :func:`reconcile` joins the two on (unit, acceptance, period, side,
pair) - the unit by ``nationalGridBmUnit``, which both carry, else ``bmUnit`` - and measures the
error distribution. A row on one side only is compared with zero: a volume the other computation
does not have is an error of that volume. Rows whose platform volume is unknown (no PN: NaN) are
counted apart and not compared.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import orjson
import pandas as pd

WITHIN_MWH = 0.001  # 1 kWh
WITHIN_SHARE = 0.01  # 1 %
KEY = ("unit", "acceptanceNumber", "settlementPeriod", "side", "pairId")
PAIR_COLUMNS = {f"pairVolumes_{side}{n}": (n if side == "positive" else -n)
                for n in range(1, 7) for side in ("negative", "positive")}
TOTAL = 0  # pairId of a side's total in the long frames (no BOD pair is numbered 0)


def _unit(frame: pd.DataFrame) -> pd.Series:
    """``nationalGridBmUnit``, else ``BM:<bmUnit>`` where it is null."""
    ng = frame["nationalGridBmUnit"].astype(object)
    return ng.where(ng.notna(), "BM:" + frame["bmUnit"].astype(object).fillna("")).astype(object)


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object if c in ("unit", "side") else "int64") for c in KEY}
                        | {"volume_mwh": pd.Series(dtype=float)})


def platform_volumes(priced: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Long frame (KEY + volume_mwh) of ``boalf_with_prices`` rows: each ``priced_pairs`` entry (priced
    or at a sentinel price) and each side's total (``pairId`` 0); and how many rows had unknown volume."""
    if priced is None or not len(priced):
        return _empty(), 0
    unknown = priced["offer_volume_mwh"].isna() | priced["bid_volume_mwh"].isna()
    known = priced[~unknown]
    units = _unit(known).tolist()
    numbers = known["acceptanceNumber"].astype(int).tolist()
    periods = known["settlementPeriod"].astype(int).tolist()
    rows: list[tuple] = []
    for u, n, sp, offer, bid, pairs in zip(units, numbers, periods, known["offer_volume_mwh"].tolist(),
                                           known["bid_volume_mwh"].tolist(), known["priced_pairs"].tolist(),
                                           strict=True):
        rows.append((u, n, sp, "offer", TOTAL, float(offer)))
        rows.append((u, n, sp, "bid", TOTAL, float(bid)))
        entries = orjson.loads(pairs) if isinstance(pairs, str | bytes) else (pairs if isinstance(pairs, list) else [])
        rows.extend((u, n, sp, str(e["side"]), int(e["pairId"]), float(e["volume_mwh"])) for e in entries)
    frame = pd.DataFrame(rows, columns=[*KEY, "volume_mwh"]) if rows else _empty()
    frame = frame[(frame["pairId"] != TOTAL) | (frame["volume_mwh"] != 0)]  # a side with no energy has no BOAV row
    return frame.groupby(list(KEY), as_index=False, sort=True)["volume_mwh"].sum(), int(unknown.sum())


def elexon_volumes(boav: pd.DataFrame) -> pd.DataFrame:
    """Long frame (KEY + volume_mwh) of BOAV rows: each non-null pair volume and each row's total (``pairId`` 0)."""
    if boav is None or not len(boav):
        return _empty()
    missing = {"acceptanceId", "settlementPeriod", "bidOffer", "totalVolumeAccepted", *PAIR_COLUMNS} - set(boav.columns)
    if missing:
        raise ValueError(f"BOAV rows lack column(s) {sorted(missing)}")
    base = pd.DataFrame({"unit": _unit(boav), "acceptanceNumber": boav["acceptanceId"].astype("int64"),
                         "settlementPeriod": boav["settlementPeriod"].astype("int64"),
                         "side": boav["bidOffer"].astype(object)})
    parts = [base.assign(pairId=TOTAL, volume_mwh=boav["totalVolumeAccepted"].astype(float).fillna(0.0))]
    for column, pair_id in PAIR_COLUMNS.items():
        values = boav[column].astype(float)
        parts.append(base[values.notna()].assign(pairId=pair_id, volume_mwh=values[values.notna()]))
    frame = pd.concat(parts, ignore_index=True)
    return frame.groupby(list(KEY), as_index=False, sort=True)["volume_mwh"].sum()


@dataclass(frozen=True)
class ErrorDistribution:
    """|platform - Elexon| over compared rows (MWh); shares are of ``count``; None without rows."""

    count: int
    matched: int  # rows on both sides
    only_platform: int  # rows with more than 1 kWh on the platform's side and none on Elexon's
    only_elexon: int  # ... and the other way round
    within_1kwh: float | None  # share with error <= 0.001 MWh
    within_1pct: float | None  # share with error <= 1 % of the larger of the two volumes
    p50_mwh: float | None
    p95_mwh: float | None
    max_mwh: float | None


def distribution(platform: pd.DataFrame, elexon: pd.DataFrame) -> ErrorDistribution:
    """The error distribution of two long frames (KEY + volume_mwh), joined on KEY (one side missing: 0)."""
    joined = platform.merge(elexon, on=list(KEY), how="outer", suffixes=("_p", "_e"), indicator=True)
    p, e = joined["volume_mwh_p"].fillna(0.0).to_numpy(float), joined["volume_mwh_e"].fillna(0.0).to_numpy(float)
    err = np.abs(p - e)
    side = joined["_merge"].astype(str)
    alone = err > WITHIN_MWH  # on one side only, and more than 1 kWh there
    n = len(joined)

    def share(mask: np.ndarray) -> float | None:
        return round(float(mask.mean()), 6) if n else None

    def stat(value: float) -> float | None:
        return round(float(value), 6) if n else None

    return ErrorDistribution(
        count=n, matched=int((side == "both").sum()), only_platform=int(((side == "left_only") & alone).sum()),
        only_elexon=int(((side == "right_only") & alone).sum()),
        within_1kwh=share(err <= WITHIN_MWH + 1e-12),
        within_1pct=share(err <= WITHIN_SHARE * np.maximum(np.abs(p), np.abs(e)) + 1e-12),
        p50_mwh=stat(np.percentile(err, 50)) if n else None, p95_mwh=stat(np.percentile(err, 95)) if n else None,
        max_mwh=stat(err.max()) if n else None)


@dataclass(frozen=True)
class VolumeReconciliation:
    """A day's reconciliation: per-pair volumes (the verdict) and side totals, and rows left out."""

    pairs: ErrorDistribution  # per (unit, acceptance, period, side, pair)
    totals: ErrorDistribution  # per (unit, acceptance, period, side): offer/bid volume vs totalVolumeAccepted
    platform_unknown: int  # boalf_with_prices rows with unknown volume (no PN), not compared
    elexon_rows: int  # BOAV rows read

    def as_dict(self) -> dict:
        return asdict(self)


def reconcile(priced: pd.DataFrame, boav: pd.DataFrame) -> VolumeReconciliation:
    """Compare one day's ``boalf_with_prices`` rows with that day's BOAV rows (both sides)."""
    platform, unknown = platform_volumes(priced)
    elexon = elexon_volumes(boav)
    is_total_p, is_total_e = platform["pairId"] == TOTAL, elexon["pairId"] == TOTAL
    return VolumeReconciliation(
        pairs=distribution(platform[~is_total_p], elexon[~is_total_e]),
        totals=distribution(platform[is_total_p], elexon[is_total_e]),
        platform_unknown=unknown, elexon_rows=0 if boav is None else len(boav))
