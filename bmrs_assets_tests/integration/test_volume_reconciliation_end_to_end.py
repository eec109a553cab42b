"""The volume reconciliation through Dagster on the simulator: BOALF/BOD/PN and Elexon's volumes
(BOAV, DISPTAV) -> boalf_with_prices and its ``volumes_match_boav`` check; a planted volume error fails it."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest

from bmrs_assets.cli.runs import materialize_range
from bmrs_assets.defs.revenue.assets import PRICED_KEY
from bmrs_assets.defs.revenue.volume_check import CHECK_NAME, WITHIN_1KWH_WARN_BELOW, build_volume_check_sensor
from bmrs_assets_tests.support.helpers import failure_text, query

DAY = date(2025, 12, 17)
PAIRS = [f'"pairVolumes_{s}{n}"' for n in range(1, 7) for s in ("negative", "positive")]


def evaluation(result, name: str) -> dg.AssetCheckEvaluation:
    (found,) = [e.event_specific_data for e in result.all_events
                if e.event_type_value == "ASSET_CHECK_EVALUATION" and e.event_specific_data.check_name == name]
    return found


def check_alone(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    """Run only the volume check on DAY's boalf_with_prices, as the UI's Checks tab does."""
    from bmrs_assets.definitions import build_all_definitions

    job = build_all_definitions().resolve_implicit_global_asset_job_def().get_subset(
        asset_selection=set(), asset_check_selection={dg.AssetCheckKey(PRICED_KEY, CHECK_NAME)})
    return job.execute_in_process(instance=instance, partition_key=DAY.isoformat(), raise_on_error=False)


def figures(ev: dg.AssetCheckEvaluation) -> dict:
    return {k: v.value for k, v in ev.metadata.items()}


@pytest.mark.slow  # 30-50 s: a day of BOALF, BOD and PN through the platform (most of it), BOAV twice, the pricing
def test_platform_volumes_match_elexons_and_a_planted_error_fails_the_check(platform_env, instance, simulator,
                                                                             monkeypatch):
    db = platform_env
    monkeypatch.setenv("BMRS_START_DATE", DAY.isoformat())  # no BOALF day before to read
    sources, _ = materialize_range(DAY, DAY, ["BOALF", "BOD", "PN", "BOAV", "DISPTAV"], instance=instance)
    assert sources.success, failure_text(sources)
    # DISPTAV is BOAV summed over each unit's acceptances of a period, side and pair (4-decimal rounding each)
    sums = ", ".join(f"sum({c}) AS {c}" for c in PAIRS)
    diffs = " OR ".join(f"abs(coalesce(a.{c}, 0) - coalesce(d.{c}, 0)) > 0.01" for c in PAIRS)
    keys = '"settlementPeriod", "nationalGridBmUnit", "bidOffer"'
    assert query(db, f"""SELECT count(*), count(*) FILTER (WHERE a."bidOffer" IS NULL OR d."bidOffer" IS NULL OR {diffs})
                         FROM (SELECT {keys}, {sums} FROM bmrs_boav GROUP BY ALL) a
                         FULL JOIN bmrs_disptav d USING ({keys})""")[0][1] == 0

    # BOAV landed before the day was priced: nothing for the sensor to re-check (the pricing run checks it)
    volumes_check_on_boav = build_volume_check_sensor()
    first = volumes_check_on_boav(dg.build_sensor_context(instance=instance, cursor=None))
    assert first.run_requests == []
    cursor = first.cursor
    priced, _ = materialize_range(DAY, DAY, ["boalf_with_prices"], instance=instance)
    assert priced.success, failure_text(priced)
    ev = evaluation(priced, CHECK_NAME)
    got = figures(ev)
    assert ev.passed and ev.partition == DAY.isoformat(), ev.description
    # every BOAV row read; thousands of pair volumes compared; the two computations agree within 1 kWh
    assert got["elexon_rows"] == query(db, "SELECT count(*) FROM bmrs_boav")[0][0] > 10_000
    assert got["count"] > 20_000 and got["within_1kwh"] >= WITHIN_1KWH_WARN_BELOW
    assert got["max_mwh"] <= 0.0011 and got["pairs"]["only_platform"] == got["pairs"]["only_elexon"] == 0
    assert got["totals"]["within_1kwh"] >= WITHIN_1KWH_WARN_BELOW and got["platform_unknown"] == 0

    # a later settlement run publishes 5 % of acceptances' volumes 5 % too large: the check fails (WARN,
    # the run itself succeeds) and names how far off they are
    simulator.config.run, simulator.config.volume_error = 1, 0.05
    assert materialize_range(DAY, DAY, ["BOAV"], instance=instance)[0].success
    # the sensor asks for the check alone on that day (the estimate is not re-priced), once per BOAV event
    tick = volumes_check_on_boav(dg.build_sensor_context(instance=instance, cursor=cursor))
    assert [(r.partition_key, list(r.asset_selection), list(r.asset_check_keys)) for r in tick.run_requests] == [
        (DAY.isoformat(), [], [dg.AssetCheckKey(PRICED_KEY, CHECK_NAME)])]
    assert volumes_check_on_boav(dg.build_sensor_context(instance=instance, cursor=tick.cursor)).run_requests == []
    again = check_alone(instance)  # as the daemon runs that request: the check's step only
    assert again.success
    ev = evaluation(again, CHECK_NAME)
    bad = figures(ev)
    assert not ev.passed and ev.severity is dg.AssetCheckSeverity.WARN
    assert bad["within_1kwh"] < WITHIN_1KWH_WARN_BELOW and bad["max_mwh"] > 0.1 and bad["count"] == got["count"]
    assert f"{bad['within_1kwh']:.2%} of {bad['count']} pair volumes within 1 kWh" in ev.description
