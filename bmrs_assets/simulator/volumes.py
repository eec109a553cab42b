"""The simulator's settlement volumes (BOAV, DISPTAV): Elexon's side of the volume reconciliation.

Computed here, from the simulator's own acceptances, PN and BOD bands, by a method of its own, so
that ``boalf_with_prices`` (``revenue/energy.py``: exact piecewise-linear integration) is compared
with a second computation, not with itself. The simulator samples every second instead: on each
one-second step the level in force before an acceptance is the latest earlier acceptance covering
that second, else FPN (BSC Section T); the difference between the acceptance and that level, each
clamped to a pair's band (bands cumulative from FPN: pair ``n`` spans ``FPN + w1 + ... + w(n-1)`` to
``FPN + w1 + ... + wn``, bids likewise below FPN), is summed per settlement period, positive parts as
the offer volume and negative parts as the bid volume. All profile knots are on whole minutes, so
the midpoint rule is exact except on the steps where a level crosses a band edge (a few
millionths of a MWh each). Energy beyond the outermost pair is in the side's total but in no pair.

``volume_error`` plants a fault: that share of acceptances (chosen by a hash of unit and number)
is published 5 % too large on every pair and total, as if Elexon's run had settled other volumes.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

from bmrs_assets.core.settlement import PERIOD, utc_iso
from bmrs_assets.simulator.units import unit_type

PLANTED_FACTOR = 1.05  # a planted volume error publishes the acceptance's volumes this much too large
Piece = tuple[datetime, datetime, float, float]  # (timeFrom, timeTo, levelFrom, levelTo)
Row = dict[str, object]


@dataclass(frozen=True)
class Acceptance:
    """One acceptance of a unit: its number, its time and its level pieces (sorted, contiguous)."""

    number: int
    time: datetime
    pieces: Sequence[Piece]


@dataclass(frozen=True)
class Volume:
    """Settled volume of one acceptance in one period on one side: MWh per pair id and in total."""

    number: int
    period: int
    side: str  # "offer" or "bid"
    pairs: dict[int, float]  # pair id -> MWh (offer > 0, bid < 0), pairs with energy only
    total: float


def planted(unit: str, number: int, volume_error: float) -> bool:
    """Whether the planted fault changes this acceptance's volumes (a stable ``volume_error`` share)."""
    return volume_error > 0 and zlib.crc32(f"{unit}|{number}".encode()) % 10_000 < volume_error * 10_000


