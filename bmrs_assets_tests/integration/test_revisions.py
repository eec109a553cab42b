"""Revisions never go backwards: an older settlement run or IRIS message never overwrites a newer row.

Both backends, through the real Dagster run against the simulator's settlement runs (a later run has
a later ``createdDateTime`` and new values).
"""

from __future__ import annotations

from datetime import date

import dagster as dg

from bmrs_assets.cli.runs import materialize_range
from bmrs_assets.definitions import build_definitions
from bmrs_assets.elexon.datasets import COSTS, EBOCF
from bmrs_assets.iris.landing import LandingStore
from bmrs_assets.simulator.data import GENERATORS, SimState
from bmrs_assets_tests.integration.test_iris import drain, merge_landed, send_all
from bmrs_assets_tests.support.helpers import metadata_of
from bmrs_assets_tests.support.iris_fake import FakeQueue, iris_files

DAY = date(2025, 12, 17)


def values(wh, ds, column: str) -> dict[tuple, object]:
    frame = wh.read(ds, DAY, DAY)
    return {tuple(r[k] for k in ds.key): (r[column], r["createdDateTime"]) for _, r in frame.iterrows()}


def test_an_older_settlement_run_never_overwrites_a_newer_one(platform_env, simulator, instance, warehouse):
    simulator.config.run = 2
    first, _ = materialize_range(DAY, DAY, ["COSTS", "EBOCF"], instance=instance)
    assert first.success
    newer = {ds.code: values(warehouse, ds, col) for ds, col in ((COSTS, "systemSellPrice"), (EBOCF, "totalCashflow"))}

    simulator.config.run = 1  # the response of an earlier run arrives late (a slow replica, a replay)
    late, _ = materialize_range(DAY, DAY, ["COSTS", "EBOCF"], instance=instance)
    assert late.success
    for ds, col in ((COSTS, "systemSellPrice"), (EBOCF, "totalCashflow")):
        meta = metadata_of(late, ds.code)
        n = len(newer[ds.code])
        assert (meta["rows_stale_skipped"], meta["rows_updated"], meta["rows_inserted"]) == (n, 0, 0), ds.code
        assert values(warehouse, ds, col) == newer[ds.code], f"{ds.code}: the newer run's rows stay"
    logs = [e.message for e in instance.all_logs(late.run_id) if e.message and "skipped: older" in e.message]
    assert any(m.startswith(f"COSTS: {len(newer['COSTS'])} row(s) skipped: older (by createdDateTime)") for m in logs)

    simulator.config.run = 3  # a genuinely newer run replaces them
    newest, _ = materialize_range(DAY, DAY, ["COSTS", "EBOCF"], instance=instance)
    assert newest.success
    meta = metadata_of(newest, "COSTS")
    assert (meta["rows_updated"], meta["rows_stale_skipped"]) == (48, 0)
    assert all(v[1] > newer["COSTS"][k][1] for k, v in values(warehouse, COSTS, "systemSellPrice").items())


def test_an_iris_message_older_than_the_api_row_is_skipped(platform_env, simulator, tmp_path, monkeypatch, warehouse):
    path = tmp_path / "iris_landing.sqlite"
    monkeypatch.setenv("BMRS_IRIS_LANDING_PATH", str(path))
    store = LandingStore(path)
    simulator.config.run = 2
    with dg.DagsterInstance.ephemeral() as instance:
        api, _ = materialize_range(DAY, DAY, ["COSTS"], instance=instance)
        assert api.success
        stored = values(warehouse, COSTS, "systemSellPrice")
        queue = FakeQueue()
        send_all(queue, iris_files("COSTS", DAY, 12, rows=GENERATORS["COSTS"].make(DAY, SimState(run=0))))
        drain(queue, store)
        results = merge_landed(build_definitions(), instance, store)
    assert results and all(r.success for r in results)
    meta = metadata_of(results[0], "COSTS")
    assert meta["source"] == "IRIS" and meta["rows_stale_skipped"] == 48 and meta["rows_updated"] == 0
    assert values(warehouse, COSTS, "systemSellPrice") == stored, "the API's newer rows stay"
