"""The table is the truth, not the memory of it: a day deleted or damaged by hand is reloaded and
repaired by the next run, though its response is byte-for-byte the one last merged; a full refresh
parses every day. Both backends."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb

from bmrs_assets.cli.runs import materialize_range
from bmrs_assets.elexon.datasets import COSTS
from bmrs_assets.warehouse.bigquery_backend import BigQueryWarehouse
from bmrs_assets_tests.support.helpers import metadata_of

DAYS = [date(2025, 12, 15) + timedelta(days=i) for i in range(3)]


def by_hand(wh, sql: str) -> None:
    """Run ``sql`` on the stored table as a person would (``{t}``: the table)."""
    if isinstance(wh, BigQueryWarehouse):
        client = wh.client_factory()
        try:
            client.query(sql.format(t=f"`{wh.project}.{wh.dataset}.bmrs_costs`")).result()
        finally:
            client.close()
        return
    con = duckdb.connect(wh.path)
    try:
        con.execute(sql.format(t="bmrs_costs"))
    finally:
        con.close()


def test_a_deleted_and_a_damaged_day_are_repaired_by_the_next_run(platform_env, instance, warehouse):
    first, _ = materialize_range(DAYS[0], DAYS[-1], ["COSTS"], instance=instance)
    assert first.success
    good = warehouse.read(COSTS, DAYS[0], DAYS[-1])
    by_hand(warehouse, f"DELETE FROM {{t}} WHERE settlementDate = DATE '{DAYS[1]}'")
    by_hand(warehouse, f"UPDATE {{t}} SET systemSellPrice = -999.0 WHERE settlementDate = DATE '{DAYS[2]}' "
                       "AND settlementPeriod = 7")
    assert warehouse.count_by_day(COSTS, DAYS[0], DAYS[-1]) == {DAYS[0]: 48, DAYS[2]: 48}

    again, _ = materialize_range(DAYS[0], DAYS[-1], ["COSTS"], instance=instance)
    assert again.success
    meta = metadata_of(again, "COSTS")
    assert meta["days_unchanged_body"] == 1, "only the untouched day is skipped on its digest"
    assert (meta["rows_inserted"], meta["rows_updated"]) == (48, 1), "the deleted day reloaded, the damaged row repaired"
    repaired = warehouse.read(COSTS, DAYS[0], DAYS[-1])
    assert len(repaired) == 3 * 48
    assert sorted(repaired["systemSellPrice"].tolist()) == sorted(good["systemSellPrice"].tolist())

    third, _ = materialize_range(DAYS[0], DAYS[-1], ["COSTS"], instance=instance)
    assert metadata_of(third, "COSTS")["days_unchanged_body"] == 3, "repaired days are remembered again"
    forced, _ = materialize_range(DAYS[0], DAYS[-1], ["COSTS"], instance=instance, full_refresh=True)
    meta = metadata_of(forced, "COSTS")
    assert forced.success and meta["days_unchanged_body"] == 0, "a full refresh parses every day"
    assert (meta["rows_fetched"], meta["rows_unchanged"]) == (3 * 48, 3 * 48)
