"""Hand-computed cases for the revenue method (bmrs_assets/revenue/method.py and the modules beside it).

Every expected figure is worked out in the comment beside it: MW x minutes / 60 = MWh, MWh x £/MWh
= £. 2025-12-17 is a GMT day, so settlement period p starts at (p - 1) x 30 min after 00:00Z:
period 20 = 09:30-10:00Z, period 21 = 10:00-10:30Z.
"""

from __future__ import annotations

import itertools
import json
from datetime import date, datetime

import pandas as pd
import pytest

import bmrs_assets.revenue.method as rv
from bmrs_assets.core.settlement import UTC, period_start, periods_in_day
from bmrs_assets.defs.revenue.assets import VLP_COSTS_ENV, VLP_REFERENCE_ENV, vlp_resource_from_env
from bmrs_assets.elexon.datasets import BOALF
from bmrs_assets.revenue.tables import BOALF_WITH_PRICES, DERIVED, get_table_spec

DAY = date(2025, 12, 17)
approx = pytest.approx


def z(hhmm: str, day: str = "2025-12-17") -> str:
    return f"{day}T{hhmm}:00Z"


def unit(bm: str | None, ng: str) -> dict:
    return {"bmUnit": bm, "nationalGridBmUnit": ng}


def acceptance(u: dict, number: int, points: list[tuple[str, float]], accepted: str, day: str = "2025-12-17") -> list[dict]:
    """BOALF rows: one segment between each pair of consecutive (time, MW) points."""
    return [{**u, "settlementDate": day, "acceptanceNumber": number, "acceptanceTime": accepted, "timeFrom": t0,
             "levelFrom": l0, "timeTo": t1, "levelTo": l1, "soFlag": True, "storFlag": False, "rrFlag": False,
             "deemedBoFlag": False} for (t0, l0), (t1, l1) in itertools.pairwise(points)]


def flat(u: dict, start: str, end: str, level: float, **extra: object) -> dict:
    return {**u, "timeFrom": start, "timeTo": end, "levelFrom": level, "levelTo": level, **extra}


def bod(u: dict, start: str, end: str, pairs: dict[int, tuple[float, float, float]]) -> list[dict]:
    """BOD rows for one period: {pairId: (band width MW, offer £/MWh, bid £/MWh)}."""
    return [{**u, "timeFrom": start, "timeTo": end, "levelFrom": w if p > 0 else -w, "levelTo": w if p > 0 else -w,
             "pairId": p, "offer": o, "bid": b} for p, (w, o, b) in pairs.items()]


def frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows)


def one(out: pd.DataFrame, **where: object) -> pd.Series:
    mask = pd.Series(True, index=out.index)
    for k, v in where.items():
        mask &= out[k].isna() if v is None else out[k] == v
    assert mask.sum() == 1, out[list(where)]
    return out[mask].iloc[0]


ALPHA = unit("T_ALPHA-1", "ALPHA-1")


def test_a_single_acceptance_across_a_period_boundary_is_split_at_the_boundary():
    # PN 100 MW; offer pair +1 is 100 MW wide at £50 (bid side -1 present, unused).
    pn = frame([flat(ALPHA, z("09:30"), z("10:00"), 100), flat(ALPHA, z("10:00"), z("10:30"), 100)])
    pairs = {1: (100, 50.0, 45.0), -1: (100, 20.0, 15.0)}
    offers = frame(bod(ALPHA, z("09:30"), z("10:00"), pairs) + bod(ALPHA, z("10:00"), z("10:30"), pairs))
    boalf = frame(acceptance(ALPHA, 7, [(z("09:50"), 100), (z("09:54"), 140), (z("10:10"), 140), (z("10:14"), 100)],
                             z("09:45")))
    out = rv.price_acceptances(boalf, offers, pn, DAY)
    assert list(out["settlementPeriod"]) == [20, 21]
    p20, p21 = out.iloc[0], out.iloc[1]
    # period 20: ramp 09:50-09:54 from 0 to +40 MW above PN = 4 min x 20 MW avg = 80 MW.min,
    # hold 09:54-10:00 = 6 min x 40 MW = 240 MW.min; 320 MW.min / 60 = 5.333333 MWh; x £50 = £266.666667
    assert p20["offer_volume_mwh"] == approx(320 / 60) and p20["offer_cashflow_gbp"] == approx(320 / 60 * 50)
    # period 21: hold 10:00-10:10 = 10 x 40 = 400 MW.min, ramp down 10:10-10:14 = 4 x 20 = 80 MW.min;
    # 480 / 60 = 8 MWh; x £50 = £400
    assert p21["offer_volume_mwh"] == approx(8.0) and p21["cashflow_gbp"] == approx(400.0)
    assert (p20["timeFrom"], p20["timeTo"]) == (pd.Timestamp(z("09:50")), pd.Timestamp(z("10:00")))
    assert (p21["timeFrom"], p21["timeTo"]) == (pd.Timestamp(z("10:00")), pd.Timestamp(z("10:14")))
    for row in (p20, p21):
        assert row["bid_volume_mwh"] == 0 and row["direction"] == "offer" and row["baseline"] == "PN"
        assert row["match_status"] == "matched" and row["unmatched_reason"] is None and row["pricing_source"] == "BOD"
        assert row["offer_price_gbp_per_mwh"] == approx(50.0) and row["acceptanceNumber"] == 7


