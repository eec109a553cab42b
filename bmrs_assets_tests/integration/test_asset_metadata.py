"""``dagster/row_count`` on real materializations: the rows stored for the run's partition days."""

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
    md = metadata_of(result, "COSTS")
    assert md["dagster/row_count"] == stored
    assert {d: v["stored"] for d, v in md["per_day_json"].items()} == {"2025-12-16": 48, "2025-12-17": 48}
    # one materialization per partition, each with the run's count (Dagster gives an output's metadata to each)
    assert _row_counts(instance, "costs") == {"2025-12-16": 96, "2025-12-17": 96}

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
