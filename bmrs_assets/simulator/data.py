"""Deterministic synthetic Elexon data for the simulator, one generator per dataset.

Each generator makes every row of one (dataset, day) from a seed derived from both, at the volume
the live API serves: BOALF ~19,000 rows, BOD ~270,000, PN ~125,000, FREQ 5,760, FUELINST 288 per
fuel type, two MID providers per period, and so on. Unit ids are shared across datasets so that
acceptances, bid-offer pairs, physical notifications and cashflows of one unit line up.
Interconnector units have no Elexon ``bmUnit`` (null), as on the live API.
"""

from __future__ import annotations

import itertools
import random
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from bmrs_assets.core.settlement import (
    PERIOD,
    UTC,
    day_window,
    period_start,
    periods_in_day,
    settlement_period_of,
    utc_iso,
)
from bmrs_assets.simulator.positions import redeclare, redeclared
from bmrs_assets.simulator.remit import gen_remit
from bmrs_assets.simulator.units import INTERCONNECTORS, bm_units, gen_bmunits, rng_for, unit_type
from bmrs_assets.simulator.volumes import settlement_rows

Row = dict[str, object]
FUEL_TYPES = ("BIOMASS", "CCGT", "COAL", "INTELEC", "INTEW", "INTFR", "INTGRNL", "INTIFA2", "INTIRL", "INTNED",
              "INTNEM", "INTNSL", "INTVKL", "NPSHYD", "NUCLEAR", "OCGT", "OIL", "OTHER", "PS", "WIND")
BOUNDARIES = ("N", *(f"B{i}" for i in range(1, 18)))



@dataclass
class SimState:
    """What a test can turn: ``run`` is the settlement run (later runs revise COSTS and EBOCF);
    ``position`` the source's later position, in which it has withdrawn rows: MELS/MILS units
    redeclared (from mid-day a new notification, the earlier record truncated and the new one's
    timeFrom moved), DISBSAD actions retracted, EBOCF unit-periods dropped; ``volume_error`` the
    share of acceptances whose settlement volumes (BOAV, DISPTAV) are planted wrong (``volumes.py``)."""

    run: int = 0
    position: int = 0
    volume_error: float = 0.0


def _periods(day: date) -> list[tuple[int, datetime, str, str]]:
    """(period, start, start ISO, end ISO) for every settlement period of ``day``."""
    out = []
    for sp in range(1, periods_in_day(day) + 1):
        start = period_start(day, sp)
        out.append((sp, start, utc_iso(start), utc_iso(start + PERIOD)))
    return out


def _level_at(points: Sequence[tuple[datetime, datetime, float, float]], t: datetime) -> float:
    """The value at ``t`` of a profile given as sorted (timeFrom, timeTo, levelFrom, levelTo) pieces."""
    for t0, t1, l0, l1 in points:
        if t0 <= t < t1:
            return l0 + (l1 - l0) * ((t - t0) / (t1 - t0))
    return points[-1][3] if t >= points[-1][1] else points[0][2]


@lru_cache(maxsize=2048)
def _pn_profile(day: date, unit: tuple[str | None, str]) -> tuple[tuple[datetime, datetime, float, float], ...]:
    """The unit's PN as the simulator serves it (PN rows come from a per-unit seed)."""
    return tuple((datetime.fromisoformat(str(r["timeFrom"]).replace("Z", "+00:00")),
             datetime.fromisoformat(str(r["timeTo"]).replace("Z", "+00:00")), float(r["levelFrom"]), float(r["levelTo"]))
            for r in _physical("PN", day, [unit], (1, 3), per_unit=True))


