"""Accepted energy: acceptances cut into elementary intervals and integrated exactly over the BOD bands.

Stage A (:func:`build_intervals`) cuts each acceptance of a settlement day at every breakpoint of
every profile and period boundary and finds the level in force before it on each piece; stage B
(:func:`integrate`) integrates the energy between the two levels inside each BOD band. The method
and its conventions are specified in ``method.py``; :func:`pricing.price_acceptances` turns the
sums into ``boalf_with_prices`` rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from bmrs_assets.core.settlement import PERIOD, day_window
from bmrs_assets.revenue.common import unit_key

SENTINEL_PRICE = 9999.0  # |price| >= this: Elexon's "pair not available" marker
BIG_MW = 1e7  # open ends of the two overflow bands beyond the outermost BOD pairs
PAIRS = (1, 2, 3, 4, 5, 6, -1, -2, -3, -4, -5, -6)  # band order: offers outward, then bids outward
PERIOD_S = PERIOD.total_seconds()
REASONS = ("no_bod", "beyond_bod_bands", "sentinel_price", "no_pn")


# --- inputs ----------------------------------------------------------------------------------
def _seconds(values: pd.Series) -> np.ndarray:
    """Aware timestamps (or ISO strings) as float seconds since the epoch."""
    ts = pd.to_datetime(values, utc=True)
    return ts.astype("datetime64[ns, UTC]").astype("int64").to_numpy() / 1e9


def timestamps(seconds: np.ndarray) -> pd.Series:
    return pd.Series(pd.to_datetime(np.round(np.asarray(seconds) * 1e9).astype("int64"), utc=True))


@dataclass
class _Segments:
    """Piecewise-linear profile pieces of one unit, sorted by start."""

    t0: np.ndarray
    t1: np.ndarray
    v0: np.ndarray
    v1: np.ndarray

    def at(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """For intervals [a, b] inside one piece each: (covered, value at a, value at b, piece index)."""
        if not len(self.t0):
            nan = np.full(len(a), np.nan)
            return np.zeros(len(a), dtype=bool), nan, nan, np.zeros(len(a), dtype=int)
        mid = (a + b) / 2
        idx = np.searchsorted(self.t0, mid, side="right") - 1
        safe = np.where(idx >= 0, idx, 0)
        ok = (idx >= 0) & (mid < self.t1[safe])
        t0, t1, v0, v1 = self.t0[safe], self.t1[safe], self.v0[safe], self.v1[safe]
        span = np.where(t1 > t0, t1 - t0, 1.0)
        va = v0 + (v1 - v0) * (a - t0) / span
        vb = v0 + (v1 - v0) * (b - t0) / span
        return ok, np.where(ok, va, np.nan), np.where(ok, vb, np.nan), safe


def _slices(keys: list) -> dict:
    """{key: slice} of the runs of equal consecutive keys (the frame is sorted by them)."""
    out: dict = {}
    start = 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i] != keys[start]:
            out[keys[start]] = slice(start, i)
            start = i
    return out


def _prepare(frame: pd.DataFrame | None, start: float, end: float, sort: Sequence[str]) -> pd.DataFrame:
    """Unit key, times in seconds, rows overlapping [start, end) with a positive duration, sorted."""
    if frame is None or frame.empty:  # each column once: a duplicated name would make f["_u"] a frame
        return pd.DataFrame(columns=list(dict.fromkeys(["_u", "_t0", "_t1", "levelFrom", "levelTo", *sort])))
    f = frame.copy()
    f["_u"] = unit_key(f)
    f["_t0"] = _seconds(f["timeFrom"])
    f["_t1"] = _seconds(f["timeTo"])
    f = f[(f["_t1"] > f["_t0"]) & (f["_t1"] > start) & (f["_t0"] < end)]
    return f.sort_values(list(sort), kind="stable").reset_index(drop=True)


def _columns(f: pd.DataFrame) -> tuple[np.ndarray, ...]:
    return tuple(f[c].to_numpy(float) for c in ("_t0", "_t1", "levelFrom", "levelTo"))


def _seg(arrays: tuple[np.ndarray, ...], sl: slice) -> _Segments:
    return _Segments(*(x[sl] for x in arrays))


# --- stage A: elementary intervals per (acceptance, period) ------------------------------------
@dataclass
class _Intervals:
    """One row per piece of time inside one acceptance and one settlement period."""

    group: list[np.ndarray] = field(default_factory=list)  # output row id
    a: list[np.ndarray] = field(default_factory=list)  # start (s)
    b: list[np.ndarray] = field(default_factory=list)  # end (s)
    qn: list[np.ndarray] = field(default_factory=list)  # (n, 2): the acceptance's level at a, b
    qp: list[np.ndarray] = field(default_factory=list)  # (n, 2): the level in force before it
    prior_is_acceptance: list[np.ndarray] = field(default_factory=list)
    fpn: list[np.ndarray] = field(default_factory=list)  # (n, 2)
    width: list[np.ndarray] = field(default_factory=list)  # (n, 2, 12) band widths |level|, PAIRS order
    offer: list[np.ndarray] = field(default_factory=list)  # (n, 12)
    bid: list[np.ndarray] = field(default_factory=list)  # (n, 12)
    has_bod: list[np.ndarray] = field(default_factory=list)

    def cat(self, name: str, shape: tuple[int, ...] = ()) -> np.ndarray:
        parts = getattr(self, name)
        return np.concatenate(parts) if parts else np.zeros((0, *shape))


def build_intervals(boalf: pd.DataFrame, pn: pd.DataFrame, bod: pd.DataFrame, day: date
                     ) -> tuple[_Intervals, pd.DataFrame]:
    """Cut each acceptance of the day at every breakpoint; the level in force before it on each piece.

    Returns the pieces and one row per (acceptance, settlement period) with the acceptance's
    identity (index = the ``group`` of its pieces).
    """
    window = day_window(day)
    start, end = window.start.timestamp(), window.end.timestamp()
    bounds = start + PERIOD_S * np.arange(round((end - start) / PERIOD_S) + 1)
    out = _Intervals()
    acc = _prepare(boalf, start, end, ["_u"])
    if acc.empty:
        return out, pd.DataFrame()
    acc["_at"] = _seconds(acc["acceptanceTime"])
    by_acceptance = acc.groupby(["_u", "acceptanceNumber"], sort=False)["_at"]
    acc["_order"], acc["_latest"] = by_acceptance.transform("min"), by_acceptance.transform("max")
    acc = acc.sort_values(["_u", "_order", "acceptanceNumber", "_t0"], kind="stable").reset_index(drop=True)
    units = set(acc["_u"])
    pn_f = _prepare(pn[unit_key(pn).isin(units)] if pn is not None and len(pn) else None, start, end, ["_u", "_t0"])
    bod_f = _prepare(bod[unit_key(bod).isin(units)] if bod is not None and len(bod) else None, start, end,
                     ["_u", "pairId", "_t0"])
    pn_at = _slices(pn_f["_u"].tolist())
    bod_at = _slices(list(zip(bod_f["_u"].tolist(), bod_f["pairId"].astype(int).tolist(), strict=True)))
    bod_offer, bod_bid = bod_f.get("offer", pd.Series(dtype=float)).to_numpy(float), bod_f.get(
        "bid", pd.Series(dtype=float)).to_numpy(float)
    acc_cols, pn_cols, bod_cols = _columns(acc), _columns(pn_f), _columns(bod_f)
    acc_t0, acc_t1 = acc_cols[0], acc_cols[1]
    acc_numbers = acc["acceptanceNumber"].astype(int).to_numpy()
    acc_keys = _slices(list(zip(acc["_u"].tolist(), acc["acceptanceNumber"].astype(int).tolist(), strict=True)))
    empty = _Segments(*(np.zeros(0),) * 4)
    rows: list[tuple[int, int]] = []  # (first BOALF row of the acceptance, settlement period)

    for u, unit_rows in _slices(acc["_u"].tolist()).items():
        pn_seg = _seg(pn_cols, pn_at[u]) if u in pn_at else empty
        pairs = {pid: bod_at[(u, pid)] for pid in PAIRS if (u, pid) in bod_at}
        cuts = [bounds, acc_t0[unit_rows], acc_t1[unit_rows], pn_seg.t0, pn_seg.t1]
        cuts += [bod_cols[0][sl] for sl in pairs.values()] + [bod_cols[1][sl] for sl in pairs.values()]
        t = np.unique(np.clip(np.concatenate(cuts), start, end))
        a, b = t[:-1], t[1:]
        period = np.floor(((a + b) / 2 - start) / PERIOD_S).astype(int) + 1

        _, f_a, f_b, _ = pn_seg.at(a, b)
        cur = np.stack([f_a, f_b], axis=1)  # the level in force: PN until an acceptance covers
        cur_is_acc = np.zeros(len(a), dtype=bool)
        width = np.zeros((len(a), 2, 12))
        offer = np.full((len(a), 12), np.nan)
        bid = np.full((len(a), 12), np.nan)
        has_bod = np.zeros(len(a), dtype=bool)
        for j, pid in enumerate(PAIRS):
            if pid not in pairs:
                continue
            sl = pairs[pid]
            ok, wa, wb, idx = _seg(bod_cols, sl).at(a, b)
            width[:, 0, j] = np.where(ok, np.abs(wa), 0.0)
            width[:, 1, j] = np.where(ok, np.abs(wb), 0.0)
            offer[:, j] = np.where(ok, bod_offer[sl][idx], np.nan)
            bid[:, j] = np.where(ok, bod_bid[sl][idx], np.nan)
            has_bod |= ok

        position = unit_rows.start
        while position < unit_rows.stop:
            sl = acc_keys[(u, int(acc_numbers[position]))]
            covered, qa, qb, _ = _seg(acc_cols, sl).at(a, b)
            idx = np.flatnonzero(covered)
            if len(idx):
                own_periods, which = np.unique(period[idx], return_inverse=True)
                out.group.append(len(rows) + which)
                rows.extend((sl.start, int(p)) for p in own_periods)
                out.a.append(a[idx])
                out.b.append(b[idx])
                out.qn.append(np.stack([qa[idx], qb[idx]], axis=1))
                out.qp.append(cur[idx].copy())
                out.prior_is_acceptance.append(cur_is_acc[idx].copy())
                out.fpn.append(np.stack([f_a[idx], f_b[idx]], axis=1))
                out.width.append(width[idx])
                out.offer.append(offer[idx])
                out.bid.append(bid[idx])
                out.has_bod.append(has_bod[idx])
            cur[covered, 0] = qa[covered]
            cur[covered, 1] = qb[covered]
            cur_is_acc |= covered
            position = sl.stop

    first, period = (np.array(x, dtype=int) for x in zip(*rows, strict=True)) if rows else (np.zeros(0, int),) * 2
    ident = acc.iloc[first].reset_index(drop=True)
    ident["settlementPeriod"] = period
    ident["acceptanceTime"] = timestamps(ident["_latest"].to_numpy())
    return out, ident


# --- stage B: exact band integration -----------------------------------------------------------
def _crossing(x0: np.ndarray, x1: np.ndarray, y0: np.ndarray, y1: np.ndarray) -> np.ndarray:
    """Fraction s in (0, 1) where x(s) = y(s) for two linear functions; 0 where there is none."""
    den = (x1 - x0) - (y1 - y0)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(den != 0, (y0 - x0) / np.where(den != 0, den, 1.0), 0.0)
    return np.where((s > 0) & (s < 1), s, 0.0)


def _band_energy(qn: np.ndarray, qp: np.ndarray, lo: np.ndarray, hi: np.ndarray, hours: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Positive and negative parts of the integral of clamp(qn) - clamp(qp) to each band, MWh.

    qn, qp: (n, 2) values at the interval ends; lo, hi: (n, 2, bands); hours: (n,).
    Between consecutive candidate instants (ends, crossings of qn/qp with either edge, crossing
    of qn with qp) every clamp is linear and the difference keeps one sign, so trapezoids are exact.
    """
    n0, n1 = qn[:, 0, None], qn[:, 1, None]
    p0, p1 = qp[:, 0, None], qp[:, 1, None]
    lo0, lo1, hi0, hi1 = lo[:, 0], lo[:, 1], hi[:, 0], hi[:, 1]
    cands = np.stack(np.broadcast_arrays(
        np.zeros_like(lo0), np.ones_like(lo0),
        _crossing(n0, n1, lo0, lo1), _crossing(n0, n1, hi0, hi1),
        _crossing(p0, p1, lo0, lo1), _crossing(p0, p1, hi0, hi1),
        _crossing(n0, n1, p0, p1)), axis=-1)
    s = np.sort(cands, axis=-1)

    def line(v0: np.ndarray, v1: np.ndarray) -> np.ndarray:
        return v0[..., None] + (v1 - v0)[..., None] * s

    low, high = line(lo0, lo1), line(hi0, hi1)
    d = np.minimum(np.maximum(line(n0, n1), low), high) - np.minimum(np.maximum(line(p0, p1), low), high)
    pieces = (d[..., 1:] + d[..., :-1]) * 0.5 * np.diff(s, axis=-1) * hours[:, None, None]
    return np.where(pieces > 0, pieces, 0.0).sum(-1), np.where(pieces < 0, pieces, 0.0).sum(-1)