BRAVO, WIND = unit("T_BRAVO-1", "BRAVO-1"), unit("E_WIND-1", "WIND-1")


def test_a_bid_is_paid_by_the_unit_at_a_positive_price_and_to_it_at_a_negative_one():
    p21 = (z("10:00"), z("10:30"))
    pn = frame([flat(BRAVO, *p21, 200), flat(WIND, *p21, 80)])
    offers = frame(bod(BRAVO, *p21, {1: (50, 60.0, 55.0), -1: (50, 35.0, 30.0), -2: (50, 25.0, 20.0)})
                   + bod(WIND, *p21, {-1: (100, 10.0, -40.0)}))
    boalf = frame(acceptance(BRAVO, 11, [(z("10:00"), 200), (z("10:06"), 170), (z("10:24"), 170), (z("10:30"), 200)],
                             z("09:55"))
                  + acceptance(WIND, 3, [(z("10:00"), 20), (z("10:30"), 20)], z("09:50")))
    out = rv.price_acceptances(boalf, offers, pn, DAY)
    bravo = one(out, bmUnit="T_BRAVO-1")
    # two 6-minute ramps of 0..30 MW (6 x 15 = 90 MW.min each) and 18 min at -30 MW (540 MW.min):
    # 720 MW.min = 12 MWh below PN, all inside bid pair -1 (50 MW wide); x £30 bid = -£360 (the unit pays)
    assert bravo["bid_volume_mwh"] == approx(-12.0) and bravo["offer_volume_mwh"] == 0
    assert bravo["bid_cashflow_gbp"] == approx(-360.0) and bravo["cashflow_gbp"] == approx(-360.0)
    assert bravo["direction"] == "bid" and bravo["bid_price_gbp_per_mwh"] == approx(30.0)
    wind = one(out, bmUnit="E_WIND-1")
    # held 60 MW under its PN for the whole half hour: -60 x 0.5 h = -30 MWh; x -£40 = +£1,200 (paid to it)
    assert wind["bid_volume_mwh"] == approx(-30.0) and wind["cashflow_gbp"] == approx(1200.0)
    assert {bravo["match_status"], wind["match_status"]} == {"matched"}


CHARLIE = unit("V__CHARLIE1", "AG-CHARLIE1")


def test_an_offer_through_two_pairs_and_later_acceptances_against_the_earlier_one():
    p21 = (z("10:00"), z("10:30"))
    pn = frame([flat(CHARLIE, *p21, 0)])
    # +1: 0..20 MW at £60 (bid £50); +2: 20..50 MW at £80 (bid £70); -1 is the "lowest pairId" trap
    offers = frame(bod(CHARLIE, *p21, {-1: (20, 10.0, 5.0), 1: (20, 60.0, 50.0), 2: (30, 80.0, 70.0)}))
    boalf = frame(acceptance(CHARLIE, 21, [(z("10:00"), 35), (z("10:30"), 35)], z("09:58"))
                  + acceptance(CHARLIE, 22, [(z("10:10"), 45), (z("10:20"), 45)], z("10:05"))
                  + acceptance(CHARLIE, 23, [(z("10:20"), 10), (z("10:30"), 10)], z("10:15")))
    out = rv.price_acceptances(boalf, offers, pn, DAY)
    first, second, third = (one(out, acceptanceNumber=n) for n in (21, 22, 23))
    # 21: 35 MW above PN for 0.5 h = 17.5 MWh: pair +1 takes 20 MW (10 MWh x £60 = £600),
    # pair +2 the other 15 MW (7.5 MWh x £80 = £600); £1,200 in all, £1,200 / 17.5 = £68.571429/MWh
    assert first["offer_volume_mwh"] == approx(17.5) and first["cashflow_gbp"] == approx(1200.0)
    assert first["offer_price_gbp_per_mwh"] == approx(1200 / 17.5) and first["baseline"] == "PN"
    assert json.loads(first["priced_pairs"]) == [
        {"pairId": 1, "side": "offer", "volume_mwh": 10.0, "price_gbp_per_mwh": 60.0, "cashflow_gbp": 600.0},
        {"pairId": 2, "side": "offer", "volume_mwh": 7.5, "price_gbp_per_mwh": 80.0, "cashflow_gbp": 600.0}]
    # 22: 45 MW over 10:10-10:20 on top of 21's 35 MW: 10 MW x 1/6 h = 1.666667 MWh, inside pair +2
    # (35..45 MW lies in 20..50): x £80 = £133.333333
    assert second["offer_volume_mwh"] == approx(10 / 6) and second["cashflow_gbp"] == approx(10 / 6 * 80)
    assert second["baseline"] == "previous_acceptance"
    # 23: 10 MW over 10:20-10:30 where 21 holds 35 MW: a decrease through the offer bands is bid energy at
    # those pairs' bid prices: 35->20 in +2 = -15 MW x 1/6 h = -2.5 MWh x £70 = -£175;
    # 20->10 in +1 = -10 MW x 1/6 h = -1.666667 MWh x £50 = -£83.333333; total -4.166667 MWh, -£258.333333
    assert third["direction"] == "bid" and third["bid_volume_mwh"] == approx(-25 / 6)
    assert third["cashflow_gbp"] == approx(-175 - 250 / 3) and third["match_status"] == "matched"


