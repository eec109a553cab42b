"""The backfill plan's arithmetic (``bmrs_assets/elexon/plan.py``): runs, requests, rows, bytes and
duration from measured runs or from the registry, and the totals."""

from __future__ import annotations

from datetime import date

import pytest

from bmrs_assets.core.settlement import days_between
from bmrs_assets.elexon.client import initial_slices
from bmrs_assets.elexon.datasets import BOD, COSTS, EBOCF, REGISTRY
from bmrs_assets.elexon.plan import (
    History,
    Limits,
    RunSample,
    duration_seconds,
    first_page_requests,
    format_bytes,
    format_count,
    format_duration,
    format_seconds,
    plan_dataset,
    render,
    runs_needed,
    shared_runs,
    totals,
)

DAYS = days_between(date(2025, 12, 1), date(2025, 12, 10))
LIMITS = Limits(rate_limit_per_s=4, in_flight=1)


@pytest.mark.parametrize(("days", "per_run", "runs"), [(0, 7, 0), (1, 7, 1), (7, 7, 1), (8, 7, 2), (1795, 92, 20),
                                                       (5, 2, 3), (1795, 7, 257)])
def test_runs_are_the_ceiling_of_days_over_days_per_run(days, per_run, runs):
    assert runs_needed(days, per_run) == runs


def test_a_run_holds_at_least_one_day():
    with pytest.raises(ValueError, match="at least 1"):
        runs_needed(5, 0)


def test_assets_with_the_same_run_size_share_runs():
    assert shared_runs(5, [2, 2, 2]) == 3
    assert shared_runs(10, [92, 7, 92]) == 1 + 2
    assert shared_runs(10, []) == 0


def test_first_page_requests_are_the_initial_slices_of_each_day():
    for ds in REGISTRY.values():
        assert first_page_requests(ds, DAYS) == sum(len(initial_slices(ds, d)) for d in DAYS)
    assert first_page_requests(BOD, DAYS) == 9 * len(DAYS)  # BOD comes in nine period ranges a day
    assert first_page_requests(EBOCF, DAYS) == 2 * len(DAYS)  # offers and bids


def test_duration_is_the_slower_of_rate_limit_and_latency_plus_processing():
    # rate-limited: 100 requests at 4/s = 25 s; 100 x 0.1 s latency / 1 in flight = 10 s
    assert duration_seconds(100, 0, LIMITS, 0.1, None) == pytest.approx(25)
    # latency-bound: 100 x 0.5 s / 1 = 50 s; with 4 in flight 12.5 s, so the rate limit wins again
    assert duration_seconds(100, 0, LIMITS, 0.5, None) == pytest.approx(50)
    assert duration_seconds(100, 0, Limits(4, 4), 0.5, None) == pytest.approx(25)
    # processing adds: 1 M rows at 2 us a row = 2 s
    assert duration_seconds(100, 1_000_000, LIMITS, 0.5, 2e-6) == pytest.approx(52)
    # unknown latency: the rate limit alone
    assert duration_seconds(8, 10, LIMITS, None, None) == pytest.approx(2)


def test_limits_are_refused_when_impossible():
    with pytest.raises(ValueError):
        Limits(0, 1)
    with pytest.raises(ValueError):
        Limits(4, 0)


def test_without_history_the_registry_volume_is_used_and_said():
    p = plan_dataset(COSTS, DAYS, 92, None, LIMITS)
    assert (p.days, p.runs, p.requests) == (10, 1, 10)
    assert p.rows.value == COSTS.rows_per_day * 10 == 480
    assert "registry rows_per_day" in p.rows.source and "no run recorded" in p.rows.source
    assert p.bytes.value is None and p.latency_s.value is None and p.processing_s_per_row.value is None
    assert "rate limit alone" in p.latency_s.source
    assert p.seconds == pytest.approx(10 / 4)


def test_history_pools_runs_as_ratios_of_sums():
    h = History((RunSample(days=2, rows=96, requests=2, bytes=20_000, fetch_seconds=1.0, seconds=1.5),
                 RunSample(days=1, rows=48, requests=1, bytes=10_000, fetch_seconds=2.0, seconds=2.5)))
    assert (h.runs, h.days) == (2, 3)
    assert h.rows_per_day == pytest.approx(48)
    assert h.bytes_per_day == pytest.approx(10_000)
    assert h.latency_s == pytest.approx(1.0)  # 3 s over 3 requests
    assert h.processing_s_per_row == pytest.approx(1.0 / 144)  # (4 - 3) s over 144 rows
    assert h.describe() == "the last 2 runs (3 days)"


