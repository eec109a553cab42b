"""The warehouse contract, run against both backends: DuckDB (a file) and BigQuery (a real local emulator).

Insert, update of a revised row, no-op re-run, duplicate keys in one batch, null key columns, an
empty frame, a new column, a range write, a failing fetch, and a failure between staging and MERGE.
Every assertion reads the table back independently of the backend's own result.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

import duckdb
import pandas as pd
import pytest

import bmrs_assets.warehouse.duckdb_backend as duckdb_warehouse
from bmrs_assets.core.conform import to_frame
from bmrs_assets.core.tables import Col, Kind, table_columns
from bmrs_assets.elexon.datasets import BOALF, COSTS, FREQ, FUELINST, Dataset
from bmrs_assets.warehouse.bigquery_backend import BigQueryWarehouse
from bmrs_assets.warehouse.contract import PartitionBatch, UnchangedDay
from bmrs_assets.warehouse.duckdb_backend import DuckDBWarehouse

NOW = datetime(2026, 11, 28, tzinfo=UTC)
D1, D2, D3 = date(2025, 12, 17), date(2025, 12, 18), date(2025, 12, 19)


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


def boalf(unit, ng, number=1, level=5):
    return {"dataset": "BOALF", "settlementDate": "2025-12-17", "settlementPeriodFrom": 20, "settlementPeriodTo": 20,
            "timeFrom": "2025-12-17T09:30:00Z", "timeTo": "2025-12-17T09:40:00Z", "levelFrom": level, "levelTo": level,
            "acceptanceNumber": number, "acceptanceTime": "2025-12-17T09:25:00Z", "deemedBoFlag": False,
            "soFlag": False, "amendmentFlag": "ORI", "storFlag": False, "rrFlag": False,
            "nationalGridBmUnit": ng, "bmUnit": unit}


def freq(at: str, value: float = 50.0, **extra) -> dict:
    return {"dataset": "FREQ", "measurementTime": at, "frequency": value, **extra}


def batch(ds, day_rows: dict[date, list[dict]], ingested: datetime = NOW) -> PartitionBatch:
    frames = [(d, to_frame(ds, d, rows, ingested_utc=ingested)[0]) for d, rows in day_rows.items()]
    return PartitionBatch(ds, sorted(day_rows), frames)


def counts(result) -> tuple[int, int, int]:
    """Totals of the per-day counts; on BigQuery they must also agree with the MERGE job's own statistics."""
    if hasattr(result, "per_day_exact"):
        assert result.per_day_exact
        changed = result.total("inserted") + result.total("updated") + result.total("deleted")
        assert result.job_affected == changed if result.merge_sql else changed == 0  # no MERGE for an empty batch
    return result.total("inserted"), result.total("updated"), result.total("unchanged")


