"""The revenue assets through Dagster: simulator -> BOALF/BOD/PN/EBOCF -> derived tables, and the sensor."""

from __future__ import annotations

from datetime import date

import dagster as dg

from bmrs_assets.cli.runs import materialize_range
from bmrs_assets.defs.revenue.assets import DERIVED_KEYS, HYBRID_KEY, PRICED_KEY, UNITS_KEY, VLP_KEY
from bmrs_assets.defs.revenue.sensor import build_revenue_sensor, plan_requests
from bmrs_assets_tests.support.helpers import failure_text, metadata_of, query

DAY = date(2025, 12, 17)
DERIVED = ["boalf_with_prices", "bm_cashflow_hybrid", "bm_unit_revenue", "vlp_revenue"]




def tables(db):
    return {t: query(db, f"SELECT * EXCLUDE (_ingested_utc) FROM bmrs_{t} ORDER BY ALL") for t in DERIVED}


def key(*path: str) -> dg.AssetKey:
    return dg.AssetKey(["bmrs", *path])


def run_request(instance, request: dg.RunRequest):
    """Execute a sensor's run request as the daemon would: its asset selection, its partition."""
    from bmrs_assets.definitions import build_all_definitions

    job = build_all_definitions().resolve_implicit_global_asset_job_def().get_subset(
        asset_selection=set(request.asset_selection))
    return job.execute_in_process(instance=instance, partition_key=request.partition_key, tags=request.tags,
                                  raise_on_error=False)


def check_metadata(result, name):
    for e in result.all_events:
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and e.event_specific_data.check_name == name:
            return e.event_specific_data.passed, {k: v.value for k, v in e.event_specific_data.metadata.items()}
    raise AssertionError(f"no evaluation of check {name}")