IFA, BRITNED = unit(None, "I_IFA-1"), unit(None, "I_BRITNED")


def test_interconnectors_without_bm_unit_are_kept_apart_by_national_grid_unit():
    p21 = (z("10:00"), z("10:30"))
    pn = frame([flat(IFA, *p21, 500), flat(BRITNED, *p21, -300)])
    offers = frame(bod(IFA, *p21, {1: (100, 90.0, 85.0)}) + bod(BRITNED, *p21, {-1: (200, 75.0, 70.0)}))
    boalf = frame(acceptance(IFA, 5, [(z("10:00"), 560), (z("10:30"), 560)], z("09:57"))
                  + acceptance(BRITNED, 5, [(z("10:00"), -400), (z("10:30"), -400)], z("09:57")))
    out = rv.price_acceptances(boalf, offers, pn, DAY)
    assert len(out) == 2 and out["bmUnit"].isna().all()
    ifa, britned = one(out, nationalGridBmUnit="I_IFA-1"), one(out, nationalGridBmUnit="I_BRITNED")
    # IFA: +60 MW x 0.5 h = 30 MWh x £90 = £2,700; BritNed: -100 MW x 0.5 h = -50 MWh x £70 bid = -£3,500
    assert ifa["offer_volume_mwh"] == approx(30.0) and ifa["cashflow_gbp"] == approx(2700.0)
    assert britned["bid_volume_mwh"] == approx(-50.0) and britned["cashflow_gbp"] == approx(-3500.0)


def test_energy_that_cannot_be_priced_is_kept_unpriced_with_its_reason():
    p21 = (z("10:00"), z("10:30"))
    d, e, f, g = (unit(f"T_{x}-1", f"{x}-1") for x in ("DELTA", "ECHO", "FOX", "GOLF"))
    pn = frame([flat(u, *p21, 0) for u in (d, e, f)])  # GOLF has no PN at all
    offers = frame(bod(d, *p21, {1: (50, 40.0, 35.0), 2: (50, 9999.0, -9999.0)})  # +2 is not available
                   + bod(e, *p21, {1: (50, 40.0, 35.0)}))  # FOX and GOLF submitted no BOD
    boalf = frame([row for u in (d, e) for row in acceptance(u, 1, [(z("10:00"), 80), (z("10:30"), 80)], z("09:55"))]
                  + acceptance(f, 1, [(z("10:00"), 10), (z("10:30"), 10)], z("09:55"))
                  + acceptance(g, 1, [(z("10:00"), 10), (z("10:30"), 10)], z("09:55")))
    out = rv.price_acceptances(boalf, offers, pn, DAY)
    delta, echo, fox, golf = (one(out, bmUnit=u["bmUnit"]) for u in (d, e, f, g))
    # DELTA: 80 MW x 0.5 h = 40 MWh; +1 prices 50 MW (25 MWh x £40 = £1,000); +2's 30 MW (15 MWh) is in a
    # band priced at the 9999 sentinel: unpriced
    assert (delta["offer_volume_mwh"], delta["unpriced_volume_mwh"]) == (approx(40.0), approx(15.0))
    assert delta["cashflow_gbp"] == approx(1000.0)
    assert (delta["match_status"], delta["unmatched_reason"]) == ("partial", "sentinel_price")
    # ECHO: the same 40 MWh, bands cover only 50 MW: 15 MWh beyond them, not priced at the last pair's price
    assert (echo["unpriced_volume_mwh"], echo["cashflow_gbp"]) == (approx(15.0), approx(1000.0))
    assert (echo["match_status"], echo["unmatched_reason"]) == ("partial", "beyond_bod_bands")
    # FOX: 10 MW x 0.5 h = 5 MWh and no BOD: nothing priced
    assert (fox["offer_volume_mwh"], fox["unpriced_volume_mwh"], fox["cashflow_gbp"]) == (approx(5.0), approx(5.0), 0.0)
    assert (fox["match_status"], fox["unmatched_reason"], fox["pricing_source"]) == ("unmatched", "no_bod", None)
    # GOLF: no PN and no earlier acceptance: the volume itself is unknown
    assert golf["match_status"] == "unmatched" and golf["unmatched_reason"] == "no_pn"
    assert pd.isna(golf["offer_volume_mwh"]) and pd.isna(golf["cashflow_gbp"])
    summary = rv.match_summary(out)
    # 4 rows with volume, none fully priced; accepted 40 + 40 + 5 MWh (GOLF unknown), unpriced 15 + 15 + 5
    assert (summary.rows_with_volume, summary.matched, summary.partial, summary.unmatched) == (4, 0, 2, 2)
    assert summary.match_rate == 0.0 and summary.energy_match_rate == approx(1 - 35 / 85, abs=1e-6)
    assert summary.unmatched_reasons == {"beyond_bod_bands": 1, "no_bod": 1, "no_pn": 1, "sentinel_price": 1}


INDIA, JULIET = unit("T_INDIA-1", "INDIA-1"), unit("T_JULIET-1", "JULIET-1")
P21 = (z("10:00"), z("10:30"))


