"""Rows the source withdraws leave the warehouse, through real runs against the simulator, both backends.

The simulator's later ``position`` redeclares MELS/MILS units (new notification, the earlier record
truncated and the new one's timeFrom moved), retracts DISBSAD actions and drops EBOCF unit-periods.
What must leave is computed from the simulator's own rows, not from the platform's counts.
"""

from __future__ import annotations

from datetime import date

import dagster as dg

from bmrs_assets.cli.runs import materialize_range
from bmrs_assets.definitions import build_definitions
from bmrs_assets.elexon.datasets import DISBSAD, EBOCF, MELS, MILS, get_dataset
from bmrs_assets.iris.landing import LandingStore
from bmrs_assets.simulator.data import GENERATORS, SimState
from bmrs_assets_tests.integration.test_iris import drain, merge_landed, send_all
from bmrs_assets_tests.support.helpers import failure_text, metadata_of
from bmrs_assets_tests.support.iris_fake import FakeQueue, iris_files

DAY = date(2025, 12, 17)
CURRENT = ("MELS", "MILS", "DISBSAD", "EBOCF")


def source_rows(code: str, position: int) -> list[dict]:
    """The simulator's rows of DAY at ``position`` (EBOCF: both sides, the side from the path)."""
    if code != "EBOCF":
        return GENERATORS[code].make(DAY, SimState(position=position))
    return [{**r, "bidOffer": side} for side in ("bid", "offer")
            for r in GENERATORS[f"EBOCF/{side}"].make(DAY, SimState(position=position))]


def keys(code: str, rows: list[dict]) -> set[tuple]:
    ds = get_dataset(code)
    return {tuple(str(r[k]) for k in ds.key) for r in rows}


def test_withdrawn_rows_leave_and_the_table_is_the_current_position(platform_env, simulator, instance, warehouse):
    first, _ = materialize_range(DAY, DAY, list(CURRENT), instance=instance)
    assert first.success, failure_text(first)
    for code in CURRENT:
        assert metadata_of(first, code)["rows_deleted"] == 0

    simulator.config.position = 1
    later, lines = materialize_range(DAY, DAY, list(CURRENT), instance=instance)
    assert later.success, failure_text(later)
    for code in CURRENT:
        before, now = source_rows(code, 0), source_rows(code, 1)
        withdrawn = keys(code, before) - keys(code, now)
        assert withdrawn, f"{code}: the simulator's later position withdraws rows"
        meta = metadata_of(later, code)
        assert meta["rows_deleted"] == len(withdrawn), code
        assert meta["per_day_json"][DAY.isoformat()]["deleted"] == len(withdrawn), code
        assert warehouse.count_by_day(get_dataset(code), DAY, DAY) == {DAY: len(now)}, f"{code}: exactly the current rows"
        assert warehouse.key_counts(get_dataset(code), DAY, DAY).duplicate_keys == 0
    assert {ln.dataset: ln.deleted for ln in lines} == {c: len(keys(c, source_rows(c, 0)) - keys(c, source_rows(c, 1)))
                                                        for c in CURRENT}, "the CLI's day table lists them"
    logs = [e.message for e in instance.all_logs(later.run_id) if e.message and "deleted that the source" in e.message]
    assert any(m.startswith(f"DISBSAD: {metadata_of(later, 'DISBSAD')['rows_deleted']} stored row(s) deleted") for m in logs)

    # MELS: no two limits stand at one instant any more (the superseded record of a redeclared unit left)
    stored = warehouse.read(MELS, DAY, DAY)
    per_instant = stored.groupby(["nationalGridBmUnit", "timeFrom"]).size()
    assert per_instant.max() == 1, "one limit per unit and instant"
    assert len(warehouse.read(MILS, DAY, DAY)) == len(source_rows("MILS", 1))


def test_an_incomplete_day_changes_nothing(platform_env, simulator, instance, warehouse):
    assert materialize_range(DAY, DAY, ["DISBSAD", "EBOCF"], instance=instance)[0].success
    before = {ds.code: warehouse.read(ds, DAY, DAY) for ds in (DISBSAD, EBOCF)}
    simulator.config.position = 1
    simulator.config.short = {"DISBSAD": 0.5}  # half the day's rows: periods 25..48 missing
    result, _ = materialize_range(DAY, DAY, ["DISBSAD", "EBOCF"], instance=instance)
    assert not result.success
    text = failure_text(result)
    assert f"DISBSAD partition {DAY}: the response is not a complete day" in text and "of 48 periods present" in text
    after = warehouse.read(DISBSAD, DAY, DAY)
    assert after.drop(columns=["_ingested_utc"]).equals(before["DISBSAD"].drop(columns=["_ingested_utc"])), \
        "the stored day is exactly what it was"
    assert metadata_of(result, "EBOCF")["rows_deleted"] > 0, "the other dataset of the run went on"


def test_an_iris_delta_never_deletes(platform_env, simulator, tmp_path, monkeypatch, warehouse):
    path = tmp_path / "iris_landing.sqlite"
    monkeypatch.setenv("BMRS_IRIS_LANDING_PATH", str(path))
    store = LandingStore(path)
    with dg.DagsterInstance.ephemeral() as instance:
        assert materialize_range(DAY, DAY, ["DISBSAD"], instance=instance)[0].success
        stored = warehouse.count_by_day(DISBSAD, DAY, DAY)[DAY]
        delta = [r for r in source_rows("DISBSAD", 1) if r["settlementPeriod"] == 10]  # one period's message
        queue = FakeQueue()
        send_all(queue, iris_files("DISBSAD", DAY, 50, rows=delta))
        drain(queue, store)
        results = merge_landed(build_definitions(), instance, store)
    assert results and all(r.success for r in results)
    meta = metadata_of(results[0], "DISBSAD")
    assert meta["source"] == "IRIS" and meta["rows_deleted"] == 0
    assert warehouse.count_by_day(DISBSAD, DAY, DAY)[DAY] == stored, "a message is not the whole day"