def test_measured_figures_drive_the_plan():
    h = History((RunSample(days=2, rows=100, requests=4, bytes=8_000, fetch_seconds=2.0, seconds=3.0),))
    p = plan_dataset(COSTS, DAYS, 2, h, LIMITS)
    assert p.runs == 5
    assert p.rows.value == pytest.approx(50 * 10)
    assert p.bytes.value == pytest.approx(4_000 * 10)
    assert p.latency_s.value == pytest.approx(0.5)
    assert p.processing_s_per_row.value == pytest.approx(0.01)
    # 10 requests: max(10 / 4, 10 x 0.5 / 1) = 5 s, + 0.01 s x 500 rows = 5 s
    assert p.seconds == pytest.approx(10.0)
    assert all("the last 1 run (2 days)" in f.source for f in (p.rows, p.bytes, p.latency_s, p.processing_s_per_row))


def test_a_history_without_requests_or_rows_leaves_those_rates_unknown():
    h = History((RunSample(days=1, rows=0, requests=0, bytes=0, fetch_seconds=0.0, seconds=1.0),))
    assert h.latency_s is None and h.processing_s_per_row is None
    p = plan_dataset(COSTS, DAYS[:1], 92, h, LIMITS)
    assert p.latency_s.value is None and "made no request" in p.latency_s.source
    with pytest.raises(ValueError):
        History(())


def test_totals_add_durations_and_count_shared_runs_once():
    a = plan_dataset(COSTS, DAYS, 2, None, LIMITS)
    b = plan_dataset(BOD, DAYS, 2, History((RunSample(1, 270_000, 9, 50_000_000, 9.0, 20.0),)), LIMITS)
    t = totals([a, b])
    assert t.runs == 5  # both in runs of 2 days: the same 5 runs
    assert t.requests == 10 + 90
    assert t.rows == pytest.approx(480 + 2_700_000)
    assert (t.bytes, t.bytes_unknown) == (pytest.approx(500_000_000), 1)
    assert t.seconds == pytest.approx(a.seconds + b.seconds)


def test_render_names_every_figure_and_its_source():
    a = plan_dataset(COSTS, DAYS, 2, None, LIMITS)
    b = plan_dataset(BOD, DAYS, 7, History((RunSample(1, 270_000, 9, 50_000_000, 9.0, 20.0),)), LIMITS)
    text = render([a, b], DAYS[0], DAYS[-1], LIMITS)
    assert "2025-12-01...2025-12-10" in text and "Nothing is launched" in text
    assert "rate limit 4 requests/s, 1 in flight" in text
    rows = {line.split()[0]: line.split() for line in text.splitlines() if line.split()[:1] in (["COSTS"], ["BOD"])}
    assert rows["COSTS"][1:5] == ["10", "5", "2", "10"]
    assert rows["BOD"][1:5] == ["10", "2", "7", "90"]
    assert "COSTS: rows: registry rows_per_day (48/day), no run recorded" in text
    assert "BOD: rows: the last 1 run (1 day), 270,000/day" in text
    assert "pagination and window splits" in text
    total = next(line for line in text.splitlines() if line.startswith("total"))
    assert total.split()[1:4] == ["10", "7", "100"]  # 5 runs of 2 days + 2 runs of 7


def test_formats():
    assert [format_count(n) for n in (12, 1_234, 5_600_000, 2.5e9)] == ["12", "1.2 k", "5.6 M", "2.5 G"]
    assert [format_bytes(n) for n in (None, 999, 12_000, 3.4e6, 1.2e10)] == ["?", "999 B", "12.0 kB", "3.4 MB",
                                                                          "12.0 GB"]
    assert [format_seconds(s) for s in (3.2e-6, 0.048, 1.5)] == ["3.2 us", "48.0 ms", "1.50 s"]
    assert [format_duration(s) for s in (42, 185, 7620, 273600)] == ["42 s", "3 m 05 s", "2 h 07 m", "3 d 04 h"]