def test_a_day_without_any_pn_gives_unmatched_no_pn_rows_not_a_crash():
    # no PN at all that day (an empty frame, also with its columns only): INDIA's first acceptance has neither PN nor
    # an earlier acceptance before it, so its volume is unknown; its second (30 MW over 10:10-10:20) runs against
    # the first's 10 MW: +20 MW x 10 min = 200 MW.min / 60 = 3.333333 MWh, known, but no PN to place the bands on
    offers = frame(bod(INDIA, *P21, {1: (50, 40.0, 35.0)}))
    boalf = frame(acceptance(INDIA, 1, [(z("10:00"), 10), (z("10:30"), 10)], z("09:55"))
                  + acceptance(INDIA, 2, [(z("10:10"), 30), (z("10:20"), 30)], z("10:05")))
    for pn in (pd.DataFrame(), pd.DataFrame(columns=["bmUnit", "nationalGridBmUnit", "timeFrom", "timeTo",
                                                     "levelFrom", "levelTo"])):
        out = rv.price_acceptances(boalf, offers, pn, DAY)
        first, second = one(out, acceptanceNumber=1), one(out, acceptanceNumber=2)
        assert (first["match_status"], first["unmatched_reason"]) == ("unmatched", "no_pn")
        assert pd.isna(first["offer_volume_mwh"]) and pd.isna(first["cashflow_gbp"])
        assert (second["match_status"], second["unmatched_reason"]) == ("unmatched", "no_pn")
        assert second["offer_volume_mwh"] == approx(20 / 6) and second["unpriced_volume_mwh"] == approx(20 / 6)
        assert second["cashflow_gbp"] == 0.0 and second["pricing_source"] is None


def test_a_day_without_any_bod_gives_unmatched_no_bod_rows_not_a_crash():
    # PN 0; INDIA accepted at 10 MW for the half hour: 10 MW x 0.5 h = 5 MWh, nothing to price it with
    pn = frame([flat(INDIA, *P21, 0)])
    boalf = frame(acceptance(INDIA, 1, [(z("10:00"), 10), (z("10:30"), 10)], z("09:55")))
    for no_bod in (pd.DataFrame(), None):
        row = one(rv.price_acceptances(boalf, no_bod, pn, DAY), acceptanceNumber=1)
        assert (row["offer_volume_mwh"], row["unpriced_volume_mwh"], row["cashflow_gbp"]) == (approx(5.0), approx(5.0), 0.0)
        assert (row["match_status"], row["unmatched_reason"], row["pricing_source"]) == ("unmatched", "no_bod", None)


def test_a_day_with_bod_for_no_accepted_unit_gives_unmatched_no_bod_rows_not_a_crash():
    # BOD exists, but only for JULIET, who was not accepted; INDIA (accepted) has none: the BOD left for the
    # accepted units is empty. INDIA: PN 0, -20 MW (a bid) for 15 min = -300 MW.min / 60 = -5 MWh, unpriced
    pn = frame([flat(INDIA, *P21, 0), flat(JULIET, *P21, 0)])
    offers = frame(bod(JULIET, *P21, {1: (50, 40.0, 35.0), -1: (50, 20.0, 15.0)}))
    boalf = frame(acceptance(INDIA, 4, [(z("10:00"), -20), (z("10:15"), -20)], z("09:55")))
    out = rv.price_acceptances(boalf, offers, pn, DAY)
    row = one(out, acceptanceNumber=4)
    assert len(out) == 1 and row["bmUnit"] == "T_INDIA-1" and row["direction"] == "bid"
    assert (row["bid_volume_mwh"], row["unpriced_volume_mwh"], row["cashflow_gbp"]) == (approx(-5.0), approx(5.0), 0.0)
    assert (row["match_status"], row["unmatched_reason"]) == ("unmatched", "no_bod")
    summary = rv.match_summary(out)
    assert (summary.rows_with_volume, summary.unmatched, summary.match_rate, summary.energy_match_rate) == (1, 1, 0.0, 0.0)
    assert summary.unmatched_reasons == {"no_bod": 1}


HOTEL = unit("T_HOTEL-1", "HOTEL-1")


def test_autumn_clock_change_day_has_50_periods_and_the_repeated_hour_is_not_merged():
    day, d = date(2025, 10, 26), "2025-10-26"
    assert periods_in_day(day) == 50
    # the day starts 2025-10-25T23:00Z (00:00 BST); period 4 = 00:30-01:00Z (01:30 BST), period 5 =
    # 01:00-01:30Z (01:00 GMT, the second 01:00), period 50 = 23:30-00:00Z
    assert period_start(day, 5) == datetime(2025, 10, 26, 1, 0, tzinfo=UTC)
    periods = {4: (z("00:30", d), z("01:00", d)), 5: (z("01:00", d), z("01:30", d)),
               50: (z("23:30", d), "2025-10-27T00:00:00Z")}
    pn = frame([flat(HOTEL, a, b, 0) for a, b in periods.values()])
    offers = frame([r for a, b in periods.values() for r in bod(HOTEL, a, b, {1: (100, 40.0, 35.0)})])
    boalf = frame(acceptance(HOTEL, 1, [(z("00:50", d), 60), (z("01:10", d), 60)], z("00:45", d), d)
                  + acceptance(HOTEL, 2, [(z("23:40", d), 30), (z("23:50", d), 30)], z("23:35", d), d))
    out = rv.price_acceptances(boalf, offers, pn, day)
    assert list(zip(out["acceptanceNumber"], out["settlementPeriod"], strict=True)) == [(1, 4), (1, 5), (2, 50)]
    # 60 MW x 10 min = 10 MWh in each of periods 4 and 5 (x £40 = £400); 30 MW x 10 min = 5 MWh (£200) in 50
    assert list(out["offer_volume_mwh"]) == approx([10.0, 10.0, 5.0])
    assert list(out["cashflow_gbp"]) == approx([400.0, 400.0, 200.0])


