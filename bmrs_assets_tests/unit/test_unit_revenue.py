"""Hand-computed cases for every unit's revenue (revenue/units.py) and VLP revenue as its filter.

The case: three units on 2025-12-17 (a GMT day), the hybrid built from these acceptances and EBOCF
rows by the real ``cashflow_hybrid``; every expected figure is worked out beside it.
"""

from __future__ import annotations

import pandas as pd
import pytest

import bmrs_assets.revenue.method as rv
from bmrs_assets.revenue.tables import BM_UNIT_REVENUE, VLP_REVENUE
from bmrs_assets_tests.unit.test_revenue import DAY, DELTA, ECHO, FOXTROT, ebocf_row, frame, priced_row

approx = pytest.approx


def flagged(row: dict, so: bool = False, stor: bool = False, deemed: bool = False) -> dict:
    return {**row, "soFlag": so, "storFlag": stor, "deemedBoFlag": deemed, "rrFlag": False}


PRICED = frame([
    flagged(priced_row(DELTA, 20, 1, 4.0, 0.0, 200.0, 0.0), so=True),     # p20: +4 MWh, £200, SO-flagged
    flagged(priced_row(DELTA, 20, 2, 0.0, -2.0, 0.0, -60.0), stor=True),  #      -2 MWh, -£60, STOR
    flagged(priced_row(DELTA, 21, 2, 3.0, 0.0, 150.0, 0.0), stor=True),   # p21: the same acceptance 2, +3 MWh, £150
    flagged(priced_row(DELTA, 22, 3, 0.0, -1.0, 0.0, -30.0), deemed=True),  # p22: -1 MWh, -£30, deemed
    flagged(priced_row(ECHO, 20, 9, 10.0, 0.0, 500.0, 0.0), so=True),     # a transmission unit: +10 MWh, £500
    flagged(priced_row(FOXTROT, 20, 4, 1.0, 0.0, 70.0, 0.0)),             # unlisted 2__ unit: +1 MWh, £70
])
EBOCF_ROWS = frame([ebocf_row(DELTA, 21, "offer", 175.5),
                    ebocf_row(DELTA, 22, "offer", 12.0), ebocf_row(DELTA, 22, "bid", -40.25),
                    ebocf_row(DELTA, 23, "offer", 99.0)])  # p23: EBOCF only, no acceptance
# system prices (£/MWh): p20 SSP 40 / SBP 60, p21 45 / 45, p22 30 / 35; p23 none (no energy there)
COSTS_ROWS = pd.DataFrame({"settlementDate": [DAY] * 3, "settlementPeriod": [20, 21, 22],
                           "systemSellPrice": [40.0, 45.0, 30.0], "systemBuyPrice": [60.0, 45.0, 35.0]})
BM_UNITS = pd.DataFrame({
    "elexonBmUnit": ["V__DELTA1", "T_ECHO-1"], "nationalGridBmUnit": ["AG-DELTA1", "ECHO-1"], "bmUnitType": ["V", "T"],
    "leadPartyName": ["Flex Ltd", "Echo Gen"], "fuelType": ["BATTERY", "CCGT"],
    "generationCapacity": ["50.000", "400"], "demandCapacity": ["-50.000", "0"],
    "snapshotDate": [DAY, DAY]})


def units(prices: pd.DataFrame | None = COSTS_ROWS) -> pd.DataFrame:
    hybrid = rv.cashflow_hybrid(PRICED.drop(columns=["soFlag", "storFlag", "deemedBoFlag", "rrFlag"]), EBOCF_ROWS, DAY)
    return rv.bm_unit_revenue(hybrid, DAY, PRICED, prices, bm_units=BM_UNITS).set_index("nationalGridBmUnit")


def test_every_unit_gets_a_row_with_its_volumes_cashflows_and_source_mix():
    out = units()
    assert list(out.columns) == [c for c in BM_UNIT_REVENUE.column_names if c != "nationalGridBmUnit"]
    assert sorted(out.index) == ["AG-DELTA1", "AG-FOXTROT", "ECHO-1"]  # every class, not only VLP
    d = out.loc["AG-DELTA1"]
    # hybrid per period: p20 estimate 200 - 60 = 140; p21 EBOCF offer 175.5 (no bid anywhere); p22 EBOCF
    # 12 - 40.25 = -28.25; p23 EBOCF 99 -> 386.25
    assert d["bm_revenue_gbp"] == approx(386.25)
    assert (d["offer_cashflow_gbp"], d["bid_cashflow_gbp"]) == (approx(200 + 175.5 + 12 + 99), approx(-60 - 40.25))
    # EBOCF sides: 175.5 + 12 - 40.25 + 99 = 246.25; the estimate's: p20's 140
    assert (d["ebocf_revenue_gbp"], d["estimate_revenue_gbp"]) == (approx(246.25), approx(140.0))
    assert (d["periods"], d["periods_ebocf"], d["periods_estimate"]) == (4, 3, 1)
    # acceptances 1, 2, 3: acceptance 2 runs through p20 and p21 and counts once
    assert d["acceptances"] == 3
    assert (d["offer_volume_mwh"], d["bid_volume_mwh"]) == (approx(4 + 3), approx(-2 - 1))
    assert (d["classification"], d["classification_source"]) == ("vlp", "reference")
    assert (d["leadPartyName"], d["fuelType"], d["bmUnit"]) == ("Flex Ltd", "BATTERY", "V__DELTA1")
    e, f = out.loc["ECHO-1"], out.loc["AG-FOXTROT"]
    assert (e["classification"], e["bm_revenue_gbp"], e["acceptances"]) == ("transmission", approx(500.0), 1)
    assert (f["classification"], f["classification_source"], f["bm_revenue_gbp"]) == ("supplier", "prefix", approx(70.0))
    assert f["leadPartyName"] is None and pd.isna(f["capacity_mw"])  # unlisted: no lead party, no capacity


