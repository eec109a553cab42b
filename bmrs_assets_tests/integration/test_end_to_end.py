"""Dagster end to end over loopback: simulator -> assets -> DuckDB, through the API users use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date

import duckdb
import pytest

from bmrs_assets.cli.runs import materialize_range
from bmrs_assets.elexon.client import initial_slices
from bmrs_assets.elexon.datasets import REGISTRY
from bmrs_assets.simulator.server import SimulatorConfig
from bmrs_assets_tests.support.helpers import dump, failure_text, materialize_against, metadata_of, query

DAY = date(2025, 12, 17)






@pytest.mark.parametrize("code", sorted(REGISTRY))
def test_each_dataset_materializes_a_partition(platform_env, instance, code):
    result, lines = materialize_range(DAY, DAY, [code], instance=instance)
    assert result.success
    md = metadata_of(result, code)
    rows = dump(platform_env, REGISTRY[code].table)
    assert md["rows_inserted"] == len(rows) > 0
    assert md["api_requests"] == len(initial_slices(REGISTRY[code], DAY))  # BOD: nine, most: one
    assert md["api_retries"] == 0 and md["rows_updated"] == 0
    assert md["seconds"] > 0 and md["unknown_fields"] == "none"
    assert lines[0].dataset == code and lines[0].day == "2025-12-17" and lines[0].inserted == len(rows)
    expected = {"COSTS": 48, "FREQ": 5760, "MID": 96, "NETBSAD": 48, "FUELINST": 288 * 20, "FUELHH": 48 * 20}.get(code)
    if expected:
        assert len(rows) == expected
    checks = {e.event_specific_data.check_name: e.event_specific_data
              for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    assert checks["unique_natural_key"].passed and checks["complete_partition"].passed
    # only one day is stored, so the recent-days gap check must say so
    gap = checks["no_gaps_recent_days"]
    assert not gap.passed and gap.metadata["missing"].value == 14


def test_materializing_three_times_changes_nothing(platform_env, instance):
    _first, _ = materialize_range(DAY, DAY, ["BOALF", "COSTS"], instance=instance)
    snapshot = {t: dump(platform_env, t) for t in ("bmrs_boalf", "bmrs_costs")}
    for _ in range(2):
        again, lines = materialize_range(DAY, DAY, ["BOALF", "COSTS"], instance=instance)
        assert again.success
        assert all(ln.inserted == ln.updated == 0 and ln.unchanged == ln.rows for ln in lines)
        assert {t: dump(platform_env, t) for t in snapshot} == snapshot
    assert len(snapshot["bmrs_costs"]) == 48 and len(snapshot["bmrs_boalf"]) > 17_000


def test_a_range_is_a_single_run_and_clock_change_days_have_their_periods(platform_env, instance):
    result, lines = materialize_range(date(2025, 10, 25), date(2025, 10, 27), ["COSTS", "FREQ"], instance=instance)
    assert result.success
    assert len(instance.get_runs()) == 1
    by = {(ln.dataset, ln.day): ln.inserted for ln in lines}
    assert [by[("COSTS", d)] for d in ("2025-10-25", "2025-10-26", "2025-10-27")] == [48, 50, 48]
    assert [by[("FREQ", d)] for d in ("2025-10-25", "2025-10-26", "2025-10-27")] == [5760, 6000, 5760]


@pytest.mark.parametrize("sim_config", [SimulatorConfig(extra_fields={"COSTS": "settlementRunType"})])
def test_unknown_api_fields_are_kept_and_reported(platform_env, instance):
    result, _ = materialize_range(DAY, DAY, ["COSTS"], instance=instance)
    assert metadata_of(result, "COSTS")["unknown_fields"] == "settlementRunType"
    con = duckdb.connect(str(platform_env), read_only=True)
    extras = con.execute("SELECT DISTINCT _extra->>'settlementRunType' FROM bmrs_costs").fetchall()
    con.close()
    assert extras == [("settlementRunType-value",)]


def test_bad_rows_fail_the_run_and_write_nothing(platform_env, instance, monkeypatch, simulator):
    materialize_range(DAY, DAY, ["FREQ"], instance=instance)
    before = dump(platform_env, "bmrs_freq")
    rows = [{"dataset": "FREQ", "measurementTime": "2025-12-17T10:00:00Z", "frequency": 50.5},
            {"dataset": "FREQ", "measurementTime": "2025-12-17T10:00:15", "frequency": 50.0}]
    result, _ = materialize_against(json.dumps(rows).encode(), ["FREQ"], DAY, instance, monkeypatch)
    assert not result.success
    text = failure_text(result)
    assert "FREQ partition 2025-12-17" in text and "measurementTime" in text and "2025-12-17T10:00:15" in text
    assert dump(platform_env, "bmrs_freq") == before


def test_an_empty_answer_fails_the_partition_instead_of_succeeding_empty(platform_env, instance, monkeypatch):
    result, _ = materialize_against(b"[]", ["BOALF"], DAY, instance, monkeypatch)
    assert not result.success
    assert "BOALF partition 2025-12-17" in failure_text(result)


@pytest.mark.slow
def test_dagster_cli_materializes_a_partition_and_the_project_cli_a_range(platform_env, tmp_path):
    """`dagster asset materialize --partition` for a day; a range in one run in the shell is
    `python -m bmrs_assets run --from --to` (Dagster refuses `--partition-range` for assets whose
    backfill policy is multi_run, as runs sized per dataset are: the documented interface change)."""
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home")}
    os.makedirs(env["DAGSTER_HOME"])
    cli = [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "bmrs_assets.definitions"]
    one = subprocess.run([*cli, "--select", "bmrs/boalf", "--partition", "2025-12-17"],
                         env=env, capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr[-3000:]
    boalf = dump(platform_env, "bmrs_boalf")
    assert {r[1] for r in boalf} == {DAY}
    refused = subprocess.run([*cli, "--select", "bmrs/costs,bmrs/boalf", "--partition-range", "2025-12-15...2025-12-17"],
                             env=env, capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0 and "BackfillPolicy.single_run()" in refused.stderr
    many = subprocess.run([sys.executable, "-m", "bmrs_assets", "run", "--from", "2025-12-15", "--to", "2025-12-17",
                           "--dataset", "COSTS", "--dataset", "BOALF"], env=env, capture_output=True, text=True,
                          timeout=300)
    assert many.returncode == 0, many.stderr[-3000:]
    assert "succeeded" in many.stdout and "COSTS 2025-12-17: day 3 of 3 committed, 48 rows" in many.stderr
    costs = dump(platform_env, "bmrs_costs")
    assert len(costs) == 3 * 48
    assert len({r[1] for r in dump(platform_env, "bmrs_boalf")}) == 3




def test_settlement_run_revisions_update_costs_and_ebocf_in_place(platform_env, instance, simulator):
    first, _ = materialize_range(DAY, DAY, ["COSTS", "EBOCF"], instance=instance)
    assert first.success
    before = {t: query(platform_env, f'SELECT count(*), max("createdDateTime"), sum("{c}") FROM {t}')[0]
              for t, c in (("bmrs_costs", "systemSellPrice"), ("bmrs_ebocf", "totalCashflow"))}
    simulator.config.run = 1  # Elexon publishes a later settlement run: same keys, new values
    second, lines = materialize_range(DAY, DAY, ["COSTS", "EBOCF"], instance=instance)
    assert second.success
    by = {ln.dataset: ln for ln in lines}
    assert by["COSTS"].inserted == 0 and by["COSTS"].updated > 40
    assert by["EBOCF"].inserted == 0 and by["EBOCF"].updated == by["EBOCF"].rows > 7000
    for t, c in (("bmrs_costs", "systemSellPrice"), ("bmrs_ebocf", "totalCashflow")):
        count, created, total = query(platform_env, f'SELECT count(*), max("createdDateTime"), sum("{c}") FROM {t}')[0]
        assert count == before[t][0], "updated in place, no second row"
        assert created > before[t][1] and total != before[t][2]
    sides = query(platform_env, 'SELECT "bidOffer", count(*) FROM bmrs_ebocf GROUP BY 1 ORDER BY 1')
    assert [s for s, _ in sides] == ["bid", "offer"]
    cols = {r[0] for r in query(platform_env, "SELECT column_name FROM information_schema.columns WHERE table_name='bmrs_ebocf'")}
    assert {"bidOfferPairCashflows_negative1", "bidOfferPairCashflows_positive6", "createdDateTime"} <= cols


def test_interconnector_pn_rows_survive_two_runs_without_duplicating(platform_env, instance):
    for _ in range(2):
        result, _ = materialize_range(DAY, DAY, ["PN"], instance=instance)
        assert result.success
    (total, null_units, ics), = query(platform_env, 'SELECT count(*), count(*) FILTER ("bmUnit" IS NULL), '
                                                    'count(DISTINCT "nationalGridBmUnit") FILTER ("bmUnit" IS NULL) FROM bmrs_pn')
    assert ics == 12 and null_units >= 12 * 48
    assert query(platform_env, 'SELECT count(*) FROM (SELECT DISTINCT "bmUnit", "nationalGridBmUnit", "settlementPeriod", '
                               '"timeFrom" FROM bmrs_pn)') == [(total,)]


def test_both_mid_providers_and_every_fuelinst_reading_are_kept(platform_env, instance):
    result, _ = materialize_range(DAY, DAY, ["MID", "FUELINST"], instance=instance)
    assert result.success
    assert query(platform_env, 'SELECT "dataProvider", count(*) FROM bmrs_mid GROUP BY 1 ORDER BY 1') == [
        ("APXMIDP", 48), ("N2EXMIDP", 48)]
    per_fuel = query(platform_env, 'SELECT "fuelType", count(DISTINCT "startTime") FROM bmrs_fuelinst GROUP BY 1')
    assert len(per_fuel) == 20 and {n for _, n in per_fuel} == {288}


def test_remit_keeps_messages_with_and_without_optional_fields(platform_env, instance):
    result, _ = materialize_range(DAY, DAY, ["REMIT"], instance=instance)
    assert result.success
    (n, with_area, without_end, with_profile, revs), = query(
        platform_env, 'SELECT count(*), count("affectedArea"), count(*) FILTER ("eventEndTime" IS NULL), '
                      'count("outageProfile"), count(DISTINCT ("mrid", "revisionNumber")) FROM bmrs_remit')
    assert n == revs > 200 and 0 < with_area < n and 0 < without_end < n and 0 < with_profile < n
    capacity = query(platform_env, "SELECT max(json_extract(\"outageProfile\", '$[0].capacity')::DOUBLE) FROM bmrs_remit")
    assert capacity[0][0] > 0
