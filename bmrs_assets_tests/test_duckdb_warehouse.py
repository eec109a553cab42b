"""MERGE semantics of the DuckDB warehouse: insert, update, no-op, duplicates, nulls, empties, ranges."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import duckdb
import pytest

from bmrs_assets.duckdb_warehouse import DuckDBWarehouse, merge_sql
from bmrs_assets.frames import to_frame
from bmrs_assets.registry import BOALF, COSTS, FREQ, Col, Kind
from bmrs_assets.warehouse import PartitionBatch

NOW = datetime(2026, 11, 28, tzinfo=UTC)
D1, D2 = date(2025, 12, 17), date(2025, 12, 18)


def cost(day: date, period: int, price: float, created: str = "2025-12-18T12:00:00Z") -> dict:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(minutes=30 * (period - 1))
    return {"settlementDate": day.isoformat(), "settlementPeriod": period, "startTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "createdDateTime": created, "systemSellPrice": price, "systemBuyPrice": price, "bsadDefaulted": False,
            "priceDerivationCode": "N", "reserveScarcityPrice": 0.0, "netImbalanceVolume": 1.0,
            "sellPriceAdjustment": 0.0, "buyPriceAdjustment": 0.0, "replacementPrice": None,
            "replacementPriceReferenceVolume": None, "totalAcceptedOfferVolume": 1.0, "totalAcceptedBidVolume": -1.0,
            "totalAdjustmentSellVolume": 0.0, "totalAdjustmentBuyVolume": 0.0,
            "totalSystemTaggedAcceptedOfferVolume": 1.0, "totalSystemTaggedAcceptedBidVolume": -1.0,
            "totalSystemTaggedAdjustmentSellVolume": None, "totalSystemTaggedAdjustmentBuyVolume": None}


def batch(ds, day_rows: dict[date, list[dict]]) -> PartitionBatch:
    frames = [(d, to_frame(ds, d, rows, ingested_utc=NOW)[0]) for d, rows in day_rows.items()]
    return PartitionBatch(ds, sorted(day_rows), frames)


@pytest.fixture
def wh(tmp_path) -> DuckDBWarehouse:
    return DuckDBWarehouse(str(tmp_path / "w.duckdb"))


def table(wh, sql):
    con = duckdb.connect(wh.path, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_insert_then_update_then_noop(wh):
    r1 = wh.merge(batch(COSTS, {D1: [cost(D1, p, 50.0) for p in range(1, 49)]}))
    assert (r1.total("inserted"), r1.total("updated"), r1.total("unchanged")) == (48, 0, 0)
    revised = [cost(D1, p, 50.0 if p != 7 else 75.5, "2026-01-01T00:00:00Z" if p == 7 else "2025-12-18T12:00:00Z")
               for p in range(1, 49)]
    r2 = wh.merge(batch(COSTS, {D1: list(revised)}))
    assert (r2.total("inserted"), r2.total("updated"), r2.total("unchanged")) == (0, 1, 47)
    r3 = wh.merge(batch(COSTS, {D1: list(revised)}))
    assert (r3.total("inserted"), r3.total("updated"), r3.total("unchanged")) == (0, 0, 48)
    rows = table(wh, 'SELECT count(*), max("systemSellPrice"), max("createdDateTime") FROM bmrs_costs')
    assert rows[0][0] == 48 and rows[0][1] == 75.5
    assert rows[0][2] == datetime(2026, 1, 1, tzinfo=UTC)
    types = dict(table(wh, "SELECT column_name, data_type FROM information_schema.columns WHERE table_name='bmrs_costs'"))
    assert types["settlementDate"] == "DATE" and types["startTime"] == "TIMESTAMP WITH TIME ZONE"
    assert types["settlementPeriod"] == "BIGINT" and types["bsadDefaulted"] == "BOOLEAN" and types["_extra"] == "JSON"


def test_unchanged_rows_are_untouched(wh):
    wh.merge(batch(COSTS, {D1: [cost(D1, 1, 10.0)]}))
    before = table(wh, 'SELECT "_ingested_utc" FROM bmrs_costs')
    later = PartitionBatch(COSTS, [D1], [(D1, to_frame(COSTS, D1, [cost(D1, 1, 10.0)],
                                                       ingested_utc=NOW + timedelta(days=3))[0])])
    assert wh.merge(later).total("unchanged") == 1
    assert table(wh, 'SELECT "_ingested_utc" FROM bmrs_costs') == before


def test_duplicate_keys_in_one_batch_latest_revision_wins(wh):
    rows = [cost(D1, 1, 30.0, "2025-12-18T12:00:00Z"), cost(D1, 1, 31.0, "2025-12-20T12:00:00Z"),
            cost(D1, 1, 29.0, "2025-12-19T12:00:00Z")]
    r = wh.merge(batch(COSTS, {D1: rows}))
    assert r.duplicates_in_batch == 2 and r.total("inserted") == 1
    assert table(wh, 'SELECT "systemSellPrice" FROM bmrs_costs') == [(31.0,)]


def test_duplicates_without_revision_column_last_sent_wins(wh):
    rows = [{"dataset": "FREQ", "measurementTime": "2025-12-17T10:00:00Z", "frequency": f} for f in (50.1, 49.9)]
    wh.merge(batch(FREQ, {D1: rows}))
    assert table(wh, "SELECT frequency FROM bmrs_freq") == [(49.9,)]


def boalf(unit, ng, number=1, level=5):
    return {"dataset": "BOALF", "settlementDate": "2025-12-17", "settlementPeriodFrom": 20, "settlementPeriodTo": 20,
            "timeFrom": "2025-12-17T09:30:00Z", "timeTo": "2025-12-17T09:40:00Z", "levelFrom": level, "levelTo": level,
            "acceptanceNumber": number, "acceptanceTime": "2025-12-17T09:25:00Z", "deemedBoFlag": False,
            "soFlag": False, "amendmentFlag": "ORI", "storFlag": False, "rrFlag": False,
            "nationalGridBmUnit": ng, "bmUnit": unit}


def test_null_key_columns_match_null_safely(wh):
    rows = [boalf(None, "IFA-1"), boalf(None, None, 2), boalf("T_A-1", "A-1")]
    assert wh.merge(batch(BOALF, {D1: rows})).total("inserted") == 3
    r = wh.merge(batch(BOALF, {D1: [boalf(None, "IFA-1", level=9), boalf(None, None, 2), boalf("T_A-1", "A-1")]}))
    assert (r.total("inserted"), r.total("updated"), r.total("unchanged")) == (0, 1, 2)
    assert table(wh, "SELECT count(*) FROM bmrs_boalf") == [(3,)]
    assert wh.duplicate_keys(BOALF, D1, D1) == 0


def test_an_empty_batch_deletes_nothing(wh):
    wh.merge(batch(COSTS, {D1: [cost(D1, p, 1.0) for p in range(1, 49)]}))
    r = wh.merge(PartitionBatch(COSTS, [D1], [(D1, to_frame(COSTS, D1, [], ingested_utc=NOW)[0])]))
    assert r.total("inserted") == r.total("updated") == 0
    assert table(wh, "SELECT count(*) FROM bmrs_costs") == [(48,)]


def test_a_range_is_one_merge_with_per_day_counts(wh):
    r = wh.merge(batch(COSTS, {D1: [cost(D1, p, 1.0) for p in range(1, 49)],
                               D2: [cost(D2, p, 1.0) for p in range(1, 49)]}))
    assert {d: c.inserted for d, c in r.days.items()} == {D1: 48, D2: 48}
    assert wh.count_by_day(COSTS, D1, D2) == {D1: 48, D2: 48}
    assert len(wh.read(COSTS, D2, D2)) == 48


def test_merge_restricts_the_target_to_the_partition_range():
    sql = merge_sql(COSTS, "t", "s")
    assert 'T."settlementDate" BETWEEN $1 AND $2' in sql
    assert '"settlementDate" IS NOT DISTINCT FROM' in sql and "WHEN NOT MATCHED THEN INSERT" in sql
    assert 'T."_hash_key" IS DISTINCT FROM S."_hash_key" THEN UPDATE' in sql
    assert 'T."measurementTime" >= $1 AND T."measurementTime" < $2' in merge_sql(FREQ, "t", "s")


def test_a_column_the_registry_gains_is_added_not_recreated(wh):
    wh.merge(batch(FREQ, {D1: [{"dataset": "FREQ", "measurementTime": "2025-12-17T10:00:00Z", "frequency": 50.0}]}))
    wider = replace(FREQ, columns=(*FREQ.columns, Col("quality", Kind.STRING)))
    r = wh.merge(batch(wider, {D1: [{"dataset": "FREQ", "measurementTime": "2025-12-17T10:00:15Z",
                                     "frequency": 50.0, "quality": "good"}]}))
    assert r.total("inserted") == 1
    assert table(wh, 'SELECT count(*), count("quality") FROM bmrs_freq') == [(2, 1)]


def test_a_failing_batch_writes_nothing(wh):
    wh.merge(batch(COSTS, {D1: [cost(D1, 1, 1.0)]}))

    def frames():
        yield D1, to_frame(COSTS, D1, [cost(D1, 1, 99.0)], ingested_utc=NOW)[0]
        raise RuntimeError("second day failed")

    with pytest.raises(RuntimeError, match="second day failed"):
        wh.merge(PartitionBatch(COSTS, [D1, D2], frames()))
    assert table(wh, 'SELECT "systemSellPrice" FROM bmrs_costs') == [(1.0,)]