def test_so_stor_and_deemed_acceptances_are_split_out():
    d = units().loc["AG-DELTA1"]
    # SO: acceptance 1, +4 MWh at £200
    assert (d["so_offer_volume_mwh"], d["so_bid_volume_mwh"], d["so_estimate_cashflow_gbp"]) == (4.0, 0.0, 200.0)
    # STOR: acceptance 2, p20 -2 MWh (-£60) and p21 +3 MWh (£150) -> +3, -2, £90
    assert (d["stor_offer_volume_mwh"], d["stor_bid_volume_mwh"], d["stor_estimate_cashflow_gbp"]) == (3.0, -2.0, 90.0)
    # deemed: acceptance 3, -1 MWh at -£30
    assert (d["deemed_offer_volume_mwh"], d["deemed_bid_volume_mwh"], d["deemed_estimate_cashflow_gbp"]) == (
        0.0, -1.0, -30.0)
    assert units().loc["AG-FOXTROT", "so_offer_volume_mwh"] == 0.0  # no flag: nothing split out


def test_accepted_energy_is_valued_at_the_system_prices():
    out = units()
    d, e = out.loc["AG-DELTA1"], out.loc["ECHO-1"]
    # DELTA: p20 4 x 40 + (-2) x 60 = 40; p21 3 x 45 = 135; p22 -1 x 35 = -35 -> 140; p23 has no energy
    assert (d["system_price_value_gbp"], d["system_priced_periods"]) == (approx(140.0), 3)
    assert d["bm_premium_gbp"] == approx(386.25 - 140.0)  # 246.25 earned above the imbalance value
    # ECHO: 10 x 40 = 400; premium 500 - 400 = 100
    assert (e["system_price_value_gbp"], e["bm_premium_gbp"]) == (approx(400.0), approx(100.0))
    # p22 without prices: DELTA's value is unknown (null, never a partial sum); ECHO's p20 still valued
    partial = units(COSTS_ROWS[COSTS_ROWS["settlementPeriod"] != 22])
    assert pd.isna(partial.loc["AG-DELTA1", "system_price_value_gbp"]) and pd.isna(partial.loc["AG-DELTA1", "bm_premium_gbp"])
    assert partial.loc["AG-DELTA1", "system_priced_periods"] == 2 and partial.loc["ECHO-1", "system_price_value_gbp"] == 400
    assert units(None)["system_price_value_gbp"].isna().all()  # no COSTS for the day at all


def test_revenue_is_normalised_by_registered_capacity():
    out = units()
    d, e = out.loc["AG-DELTA1"], out.loc["ECHO-1"]
    # DELTA: max(50, |-50|) = 50 MW; 386.25 / 50 = 7.725 £/MW/day; x 365 = 2,819.625 £/MW/yr
    assert (d["capacity_mw"], d["gbp_per_mw_day"], d["gbp_per_mw_year"]) == (50.0, approx(7.725), approx(2819.625))
    # ECHO: 400 MW; 500 / 400 = 1.25; x 365 = 456.25
    assert (e["capacity_mw"], e["gbp_per_mw_day"], e["gbp_per_mw_year"]) == (400.0, approx(1.25), approx(456.25))
    caps = rv.registered_capacity_mw(pd.DataFrame({"generationCapacity": ["0", "n/a", None, "12.5"],
                                                   "demandCapacity": ["-20", None, None, "-3"]}))
    # demand only -> 20; nothing numeric -> null; nothing -> null; the larger of 12.5 and 3 -> 12.5
    assert caps.iloc[0] == 20.0 and caps.iloc[1:3].isna().all() and caps.iloc[3] == 12.5


def test_vlp_revenue_is_the_vlp_filter_of_every_units_revenue():
    every = units().reset_index()
    vlp = rv.vlp_from_units(every, DAY, [rv.CostComponent("aggregator", share_of_revenue=0.1)])
    assert list(vlp.columns) == VLP_REVENUE.column_names
    assert list(vlp["nationalGridBmUnit"]) == ["AG-DELTA1"]  # ECHO transmission, FOXTROT supplier
    row = vlp.iloc[0]
    assert row["gross_revenue_gbp"] == every.set_index("nationalGridBmUnit").loc["AG-DELTA1", "bm_revenue_gbp"]
    # 10% of 386.25 = 38.625 -> net 347.625
    assert (row["costs_gbp"], row["net_revenue_gbp"]) == (approx(38.625), approx(347.625))
    assert rv.vlp_from_units(every.iloc[:0], DAY).empty
