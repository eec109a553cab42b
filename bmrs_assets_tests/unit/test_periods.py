"""Settlement periods checked against their day and their time (issue 15, item 3: labels checked against time).

Both clock-change days (46 and 50 periods) and an ordinary day; a start-time dataset (COSTS) and a
within-period one (BOALF); both typing paths, which must raise the same error before anything is written.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import UTC, date, datetime, timedelta

import pytest

from bmrs_assets.core import conform, fingerprint
from bmrs_assets.core.conform import to_frame, to_table
from bmrs_assets.core.fingerprint import typing_fingerprint
from bmrs_assets.core.periods import PeriodLabelError, day_periods
from bmrs_assets.core.settlement import PERIOD, day_window, period_start, utc_iso
from bmrs_assets.core.tables import PeriodLabel, PeriodRule
from bmrs_assets.elexon.datasets import BOALF, COSTS, NETBSAD, REGISTRY
from bmrs_assets.simulator.data import GENERATORS, SimState

NOW = datetime(2026, 11, 28, tzinfo=UTC)
SPRING, AUTUMN, ORDINARY = date(2025, 3, 30), date(2025, 10, 26), date(2025, 12, 17)
DAYS = {SPRING: 46, AUTUMN: 50, ORDINARY: 48}


def both_paths(ds, day, rows):
    """Type ``rows`` on the fast path and the reference path; return the fast path's table."""
    to_frame(ds, day, copy.deepcopy(rows), ingested_utc=NOW)
    return to_table(ds, day, copy.deepcopy(rows), ingested_utc=NOW)[0]


def raises_on_both_paths(ds, day, rows, match):
    for typer in (to_frame, to_table):
        with pytest.raises(PeriodLabelError, match=match):
            typer(ds, day, copy.deepcopy(rows), ingested_utc=NOW)


def costs(day):
    return json.loads(json.dumps(GENERATORS["COSTS"].make(day, SimState())))


def boalf_row(day, period, time_from):
    return {"dataset": "BOALF", "settlementDate": day.isoformat(), "settlementPeriodFrom": period,
            "settlementPeriodTo": period, "timeFrom": utc_iso(time_from), "timeTo": utc_iso(time_from + timedelta(minutes=5)),
            "levelFrom": 0, "levelTo": 10, "acceptanceNumber": 7, "acceptanceTime": utc_iso(time_from - timedelta(minutes=3)),
            "deemedBoFlag": False, "soFlag": False, "amendmentFlag": "ORI", "storFlag": False, "rrFlag": False,
            "nationalGridBmUnit": "ABC-1", "bmUnit": "T_ABC-1"}


@pytest.mark.parametrize("day", sorted(DAYS))
def test_day_periods_is_the_settlement_arithmetic(day):
    starts, counts = day_periods([day])
    assert counts.tolist() == [DAYS[day]]
    first = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(starts[0]) // 1_000)
    assert first == day_window(day).start == period_start(day, 1)
    assert period_start(day, DAYS[day]) + PERIOD == day_window(day).end


@pytest.mark.parametrize("day", sorted(DAYS))
def test_a_true_costs_day_passes_with_every_period(day):
    table = both_paths(COSTS, day, costs(day))
    assert table.column("settlementPeriod").to_pylist() == list(range(1, DAYS[day] + 1))


def test_costs_period_labelled_one_too_low_on_the_autumn_day_names_the_expected_period():
    rows = costs(AUTUMN)
    assert rows[-1]["settlementPeriod"] == 50 and rows[-1]["startTime"] == "2025-10-26T23:30:00Z"
    rows[-1]["settlementPeriod"] = 49  # now two rows say 49
    raises_on_both_paths(COSTS, AUTUMN, rows, r"^COSTS partition 2025-10-26: settlementPeriod 49 at startTime "
                                              r"2025-10-26T23:30:00Z, expected period 50; nothing of this day written$")


@pytest.mark.parametrize(("day", "period"), [(SPRING, 47), (ORDINARY, 49), (AUTUMN, 51)])
def test_costs_period_past_the_days_last_does_not_exist(day, period):
    rows = costs(day)
    rows[-1]["settlementPeriod"] = period
    if period <= 50:  # 51 is already refused by the coarse 1-50 schema check
        raises_on_both_paths(COSTS, day, rows, f"COSTS partition {day}: settlementPeriod {period} does not exist "
                                               f"on {day} \\({DAYS[day]} periods\\)")
    else:
        with pytest.raises(ValueError, match="settlementPeriod"):
            to_table(COSTS, day, rows, ingested_utc=NOW)


def test_costs_period_48_labelled_49_on_an_ordinary_day():
    rows = costs(ORDINARY)
    rows[47]["settlementPeriod"] = 49
    raises_on_both_paths(COSTS, ORDINARY, rows, "settlementPeriod 49 does not exist on 2025-12-17 \\(48 periods\\)")


