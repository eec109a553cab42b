"""Balancing Mechanism revenue: accepted energy, its price, and the cashflow per unit - pure pandas.

This module holds the method; ``derived_assets.py`` only wires it into Dagster. Every function
takes and returns plain frames (the rows of the warehouse tables), so each step can be checked by
hand.

Accepted energy (BSC Section T acceptance volume)
-------------------------------------------------
A BOALF acceptance ``k`` of a unit is a level profile: MW points joined linearly (each BOALF row
is one segment ``(timeFrom, levelFrom) -> (timeTo, levelTo)``). Its *acceptance volume* at an
instant ``t`` is its level minus the level in force before it: the level of the unit's latest
earlier acceptance whose profile covers ``t`` ("earlier" = ordered by ``acceptanceTime``, then
``acceptanceNumber``), or, where no earlier acceptance covers ``t``, the unit's physical
notification (PN, as the final physical notification FPN). The accepted energy is that
difference integrated over time, in MWh (MW x hours - never a MW difference taken as MWh). The
integration is exact: every level here (BOALF, PN, BOD band widths) is piecewise linear, so time
is cut at every breakpoint of every profile, at every settlement-period boundary and at every
instant where a level crosses a band edge or the previous level, and each piece is a trapezoid.

An acceptance that spans settlement periods is split at the period boundaries: one output row per
(unit, acceptance, settlement period). Periods are those of the Europe/London settlement day
(``settlement.day_window``; 46 or 50 on clock-change days). A settlement day's rows include the
part of an acceptance from the previous day's BOALF that runs past midnight.

Direction and sign conventions
------------------------------
An increase over the previous level is *offer* energy (positive MWh); a decrease is *bid* energy
(negative MWh). One acceptance can have both (e.g. it raises the unit, then takes it below PN).
Cashflows are from the unit's point of view: ``offer price x offer volume`` is paid to the unit
(positive £ for a positive price); ``bid price x bid volume`` with the bid volume negative, so a
positive bid price means the unit pays (negative £) and a negative bid price (e.g. wind giving up
subsidy) means it is paid.

Pricing from BOD bands
----------------------
For a settlement period, the unit's BOD pairs stack into MW bands measured from its PN: offer
pair ``+1`` occupies ``[PN, PN + |level(+1)|]``, ``+2`` the next ``|level(+2)|`` MW above it, and so
on (offers are consumed in ascending positive ``pairId``); bid pair ``-1`` occupies
``[PN - |level(-1)|, PN]``, ``-2`` the band below it, and so on (bids consumed in descending negative
``pairId``). A missing pair has zero width. The energy between the previous level and the new
level is allocated to the bands it passes through (Section T's clamp of both levels to each
band): increases in a band are priced at that pair's ``offer`` price, decreases at its ``bid``
price. So an acceptance moving a unit from +80 MW back down to PN inside offer band +1 is bid
energy priced at pair +1's bid price, and the result never depends on taking "the lowest pairId".

What cannot be priced is kept, never guessed:

* energy beyond the outermost submitted band (BOD does not cover the accepted volume) stays
  unpriced with reason ``beyond_bod_bands`` - it is not priced at the last pair's price;
* a pair whose price for that direction is a sentinel (``|price| >= 9999``, Elexon's "not
  available" marker) leaves the energy in its band unpriced with reason ``sentinel_price`` (the band
  still occupies its MW, so the bands beyond it stay where they are);
* no BOD for the unit and period: reason ``no_bod``;
* no PN where the bands must be placed: reason ``no_pn``; where there is neither an earlier
  acceptance nor PN the volume itself is unknown: the row's volumes and cashflows are null.

Each row carries ``match_status``: ``matched`` (all its energy priced), ``partial`` (some),
``unmatched`` (none, or volume unknown), ``no_volume`` (the acceptance changes nothing in that
period); ``unmatched_reason`` lists the reasons for any unpriced energy; ``pricing_source`` is
``BOD`` where any energy was priced; ``priced_pairs`` breaks the row down by pair and direction.
The match rate of a day is matched rows / rows with volume (``no_volume`` rows excluded).

Units are identified by ``bmUnit`` (the Elexon id) where present; interconnector units have a null
``bmUnit`` and are identified by ``nationalGridBmUnit``. Both columns are kept on every output row.

Hybrid cashflow, VLP revenue
----------------------------
:func:`cashflow_hybrid` gives one row per (unit, settlement period): Elexon's indicative cashflow
(EBOCF, bid side + offer side) where EBOCF has a row for that unit and period, else the sum of the
BOALF x BOD estimates of its acceptances - never both (``source`` says which). The estimate is kept
alongside for reconciliation (:func:`reconciliation`). :func:`vlp_revenue` sums the hybrid per day
for units classified as Virtual Lead Party units (:func:`classify_units`) and subtracts configured
cost components; nothing about tariffs is built in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date

import numpy as np
import orjson
import pandas as pd

from bmrs_assets.core.settlement import PERIOD, day_window

SENTINEL_PRICE = 9999.0  # |price| >= this: Elexon's "pair not available" marker
BIG_MW = 1e7  # open ends of the two overflow bands beyond the outermost BOD pairs
VOLUME_TOLERANCE_MWH = 1e-3  # 1 kWh: less energy than this counts as none for labels and statuses
PAIRS = (1, 2, 3, 4, 5, 6, -1, -2, -3, -4, -5, -6)  # band order: offers outward, then bids outward
PERIOD_S = PERIOD.total_seconds()
REASONS = ("no_bod", "beyond_bod_bands", "sentinel_price", "no_pn")


# --- inputs ----------------------------------------------------------------------------------
def unit_key(frame: pd.DataFrame) -> pd.Series:
    """Join key of a unit: the Elexon ``bmUnit``, or ``NG:<nationalGridBmUnit>`` where it is null."""
    bm = frame["bmUnit"].astype(object)
    ng = "NG:" + frame["nationalGridBmUnit"].astype(object).fillna("")
    return bm.where(bm.notna(), ng).astype(object)


def _seconds(values: pd.Series) -> np.ndarray:
    """Aware timestamps (or ISO strings) as float seconds since the epoch."""
    ts = pd.to_datetime(values, utc=True)
    return ts.astype("datetime64[ns, UTC]").astype("int64").to_numpy() / 1e9


def _timestamps(seconds: np.ndarray) -> pd.Series:
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
    if frame is None or frame.empty:
        return pd.DataFrame(columns=["_u", "_t0", "_t1", "levelFrom", "levelTo", *sort])
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


def _build_intervals(boalf: pd.DataFrame, pn: pd.DataFrame, bod: pd.DataFrame, day: date
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
    ident["acceptanceTime"] = _timestamps(ident["_latest"].to_numpy())
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


def _integrate(iv: _Intervals, n_groups: int, chunk: int = 8000) -> dict[str, np.ndarray]:
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


# --- boalf_with_prices -------------------------------------------------------------------------
PRICED_COLUMNS = (
    "settlementDate", "settlementPeriod", "bmUnit", "nationalGridBmUnit", "acceptanceNumber", "acceptanceTime",
    "timeFrom", "timeTo", "soFlag", "storFlag", "rrFlag", "deemedBoFlag", "baseline", "direction",
    "offer_volume_mwh", "bid_volume_mwh", "net_volume_mwh", "unpriced_volume_mwh", "offer_price_gbp_per_mwh",
    "bid_price_gbp_per_mwh", "offer_cashflow_gbp", "bid_cashflow_gbp", "cashflow_gbp", "pricing_source",
    "match_status", "unmatched_reason", "priced_pairs",
)


def _r(x: float) -> float:
    return round(float(x), 6) + 0.0  # + 0.0 turns -0.0 into 0.0


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
                "pairId": PAIRS[j], "side": side, "volume_mwh": _r(energy[g, j]),
                "price_gbp_per_mwh": _r(cash[g, j] / energy[g, j]), "cashflow_gbp": _r(cash[g, j])})
        for g, j in zip(*np.nonzero(np.abs(unpriced) > VOLUME_TOLERANCE_MWH), strict=True):
            entries.setdefault(int(g), []).append({
                "pairId": PAIRS[j], "side": side, "volume_mwh": _r(unpriced[g, j]), "price_gbp_per_mwh": None,
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
    intervals, ident = _build_intervals(boalf, pn, bod, day)
    if ident.empty:
        return pd.DataFrame(columns=list(PRICED_COLUMNS))
    r = _integrate(intervals, len(ident))
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
        known = _unknown if unknown else _r
        out.append({
            "baseline": baseline,
            "direction": "both" if has_offer and has_bid else "offer" if has_offer else "bid" if has_bid else "none",
            "offer_volume_mwh": known(offer_v), "bid_volume_mwh": known(bid_v),
            "net_volume_mwh": known(offer_v + bid_v), "unpriced_volume_mwh": known(unpriced),
            "offer_price_gbp_per_mwh": _r(offer_cf / priced_offer) if priced_offer > tol and not unknown else nan,
            "bid_price_gbp_per_mwh": _r(bid_cf / priced_bid) if -priced_bid > tol and not unknown else nan,
            "offer_cashflow_gbp": known(offer_cf), "bid_cashflow_gbp": known(bid_cf),
            "cashflow_gbp": known(offer_cf + bid_cf),
            "pricing_source": "BOD" if not unknown and priced_offer - priced_bid > tol else None,
            "match_status": status,
            "unmatched_reason": ",".join(reasons) or None,
            "priced_pairs": None if unknown else pairs_json[g],
        })
    frame = pd.concat([ident.reset_index(drop=True), pd.DataFrame(out)], axis=1)
    frame["settlementDate"] = day
    frame["timeFrom"] = _timestamps(r["time_from"])
    frame["timeTo"] = _timestamps(r["time_to"])
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
    is_ebocf = h["source"] == "EBOCF"
    h = h.assign(_e=np.where(is_ebocf, h["cashflow_gbp"], 0.0), _s=np.where(is_ebocf, 0.0, h["cashflow_gbp"]),
                 _pe=is_ebocf.astype(int), _ps=(~is_ebocf).astype(int),
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
        parts = {c.name: _r(c.per_mwh_gbp * (ov - bv) + c.share_of_revenue * max(gross, 0.0)) for c in costs}
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
