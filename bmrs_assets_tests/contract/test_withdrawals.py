"""Withdrawn rows leave, on both backends: a current-state table's whole day deletes the stored rows its
response no longer holds, in the upsert's write, and nothing else ever deletes.

Each case reads the table back independently of the backend's own counts.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bmrs_assets.core.tables import WriteSemantics
from bmrs_assets.elexon.datasets import COSTS, FREQ
from bmrs_assets_tests.contract.test_warehouse_contract import D1, D2, batch, cost, counts, freq

LATER = "2026-01-05T00:00:00Z"


def whole(b, *days):
    b.whole_days = set(days)
    return b


def periods(rows, day):
    return sorted(r["settlementPeriod"] for r in rows if r["settlementDate"] == day)


def test_a_whole_day_deletes_what_its_response_no_longer_holds_and_only_that_day(backend):
    wh = backend.wh
    wh.merge(batch(COSTS, {D1: [cost(D1, p, 50.0) for p in range(1, 49)], D2: [cost(D2, p, 60.0) for p in range(1, 49)]}))
    # not whole (an IRIS delta, a day still running): nothing is deleted
    partial = wh.merge(batch(COSTS, {D1: [cost(D1, p, 50.0) for p in range(1, 47)]}))
    assert partial.total("deleted") == 0 and periods(backend.rows(COSTS), D1) == list(range(1, 49))
    # whole: periods 47 and 48 were withdrawn; period 5 revised in the same write
    rows = [cost(D1, p, 50.0 if p != 5 else 55.0, LATER if p == 5 else "2025-12-18T12:00:00Z") for p in range(1, 47)]
    result = wh.merge(whole(batch(COSTS, {D1: list(rows)}), D1))
    assert counts(result) == (0, 1, 45)
    assert result.days[D1].deleted == 2 and result.total("deleted") == 2
    stored = backend.rows(COSTS)
    assert periods(stored, D1) == list(range(1, 47)), "the withdrawn periods left"
    assert periods(stored, D2) == list(range(1, 49)), "a day outside the write is untouched"
    assert {r["systemSellPrice"] for r in stored if r["settlementDate"] == D1 and r["settlementPeriod"] == 5} == {55.0}
    again = wh.merge(whole(batch(COSTS, {D1: list(rows)}), D1))
    assert counts(again) == (0, 0, 46) and again.total("deleted") == 0


def test_an_older_whole_day_deletes_nothing(backend):
    wh = backend.wh
    wh.merge(batch(COSTS, {D1: [cost(D1, p, 70.0, LATER) for p in range(1, 49)]}))
    older = wh.merge(whole(batch(COSTS, {D1: [cost(D1, p, 50.0) for p in range(1, 47)]}), D1))
    assert older.total("stale") == 46 and older.total("deleted") == 0
    stored = backend.rows(COSTS)
    assert periods(stored, D1) == list(range(1, 49)) and {r["systemSellPrice"] for r in stored} == {70.0}


def test_a_table_that_keeps_versions_never_deletes(backend):
    assert FREQ.semantics is WriteSemantics.KEEP_VERSIONS
    wh = backend.wh
    wh.merge(batch(FREQ, {D1: [freq("2025-12-17T00:00:00Z"), freq("2025-12-17T00:00:15Z")]}))
    result = wh.merge(whole(batch(FREQ, {D1: [freq("2025-12-17T00:00:00Z")]}), D1))
    assert result.total("deleted") == 0 and len(backend.rows(FREQ)) == 2


def test_timestamp_partitions_delete_within_the_london_day_only(backend):
    current = replace(FREQ, semantics=WriteSemantics.CURRENT_STATE)
    wh = backend.wh
    start = datetime(2025, 12, 17, tzinfo=UTC)
    at = [(start + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ") for h in (0, 6, 23, 24, 30)]
    wh.merge(batch(current, {D1: [freq(t) for t in at[:3]], D2: [freq(t) for t in at[3:]]}))
    result = wh.merge(whole(batch(current, {D1: [freq(at[0])]}), D1))
    assert result.days[D1].deleted == 2
    kept = sorted(r["measurementTime"] for r in backend.rows(current))
    assert kept == [start, start + timedelta(hours=24), start + timedelta(hours=30)]