def _bands(fpn: np.ndarray, width: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Band edges (n, 2, 14): offers +1..+6, bids -1..-6, overflow above, overflow below."""
    up = np.cumsum(width[:, :, :6], axis=-1)
    down = np.cumsum(width[:, :, 6:], axis=-1)
    f = fpn[:, :, None]
    zero = np.zeros_like(up[:, :, :1])
    lo = np.concatenate([f + np.concatenate([zero, up[:, :, :5]], -1), f - down,
                         f + up[:, :, 5:], np.full_like(zero, -BIG_MW)], -1)
    hi = np.concatenate([f + up, f - np.concatenate([zero, down[:, :, :5]], -1),
                         np.full_like(zero, BIG_MW), f - down[:, :, 5:]], -1)
    return lo, hi


def integrate(iv: _Intervals, n_groups: int, chunk: int = 8000) -> dict[str, np.ndarray]:
    group = iv.cat("group").astype(int)
    a, b = iv.cat("a"), iv.cat("b")
    qn, qp, fpn = iv.cat("qn", (2,)), iv.cat("qp", (2,)), iv.cat("fpn", (2,))
    width, offer, bid = iv.cat("width", (2, 12)), iv.cat("offer", (12,)), iv.cat("bid", (12,))
    has_bod = iv.cat("has_bod").astype(bool)
    prior_acc = iv.cat("prior_is_acceptance").astype(bool)

    unknown = np.isnan(qp).any(axis=1)  # neither an earlier acceptance nor PN: volume unknown
    qp = np.where(unknown[:, None], qn, qp)
    no_pn = np.isnan(fpn).any(axis=1)
    fpn = np.where(no_pn[:, None], 0.0, fpn)
    width = np.where(no_pn[:, None, None], 0.0, width)
    hours = (b - a) / 3600.0

    n = len(group)
    pos, neg = np.zeros((n, 14)), np.zeros((n, 14))
    for i in range(0, n, chunk):
        sl = slice(i, i + chunk)
        lo, hi = _bands(fpn[sl], width[sl])
        pos[sl], neg[sl] = _band_energy(qn[sl], qp[sl], lo, hi, hours[sl])

    offer_ok = np.isfinite(offer) & (np.abs(offer) < SENTINEL_PRICE)
    bid_ok = np.isfinite(bid) & (np.abs(bid) < SENTINEL_PRICE)
    pair_pos, pair_neg = pos[:, :12], neg[:, :12]
    overflow = pos[:, 12] - neg[:, 12] + pos[:, 13] - neg[:, 13]
    per = {
        "offer_e": np.where(offer_ok, pair_pos, 0.0), "bid_e": np.where(bid_ok, pair_neg, 0.0),
        "offer_cf": np.where(offer_ok, pair_pos * np.nan_to_num(offer), 0.0),
        "bid_cf": np.where(bid_ok, pair_neg * np.nan_to_num(bid), 0.0),
        "sentinel_pos": np.where(offer_ok, 0.0, pair_pos), "sentinel_neg": np.where(bid_ok, 0.0, pair_neg),
    }
    flat = {
        "offer_volume": pos.sum(1), "bid_volume": neg.sum(1),
        "r_sentinel_price": per["sentinel_pos"].sum(1) - per["sentinel_neg"].sum(1),
        "r_no_pn": np.where(no_pn, overflow, 0.0),
        "r_no_bod": np.where(~no_pn & ~has_bod, overflow, 0.0),
        "r_beyond_bod_bands": np.where(~no_pn & has_bod, overflow, 0.0),
        "unknown": unknown.astype(float),
        "from_pn": ((~prior_acc) & (hours > 0)).astype(float),
        "from_acc": (prior_acc & (hours > 0)).astype(float),
    }
    result: dict[str, np.ndarray] = {}
    for name, values in flat.items():
        result[name] = np.bincount(group, weights=values, minlength=n_groups)
    for name, values in per.items():
        result[name] = np.stack([np.bincount(group, weights=values[:, j], minlength=n_groups) for j in range(12)], 1)
    result["time_from"] = np.full(n_groups, np.inf)
    result["time_to"] = np.full(n_groups, -np.inf)
    np.minimum.at(result["time_from"], group, a)
    np.maximum.at(result["time_to"], group, b)
    return result