def test_spring_clock_change_day_has_46_periods_and_an_acceptance_past_midnight_lands_in_the_next_day():
    d30, d31 = date(2025, 3, 30), date(2025, 3, 31)
    assert periods_in_day(d30) == 46
    # 30 March runs 00:00Z-23:00Z: period 46 = 22:30-23:00Z; 31 March period 1 = 23:00-23:30Z (00:00 BST)
    p46, p1 = (z("22:30", "2025-03-30"), z("23:00", "2025-03-30")), (z("23:00", "2025-03-30"), z("23:30", "2025-03-30"))
    boalf = frame(acceptance(HOTEL, 3, [(z("22:40", "2025-03-30"), 60), (z("23:20", "2025-03-30"), 60)],
                             z("22:35", "2025-03-30"), "2025-03-30"))  # stored under settlementDate 30 March
    prices = {1: (100, 40.0, 35.0)}
    day30 = rv.price_acceptances(boalf, frame(bod(HOTEL, *p46, prices)), frame([flat(HOTEL, *p46, 0)]), d30)
    day31 = rv.price_acceptances(boalf, frame(bod(HOTEL, *p1, prices)), frame([flat(HOTEL, *p1, 0)]), d31)
    # 60 MW x 20 min (22:40-23:00Z) = 20 MWh, x £40 = £800, in period 46 of 30 March ...
    assert list(day30["settlementPeriod"]) == [46] and day30.iloc[0]["offer_volume_mwh"] == approx(20.0)
    assert day30.iloc[0]["cashflow_gbp"] == approx(800.0)
    # ... and 60 MW x 20 min (23:00-23:20Z) = 20 MWh = £800 in period 1 of 31 March, counted once
    assert list(day31["settlementPeriod"]) == [1] and day31.iloc[0]["offer_volume_mwh"] == approx(20.0)
    assert day31.iloc[0]["settlementDate"] == d31 and day31.iloc[0]["cashflow_gbp"] == approx(800.0)


def priced_row(u: dict, period: int, number: int, offer: float, bid: float, offer_cf: float, bid_cf: float) -> dict:
    return {**u, "settlementDate": DAY, "settlementPeriod": period, "acceptanceNumber": number, "offer_volume_mwh": offer,
            "bid_volume_mwh": bid, "unpriced_volume_mwh": 0.0, "offer_cashflow_gbp": offer_cf,
            "bid_cashflow_gbp": bid_cf, "cashflow_gbp": offer_cf + bid_cf, "match_status": "matched"}


def ebocf_row(u: dict, period: int, side: str, total: float) -> dict:
    return {**u, "settlementDate": DAY, "settlementPeriod": period, "bidOffer": side, "totalCashflow": total}


DELTA, ECHO, FOXTROT = unit("V__DELTA1", "AG-DELTA1"), unit("T_ECHO-1", "ECHO-1"), unit("2__FOXTROT", "AG-FOXTROT")


def hybrid_case() -> pd.DataFrame:
    priced = frame([
        priced_row(DELTA, 20, 1, 4.0, 0.0, 200.0, 0.0),    # p20: +4 MWh, £200
        priced_row(DELTA, 20, 2, 0.0, -2.0, 0.0, -60.0),   #      -2 MWh, -£60   -> estimate £140
        priced_row(DELTA, 21, 2, 3.0, 0.0, 150.0, 0.0),    # p21: estimate £150
        priced_row(DELTA, 22, 3, 0.0, -1.0, 0.0, -30.0),   # p22: estimate -£30
        priced_row(ECHO, 20, 9, 10.0, 0.0, 500.0, 0.0),    # a transmission unit: not VLP
        priced_row(FOXTROT, 20, 4, 1.0, 0.0, 70.0, 0.0),   # a 2__ unit the reference table calls VLP
    ])
    ebocf = frame([ebocf_row(DELTA, 21, "offer", 175.5),                                     # p21: £175.50
                   ebocf_row(DELTA, 22, "offer", 12.0), ebocf_row(DELTA, 22, "bid", -40.25),  # p22: 12 - 40.25
                   ebocf_row(DELTA, 23, "offer", 99.0)])                                     # p23: no BOALF
    return rv.cashflow_hybrid(priced, ebocf, DAY)