def test_revenue_assets_end_to_end_with_the_sensor(platform_env, instance, simulator, monkeypatch):
    db = platform_env
    monkeypatch.setenv("BMRS_START_DATE", DAY.isoformat())  # no BOALF day before to wait for (the sensor needs every input)
    assert materialize_range(DAY, DAY, ["EBOCF"], instance=instance)[0].success
    early, _ = materialize_range(DAY, DAY, DERIVED, instance=instance)  # no acceptances to price yet: fails loudly
    text = failure_text(early)
    assert not early.success and "BOALF has no rows for 2025-12-17" in text

    sources, _ = materialize_range(DAY, DAY, ["BOALF", "BOD", "PN"], instance=instance)
    assert sources.success

    # the sensor, evaluated against the instance holding those real materializations, asks for the day
    sensor = build_revenue_sensor()
    tick = sensor(dg.build_sensor_context(instance=instance, cursor=None))
    assert [(r.partition_key, set(r.asset_selection)) for r in tick.run_requests] == [(DAY.isoformat(), set(DERIVED_KEYS))]
    derived = run_request(instance, tick.run_requests[0])
    assert derived.success

    # each (unit, date, period) once in the hybrid, interconnectors (null bmUnit) included
    assert query(db, 'SELECT count(*) FROM (SELECT "bmUnit", "nationalGridBmUnit", "settlementDate", "settlementPeriod" '
                     'FROM bmrs_bm_cashflow_hybrid GROUP BY ALL HAVING count(*) > 1)') == [(0,)]
    assert query(db, 'SELECT count(*) > 0 FROM bmrs_bm_cashflow_hybrid WHERE "bmUnit" IS NULL') == [(True,)]
    assert query(db, 'SELECT count(*) > 0 FROM bmrs_boalf_with_prices WHERE "bmUnit" IS NULL') == [(True,)]
    # each side (offer, bid) from EBOCF wherever EBOCF has that side for the unit (nationalGridBmUnit) and
    # period, else the estimate's side (0 where neither has anything); the row's cashflow is the two sides
    unit_period = '"settlementDate", "settlementPeriod", "nationalGridBmUnit" AS u'
    mismatches = query(db, f"""
        WITH e AS (SELECT {unit_period}, sum("totalCashflow") FILTER (WHERE "bidOffer" = 'offer') AS eo,
                          sum("totalCashflow") FILTER (WHERE "bidOffer" = 'bid') AS eb FROM bmrs_ebocf GROUP BY ALL),
             p AS (SELECT {unit_period}, sum(offer_cashflow_gbp) AS po, sum(bid_cashflow_gbp) AS pb
                   FROM bmrs_boalf_with_prices GROUP BY ALL),
             h AS (SELECT {unit_period}, source, offer_source, bid_source, cashflow_gbp, offer_cashflow_gbp AS ho,
                          bid_cashflow_gbp AS hb FROM bmrs_bm_cashflow_hybrid)
        SELECT count(*) FILTER (WHERE (e.eo IS NOT NULL AND (h.offer_source <> 'EBOCF' OR abs(h.ho - e.eo) > 1e-3))
                                   OR (e.eb IS NOT NULL AND (h.bid_source <> 'EBOCF' OR abs(h.hb - e.eb) > 1e-3))),
               count(*) FILTER (WHERE (e.eo IS NULL AND abs(h.ho - coalesce(p.po, 0)) > 1e-3)
                                   OR (e.eb IS NULL AND abs(h.hb - coalesce(p.pb, 0)) > 1e-3)
                                   OR abs(h.cashflow_gbp - h.ho - h.hb) > 1e-3
                                   OR (e.u IS NULL AND h.source <> 'BOALF_BOD_estimate')),
               count(*) FILTER (WHERE h.u IS NULL), count(*) FILTER (WHERE e.u IS NOT NULL), count(*)
        FROM e FULL JOIN p USING ("settlementDate", "settlementPeriod", u)
               FULL JOIN h USING ("settlementDate", "settlementPeriod", u)""")
    bad_ebocf, bad_estimate, missing, from_ebocf, total = mismatches[0]
    assert (bad_ebocf, bad_estimate, missing) == (0, 0, 0) and 0 < from_ebocf < total
    assert query(db, "SELECT count(*) FROM bmrs_bm_cashflow_hybrid") == [(total,)]

    # match rate: in the materialization metadata, and the check reports the same figure from the table
    md = metadata_of(derived, PRICED_KEY)
    passed, check = check_metadata(derived, "match_rate")
    assert 0.9 < md["match_rate"] <= 1 and md["match_rate"] == check["match_rate"] and passed
    assert md["energy_match_rate"] == check["energy_match_rate"]
    _, rec = check_metadata(derived, "reconciliation_with_ebocf")
    assert rec["compared"] > 0 and "median_abs_error_gbp" in rec

    # every unit's revenue: one row per unit of the hybrid (every class), each the sum of its periods
    assert query(db, """SELECT count(*), count(*) FILTER (WHERE abs(u.bm_revenue_gbp - h.s) > 1e-6
                                                           OR abs(u.bm_revenue_gbp - u.offer_cashflow_gbp
                                                                  - u.bid_cashflow_gbp) > 1e-6)
                        FROM bmrs_bm_unit_revenue u JOIN (SELECT "nationalGridBmUnit", sum(cashflow_gbp) s
                        FROM bmrs_bm_cashflow_hybrid GROUP BY 1) h USING ("nationalGridBmUnit")""") == [
        (query(db, 'SELECT count(DISTINCT "nationalGridBmUnit") FROM bmrs_bm_cashflow_hybrid')[0][0], 0)]
    assert query(db, "SELECT count(DISTINCT classification) > 2 FROM bmrs_bm_unit_revenue") == [(True,)]
    # no COSTS and no reference yet: no system price value, no capacity - null, never 0
    assert query(db, "SELECT bool_and(system_price_value_gbp IS NULL AND capacity_mw IS NULL) "
                     "FROM bmrs_bm_unit_revenue WHERE offer_volume_mwh > 0") == [(True,)]
    # VLP revenue: V__ units only, each the sum of its hybrid periods
    assert query(db, "SELECT bool_and(starts_with(\"bmUnit\", 'V__')), count(*) > 0 FROM bmrs_vlp_revenue") == [(True, True)]
    assert query(db, """SELECT count(*) FROM bmrs_vlp_revenue v JOIN (SELECT "bmUnit", sum(cashflow_gbp) s
                        FROM bmrs_bm_cashflow_hybrid GROUP BY 1) h USING ("bmUnit")
                        WHERE abs(v.gross_revenue_gbp - h.s) > 1e-6""") == [(0,)]
    assert {r[0]: r[1] for r in query(db, "SELECT column_name, data_type FROM information_schema.columns "
                                          "WHERE table_name = 'bmrs_boalf_with_prices'")}["settlementDate"] == "DATE"

    # nothing new for the sensor (the derived days are newer than their sources); re-running changes nothing
    tick2 = sensor(dg.build_sensor_context(instance=instance, cursor=tick.cursor))
    assert tick2.run_requests == [] and int(tick2.cursor) >= int(tick.cursor)
    before = tables(db)
    again, lines = materialize_range(DAY, DAY, DERIVED, instance=instance)
    assert again.success and len(lines) == 4
    assert all(ln.inserted == ln.updated == 0 and ln.unchanged == ln.rows for ln in lines)
    assert tables(db) == before

    # a later settlement run re-materializes EBOCF: the sensor re-runs that day's hybrid and the revenue
    simulator.config.run = 1
    assert materialize_range(DAY, DAY, ["EBOCF"], instance=instance)[0].success
    tick3 = sensor(dg.build_sensor_context(instance=instance, cursor=tick2.cursor))
    assert [(r.partition_key, set(r.asset_selection)) for r in tick3.run_requests] == [
        (DAY.isoformat(), {HYBRID_KEY, UNITS_KEY, VLP_KEY})]
    rerun = run_request(instance, tick3.run_requests[0])
    assert rerun.success
    assert metadata_of(rerun, HYBRID_KEY)["rows_updated"] > 0
    after = tables(db)
    assert after["boalf_with_prices"] == before["boalf_with_prices"]
    assert after["bm_cashflow_hybrid"] != before["bm_cashflow_hybrid"]

    # until now no BM unit reference: every unit by prefix. The day's snapshot re-runs the revenue,
    # which the reference now classifies: the 2__ unit it lists as a VLP's (V) joins, the V__ unit it
    # does not list stays by prefix
    assert query(db, "SELECT DISTINCT classification_source FROM bmrs_vlp_revenue") == [("prefix",)]
    assert materialize_range(DAY, DAY, ["BM_UNITS"], instance=instance)[0].success
    tick4 = sensor(dg.build_sensor_context(instance=instance, cursor=tick3.cursor))
    assert [(r.partition_key, set(r.asset_selection)) for r in tick4.run_requests] == [
        (DAY.isoformat(), {UNITS_KEY, VLP_KEY})]
    assert run_request(instance, tick4.run_requests[0]).success
    # ... and gives the listed units their capacity: GBP/MW/day = revenue / capacity, GBP/MW/yr = x 365
    assert query(db, """SELECT count(*) FILTER (WHERE capacity_mw > 0), count(*) FILTER (WHERE capacity_mw > 0 AND (
                            abs(gbp_per_mw_day - bm_revenue_gbp / capacity_mw) > 1e-6
                            OR abs(gbp_per_mw_year - 365 * gbp_per_mw_day) > 365e-6))  -- both rounded to 6 places
                        FROM bmrs_bm_unit_revenue""")[0][1] == 0
    assert query(db, "SELECT count(*) > 0 FROM bmrs_bm_unit_revenue WHERE capacity_mw > 0 AND \"leadPartyName\" IS NOT NULL") \
        == [(True,)]
    # the day's system prices re-run it too: accepted energy valued at SSP (offers) and SBP (bids) per period
    assert materialize_range(DAY, DAY, ["COSTS"], instance=instance)[0].success
    tick5 = sensor(dg.build_sensor_context(instance=instance, cursor=tick4.cursor))
    assert [(r.partition_key, set(r.asset_selection)) for r in tick5.run_requests] == [
        (DAY.isoformat(), {UNITS_KEY, VLP_KEY})]
    assert run_request(instance, tick5.run_requests[0]).success
    valued = query(db, """WITH v AS (SELECT h."nationalGridBmUnit" u, sum(coalesce(h.offer_volume_mwh, 0) * c."systemSellPrice"
                                            + coalesce(h.bid_volume_mwh, 0) * c."systemBuyPrice") s
                                     FROM bmrs_bm_cashflow_hybrid h JOIN bmrs_costs c USING ("settlementDate", "settlementPeriod")
                                     GROUP BY 1)
                          SELECT count(*), count(*) FILTER (WHERE abs(r.system_price_value_gbp - v.s) > 1e-4)
                          FROM bmrs_bm_unit_revenue r JOIN v ON v.u = r."nationalGridBmUnit"
                          WHERE r.offer_volume_mwh > 0 OR r.bid_volume_mwh < 0""")
    assert valued[0][0] > 0 and valued[0][1] == 0
    by_unit = dict(query(db, 'SELECT "bmUnit", classification_source FROM bmrs_vlp_revenue'))
    assert by_unit["2__SIM003-4"] == "reference" and by_unit["V__SIM010-3"] == "prefix"
    assert by_unit["V__SIM004-1"] == "reference"
    assert not any(u.startswith("2__") for u in by_unit if u != "2__SIM003-4")


