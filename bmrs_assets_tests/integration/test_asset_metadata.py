"""``dagster/row_count`` on real materializations: the rows stored for each partition day."""

from __future__ import annotations

from datetime import date

import dagster as dg

from bmrs_assets.cli.runs import materialize_range
from bmrs_assets_tests.support.helpers import metadata_of, query

FIRST, LAST = date(2025, 12, 16), date(2025, 12, 17)


def _row_counts(instance: dg.DagsterInstance, name: str) -> dict[str, int]:
    """``dagster/row_count`` of the latest materialization of each partition of ``bmrs/<name>``."""
    records = instance.fetch_materializations(dg.AssetKey(["bmrs", name]), limit=100).records
    out: dict[str, int] = {}
    for record in reversed(records):  # oldest first: the latest wins
        mat = record.asset_materialization
        out[mat.partition] = mat.metadata["dagster/row_count"].value
    return out


def test_row_count_is_the_rows_stored_for_the_materialized_days(platform_env, instance):
    result, _ = materialize_range(FIRST, LAST, ["COSTS"], instance=instance)
    assert result.success
    stored = query(platform_env, "SELECT count(*) FROM bmrs_costs WHERE settlementDate BETWEEN '2025-12-16' AND "
                                 "'2025-12-17'")[0][0]
    assert stored == 96
    # the range as a whole: on the step's handled output
    (handled,) = [e for e in result.all_events if e.event_type_value == "HANDLED_OUTPUT"]
    md = {k: v.value for k, v in handled.event_specific_data.metadata.items()}
    assert md["dagster/row_count"] == stored
    assert {d: v["stored"] for d, v in md["per_day_json"].items()} == {"2025-12-16": 48, "2025-12-17": 48}
    # one materialization per partition, each with its own day's count and table, and the run's totals
    assert _row_counts(instance, "costs") == {"2025-12-16": 48, "2025-12-17": 48}
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        own = {k: v.value for k, v in mat.metadata.items()}
        assert list(own["per_day_json"]) == [mat.partition] and own["per_day"].count(mat.partition) == 1
        assert own["rows_inserted"] == 96  # the run's

    # a re-run that writes nothing new still reports what is stored, not what was written
    again, _ = materialize_range(LAST, LAST, ["COSTS"], instance=instance)
    md = metadata_of(again, "COSTS")
    assert md["rows_inserted"] == md["rows_updated"] == 0
    assert md["dagster/row_count"] == 48
    assert _row_counts(instance, "costs")["2025-12-17"] == 48


def test_row_count_on_a_derived_asset(platform_env, instance):
    assert materialize_range(LAST, LAST, ["BOALF", "BOD", "PN"], instance=instance)[0].success
    result, _ = materialize_range(LAST, LAST, ["BOALF_WITH_PRICES"], instance=instance)
    assert result.success
    stored = query(platform_env, "SELECT count(*) FROM bmrs_boalf_with_prices")[0][0]
    assert stored > 0
    assert metadata_of(result, "boalf_with_prices")["dagster/row_count"] == stored
    assert _row_counts(instance, "boalf_with_prices") == {LAST.isoformat(): stored}


def test_the_run_log_has_one_progress_entry_per_committed_chunk(platform_env, instance, monkeypatch):
    """Each committed chunk is one entry of the run's log (one event-log write), a line per day in it."""
    monkeypatch.setenv("BMRS_CHUNK_DAYS", "2")  # three days: a chunk of two, then one of one
    result, _ = materialize_range(date(2025, 12, 15), LAST, ["COSTS"], instance=instance)
    assert result.success
    entries = [r.user_message for r in instance.all_logs(result.run_id) if "committed, " in r.user_message]
    assert [[line.split(" rows ")[0] for line in entry.splitlines()] for entry in entries] == [
        ["COSTS 2025-12-15: day 1 of 3 committed, 48", "COSTS 2025-12-16: day 2 of 3 committed, 48"],
        ["COSTS 2025-12-17: day 3 of 3 committed, 48"]]
    assert all("(48 inserted, 0 updated, 0 unchanged)" in line for e in entries for line in e.splitlines())