def test_hybrid_uses_ebocf_where_published_else_the_estimate_and_counts_each_period_once():
    h = hybrid_case()
    assert not h.duplicated(["bmUnit", "nationalGridBmUnit", "settlementDate", "settlementPeriod"]).any()
    delta = h[h["bmUnit"] == "V__DELTA1"].set_index("settlementPeriod")
    assert list(delta.index) == [20, 21, 22, 23]
    assert list(delta["source"]) == ["BOALF_BOD_estimate", "EBOCF", "EBOCF", "EBOCF"]
    # p21: EBOCF publishes the offer side only, and the estimate has no bid energy either: bid side none (£0);
    # p23: EBOCF's offer side, no acceptances at all
    assert list(delta["offer_source"]) == ["BOALF_BOD_estimate", "EBOCF", "EBOCF", "EBOCF"]
    assert list(delta["bid_source"]) == ["BOALF_BOD_estimate", "none", "EBOCF", "none"]
    # p20 estimate 200 - 60 = 140; p21 EBOCF 175.5; p22 EBOCF 12 - 40.25 = -28.25; p23 EBOCF 99
    assert list(delta["cashflow_gbp"]) == approx([140.0, 175.5, -28.25, 99.0])
    # 140 + 175.5 - 28.25 + 99 = 386.25 (appending EBOCF to the estimates would give 386.25 + 150 - 30 = 506.25)
    assert delta["cashflow_gbp"].sum() == approx(386.25)
    assert list(delta["offer_cashflow_gbp"]) == approx([200.0, 175.5, 12.0, 99.0])
    assert list(delta["bid_cashflow_gbp"]) == approx([-60.0, 0.0, -40.25, 0.0])
    assert delta.loc[20, "ebocf_cashflow_gbp"] != delta.loc[20, "ebocf_cashflow_gbp"]  # NaN: not published
    assert list(delta["estimate_cashflow_gbp"][:3]) == approx([140.0, 150.0, -30.0])
    assert pd.isna(delta.loc[23, "estimate_cashflow_gbp"])
    assert list(delta["acceptances"]) == [2, 1, 1, 0]
    rec = rv.reconciliation(h)
    # compared where both exist: p21 error 150 - 175.5 = -25.5; p22 error -30 - (-28.25) = -1.75
    assert rec.compared == 2 and rec.mean_error_gbp == approx((-25.5 - 1.75) / 2, abs=0.01)  # -13.625, to the penny
    assert rec.median_abs_error_gbp == approx(13.62, abs=0.01) and rec.max_abs_error_gbp == approx(25.5)
    # relative: 25.5 / 175.5 = 0.145299, 1.75 / 28.25 = 0.061947; median = 0.103623
    assert rec.median_abs_pct_error == approx(0.1036, abs=1e-4) and rec.within_1pct_or_1gbp == 0.0


# KILO: BOALF carries a null bmUnit, EBOCF names it V__KILO1; LIMA: the two sources spell its bmUnit differently.
# nationalGridBmUnit is the same on both sources' rows
KILO_BOALF, KILO_EBOCF = unit(None, "AG-KILO1"), unit("V__KILO1", "AG-KILO1")
LIMA_BOALF, LIMA_EBOCF = unit("V__LIMA1", "AG-LIMA1"), unit("V__LIMA001", "AG-LIMA1")


def test_hybrid_joins_on_national_grid_unit_so_a_null_or_differing_bm_unit_counts_the_period_once():
    # each unit, p20: offer 40 MWh x £50 = £2,000, bid -10 MWh x £40 = -£400: estimate £1,600;
    # EBOCF publishes the same two sides (2,000 - 400 = £1,600). Joined on bmUnit, each unit-period
    # came out twice (estimate row + EBOCF row): 1,600 + 1,600 = £3,200
    priced = frame([priced_row(u, 20, 1, 40.0, -10.0, 2000.0, -400.0) for u in (KILO_BOALF, LIMA_BOALF)]
                   + [priced_row(KILO_BOALF, 21, 2, 2.0, 0.0, 100.0, 0.0)])  # p21: estimate only, £100
    ebocf = frame([ebocf_row(u, 20, side, total) for u in (KILO_EBOCF, LIMA_EBOCF)
                   for side, total in (("offer", 2000.0), ("bid", -400.0))])
    h = rv.cashflow_hybrid(priced, ebocf, DAY)
    assert not h.duplicated(["nationalGridBmUnit", "settlementDate", "settlementPeriod"]).any()
    p20 = h[h["settlementPeriod"] == 20].set_index("nationalGridBmUnit")
    assert sorted(p20.index) == ["AG-KILO1", "AG-LIMA1"]
    for ng in ("AG-KILO1", "AG-LIMA1"):
        row = p20.loc[ng]
        assert row["cashflow_gbp"] == approx(1600.0) and (row["offer_source"], row["bid_source"]) == ("EBOCF", "EBOCF")
        assert row["source"] == "EBOCF" and row["estimate_cashflow_gbp"] == approx(1600.0) and row["acceptances"] == 1
    # the unit's bmUnit is EBOCF's, for the whole day (p21 has only BOALF's null one)
    assert list(h["bmUnit"]) == ["V__KILO1", "V__KILO1", "V__LIMA001"]
    assert list(h["settlementPeriod"]) == [20, 21, 20]
    # KILO's day: 1,600 + 100 = £1,700, one VLP unit (not a V__KILO1 row plus an interconnector-like null one)
    vlp = rv.vlp_revenue(h, DAY).set_index("nationalGridBmUnit")
    assert vlp.loc["AG-KILO1", "gross_revenue_gbp"] == approx(1700.0) and vlp.loc["AG-KILO1", "periods"] == 2
    assert vlp.loc["AG-LIMA1", "gross_revenue_gbp"] == approx(1600.0) and len(vlp) == 2


