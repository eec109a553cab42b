"""Hand-computed cases for the volume reconciliation (revenue/volumes.py) and the simulator's own
settlement of acceptance volumes (simulator/volumes.py), the second computation it is checked against.

Volumes: MW x minutes / 60 = MWh. 2025-12-17 is a GMT day: period p starts (p - 1) x 30 min after 00:00Z.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import orjson
import pandas as pd
import pytest

from bmrs_assets.core.settlement import UTC
from bmrs_assets.revenue.volumes import PAIR_COLUMNS, elexon_volumes, platform_volumes, reconcile
from bmrs_assets.simulator.volumes import PLANTED_FACTOR, Acceptance, planted, unit_volumes

approx = pytest.approx
MIDNIGHT = datetime(2025, 12, 17, tzinfo=UTC)


def priced_row(ng: str, number: int, sp: int, offer: float, bid: float, pairs: list[tuple[int, str, float]],
               bm: str | None = None) -> dict:
    """A boalf_with_prices row: side totals and priced_pairs entries (pairId, side, MWh)."""
    entries = [{"pairId": p, "side": s, "volume_mwh": v, "price_gbp_per_mwh": 50.0, "cashflow_gbp": 50.0 * v}
               for p, s, v in pairs]
    return {"bmUnit": bm, "nationalGridBmUnit": ng, "acceptanceNumber": number, "settlementPeriod": sp,
            "offer_volume_mwh": offer, "bid_volume_mwh": bid,
            "priced_pairs": orjson.dumps(entries).decode() if entries else None}


def boav_row(ng: str, number: int, sp: int, side: str, total: float, pairs: dict[int, float],
             bm: str | None = None) -> dict:
    """A BOAV row as the warehouse holds it (pairVolumes flattened, the side from the path)."""
    row = {"bmUnit": bm, "nationalGridBmUnit": ng, "acceptanceId": number, "settlementPeriod": sp, "bidOffer": side,
           "totalVolumeAccepted": total}
    row.update({c: pairs.get(pid) for c, pid in PAIR_COLUMNS.items()})
    return row


def test_pair_columns_name_the_pairs():
    assert PAIR_COLUMNS["pairVolumes_positive1"] == 1 and PAIR_COLUMNS["pairVolumes_negative3"] == -3
    assert sorted(PAIR_COLUMNS.values()) == [-6, -5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 6]


def test_the_long_frames_hold_every_pair_and_side_total():
    priced = pd.DataFrame([priced_row("A-1", 7, 20, 3.0, -0.5, [(1, "offer", 2.0), (2, "offer", 1.0), (1, "bid", -0.5)])])
    platform, unknown = platform_volumes(priced)
    assert unknown == 0
    # two pair entries on the offer side, one on the bid side, and the two side totals (pairId 0)
    assert sorted(platform.itertuples(index=False, name=None)) == [
        ("A-1", 7, 20, "bid", 0, -0.5), ("A-1", 7, 20, "bid", 1, -0.5),
        ("A-1", 7, 20, "offer", 0, 3.0), ("A-1", 7, 20, "offer", 1, 2.0), ("A-1", 7, 20, "offer", 2, 1.0)]
    boav = pd.DataFrame([boav_row("A-1", 7, 20, "offer", 3.0, {1: 2.0, 2: 1.0})])
    assert sorted(elexon_volumes(boav).itertuples(index=False, name=None)) == [
        ("A-1", 7, 20, "offer", 0, 3.0), ("A-1", 7, 20, "offer", 1, 2.0), ("A-1", 7, 20, "offer", 2, 1.0)]


def test_reconcile_measures_the_error_distribution():
    priced = pd.DataFrame([
        # acceptance 1, period 20: pair 1 offer 2.0 (Elexon 2.0005: error 0.0005 <= 1 kWh, 0.025 % <= 1 %),
        # pair 2 offer 1.0 (Elexon 1.1: error 0.1, 9.1 % of 1.1)
        priced_row("A-1", 1, 20, 3.0, 0.0, [(1, "offer", 2.0), (2, "offer", 1.0)]),
        # acceptance 2, period 21: pair -1 bid -4.0 (Elexon -4.0: exact); a 0.5 MWh pair 1 offer Elexon has not
        priced_row("A-1", 2, 21, 0.5, -4.0, [(1, "offer", 0.5), (-1, "bid", -4.0)]),
        # interconnector, null bmUnit, joined by nationalGridBmUnit: pair 1 offer 0.2 vs 0.2025
        # (error 0.0025 > 1 kWh, 1.23 % of 0.2025 > 1 %)
        priced_row("I_IFA-1", 3, 20, 0.2, 0.0, [(1, "offer", 0.2)]),
        # no PN: volumes unknown, not compared
        {**priced_row("B-1", 4, 20, 0.0, 0.0, []), "offer_volume_mwh": float("nan"), "bid_volume_mwh": float("nan")},
    ])
    boav = pd.DataFrame([
        boav_row("A-1", 1, 20, "offer", 3.1005, {1: 2.0005, 2: 1.1}),
        boav_row("A-1", 2, 21, "bid", -4.0, {-1: -4.0}),
        boav_row("I_IFA-1", 3, 20, "offer", 0.2025, {1: 0.2025}),
        # Elexon only: acceptance 9 (pair 3 offer 0.0004, under 1 kWh: compared, within, not counted alone)
        boav_row("A-1", 9, 22, "offer", 0.0004, {3: 0.0004}),
    ])
    rec = reconcile(priced, boav)
    # pairs: (1,20,+1) 0.0005; (1,20,+2) 0.1; (2,21,+1 offer) 0.5 platform only; (2,21,-1 bid) 0;
    # (3,20,+1) 0.0025; (9,22,+3) 0.0004 Elexon only -> 6 rows, 4 on both sides
    p = rec.pairs
    assert (p.count, p.matched, p.only_platform, p.only_elexon) == (6, 4, 1, 0)
    assert p.within_1kwh == approx(3 / 6)  # 0.0005, 0, 0.0004
    # within 1 % of the larger volume: 0.0005 <= 0.02; 0 <= 0.04; 0.1 > 0.011; 0.5 > 0.005;
    # 0.0025 > 0.002025; 0.0004 > 0.000004 -> 2 of 6
    assert p.within_1pct == approx(2 / 6)
    # sorted errors 0, 0.0004, 0.0005, 0.0025, 0.1, 0.5: median (0.0005 + 0.0025) / 2 = 0.0015;
    # p95 at rank 0.95 x 5 = 4.75: 0.1 + 0.75 x (0.5 - 0.1) = 0.4
    assert p.p50_mwh == approx(0.0015) and p.p95_mwh == approx(0.4) and p.max_mwh == approx(0.5)
    # totals: (1,20,offer) 3.0 vs 3.1005 -> 0.1005; (2,21,offer) 0.5 platform only; (2,21,bid) 0;
    # (3,20,offer) 0.0025; (9,22,offer) 0.0004 Elexon only; (1,20,bid) and (3,20,bid) are 0 on the
    # platform: no energy on that side, no row -> 5 rows
    t = rec.totals
    assert (t.count, t.matched, t.only_platform, t.only_elexon) == (5, 3, 1, 0)
    assert t.within_1kwh == approx(2 / 5) and t.max_mwh == approx(0.5)
    assert rec.platform_unknown == 1 and rec.elexon_rows == 4


def test_nothing_to_compare_has_no_distribution():
    rec = reconcile(pd.DataFrame(), pd.DataFrame())
    assert rec.pairs.count == 0 and rec.pairs.within_1kwh is None and rec.pairs.max_mwh is None


def test_boav_without_its_columns_is_refused():
    with pytest.raises(ValueError, match=r"BOAV rows lack column\(s\) \['acceptanceId'"):
        elexon_volumes(pd.DataFrame([{"settlementPeriod": 1}]))


# --- the simulator's settlement ------------------------------------------------------------------
def at(minutes: float) -> datetime:
    return MIDNIGHT + timedelta(minutes=minutes)


def piece(m0: float, m1: float, l0: float, l1: float) -> tuple[datetime, datetime, float, float]:
    return (at(m0), at(m1), l0, l1)


BOUNDS = [1800.0 * k for k in range(49)]  # the 48 periods of a GMT day, in seconds from midnight
FPN = [piece(0, 1440, 100, 100)]  # flat 100 MW all day
WIDTHS = {1: 10.0, 2: 20.0, -1: 10.0, -2: 20.0}  # pair 1: 100-110 MW, pair 2: 110-130; pair -1: 90-100, -2: 70-90


def by_key(volumes) -> dict:
    return {(v.number, v.period, v.side): (v.total, v.pairs) for v in volumes}


def test_the_simulator_settles_an_acceptance_into_pair_bands_and_periods():
    # acceptance 1 from 00:20 to 00:40: 100 -> 130 MW over 00:20-00:30, holds 130 to 00:40
    acc = Acceptance(1, at(15), [piece(20, 30, 100, 130), piece(30, 40, 130, 130)])
    got = by_key(unit_volumes("A-1", [acc], FPN, WIDTHS, MIDNIGHT, BOUNDS))
    # period 1 (00:00-00:30): the ramp. Pair 1 (0-10 MW above FPN) is reached after 10/30 of the 10
    # minutes: 10 x (10/3 / 2) / 60 + 10 x (20/3) / 60 = 0.277778 + 1.111111 = 1.388889 MWh;
    # pair 2 (10-30 MW above): a triangle 20 MW high over the last 20/3 minutes: 20 x (20/3) / 2 / 60 = 1.111111
    total, pairs = got[(1, 1, "offer")]
    assert pairs[1] == approx(1.388889, abs=1e-5) and pairs[2] == approx(1.111111, abs=1e-5)
    assert total == approx(30 * 10 / 2 / 60, abs=1e-5)  # the whole ramp: 2.5 MWh
    # period 2 (00:30-01:00): 30 MW above FPN for 10 minutes: pair 1 10 x 10/60, pair 2 20 x 10/60
    total, pairs = got[(1, 2, "offer")]
    assert pairs == {1: approx(10 / 6, abs=1e-6), 2: approx(20 / 6, abs=1e-6)} and total == approx(5.0, abs=1e-6)
    assert set(got) == {(1, 1, "offer"), (1, 2, "offer")}  # no bid energy


def test_a_later_acceptance_is_settled_against_the_one_in_force():
    first = Acceptance(1, at(15), [piece(20, 30, 100, 130), piece(30, 40, 130, 130)])
    # acceptance 2 over 00:30-00:40 takes the level from 130 MW (acceptance 1's) down to 95 MW
    second = Acceptance(2, at(28), [piece(30, 40, 95, 95)])
    got = by_key(unit_volumes("A-1", [second, first], FPN, WIDTHS, MIDNIGHT, BOUNDS))  # ordered by time, not list
    # 00:30-00:40, level before: 130 (acceptance 1), after: 95 -> bid volume in pair 2 (130 -> 110:
    # -20 MW x 10/60 = -3.333333), pair 1 (110 -> 100: -10 x 10/60 = -1.666667), pair -1 (100 -> 95: -5 x 10/60)
    total, pairs = got[(2, 2, "bid")]
    assert pairs == {2: approx(-20 / 6, abs=1e-6), 1: approx(-10 / 6, abs=1e-6), -1: approx(-5 / 6, abs=1e-6)}
    assert total == approx(-35 / 6, abs=1e-6)
    assert got[(1, 2, "offer")][0] == approx(5.0, abs=1e-6)  # acceptance 1 is still settled against FPN


def test_energy_beyond_the_outermost_pair_is_in_the_total_only():
    acc = Acceptance(1, at(0), [piece(60, 90, 150, 150)])  # 50 MW above FPN, pairs cover 30
    total, pairs = by_key(unit_volumes("A-1", [acc], FPN, WIDTHS, MIDNIGHT, BOUNDS))[(1, 3, "offer")]
    assert total == approx(50 * 30 / 60, abs=1e-6) and sum(pairs.values()) == approx(30 * 30 / 60, abs=1e-6)


def test_the_planted_error_scales_a_stable_share_of_acceptances():
    chosen = [n for n in range(10_000) if planted("A-1", n, 0.05)]
    assert 400 < len(chosen) < 600 and chosen == [n for n in range(10_000) if planted("A-1", n, 0.05)]
    assert not any(planted("A-1", n, 0.0) for n in range(1000))
    n = chosen[0]
    acc = Acceptance(n, at(0), [piece(60, 90, 150, 150)])
    clean = by_key(unit_volumes("A-1", [acc], FPN, WIDTHS, MIDNIGHT, BOUNDS))[(n, 3, "offer")]
    wrong = by_key(unit_volumes("A-1", [acc], FPN, WIDTHS, MIDNIGHT, BOUNDS, volume_error=0.05))[(n, 3, "offer")]
    assert wrong[0] == approx(clean[0] * PLANTED_FACTOR) and wrong[1][1] == approx(clean[1][1] * PLANTED_FACTOR)
