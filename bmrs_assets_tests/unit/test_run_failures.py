"""The Dagster-free rules of run-failure alerts: partitions, error line, matching, cursor."""

from __future__ import annotations

from bmrs_assets.monitoring.run_failures import (
    RunFacts,
    error_first_line,
    load_cursor,
    partitions_from_tags,
    run_tick,
)


def test_partitions_and_error_line():
    assert partitions_from_tags({"dagster/partition": "2025-12-09"}) == ("2025-12-09", "2025-12-09")
    assert partitions_from_tags({"dagster/asset_partition_range_start": "2025-12-01",
                                 "dagster/asset_partition_range_end": "2025-12-09"}) == ("2025-12-01", "2025-12-09")
    assert partitions_from_tags({}) is None
    assert error_first_line("Failure", "dagster._core.definitions.events.Failure: COSTS: 1 day\nmore") == \
        "Failure: COSTS: 1 day"


def test_iris_range_failure_resolved_by_a_covering_success_only():
    fail = RunFacts("a" * 36, "__ASSET_JOB", "FAILURE", 1.0, ("bmrs/boalf",), ("2025-12-08", "2025-12-09"),
                    ("bmrs__boalf",), "ValueError: bad", "iris")
    logged: list[str] = []
    first = run_tick(None, [fail], lambda lvl, t: logged.append(t), None)
    assert logged == [":red_circle: [BMRS FAIL] run failure: bmrs/boalf 2025-12-08...2025-12-09 failed in step "
                      "bmrs__boalf: ValueError: bad (job __ASSET_JOB, source iris, run aaaaaaaa)"]
    partial = RunFacts("b" * 36, "__ASSET_JOB", "SUCCESS", 2.0, ("bmrs/boalf",), ("2025-12-09", "2025-12-09"))
    second = run_tick(first.cursor, [partial], lambda lvl, t: logged.append(t), None)
    assert len(logged) == 1 and len(load_cursor(second.cursor).open) == 1
    covering = RunFacts("c" * 36, "__ASSET_JOB", "SUCCESS", 3.0, ("bmrs/boalf",), ("2025-12-01", "2025-12-31"))
    third = run_tick(second.cursor, [covering], lambda lvl, t: logged.append(t), None)
    assert logged[1].startswith(":white_check_mark: [BMRS RESOLVED] run failure resolved: bmrs/boalf "
                                "2025-12-08...2025-12-09 succeeded in run cccccccc (failed run aaaaaaaa")
    assert load_cursor(third.cursor).open == [] and load_cursor(third.cursor).after == 3.0