def test_hybrid_decides_each_side_separately_and_keeps_the_estimate_of_a_side_ebocf_does_not_publish():
    # p20 estimate: offer 40 MWh x £50 = £2,000, bid -10 MWh x £40 = -£400. EBOCF publishes the offer side
    # only, £2,100: offer £2,100 from EBOCF, bid -£400 from the estimate -> £1,700 (it was 2,100 + 0)
    # p21 the other way round: EBOCF bid -£250 only; estimate offer 3 MWh x £60 = £180, bid -5 MWh x £40 = -£200:
    # offer £180 (estimate) + bid -£250 (EBOCF) = -£70
    priced = frame([priced_row(DELTA, 20, 1, 40.0, -10.0, 2000.0, -400.0),
                    priced_row(DELTA, 21, 2, 3.0, -5.0, 180.0, -200.0)])
    ebocf = frame([ebocf_row(DELTA, 20, "offer", 2100.0), ebocf_row(DELTA, 21, "bid", -250.0)])
    h = rv.cashflow_hybrid(priced, ebocf, DAY).set_index("settlementPeriod")
    assert list(h["offer_source"]) == ["EBOCF", "BOALF_BOD_estimate"]
    assert list(h["bid_source"]) == ["BOALF_BOD_estimate", "EBOCF"]
    assert list(h["source"]) == ["mixed", "mixed"]
    assert list(h["offer_cashflow_gbp"]) == approx([2100.0, 180.0])
    assert list(h["bid_cashflow_gbp"]) == approx([-400.0, -250.0])  # -400 kept
    assert list(h["cashflow_gbp"]) == approx([1700.0, -70.0])
    # reconciliation columns: EBOCF's published side only; the whole estimate (2,000 - 400 = 1,600; 180 - 200 = -20)
    assert list(h["ebocf_cashflow_gbp"]) == approx([2100.0, -250.0])
    assert list(h["estimate_cashflow_gbp"]) == approx([1600.0, -20.0])
    # VLP revenue by side: EBOCF 2,100 - 250 = 1,850; estimate -400 + 180 = -220; gross 1,630 = 1,700 - 70
    d = rv.vlp_revenue(h.reset_index(), DAY).iloc[0]
    assert (d["gross_revenue_gbp"], d["ebocf_revenue_gbp"], d["estimate_revenue_gbp"]) == (
        approx(1630.0), approx(1850.0), approx(-220.0))
    assert (d["periods"], d["periods_ebocf"], d["periods_estimate"]) == (2, 2, 2)  # a mixed period counts in both


def test_vlp_revenue_classifies_units_and_applies_only_configured_costs(tmp_path):
    h = hybrid_case()
    plain = rv.vlp_revenue(h, DAY)
    assert list(plain["bmUnit"]) == ["V__DELTA1"]  # the id rule: V__ only; T_ and 2__ are not VLP units
    assert plain.iloc[0]["costs_gbp"] == 0.0 and plain.iloc[0]["net_revenue_gbp"] == approx(386.25)

    reference = pd.DataFrame({"bmUnit": ["2__FOXTROT"], "classification": ["VLP"]})
    costs = [rv.CostComponent("non_delivery", per_mwh_gbp=2.0), rv.CostComponent("aggregator", share_of_revenue=0.1)]
    out = rv.vlp_revenue(h, DAY, reference, costs).set_index("bmUnit")
    assert list(out.index) == ["2__FOXTROT", "V__DELTA1"]
    delta = out.loc["V__DELTA1"]
    # gross = 386.25 (EBOCF 175.5 - 28.25 + 99 = 246.25, estimate 140); accepted MWh from BOALF:
    # offers 4 + 3 = 7, bids -2 - 1 = -3; costs: 2 x (7 + 3) = 20 and 10% x 386.25 = 38.625 -> 58.625
    assert (delta["periods"], delta["periods_ebocf"], delta["periods_estimate"]) == (4, 3, 1)
    assert (delta["ebocf_revenue_gbp"], delta["estimate_revenue_gbp"]) == (approx(246.25), approx(140.0))
    assert (delta["offer_volume_mwh"], delta["bid_volume_mwh"]) == (approx(7.0), approx(-3.0))
    assert delta["costs_gbp"] == approx(58.625) and delta["net_revenue_gbp"] == approx(386.25 - 58.625)
    assert json.loads(delta["cost_breakdown"]) == {"aggregator": 38.625, "non_delivery": 20.0}
    assert (delta["classification"], delta["classification_source"]) == ("vlp", "prefix")
    fox = out.loc["2__FOXTROT"]
    # gross £70 on 1 MWh: 2 x 1 + 10% x 70 = 9 -> net 61
    assert (fox["costs_gbp"], fox["net_revenue_gbp"]) == (approx(9.0), approx(61.0))
    assert (fox["classification"], fox["classification_source"]) == ("vlp", "csv")


def test_unit_id_rule_and_table_declarations():
    assert [rv.classify_by_id(u) for u in ("V__AFLEX001", "2__AFLEX003", "C__PSMAR001", "T_DRAXX-1", "E_ABERDARE",
                                           None, "I_IFD-1", "M_XYZ", "X")] == [
        "vlp", "supplier", "cfd", "transmission", "embedded", "interconnector", "interconnector", "other", "other"]
    assert get_table_spec("boalf") is BOALF and get_table_spec("boalf_with_prices") is BOALF_WITH_PRICES
    for table in DERIVED.values():
        assert table.partition_column == "settlementDate" and {"bmUnit", "nationalGridBmUnit", "settlementDate"} <= set(table.key)
        assert table.table == f"bmrs_{table.asset_name}"
    with pytest.raises(KeyError):
        get_table_spec("nope")