def test_sensor_requests_the_materialized_day_and_reruns_rematerialized_sources(monkeypatch):
    monkeypatch.setenv("BMRS_START_DATE", "2025-12-17")  # the 16th is no partition: BOALF's day before is not read
    with dg.DagsterInstance.ephemeral() as instance:
        def report(asset_key, day):
            instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=asset_key, partition=day))

        for source in ("boalf", "bod", "pn", "ebocf"):
            report(key(source), "2025-12-17")
        report(key("ebocf"), "2025-12-18")
        requests, cursor = plan_requests(instance, 0)
        # one run per day, once every input day exists: the EBOCF-only day waits for boalf_with_prices
        assert [(r.partition_key, list(r.asset_selection)) for r in requests] == [("2025-12-17", list(DERIVED_KEYS))]
        assert plan_requests(instance, cursor) == ([], cursor)
        for source in ("boalf", "bod", "pn"):
            report(key(source), "2025-12-18")

        for asset_key in DERIVED_KEYS:  # the derived days get computed
            report(asset_key, "2025-12-17")
            report(asset_key, "2025-12-18")
        assert plan_requests(instance, cursor)[0] == []
        report(key("boalf"), "2025-12-17")  # BOALF re-materialized: that day, and the next (it reads it too)
        requests, cursor2 = plan_requests(instance, cursor)
        assert [(r.partition_key, list(r.asset_selection)) for r in requests] == [
            ("2025-12-17", list(DERIVED_KEYS)), ("2025-12-18", list(DERIVED_KEYS))]
        assert len({r.run_key for r in requests}) == 2 and cursor2 > cursor
        for source in ("boalf", "pn", "ebocf", "bod"):  # a day whose derived partitions never existed
            report(key(source), "2025-12-19")
        assert [r.partition_key for r in plan_requests(instance, cursor2)[0]] == ["2025-12-19"]
        result = build_revenue_sensor()(dg.build_sensor_context(instance=instance, cursor=str(cursor2)))
        assert [r.partition_key for r in result.run_requests] == ["2025-12-19"]