def _profile(pieces: Sequence[Piece], origin: datetime, seconds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Level at the given seconds after ``origin`` (NaN where no piece covers them) and the covered mask."""
    t0 = np.array([(p[0] - origin).total_seconds() for p in pieces])
    t1 = np.array([(p[1] - origin).total_seconds() for p in pieces])
    v0, v1 = np.array([p[2] for p in pieces]), np.array([p[3] for p in pieces])
    idx = np.searchsorted(t0, seconds, side="right") - 1
    safe = np.clip(idx, 0, None)
    covered = (idx >= 0) & (seconds < t1[safe])
    level = np.where(covered, v0[safe] + (v1[safe] - v0[safe]) * (seconds - t0[safe]) / (t1[safe] - t0[safe]), np.nan)
    return level, covered


def unit_volumes(unit: str, acceptances: Sequence[Acceptance], fpn: Sequence[Piece], widths: dict[int, float],
                 day_start: datetime, period_bounds: Sequence[float], volume_error: float = 0.0) -> list[Volume]:
    """Every settled volume of one unit's acceptances over one settlement day.

    ``widths``: MW of each BOD pair id present (pair n's band width); ``period_bounds``: seconds from
    ``day_start`` of each period's start and the day's end; ``fpn`` must cover every acceptance.
    Volumes under 1e-9 MWh are left out.
    """
    mid = np.arange(int(period_bounds[-1])) + 0.5  # one sample per second, at its midpoint
    in_force = np.full(len(mid), np.nan)  # the latest acceptance's level so far; NaN: none, FPN is in force
    pair_ids, lo, hi = [], [], []
    for sign in (1, -1):
        edge = 0.0
        for n in range(1, 7):
            width = widths.get(sign * n)
            if width is None:
                break
            pair_ids.append(sign * n)
            lo.append(edge if sign > 0 else -edge - abs(width))
            hi.append(edge + abs(width) if sign > 0 else -edge)
            edge += abs(width)
    lo_a, hi_a = np.array(lo), np.array(hi)
    period_of = np.searchsorted(np.asarray(period_bounds), mid, side="right")  # 1-based period
    out: list[Volume] = []
    for acc in sorted(acceptances, key=lambda a: (a.time, a.number)):
        s0 = max(0, int((acc.pieces[0][0] - day_start).total_seconds()))
        s1 = min(len(mid), int(np.ceil((acc.pieces[-1][1] - day_start).total_seconds())))
        if s1 <= s0:
            continue
        level, covered = _profile(acc.pieces, day_start, mid[s0:s1])
        sel = s0 + np.flatnonzero(covered)
        if not len(sel):
            continue
        q, f = level[covered], _profile(fpn, day_start, mid[sel])[0]
        prior = np.where(np.isnan(in_force[sel]), f, in_force[sel])
        factor = PLANTED_FACTOR if planted(unit, acc.number, volume_error) else 1.0
        periods, first = np.unique(period_of[sel], return_index=True)  # sel ascends: each period one run
        # per second and pair: the band's share of the acceptance, less the band's share of the level before it
        d = (np.clip((q - f)[:, None], lo_a, hi_a) - np.clip((prior - f)[:, None], lo_a, hi_a)) if pair_ids else None
        diff = q - prior
        for side, keep in (("offer", np.maximum), ("bid", np.minimum)):
            totals = np.add.reduceat(keep(diff, 0.0), first) / 3600.0
            by_pair = np.add.reduceat(keep(d, 0.0), first, axis=0) / 3600.0 if d is not None else None
            for i, sp in enumerate(periods):
                if abs(totals[i]) <= 1e-9:
                    continue
                pairs = ({pid: float(by_pair[i, j]) * factor for j, pid in enumerate(pair_ids)
                          if abs(by_pair[i, j]) > 1e-9} if by_pair is not None else {})
                out.append(Volume(acc.number, int(sp), side, pairs, float(totals[i]) * factor))
        in_force[sel] = q
    return out


# --- the rows BOAV and DISPTAV serve ----------------------------------------------------------
def _pair_fields(pairs: dict[int, float]) -> dict[str, float | None]:
    """``pairVolumes`` as served: every member, null where the pair has no energy, MWh to 4 decimals."""
    return {f"{'negative' if pid < 0 else 'positive'}{abs(pid)}": (round(pairs[pid], 4) if pid in pairs else None)
            for n in range(1, 7) for pid in (-n, n)}


def _parse(text: object) -> datetime:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


def settlement_rows(day: date, boalf: Sequence[Row], periods: Sequence[tuple[int, datetime, str, str]],
                    pn_of: Callable[[tuple[str | None, str]], Sequence[Piece]],
                    widths_of: Callable[[str], dict[int, float]], run: int = 0,
                    volume_error: float = 0.0) -> dict[str, tuple[Row, ...]]:
    """BOAV and DISPTAV rows of ``day`` by "<code>/<side>", settled from BOALF rows (``boalf``), each
    unit's PN (``pn_of((bmUnit, nationalGridBmUnit))``) and BOD pair widths (``widths_of(ngu)``);
    ``periods``: (period, start, start ISO, end ISO) of the day. ``run`` moves ``createdDateTime``."""
    acceptances: dict[str, dict[int, list]] = {}
    ids: dict[str, str | None] = {}
    for r in boalf:
        ng = str(r["nationalGridBmUnit"])
        ids[ng] = None if r["bmUnit"] is None else str(r["bmUnit"])
        piece = (_parse(r["timeFrom"]), _parse(r["timeTo"]), float(str(r["levelFrom"])), float(str(r["levelTo"])))
        number = int(str(r["acceptanceNumber"]))
        acceptances.setdefault(ng, {}).setdefault(number, [_parse(r["acceptanceTime"])]).append(piece)
    start = periods[0][1]
    bounds = [(p[1] - start).total_seconds() for p in periods] + [(periods[-1][1] + PERIOD - start).total_seconds()]
    iso = {sp: s for sp, _, s, _ in periods}
    created = {sp: utc_iso(t + timedelta(hours=20) + timedelta(hours=6 * run)) for sp, t, _, _ in periods}
    out: dict[str, list[Row]] = {f"{c}/{side}": [] for c in ("BOAV", "DISPTAV") for side in ("bid", "offer")}
    for ng, by_number in acceptances.items():
        bm_unit = ids[ng]
        accs = [Acceptance(n, v[0], sorted(v[1:])) for n, v in by_number.items()]
        durations = {a.number: (a.pieces[-1][1] - a.pieces[0][0]) for a in accs}
        common = {"settlementDate": day.isoformat(), "bmUnit": bm_unit, "bmUnitType": unit_type(bm_unit),
                  "leadPartyName": None if bm_unit is None else f"Lead Party {ng[-5:]}", "nationalGridBmUnit": ng}
        period_sum: dict[tuple[int, str], tuple[dict[int, float], float]] = {}
        for v in unit_volumes(ng, accs, pn_of((bm_unit, ng)), widths_of(ng), start, bounds, volume_error):
            row = {"createdDateTime": created[v.period], **common, "settlementPeriod": v.period, "startTime": iso[v.period]}
            out[f"BOAV/{v.side}"].append({
                **row, "acceptanceId": v.number,
                "acceptanceDuration": "L" if durations[v.number] >= timedelta(minutes=15) else "S",
                "totalVolumeAccepted": round(v.total, 4), "pairVolumes": _pair_fields(v.pairs)})
            pairs_sum, total = period_sum.get((v.period, v.side), ({}, 0.0))
            for pid, mwh in v.pairs.items():
                pairs_sum[pid] = pairs_sum.get(pid, 0.0) + mwh
            period_sum[(v.period, v.side)] = (pairs_sum, total + v.total)
        for (sp, side), (pairs_sum, total) in sorted(period_sum.items()):
            out[f"DISPTAV/{side}"].append({
                "createdDateTime": created[sp], **common, "settlementPeriod": sp, "startTime": iso[sp],
                "dataType": "Original", "totalVolumeAccepted": round(total, 4), "pairVolumes": _pair_fields(pairs_sum)})
    return {k: tuple(sorted(rows, key=lambda r: (r["settlementPeriod"], r["nationalGridBmUnit"], r.get("acceptanceId", 0))))
            for k, rows in out.items()}