def test_vlp_configuration_comes_from_the_environment_and_defaults_to_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv(VLP_REFERENCE_ENV, raising=False)
    monkeypatch.delenv(VLP_COSTS_ENV, raising=False)
    empty = vlp_resource_from_env()
    assert empty.reference() is None and empty.costs() == []
    csv = tmp_path / "units.csv"
    csv.write_text("bmUnit,classification\n2__FOXTROT,vlp\nI_IFA-1,interconnector\n")
    monkeypatch.setenv(VLP_REFERENCE_ENV, str(csv))
    monkeypatch.setenv(VLP_COSTS_ENV, '[{"name": "aggregator", "share_of_revenue": 0.15}, {"name": "nd", "per_mwh_gbp": 1.5}]')
    configured = vlp_resource_from_env()
    assert configured.reference().to_dict("records") == [{"bmUnit": "2__FOXTROT", "classification": "vlp"},
                                                         {"bmUnit": "I_IFA-1", "classification": "interconnector"}]
    assert configured.costs() == [rv.CostComponent("aggregator", 0.0, 0.15), rv.CostComponent("nd", 1.5, 0.0)]
    (tmp_path / "bad.csv").write_text("unit,class\nX,vlp\n")
    monkeypatch.setenv(VLP_REFERENCE_ENV, str(tmp_path / "bad.csv"))
    with pytest.raises(ValueError, match="missing column"):
        vlp_resource_from_env().reference()


def bm_unit_reference(rows, day="2025-12-16"):
    """``bmrs/bm_units`` rows: (elexonBmUnit, nationalGridBmUnit, bmUnitType) of one snapshot."""
    return pd.DataFrame({"elexonBmUnit": [r[0] for r in rows], "nationalGridBmUnit": [r[1] for r in rows],
                         "bmUnitType": [r[2] for r in rows], "snapshotDate": [pd.Timestamp(day).date()] * len(rows)})


def test_the_bm_unit_reference_beats_the_prefix_and_the_prefix_is_the_fallback():
    units = pd.DataFrame({"bmUnit": ["2__AFLEX003", "V__UNLISTED", "T_ODDNAME-1", "C__PSMAR001", None, "2__BPLAIN",
                                     "E_NOTYPE"],
                          "nationalGridBmUnit": ["AG-AFLEX3", "AG-UNL", "ODDNAME-1", "CFD1", "I_IFA-1", "AG-BPL", "NOTYPE"]})
    reference = bm_unit_reference([
        ("2__AFLEX003", "AG-AFLEX3", "V"),  # named like a supplier unit, registered as a VLP's secondary unit
        ("T_ODDNAME-1", "ODDNAME-1", "E"),  # a T_ name on an embedded unit
        ("C__PSMAR001", "CFD1", "S"),       # supplier type, C__ name: a CfD allocation unit
        (None, "I_IFA-1", "I"),             # matched by nationalGridBmUnit (no Elexon id)
        ("2__BPLAIN", "AG-BPL", "S"),
        ("E_NOTYPE", "NOTYPE", None),       # listed, but no type: the prefix decides
    ])
    out = rv.classify_units(units, reference)
    assert list(zip(out["classification"], out["classification_source"], strict=True)) == [
        ("vlp", "reference"), ("vlp", "prefix"), ("embedded", "reference"), ("cfd", "reference"),
        ("interconnector", "reference"), ("supplier", "reference"), ("embedded", "prefix")]
    # the operator's CSV wins over both
    csv = pd.DataFrame({"bmUnit": ["2__AFLEX003"], "classification": ["Supplier"]})
    first = rv.classify_units(units, reference, csv=csv).iloc[0]
    assert (first["classification"], first["classification_source"]) == ("supplier", "csv")
    # no reference at all: every unit by prefix (2__ is a supplier unit, never "secondary")
    plain = rv.classify_units(units)
    assert list(plain["classification"]) == ["supplier", "vlp", "transmission", "cfd", "interconnector", "supplier",
                                             "embedded"]
    assert set(plain["classification_source"]) == {"prefix"}


def test_vlp_revenue_uses_the_snapshot_in_force_on_the_day():
    h = hybrid_case()
    old = bm_unit_reference([("2__FOXTROT", "AG-FOX", "S")], "2025-12-01")
    new = bm_unit_reference([("2__FOXTROT", "AG-FOX", "V"), ("V__DELTA1", "AG-DELTA1", "S")], "2099-01-01")
    # on DAY the 2025-12-01 snapshot is in force: FOXTROT a supplier unit, DELTA1 unlisted (prefix: vlp)
    out = rv.vlp_revenue(h, DAY, bm_units=pd.concat([old, new]))
    assert list(zip(out["bmUnit"], out["classification_source"], strict=True)) == [("V__DELTA1", "prefix")]
    # only the later snapshot: the earliest there is serves (FOXTROT a VLP unit, DELTA1 a supplier unit)
    out = rv.vlp_revenue(h, DAY, bm_units=new)
    assert list(zip(out["bmUnit"], out["classification_source"], strict=True)) == [("2__FOXTROT", "reference")]
