"""The runs' executor: one partition in the run worker, a range in forked step processes."""

from __future__ import annotations

from types import SimpleNamespace

from dagster._core.execution.retries import RetryMode
from dagster._core.executor.base import Executor

from bmrs_assets.defs.executor import PartitionSizedExecutor, one_partition


class Recording(Executor):
    def __init__(self, name: str, calls: list[str]) -> None:
        self.name, self.calls = name, calls

    def execute(self, plan_context, execution_plan):
        self.calls.append(self.name)
        return iter(())

    @property
    def retries(self) -> RetryMode:
        return RetryMode.DISABLED


def run_with(tags: dict[str, str]) -> str:
    calls: list[str] = []
    sized = PartitionSizedExecutor(Recording("multiprocess", calls), Recording("in_process", calls))
    list(sized.execute(SimpleNamespace(dagster_run=SimpleNamespace(tags=tags)), object()))
    return calls[0]


def test_a_run_of_one_partition_executes_in_the_run_worker():
    assert run_with({"dagster/partition": "2025-12-17"}) == "in_process"
    assert one_partition({"dagster/partition": "2025-12-17", "dagster/backfill": "abc"})


def test_a_range_or_an_unpartitioned_run_forks_its_steps():
    assert run_with({"dagster/asset_partition_range_start": "2025-12-01",
                     "dagster/asset_partition_range_end": "2025-12-17"}) == "multiprocess"
    assert run_with({}) == "multiprocess"


def test_the_code_location_runs_with_it():
    from bmrs_assets.definitions import defs

    assert defs.resolve_implicit_global_asset_job_def().executor_def.name == "bmrs_steps"