@pytest.mark.parametrize("day", sorted(DAYS))
def test_costs_start_time_must_be_the_periods_start_exactly(day):
    rows = costs(day)
    start = period_start(day, 10) + timedelta(minutes=10)
    rows[9]["startTime"] = utc_iso(start)
    raises_on_both_paths(COSTS, day, rows, f"settlementPeriod 10 at startTime {utc_iso(start)}, expected period 10 "
                                           f"\\(and a time that is not a period's start\\)")


@pytest.mark.parametrize("day", sorted(DAYS))
def test_boalf_time_anywhere_in_the_period_passes_and_the_period_end_does_not(day):
    last = DAYS[day]
    ok = [boalf_row(day, p, period_start(day, p) + timedelta(minutes=m)) for p in (1, 2, last) for m in (0, 17, 29)]
    assert both_paths(BOALF, day, ok).num_rows == len(ok)
    end = period_start(day, 2) + PERIOD  # the start of period 3: half-open, so not in period 2
    raises_on_both_paths(BOALF, day, [*ok, boalf_row(day, 2, end)],
                         f"settlementPeriodFrom 2 at timeFrom {utc_iso(end)}, expected period 3")


def test_boalf_acceptance_labelled_two_periods_too_low_on_the_autumn_day():
    # 01:10 local BST is period 3, 01:10 local GMT (the second one) is period 5: 00:10Z is period 5
    at = datetime(2025, 10, 26, 1, 10, tzinfo=UTC)
    assert period_start(AUTUMN, 5) <= at < period_start(AUTUMN, 5) + PERIOD
    good = boalf_row(AUTUMN, 5, at)
    both_paths(BOALF, AUTUMN, [good])
    raises_on_both_paths(BOALF, AUTUMN, [{**good, "settlementPeriodFrom": 3}],
                         "BOALF partition 2025-10-26: settlementPeriodFrom 3 at timeFrom 2025-10-26T01:10:00Z, "
                         "expected period 5")


def test_boalf_time_on_another_day_names_that_day():
    at = period_start(ORDINARY, 48) + PERIOD  # local midnight: period 1 of the next day
    raises_on_both_paths(BOALF, ORDINARY, [boalf_row(ORDINARY, 48, at)],
                         "settlementPeriodFrom 48 at timeFrom 2025-12-18T00:00:00Z, expected period 1 of 2025-12-18 "
                         "\\(not of 2025-12-17\\)")


def test_a_period_without_a_time_must_still_exist_on_its_day():
    rows = json.loads(json.dumps(GENERATORS["NETBSAD"].make(SPRING, SimState())))
    rows[0]["settlementPeriod"] = 48
    raises_on_both_paths(NETBSAD, SPRING, rows, "settlementPeriod 48 does not exist on 2025-03-30 \\(46 periods\\)")


@pytest.mark.parametrize("generator", sorted(g for g in GENERATORS if REGISTRY[g.partition("/")[0]].period_labels))
def test_simulator_days_pass_the_rule_on_the_fast_path(generator, monkeypatch):
    """The simulator's data fits the rule on both clock-change days and an ordinary day, and the check
    does not push a clean day off the fast path."""
    code, _, side = generator.partition("/")
    ds = REGISTRY[code]
    if side:
        rows = GENERATORS[generator].make(AUTUMN, SimState())
        both_paths(ds, AUTUMN, [{**r, "bidOffer": side} for r in rows])  # flattened: the reference path
        return

    def no_fallback(*args, **kwargs):
        raise AssertionError(f"{generator}: fell back to the reference path")

    monkeypatch.setattr(conform, "to_frame", no_fallback)
    for day in sorted(DAYS):
        rows = GENERATORS[generator].make(day, SimState())
        table, _ = to_table(ds, day, rows, ingested_utc=NOW)
        assert table.num_rows > 0


def test_every_dataset_with_a_settlement_period_labels_it():
    for ds in REGISTRY.values():
        periods = {c.name for c in ds.columns if c.name.startswith("settlementPeriod")}
        labelled = {lab.period for lab in ds.period_labels}
        assert labelled <= periods, ds.code
        assert bool(periods) == bool(labelled), ds.code
        assert periods - labelled <= {"settlementPeriodTo"}, ds.code  # BOALF: see its entry


def test_a_label_needs_declared_columns_and_a_rule_that_fits():
    with pytest.raises(ValueError, match="needs rule START or WITHIN"):
        PeriodLabel("settlementPeriod", "startTime")
    with pytest.raises(ValueError, match="'startTime' is not a declared timestamp column"):
        dataclasses.replace(NETBSAD, period_labels=(PeriodLabel("settlementPeriod", "startTime", PeriodRule.START),))
    with pytest.raises(ValueError, match="needs a PeriodLabel"):
        dataclasses.replace(NETBSAD, period_labels=())


def test_the_labels_are_part_of_the_typing_fingerprint():
    other = dataclasses.replace(COSTS, period_labels=(PeriodLabel("settlementPeriod", "startTime", PeriodRule.WITHIN),))
    assert typing_fingerprint(other) != typing_fingerprint(COSTS)
    assert fingerprint.TYPING_VERSION == "2"
