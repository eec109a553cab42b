"""Settlement periods checked against time, through a real Dagster run: a mislabelled day fails, naming
the period, and the stored table is exactly what it was."""

from __future__ import annotations

import json
from datetime import date

from bmrs_assets.cli.runs import materialize_range
from bmrs_assets.core.settlement import period_start, utc_iso
from bmrs_assets.simulator.data import GENERATORS, SimState
from bmrs_assets_tests.support.helpers import dump, failure_text, materialize_against

ORDINARY, AUTUMN = date(2025, 12, 17), date(2025, 10, 26)


def body(rows: list[dict]) -> bytes:
    return json.dumps({"data": rows}).encode()


def test_a_costs_day_with_period_48_labelled_49_fails_and_the_stored_day_stays(platform_env, instance, monkeypatch):
    assert materialize_range(ORDINARY, ORDINARY, ["COSTS"], instance=instance)[0].success  # a good day stored
    before = dump(platform_env, "bmrs_costs")
    assert len(before) == 48
    rows = GENERATORS["COSTS"].make(ORDINARY, SimState(run=1))  # a later run: every price differs
    assert rows[47]["settlementPeriod"] == 48 and rows[47]["startTime"] == utc_iso(period_start(ORDINARY, 48))
    rows[47]["settlementPeriod"] = 49
    result, _ = materialize_against(body(rows), ["COSTS"], ORDINARY, instance, monkeypatch)
    assert not result.success
    text = failure_text(result)
    assert "COSTS partition 2025-12-17: settlementPeriod 49 does not exist on 2025-12-17 (48 periods)" in text, text[:800]
    assert dump(platform_env, "bmrs_costs") == before


def test_a_boalf_acceptance_labelled_two_periods_too_low_on_the_autumn_day_fails_it(platform_env, instance, monkeypatch):
    assert materialize_range(AUTUMN, AUTUMN, ["BOALF"], instance=instance)[0].success
    before = dump(platform_env, "bmrs_boalf")
    rows = GENERATORS["BOALF"].make(AUTUMN, SimState())
    i = next(i for i, r in enumerate(rows) if r["settlementPeriodFrom"] == 6)  # 01:30 GMT: the second 01:30 of the night
    rows[i]["settlementPeriodFrom"] = 4
    result, _ = materialize_against(body(rows), ["BOALF"], AUTUMN, instance, monkeypatch)
    assert not result.success
    text = failure_text(result)
    assert (f"BOALF partition 2025-10-26: settlementPeriodFrom 4 at timeFrom {rows[i]['timeFrom']}, "
            f"expected period 6") in text, text[:800]
    assert dump(platform_env, "bmrs_boalf") == before
