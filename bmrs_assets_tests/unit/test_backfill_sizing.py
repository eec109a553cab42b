"""A history backfill of every dataset is a bounded number of bounded runs, as Dagster itself plans them.

The runs are computed by the function the asset backfill daemon calls for each iteration
(``build_run_requests_with_backfill_policies``), on the project's own definitions.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, timedelta

import dagster as dg
from dagster._core.definitions.automation_tick_evaluation_context import build_run_requests_with_backfill_policies
from dagster._core.definitions.events import AssetKeyPartitionKey

from bmrs_assets.definitions import build_definitions
from bmrs_assets.defs.elexon.assets import RANGE_END, RANGE_START
from bmrs_assets.elexon.datasets import REGISTRY

TODAY = date(2026, 12, 2)


def planned_runs(monkeypatch, cap: int | None = None) -> tuple[dict[str, list[tuple[date, date]]], int]:
    """Per dataset, the (first, last) day of each run a backfill of 2022-01-01..TODAY launches; and
    the number of runs (datasets of the same run size share runs)."""
    monkeypatch.setenv("BMRS_START_DATE", "2022-01-01")
    if cap is not None:
        monkeypatch.setenv("BMRS_BACKFILL_MAX_DAYS_PER_RUN", str(cap))
    graph = build_definitions().resolve_asset_graph()
    days = [date(2022, 1, 1) + timedelta(days=i) for i in range((TODAY - date(2022, 1, 1)).days + 1)]
    selection = [AssetKeyPartitionKey(dg.AssetKey(["bmrs", ds.asset_name]), d.isoformat())
                 for ds in REGISTRY.values() for d in days]
    with dg.DagsterInstance.ephemeral() as instance:
        requests = build_run_requests_with_backfill_policies(selection, graph, instance)
    runs: dict[str, list[tuple[date, date]]] = defaultdict(list)
    for request in requests:
        span = (date.fromisoformat(request.tags[RANGE_START]), date.fromisoformat(request.tags[RANGE_END]))
        for key in request.asset_selection:
            runs[key.path[-1].upper()].append(span)
    return runs, len(requests)


def test_the_history_of_every_dataset_is_bounded_runs_sized_by_its_volume(monkeypatch):
    runs, total = planned_runs(monkeypatch)
    n_days = (TODAY - date(2022, 1, 1)).days + 1
    assert set(runs) == set(REGISTRY)
    for code, spans in runs.items():
        size = REGISTRY[code].days_per_run
        assert len(spans) == math.ceil(n_days / size), code
        assert all((last - first).days + 1 <= size for first, last in sorted(spans)), code
        covered = sorted(d for first, last in spans for d in range((first - date(2022, 1, 1)).days,
                                                                    (last - date(2022, 1, 1)).days + 1))
        assert covered == list(range(n_days)), f"{code}: every day once, no overlap"
    print({code: len(spans) for code, spans in sorted(runs.items())})
    assert len(runs["BOD"]) == math.ceil(n_days / 7) and len(runs["COSTS"]) == math.ceil(n_days / 92)
    # not one run per partition (30,000 runs) nor one unbounded run: a few hundred runs of bounded size
    print(f"{total} runs")
    assert total < 500


def test_the_run_size_cap_applies_to_every_dataset(monkeypatch):
    runs, _ = planned_runs(monkeypatch, cap=5)
    n_days = (TODAY - date(2022, 1, 1)).days + 1
    assert {code: len(spans) for code, spans in runs.items()} == {code: math.ceil(n_days / 5) for code in REGISTRY}