def gen_boalf(day: date, state: SimState) -> list[Row]:
    """About 19,000 acceptance level segments: ~4,700 acceptances of 3-5 segments each.

    Acceptances are consistent with the unit's PN and BOD (both from per-unit seeds): each starts at
    the level in force (the PN, or the earlier acceptance it overlaps), moves to PN plus an offset
    inside the unit's usable BOD bands (offers above PN, bids below), holds, and returns to PN.
    About 2% deliberately exceed the bands (so they can be priced only in part). Acceptance numbers
    follow acceptance time per unit, as on the live API. Four interconnectors (null ``bmUnit``) too.
    """
    window = day_window(day)
    minutes = int(window.duration.total_seconds() // 60)
    rows: list[Row] = []
    base_number = (day - date(2020, 1, 1)).days * 40
    for unit in [*bm_units(260), *INTERCONNECTORS[:4]]:
        bm_unit, ng_unit = unit
        rng = rng_for("BOALF", day, ng_unit)
        pn = _pn_profile(day, unit)
        room = _bod_room(day, ng_unit)
        previous: list[tuple[datetime, datetime, float, float]] = []  # pieces of the unit's last acceptance
        starts = sorted(rng.sample(range(5, minutes - 80), rng.randint(14, 22)))
        for number, start_min in enumerate(starts, start=base_number + 1):
            t = window.start + timedelta(minutes=start_min)
            accepted = t - timedelta(minutes=rng.randint(2, 5))
            side = 1 if rng.random() < 0.55 else -1
            side = side if room[side] or not room[-side] else -side
            fraction = rng.uniform(1.1, 1.5) if rng.random() < 0.02 else rng.uniform(0.15, 0.8)
            offset = side * max(1.0, fraction * room[side])
            times = [t]
            for _ in range(rng.randint(3, 5)):
                times.append(times[-1] + timedelta(minutes=rng.choice([5, 10, 15])))
            overlaps = bool(previous) and previous[0][0] <= t < previous[-1][1]
            levels = [round(_level_at(previous if overlaps else pn, t)),
                      *(round(_level_at(pn, x) + offset) for x in times[1:-1]), round(_level_at(pn, times[-1]))]
            flags = {"deemedBoFlag": rng.random() < 0.02, "soFlag": rng.random() < 0.4, "storFlag": rng.random() < 0.01}
            previous = [(t0, t1, float(l0), float(l1))
                        for t0, t1, l0, l1 in zip(times, times[1:], levels, levels[1:], strict=False)]
            for t0, t1, l0, l1 in previous:
                rows.append({
                    "dataset": "BOALF", "settlementDate": day.isoformat(),
                    "settlementPeriodFrom": settlement_period_of(t0)[1], "settlementPeriodTo": settlement_period_of(t1)[1],
                    "timeFrom": utc_iso(t0), "timeTo": utc_iso(t1), "levelFrom": int(l0), "levelTo": int(l1),
                    "acceptanceNumber": number, "acceptanceTime": utc_iso(accepted),
                    "deemedBoFlag": flags["deemedBoFlag"], "soFlag": flags["soFlag"],
                    "amendmentFlag": "ORI", "storFlag": flags["storFlag"], "rrFlag": False,
                    "nationalGridBmUnit": ng_unit, "bmUnit": bm_unit,
                })
    rows.sort(key=lambda r: (r["timeFrom"], r["nationalGridBmUnit"], r["acceptanceNumber"]))
    return rows


def _bod_unit(day: date, ng_unit: str) -> tuple[random.Random, int, float, int, set[int]]:
    """Per-unit BOD parameters: (rng, pairs, base price, band step MW, pair ids priced +-9999 all day)."""
    rng = rng_for("BOD", day, ng_unit)
    pairs, base, level = rng.randint(1, 5), rng.uniform(30, 120), rng.randint(5, 60)
    unavailable = {pair_id for k in range(1, pairs + 1) for pair_id in (-k, k) if rng.random() < 0.03}
    return rng, pairs, base, level, unavailable


def _bod_room(day: date, ng_unit: str) -> dict[int, float]:
    """MW above (1) and below (-1) PN covered by the unit's BOD pairs before the first unavailable one."""
    _, pairs, _, level, unavailable = _bod_unit(day, ng_unit)
    room = {}
    for side in (1, -1):
        total = 0.0
        for k in range(1, pairs + 1):
            if side * k in unavailable:
                break
            total += level * k
        room[side] = total
    return room


def gen_bod(day: date, state: SimState) -> list[Row]:
    """About 270,000 bid-offer pairs: ~950 units x 48 periods x ~6 pairs.

    Pair +-k spans ``k x step`` MW from PN; offer prices rise and bid prices fall away from PN. An
    unavailable pair (3% of pairs, from a per-unit seed) is priced at the +-9999 sentinel all day.
    """
    rows: list[Row] = []
    d = day.isoformat()
    periods = _periods(day)
    for bm_unit, ng_unit in [*bm_units(940), *INTERCONNECTORS]:
        rng, pairs, base, level, unavailable = _bod_unit(day, ng_unit)
        for sp, _, start, end in periods:
            for k in range(1, pairs + 1):
                for pair_id in (-k, k):
                    unused = pair_id in unavailable
                    offer = 9999.0 if unused else round(base + 10 * k + rng.uniform(0, 5), 2)
                    bid = -9999.0 if unused else round(base - 10 * k - rng.uniform(0, 5), 2)
                    lvl = level * k if pair_id > 0 else -level * k
                    rows.append({"dataset": "BOD", "settlementDate": d, "settlementPeriod": sp, "timeFrom": start,
                                 "levelFrom": lvl, "timeTo": end, "levelTo": lvl, "pairId": pair_id,
                                 "offer": offer, "bid": bid, "nationalGridBmUnit": ng_unit, "bmUnit": bm_unit})
    return rows


def _physical(code: str, day: date, units: list[tuple[str | None, str]], segments: tuple[int, int],
              notification: bool = False, per_unit: bool = False, position: int = 0) -> list[Row]:
    """``per_unit``: each unit's rows come from its own seed, so one unit's PN can be regenerated alone.
    ``position`` > 0 (notifications only): the redeclared units' rows as resolved after the redeclaration."""
    shared = rng_for(code, day)
    rows: list[Row] = []
    d = day.isoformat()
    sequence = 160_000_000 + (day - date(2020, 1, 1)).days * 5_000
    periods = _periods(day)
    first_redeclared = len(periods) // 2 + 1
    for index, (bm_unit, ng_unit) in enumerate(units):
        rng = rng_for(code, day, ng_unit) if per_unit else shared
        level = rng.randint(-50, 400)
        notified = utc_iso(day_window(day).start - timedelta(hours=13, minutes=rng.randint(0, 59)))
        sequence += 1
        unit_rows: list[Row] = []
        for sp, start, _, _ in periods:
            n = rng.randint(*segments)
            cuts = sorted(rng.sample(range(1, 30), n - 1)) if n > 1 else []
            bounds = [0, *cuts, 30]
            for a, b in itertools.pairwise(bounds):
                nxt = max(-100, level + rng.randint(-20, 20))
                row: Row = {"dataset": code, "settlementDate": d, "settlementPeriod": sp,
                            "timeFrom": utc_iso(start + timedelta(minutes=a)), "timeTo": utc_iso(start + timedelta(minutes=b)),
                            "levelFrom": level, "levelTo": nxt}
                if notification:
                    row["notificationTime"] = notified
                    row["notificationSequence"] = sequence
                row["nationalGridBmUnit"] = ng_unit
                row["bmUnit"] = bm_unit
                unit_rows.append(row)
                level = nxt
            if notification and redeclared(index, position) and sp >= first_redeclared:
                if sp == first_redeclared:  # the earlier record truncated; the new one's timeFrom moves
                    moved = utc_iso(start + timedelta(minutes=5))
                    old = [r for r in unit_rows if r["settlementPeriod"] == sp]
                    unit_rows.extend({**r, "timeTo": moved} for r in old)
                    for r in old:
                        r["timeFrom"] = moved
                    redeclare(unit_rows[:-len(old)], sp, start, position)
                else:
                    redeclare(unit_rows, sp, start, position)
        rows.extend(unit_rows)
    return rows


def gen_pn(day: date, state: SimState) -> list[Row]:
    """About 125,000 MW points: ~1,300 units x 48 periods x 1-3 segments, interconnectors included."""
    return _physical("PN", day, [*bm_units(1300), *INTERCONNECTORS], (1, 3), per_unit=True)


def gen_qpn(day: date, state: SimState) -> list[Row]:
    return _physical("QPN", day, [*bm_units(300), *INTERCONNECTORS[:4]], (1, 1))


def gen_mels(day: date, state: SimState) -> list[Row]:
    return _physical("MELS", day, [*bm_units(600), *INTERCONNECTORS], (1, 1), notification=True, position=state.position)


def gen_mils(day: date, state: SimState) -> list[Row]:
    return _physical("MILS", day, [*bm_units(600), *INTERCONNECTORS], (1, 1), notification=True, position=state.position)


def gen_mid(day: date, state: SimState) -> list[Row]:
    """Two rows per period: APXMIDP with prices, N2EXMIDP all zero (as in recent live data)."""
    rng = rng_for("MID", day)
    rows = []
    for sp, _, start, _ in _periods(day):
        rows.append({"dataset": "MID", "startTime": start, "dataProvider": "APXMIDP", "settlementDate": day.isoformat(),
                     "settlementPeriod": sp, "price": round(rng.uniform(40, 140), 2), "volume": round(rng.uniform(500, 3000), 2)})
        rows.append({"dataset": "MID", "startTime": start, "dataProvider": "N2EXMIDP", "settlementDate": day.isoformat(),
                     "settlementPeriod": sp, "price": 0.0, "volume": 0.0})
    return rows


def _fuel(code: str, day: date, step: timedelta) -> list[Row]:
    rng = rng_for(code, day)
    window = day_window(day)
    rows = []
    t = window.start
    while t < window.end:
        sd, sp = settlement_period_of(t)
        start, publish = utc_iso(t), utc_iso(t + step)
        for fuel in FUEL_TYPES:
            gen = rng.randint(-1500, 1500) if fuel.startswith("INT") or fuel == "PS" else rng.randint(0, 12000)
            rows.append({"dataset": code, "publishTime": publish, "startTime": start, "settlementDate": sd.isoformat(),
                         "settlementPeriod": sp, "fuelType": fuel, "generation": gen})
        t += step
    return rows


def gen_fuelinst(day: date, state: SimState) -> list[Row]:
    """Every 5 minutes, 20 fuel types: 288 readings per fuel type on a 48-period day."""
    return _fuel("FUELINST", day, timedelta(minutes=5))


def gen_fuelhh(day: date, state: SimState) -> list[Row]:
    return _fuel("FUELHH", day, PERIOD)


NETBSAD_FIELDS = ("netBuyPriceCostAdjustmentEnergy", "netBuyPriceVolumeAdjustmentEnergy", "netBuyPriceVolumeAdjustmentSystem",
                  "buyPricePriceAdjustment", "netSellPriceCostAdjustmentEnergy", "netSellPriceVolumeAdjustmentEnergy",
                  "netSellPriceVolumeAdjustmentSystem", "sellPricePriceAdjustment")


def gen_netbsad(day: date, state: SimState) -> list[Row]:
    rng = rng_for("NETBSAD", day)
    return [{"dataset": "NETBSAD", "settlementDate": day.isoformat(), "settlementPeriod": sp,
             **{f: (0.0 if rng.random() < 0.6 else round(rng.uniform(-500, 500), 3)) for f in NETBSAD_FIELDS}}
            for sp, *_ in reversed(_periods(day))]  # the live API lists the newest period first


def gen_disbsad(day: date, state: SimState) -> list[Row]:
    """0-5 actions per period; a period with none carries one zero row with ``service`` null. In a later
    ``position`` the last action of each period with two or more is retracted (no longer served)."""
    rng = rng_for("DISBSAD", day)
    rows = []
    for sp, *_ in _periods(day):
        n = rng.choice([0, 0, 1, 2, 3, 5])
        if n == 0:
            rows.append({"dataset": "DISBSAD", "settlementDate": day.isoformat(), "settlementPeriod": sp, "id": 1,
                         "cost": 0.0, "volume": 0.0, "soFlag": True, "storFlag": False, "partyId": None,
                         "assetId": None, "isTendered": None, "service": None})
        for i in range(1, n + 1):
            volume = round(rng.uniform(-200, 200), 3)
            rows.append({"dataset": "DISBSAD", "settlementDate": day.isoformat(), "settlementPeriod": sp, "id": i,
                         "cost": None if rng.random() < 0.05 else round(volume * rng.uniform(20, 200), 2),
                         "volume": volume, "soFlag": rng.random() < 0.5, "storFlag": rng.random() < 0.05,
                         "partyId": rng.choice(["NGESO", "SSE", "EDF"]), "assetId": f"ASSET{rng.randint(1, 40):02d}",
                         "isTendered": rng.random() < 0.3, "service": rng.choice(["Energy", "System", "Non-BM LCM"])})
        if state.position and n >= 2:
            rows.pop()  # retracted
    return rows


def _indicated(code: str, value: str, day: date) -> list[Row]:
    """Hourly vintages published at :47, each forecasting every period to the end of the next day."""
    rng = rng_for(code, day)
    window = day_window(day)
    targets = [(d, sp, start) for d in (day, day + timedelta(days=1)) for sp, start, _, _ in _periods(d)]
    rows = []
    publish = window.start + timedelta(minutes=47)
    while publish < window.end:
        published = utc_iso(publish)
        for d, sp, start in targets:
            if start <= publish:
                continue
            for boundary in BOUNDARIES:
                size = 30000 if boundary == "N" else 2000
                amount = rng.randint(size // 3, size)
                rows.append({"dataset": code, value: -amount if value == "demand" else amount, "publishTime": published,
                             "startTime": utc_iso(start), "settlementDate": d.isoformat(), "settlementPeriod": sp,
                             "boundary": boundary})
        publish += timedelta(hours=1)
    rows.reverse()  # newest publish first, as the live API does
    return rows


def gen_indgen(day: date, state: SimState) -> list[Row]:
    return _indicated("INDGEN", "generation", day)


def gen_inddem(day: date, state: SimState) -> list[Row]:
    return _indicated("INDDEM", "demand", day)


def gen_costs(day: date, state: SimState) -> list[Row]:
    """One system price per settlement period; values move with the settlement run."""
    rng = rng_for("COSTS", day)
    run_rng = rng_for("COSTS", day, f"run{state.run}")
    rows = []
    for sp, start, start_iso, _ in _periods(day):
        price = round(rng.uniform(20, 140) + (run_rng.uniform(-3, 3) if state.run else 0.0), 2)
        niv = rng.uniform(-800, 800)
        created = start + timedelta(hours=24, minutes=15) + timedelta(hours=6 * state.run)
        rows.append({
            "settlementDate": day.isoformat(), "settlementPeriod": sp, "startTime": start_iso,
            "createdDateTime": utc_iso(created), "systemSellPrice": price, "systemBuyPrice": price,
            "bsadDefaulted": False, "priceDerivationCode": rng.choice(["N", "P"]),
            "reserveScarcityPrice": 0.0, "netImbalanceVolume": niv,
            "sellPriceAdjustment": 0.0, "buyPriceAdjustment": 0.0,
            "replacementPrice": None if rng.random() < 0.5 else round(rng.uniform(20, 140), 4),
            "replacementPriceReferenceVolume": None, "totalAcceptedOfferVolume": abs(niv) + 400,
            "totalAcceptedBidVolume": -abs(niv) - 300, "totalAdjustmentSellVolume": 0.0,
            "totalAdjustmentBuyVolume": 0.0, "totalSystemTaggedAcceptedOfferVolume": abs(niv) + 399,
            "totalSystemTaggedAcceptedBidVolume": -abs(niv) - 299,
            "totalSystemTaggedAdjustmentSellVolume": None, "totalSystemTaggedAdjustmentBuyVolume": None,
        })
    return rows


def gen_ebocf(day: date, state: SimState, side: str) -> list[Row]:
    """Indicative cashflows of ~80 units per period on one side; values move with the settlement run."""
    rng = rng_for("EBOCF", day, side)
    run_rng = rng_for("EBOCF", day, f"{side}{state.run}")
    units = [*bm_units(260), *INTERCONNECTORS[:2]]
    sign, prefix = (-1, "negative") if side == "bid" else (1, "positive")
    rows = []
    for sp, start, start_iso, _ in _periods(day):
        created = utc_iso(start + timedelta(hours=20) + timedelta(hours=6 * state.run))
        for bm_unit, ng_unit in rng.sample(units, 80):
            pairs: dict[str, float | None] = {f"{s}{n}": None for n in range(1, 7) for s in ("negative", "positive")}
            total = 0.0
            for n in range(1, rng.randint(1, 3) + 1):
                value = round(sign * rng.uniform(10, 30000) * (1 + (run_rng.uniform(-0.05, 0.05) if state.run else 0)), 4)
                pairs[f"{prefix}{n}"] = value
                total += value
            rows.append({"settlementDate": day.isoformat(), "settlementPeriod": sp, "startTime": start_iso,
                         "createdDateTime": created, "bmUnit": bm_unit, "bmUnitType": unit_type(bm_unit),
                         "leadPartyName": None if bm_unit is None else f"Lead Party {ng_unit[-5:]}",
                         "nationalGridBmUnit": ng_unit, "bidOfferPairCashflows": pairs, "totalCashflow": round(total, 4)})
            if state.position and zlib.crc32(f"{ng_unit}|{sp}".encode()) % 10 == 0:
                rows.pop()  # dropped by the later position's settlement run
    return rows


def _bod_widths(day: date, ng_unit: str) -> dict[int, float]:
    """MW of each of the unit's BOD pairs (pair +-k spans k x step, as ``gen_bod`` serves it)."""
    _, pairs, _, level, _ = _bod_unit(day, ng_unit)
    return {pid: float(level * k) for k in range(1, pairs + 1) for pid in (k, -k)}


@lru_cache(maxsize=4)
def _settled(day: date, run: int, volume_error: float) -> dict[str, tuple[Row, ...]]:
    """BOAV and DISPTAV rows of ``day`` by "<code>/<side>" (``volumes.py``), from the acceptances
    BOALF serves, each unit's PN and its BOD bands (the simulator's acceptances end inside their day)."""
    return settlement_rows(day, gen_boalf(day, SimState()), _periods(day), lambda unit: _pn_profile(day, unit),
                           lambda ng: _bod_widths(day, ng), run, volume_error)


def gen_boav(day: date, state: SimState, side: str) -> list[Row]:
    """Settlement acceptance volumes of one side: one row per acceptance and period it has energy on
    that side in, MWh per BOD pair, consistent with BOALF, PN and BOD."""
    return [dict(r) for r in _settled(day, state.run, state.volume_error)[f"BOAV/{side}"]]


def gen_disptav(day: date, state: SimState, side: str) -> list[Row]:
    """Indicative period volumes of one side: BOAV summed over each unit's acceptances of a period."""
    return [dict(r) for r in _settled(day, state.run, state.volume_error)[f"DISPTAV/{side}"]]


@dataclass(frozen=True)
class Generator:
    """How to make a day of a dataset, and when each row becomes available on the API."""

    make: Callable[[date, SimState], list[Row]]
    available_at: Callable[[Row], datetime]


def _ts(name: str, plus: timedelta = timedelta(0)) -> Callable[[Row], datetime]:
    return lambda r: datetime.fromisoformat(str(r[name]).replace("Z", "+00:00")) + plus


def _period_end(r: Row) -> datetime:
    return period_start(date.fromisoformat(str(r["settlementDate"])), int(r["settlementPeriod"])) + PERIOD


# By dataset code; a dataset asked for by path variant has one per variant, "<code>/<value>" (e.g. EBOCF/bid).
GENERATORS: dict[str, Generator] = {
    "BOALF": Generator(gen_boalf, _ts("acceptanceTime")),
    "FREQ": Generator(lambda d, s: gen_freq(d), _ts("measurementTime")),
    "COSTS": Generator(gen_costs, _ts("startTime", PERIOD)),
    "BOD": Generator(gen_bod, _ts("timeFrom", -timedelta(hours=1))),
    "PN": Generator(gen_pn, _ts("timeFrom", -timedelta(hours=1))),
    "QPN": Generator(gen_qpn, _ts("timeFrom", -timedelta(hours=1))),
    "MELS": Generator(gen_mels, _ts("notificationTime")),
    "MILS": Generator(gen_mils, _ts("notificationTime")),
    "MID": Generator(gen_mid, _ts("startTime", PERIOD)),
    "FUELINST": Generator(gen_fuelinst, _ts("publishTime")),
    "FUELHH": Generator(gen_fuelhh, _ts("publishTime")),
    "NETBSAD": Generator(gen_netbsad, _period_end),
    "DISBSAD": Generator(gen_disbsad, _period_end),
    "INDGEN": Generator(gen_indgen, _ts("publishTime")),
    "INDDEM": Generator(gen_inddem, _ts("publishTime")),
    "EBOCF/bid": Generator(lambda d, s: gen_ebocf(d, s, "bid"), _ts("startTime", timedelta(minutes=45))),
    "EBOCF/offer": Generator(lambda d, s: gen_ebocf(d, s, "offer"), _ts("startTime", timedelta(minutes=45))),
    **{f"{code}/{side}": Generator(lambda d, s, g=gen, v=side: g(d, s, v), _ts("startTime", timedelta(minutes=45)))
       for code, gen in (("BOAV", gen_boav), ("DISPTAV", gen_disptav)) for side in ("bid", "offer")},
    "REMIT": Generator(gen_remit, _ts("publishTime")),
    "BM_UNITS": Generator(gen_bmunits, lambda r: datetime(2000, 1, 1, tzinfo=UTC)),  # the list is always there
}


def gen_freq(day: date) -> list[Row]:
    """One spot frequency every 15 s (5,760 on a 48-period day)."""
    rng = rng_for("FREQ", day)
    window = day_window(day)
    value, rows = 50.0, []
    for i in range(int(window.duration.total_seconds() // 15)):
        value += rng.gauss(0, 0.01) - (value - 50.0) * 0.05
        rows.append({"dataset": "FREQ", "measurementTime": utc_iso(window.start + timedelta(seconds=15 * i)),
                     "frequency": round(value, 3)})
    return rows


__all__ = ["GENERATORS", "INTERCONNECTORS", "UTC", "Generator", "Row", "SimState", "bm_units", "rng_for"]