def plain(value: object) -> object:
    """One representation for a cell, whichever backend and client returned it."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime() if value.tzinfo else value.date()
    if hasattr(value, "item"):
        return value.item()
    return value


@dataclass
class Backend:
    """A warehouse plus an independent way to look inside it and to break it between load and MERGE."""

    name: str
    wh: DuckDBWarehouse | BigQueryWarehouse
    rows: Callable[[Dataset], list[dict]]
    tables: Callable[[], list[str]]
    break_before_merge: Callable[[pytest.MonkeyPatch], None]
    execute: Callable[[str], None]  # SQL behind the warehouse's back; {t} is the quoted table bmrs_<x>


def duckdb_backend(tmp_path) -> Backend:
    wh = DuckDBWarehouse(str(tmp_path / "w.duckdb"))

    def rows(ds: Dataset) -> list[dict]:
        con = duckdb.connect(wh.path, read_only=True)
        try:
            frame = con.execute(f'SELECT * FROM "{ds.table}"').df()
        finally:
            con.close()
        return [{k: plain(v) for k, v in r.items()} for r in frame.to_dict("records")]

    def tables() -> list[str]:
        con = duckdb.connect(wh.path, read_only=True)
        try:
            return sorted(r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall())
        finally:
            con.close()

    def break_before_merge(monkeypatch: pytest.MonkeyPatch) -> None:
        def failing(*_args, **_kwargs):
            raise RuntimeError("injected failure between staging and MERGE")
        monkeypatch.setattr(duckdb_warehouse, "merge_sql", failing)

    def execute(sql: str) -> None:
        con = duckdb.connect(wh.path)
        try:
            con.execute(re.sub(r"\{t\}(\w+)", r'"bmrs_\1"', sql))
        finally:
            con.close()

    return Backend("duckdb", wh, rows, tables, break_before_merge, execute)


def bigquery_backend(emulator) -> Backend:
    dataset = f"t_{uuid.uuid4().hex[:10]}"
    wh = BigQueryWarehouse(project=emulator.project, dataset=dataset, client_factory=emulator.client)

    def rows(ds: Dataset) -> list[dict]:
        client = emulator.client()
        try:
            json_cols = [c.name for c in table_columns(ds) if c.kind is Kind.JSON]
            replace_ = f"REPLACE ({', '.join(f'TO_JSON_STRING(`{n}`) AS `{n}`' for n in json_cols)})"
            frame = client.query(f"SELECT * {replace_} FROM `{emulator.project}.{dataset}.{ds.table}`").to_arrow(
                create_bqstorage_client=False).to_pandas()
        finally:
            client.close()
        return [{k: plain(v) for k, v in r.items()} for r in frame.to_dict("records")]

    def tables() -> list[str]:
        client = emulator.client()
        try:
            return sorted(t.table_id for t in client.list_tables(f"{emulator.project}.{dataset}"))
        finally:
            client.close()

    def break_before_merge(monkeypatch: pytest.MonkeyPatch) -> None:
        def failing(self, client, sql):
            raise RuntimeError("injected failure between staging and MERGE")
        monkeypatch.setattr(BigQueryWarehouse, "_run_merge", failing)

    def execute(sql: str) -> None:
        client = emulator.client()
        try:
            client.query(re.sub(r"\{t\}(\w+)", rf"`{emulator.project}.{dataset}.bmrs_\1`", sql)).result()
        finally:
            client.close()

    return Backend("bigquery", wh, rows, tables, break_before_merge, execute)



def test_insert_then_update_of_a_revised_row_then_noop(backend):
    wh = backend.wh
    r1 = wh.merge(batch(COSTS, {D1: [cost(D1, p, 50.0) for p in range(1, 49)]}))
    assert counts(r1) == (48, 0, 0) and r1.days[D1].fetched == 48
    revised = [cost(D1, p, 50.0 if p != 7 else 75.5, "2026-01-01T00:00:00Z" if p == 7 else "2025-12-18T12:00:00Z")
               for p in range(1, 49)]
    r2 = wh.merge(batch(COSTS, {D1: list(revised)}))
    assert counts(r2) == (0, 1, 47)
    r3 = wh.merge(batch(COSTS, {D1: list(revised)}))
    assert counts(r3) == (0, 0, 48)
    rows = backend.rows(COSTS)
    assert len(rows) == 48
    by_period = {r["settlementPeriod"]: r for r in rows}
    assert by_period[7]["systemSellPrice"] == 75.5 and by_period[7]["createdDateTime"] == datetime(2026, 1, 1, tzinfo=UTC)
    assert {r["systemSellPrice"] for p, r in by_period.items() if p != 7} == {50.0}
    assert by_period[1]["settlementDate"] == D1 and by_period[1]["replacementPrice"] is None
    assert by_period[1]["startTime"] == datetime(2025, 12, 17, tzinfo=UTC) and by_period[1]["bsadDefaulted"] is False


def test_unchanged_rows_are_untouched(backend):
    backend.wh.merge(batch(COSTS, {D1: [cost(D1, 1, 10.0)]}))
    before = backend.rows(COSTS)
    assert before[0]["_ingested_utc"] == NOW
    later = backend.wh.merge(batch(COSTS, {D1: [cost(D1, 1, 10.0)]}, ingested=NOW + timedelta(days=3)))
    assert counts(later) == (0, 0, 1)
    assert backend.rows(COSTS) == before


def test_duplicate_keys_in_one_batch_latest_revision_wins(backend):
    rows = [cost(D1, 1, 30.0, "2025-12-18T12:00:00Z"), cost(D1, 1, 31.0, "2025-12-20T12:00:00Z"),
            cost(D1, 1, 29.0, "2025-12-19T12:00:00Z")]
    r = backend.wh.merge(batch(COSTS, {D1: rows}))
    assert r.duplicates_in_batch == 2 and counts(r) == (1, 0, 0) and r.days[D1].fetched == 1
    assert [x["systemSellPrice"] for x in backend.rows(COSTS)] == [31.0]


def test_duplicates_without_revision_column_last_sent_wins(backend):
    r = backend.wh.merge(batch(FREQ, {D1: [freq("2025-12-17T10:00:00Z", f) for f in (50.1, 49.9, 50.0, 49.8)]}))
    assert r.duplicates_in_batch == 3 and counts(r) == (1, 0, 0)
    assert [x["frequency"] for x in backend.rows(FREQ)] == [49.8]


def test_null_key_columns_match_null_safely(backend):
    wh = backend.wh
    rows = [boalf(None, "IFA-1"), boalf(None, None, 2), boalf("T_A-1", "A-1"), boalf("", "", 3)]
    assert counts(wh.merge(batch(BOALF, {D1: rows}))) == (4, 0, 0)
    r = wh.merge(batch(BOALF, {D1: [boalf(None, "IFA-1", level=9), boalf(None, None, 2), boalf("T_A-1", "A-1"),
                                    boalf("", "", 3), boalf(None, None, 3)]}))
    assert counts(r) == (1, 1, 3)
    stored = backend.rows(BOALF)
    assert len(stored) == 5 and wh.key_counts(BOALF, D1, D1).duplicate_keys == 0
    assert {(x["bmUnit"], x["nationalGridBmUnit"], x["acceptanceNumber"], x["levelFrom"]) for x in stored} == {
        (None, "IFA-1", 1, 9), (None, None, 2, 5), ("T_A-1", "A-1", 1, 5), ("", "", 3, 5), (None, None, 3, 5)}


def test_an_empty_frame_deletes_nothing(backend):
    wh = backend.wh
    wh.merge(batch(COSTS, {D1: [cost(D1, p, 1.0) for p in range(1, 49)]}))
    before = backend.rows(COSTS)
    r = wh.merge(batch(COSTS, {D1: []}))
    assert counts(r) == (0, 0, 0) and r.days[D1].fetched == 0
    assert backend.rows(COSTS) == before and len(before) == 48
    assert wh.count_by_day(COSTS, D1, D1) == {D1: 48}


def test_a_column_the_registry_gains_is_added_not_recreated(backend):
    wh = backend.wh
    wh.merge(batch(FREQ, {D1: [freq("2025-12-17T10:00:00Z")]}))
    wider = replace(FREQ, columns=(*FREQ.columns, Col("quality", Kind.STRING)))
    later = NOW + timedelta(days=1)
    r = wh.merge(batch(wider, {D1: [freq("2025-12-17T10:00:15Z", quality="good")]}, ingested=later))
    assert counts(r) == (1, 0, 0)
    stored = sorted(backend.rows(wider), key=lambda x: x["measurementTime"])
    assert [(x["measurementTime"].second, x["quality"], x["_ingested_utc"]) for x in stored] == [
        (0, None, NOW), (15, "good", later)]  # the old row survived untouched: widened, not recreated
    # A registry column changes the content hash, so the old row is rewritten once it is fetched again.
    assert counts(wh.merge(batch(wider, {D1: [freq("2025-12-17T10:00:00Z")]}, ingested=later))) == (0, 1, 0)


def test_a_range_is_one_merge_with_per_day_counts(backend):
    wh = backend.wh
    r = wh.merge(batch(COSTS, {D1: [cost(D1, p, 1.0) for p in range(1, 49)],
                               D2: [cost(D2, p, 1.0) for p in range(1, 49)],
                               D3: [cost(D3, p, 1.0) for p in range(1, 47)]}))
    assert {d: c.inserted for d, c in r.days.items()} == {D1: 48, D2: 48, D3: 46} and counts(r) == (142, 0, 0)
    again = wh.merge(batch(COSTS, {D2: [cost(D2, p, 2.0 if p == 1 else 1.0) for p in range(1, 49)],
                                   D3: [cost(D3, p, 1.0) for p in range(1, 49)]}))
    assert {d: (c.inserted, c.updated, c.unchanged) for d, c in again.days.items()} == {D2: (0, 1, 47), D3: (2, 0, 46)}
    assert counts(again) == (2, 1, 93)
    assert wh.count_by_day(COSTS, D1, D3) == {D1: 48, D2: 48, D3: 48}
    assert wh.count_by_day(COSTS, D2, D2) == {D2: 48}
    read = wh.read(COSTS, D2, D2)
    assert len(read) == 48 and sorted(read["settlementPeriod"].tolist()) == list(range(1, 49))
    assert len(backend.rows(COSTS)) == 144


def test_timestamp_partitions_are_london_days(backend):
    """FREQ is partitioned by its timestamp: a BST London day runs 23:00 UTC to 23:00 UTC."""
    summer = date(2025, 7, 1)
    rows = [freq("2025-06-30T23:00:00Z", 50.0), freq("2025-07-01T12:00:00Z", 50.1), freq("2025-07-01T22:59:45Z", 50.2)]
    r = backend.wh.merge(batch(FREQ, {summer: rows}))
    assert {d: c.inserted for d, c in r.days.items()} == {summer: 3} and counts(r) == (3, 0, 0)
    assert backend.wh.count_by_day(FREQ, summer, summer) == {summer: 3}
    assert backend.wh.count_by_day(FREQ, date(2025, 6, 30), date(2025, 6, 30)) == {}
    assert backend.wh.read(FREQ, summer, summer)["frequency"].tolist() == [50.0, 50.1, 50.2]


def test_unknown_fields_round_trip_as_json(backend):
    row = freq("2025-12-17T10:00:00Z", 50.0, quality={"flag": "ok", "n": 3})
    backend.wh.merge(batch(FREQ, {D1: [row]}))
    stored = backend.rows(FREQ)
    assert json.loads(stored[0]["_extra"]) == {"quality": {"flag": "ok", "n": 3}}
    assert json.loads(backend.wh.read(FREQ, D1, D1)["_extra"].iloc[0]) == {"quality": {"flag": "ok", "n": 3}}


def test_a_failing_fetch_writes_nothing(backend):
    backend.wh.merge(batch(COSTS, {D1: [cost(D1, 1, 1.0)]}))
    tables_before = backend.tables()

    def frames():
        yield D1, to_frame(COSTS, D1, [cost(D1, 1, 99.0)], ingested_utc=NOW)[0]
        raise RuntimeError("second day failed")

    with pytest.raises(RuntimeError, match="second day failed"):
        backend.wh.merge(PartitionBatch(COSTS, [D1, D2], frames()))
    assert [x["systemSellPrice"] for x in backend.rows(COSTS)] == [1.0]
    assert backend.tables() == tables_before == ["bmrs_costs"]


def test_a_failure_between_load_and_merge_leaves_the_target_unchanged_and_no_staging(backend, monkeypatch):
    backend.wh.merge(batch(COSTS, {D1: [cost(D1, p, 1.0) for p in range(1, 49)]}))
    before = backend.rows(COSTS)
    backend.break_before_merge(monkeypatch)
    with pytest.raises(RuntimeError, match="injected failure between staging and MERGE"):
        backend.wh.merge(batch(COSTS, {D1: [cost(D1, p, 9.0) for p in range(1, 49)], D2: [cost(D2, 1, 9.0)]}))
    assert backend.rows(COSTS) == before
    assert backend.tables() == ["bmrs_costs"]
    assert backend.wh.key_counts(COSTS, D1, D2).duplicate_keys == 0 and backend.wh.count_by_day(COSTS, D1, D2) == {D1: 48}


def test_a_stored_row_is_replaced_only_by_the_same_or_a_newer_revision(backend):
    """Out of order: the older revision is skipped and counted stale; the same revision with new
    content, or a newer one, replaces it."""
    wh = backend.wh
    wh.merge(batch(COSTS, {D1: [cost(D1, p, 96.79, created="2025-12-19T12:00:00Z") for p in range(1, 49)]}))
    older = wh.merge(batch(COSTS, {D1: [cost(D1, p, 101.0, created="2025-12-18T12:00:00Z") for p in range(1, 49)],
                                   D2: [cost(D2, 1, 5.0)]}))
    assert counts(older) == (1, 0, 0) and older.days[D1].stale == 48 and older.total("stale") == 48
    assert {x["systemSellPrice"] for x in backend.rows(COSTS) if plain(x["settlementDate"]) != D2} == {96.79}
    same = wh.merge(batch(COSTS, {D1: [cost(D1, p, 97.5 if p == 3 else 96.79, created="2025-12-19T12:00:00Z")
                                       for p in range(1, 49)]}))
    assert counts(same) == (0, 1, 47) and same.total("stale") == 0
    newer = wh.merge(batch(COSTS, {D1: [cost(D1, p, 90.0, created="2025-12-20T12:00:00Z") for p in range(1, 49)]}))
    assert counts(newer) == (0, 48, 0)
    assert {x["systemSellPrice"] for x in backend.rows(COSTS) if plain(x["settlementDate"]) != D2} == {90.0}


def test_key_counts_find_a_duplicate_planted_behind_the_merge(backend):
    """What the unique_natural_key check reads: it must see a duplicate the MERGE would never write."""
    backend.wh.merge(batch(COSTS, {D1: [cost(D1, p, 1.0) for p in range(1, 49)]}))
    assert backend.wh.key_counts(COSTS, D1, D1) == (48, 0)
    backend.execute("INSERT INTO {t}costs SELECT * FROM {t}costs WHERE settlementPeriod IN (7, 8)")
    assert backend.wh.key_counts(COSTS, D1, D1) == (50, 2)
    assert backend.wh.key_counts(COSTS, D2, D2) == (0, 0)  # another day: nothing in range


def test_reads_of_a_table_never_written_are_empty(backend):
    backend.wh.merge(batch(FREQ, {D1: [freq("2025-12-17T10:00:00Z")]}))  # the warehouse exists, bmrs_costs does not
    assert backend.wh.count_by_day(COSTS, D1, D2) == {}
    assert backend.wh.key_counts(COSTS, D1, D2).duplicate_keys == 0
    assert len(backend.wh.read(COSTS, D1, D2)) == 0


def test_response_digests_are_remembered_with_the_merge_and_only_with_it(backend, monkeypatch):
    """Both backends remember the batch's digests with its MERGE (DuckDB in the same transaction, BigQuery
    right after the MERGE committed), and not for a MERGE that failed. A day standing in as unchanged
    writes nothing."""
    wh = backend.wh
    assert wh.remembered_digests(COSTS, [D1, D2]) == {}
    first = batch(COSTS, {D1: [cost(D1, p, 1.0) for p in range(1, 49)]})
    first.body_digests[D1] = "digest-1"
    wh.merge(first)
    remembered = wh.remembered_digests(COSTS, [D1, D2])
    assert remembered == {D1: ("digest-1", 48, True)}
    assert wh.remembered_digests(FREQ, [D1]) == {}
    failing = batch(COSTS, {D1: [cost(D1, p, 9.0) for p in range(1, 49)]})
    failing.body_digests[D1] = "digest-2"
    with monkeypatch.context() as broken, pytest.raises(RuntimeError, match="injected failure between staging and MERGE"):
        backend.break_before_merge(broken)
        wh.merge(failing)
    assert wh.remembered_digests(COSTS, [D1, D2]) == remembered
    r = wh.merge(PartitionBatch(COSTS, [D1], [(D1, UnchangedDay(48))]))
    assert counts(r) == (0, 0, 48) and r.days[D1].fetched == 48
    assert {x["systemSellPrice"] for x in backend.rows(COSTS)} == {1.0}


# --- DuckDB specifics ----------------------------------------------------------------------

def test_duckdb_key_counts_a_few_days_at_a_time_and_finds_every_duplicate(tmp_path):
    """Keys holding the partition column are counted a few days a query (memory follows those days);
    the totals are those of one query over the range, a duplicate on any day is found."""
    heavy = replace(COSTS, rows_per_day=duckdb_warehouse.KEY_COUNT_ROWS // 2)  # two days a query
    days = [D1 + timedelta(days=i) for i in range(5)]
    wh = DuckDBWarehouse(str(tmp_path / "w.duckdb"))
    wh.merge(batch(heavy, {d: [cost(d, p, 1.0) for p in range(1, 49)] for d in days}))
    assert wh.key_counts(heavy, days[0], days[-1]) == (5 * 48, 0)
    con = duckdb.connect(wh.path)
    con.execute(f"INSERT INTO bmrs_costs SELECT * FROM bmrs_costs WHERE \"settlementDate\" IN ('{days[2]}', '{days[4]}') "
                "AND \"settlementPeriod\" = 7")
    con.close()
    assert wh.key_counts(heavy, days[0], days[-1]) == (5 * 48 + 2, 2)
    assert wh.key_counts(COSTS, days[0], days[-1]) == (5 * 48 + 2, 2)  # one query: the same answer
    assert wh.key_counts(heavy, days[3], days[3]) == (48, 0)


def test_duckdb_types_and_merge_sql(tmp_path):
    wh = DuckDBWarehouse(str(tmp_path / "w.duckdb"))
    wh.merge(batch(COSTS, {D1: [cost(D1, 1, 1.0)]}))
    con = duckdb.connect(wh.path, read_only=True)
    types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_name='bmrs_costs'").fetchall())
    con.close()
    assert types["settlementDate"] == "DATE" and types["startTime"] == "TIMESTAMP WITH TIME ZONE"
    assert types["settlementPeriod"] == "BIGINT" and types["bsadDefaulted"] == "BOOLEAN" and types["_extra"] == "JSON"
    sql = duckdb_warehouse.merge_sql(COSTS, "t", "s")
    assert 'T."settlementDate" BETWEEN $1 AND $2' in sql
    assert '"settlementDate" IS NOT DISTINCT FROM' in sql and "WHEN NOT MATCHED THEN INSERT" in sql
    assert ('T."_hash_key" IS DISTINCT FROM S."_hash_key" AND (T."createdDateTime" IS NULL OR '
            'S."createdDateTime" >= T."createdDateTime") THEN UPDATE') in sql
    assert 'T."measurementTime" >= $1 AND T."measurementTime" < $2' in duckdb_warehouse.merge_sql(FREQ, "t", "s")


def test_day_stats_give_rows_periods_and_groups(backend):
    """What completeness checks read: rows, distinct periods and per-group rows per stored day."""
    wh = backend.wh
    wh.merge(batch(COSTS, {D1: [cost(D1, p, 1.0) for p in range(1, 49)],
                           D2: [cost(D2, p, 1.0) for p in range(1, 31)]}))
    stats = wh.day_stats(COSTS, D1, D2)
    assert {d: (s.rows, s.periods) for d, s in stats.items()} == {D1: (48, 48), D2: (30, 30)}
    fuel = [{"dataset": "FUELINST", "publishTime": f"2025-12-17T00:{m + 5:02d}:00Z", "startTime": f"2025-12-17T00:{m:02d}:00Z",
             "settlementDate": "2025-12-17", "settlementPeriod": 1, "fuelType": f, "generation": 1}
            for m in (0, 5, 10, 15) for f in ("CCGT", "WIND")] + [
            {"dataset": "FUELINST", "publishTime": "2025-12-17T00:25:00Z", "startTime": "2025-12-17T00:20:00Z",
             "settlementDate": "2025-12-17", "settlementPeriod": 1, "fuelType": "WIND", "generation": 1}]
    wh.merge(batch(FUELINST, {D1: fuel}))
    assert wh.day_stats(FUELINST, D1, D1)[D1].groups == {"CCGT": 4, "WIND": 5}
