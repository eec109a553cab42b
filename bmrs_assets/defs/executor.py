"""The runs' executor: steps in forked processes for a range, in the run's own process for one day.

A run of a range (a backfill's runs, ``run --from --to``) executes each step in its own process,
as Dagster's default does, but forked from a forkserver that imported the code location once per
run instead of a new interpreter per step (measured on a 2-asset, 10-step run: 21 s and 31 CPU-s
with the default against 10 s and 12 CPU-s). A run of one partition - every 15-minute automation
run, ``dagster asset materialize --partition`` - executes its steps in the run worker itself: its
steps are small, and forking a step process per step (a dataset's asset and its four checks: five)
cost it more than the steps themselves (one COSTS day through ``dagster asset materialize``: see
``docs/performance.md``). A run whose config asks for ``in_process`` (the IRIS runs) gets it
whatever its partitions; ``multiprocess`` options (``max_concurrent``, retries) apply to a range's runs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import dagster as dg
from dagster._core.definitions.executor_definition import (
    IN_PROC_CONFIG,
    MULTI_PROC_CONFIG,
    _core_in_process_executor_creation,
    _core_multiprocess_executor_creation,
    multiple_process_executor_requirements,
)
from dagster._core.execution.retries import RetryMode
from dagster._core.execution.step_dependency_config import StepDependencyConfig
from dagster._core.executor.base import Executor
from dagster._core.storage.tags import PARTITION_NAME_TAG

FORKSERVER = {"forkserver": {"preload_modules": ["bmrs_assets.definitions"]}}


def one_partition(tags: Mapping[str, str]) -> bool:
    """Whether a run's tags say it targets one partition (Dagster tags a range run's bounds instead)."""
    return PARTITION_NAME_TAG in tags


class PartitionSizedExecutor(Executor):
    """``single`` for a run of one partition, ``multi`` for any other."""

    def __init__(self, multi: Executor, single: Executor) -> None:
        self._multi, self._single = multi, single

    def execute(self, plan_context: object, execution_plan: object) -> Iterator[dg.DagsterEvent]:
        run = plan_context.dagster_run  # type: ignore[attr-defined]
        chosen = self._single if one_partition(run.tags) else self._multi
        return chosen.execute(plan_context, execution_plan)

    @property
    def retries(self) -> RetryMode:
        return self._multi.retries

    @property
    def step_dependency_config(self) -> StepDependencyConfig:
        return self._multi.step_dependency_config


@dg.executor(
    name="bmrs_steps",
    config_schema=dg.Field(dg.Selector({"multiprocess": MULTI_PROC_CONFIG, "in_process": IN_PROC_CONFIG}),
                           default_value={"multiprocess": {}}),
    requirements=lambda config: multiple_process_executor_requirements() if "multiprocess" in config else [],
)
def step_executor(init_context: dg.InitExecutorContext) -> Executor:
    """In-process if the run config asks for it (the IRIS runs); else sized by the run's partitions."""
    config = init_context.executor_config
    if "in_process" in config:
        return _core_in_process_executor_creation(config["in_process"] or {})
    multi_config = {**(config.get("multiprocess") or {}), "start_method": FORKSERVER}
    single_config = {"retries": multi_config.get("retries") or {"enabled": {}},
                     "step_dependency_config": multi_config.get("step_dependency_config")}
    return PartitionSizedExecutor(_core_multiprocess_executor_creation(multi_config),
                                  _core_in_process_executor_creation(single_config))
