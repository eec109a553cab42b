"""Partitioned asset checks recorded per partition, also on a run over a range of partitions.

Dagster 1.13 plans a partitioned check once per partition of its run: the
``ASSET_CHECK_EVALUATION_PLANNED`` event carries the run's partition subset, stored as one PLANNED
row per partition key. An ``AssetCheckResult`` is recorded with a partition only when the step has
a single partition key (``AssetCheckResult.to_asset_check_evaluation``); on a range run it is
stored as one more row without a partition, which completes none of the planned ones, and the UI
(GraphQL ``partitionStatuses``, ``assetCheckExecutions(partition:)``) shows every day of the range
SKIPPED once the run ends.

So a check here judges each partition on its own and :func:`evaluations` yields one
``AssetCheckEvaluation`` per partition key - that day's verdict, severity, description and
metadata, targeting that partition's latest materialization (what ``partitionStatuses`` compares
with: an evaluation of an older one is not current) - then the check's output. A failed ERROR
evaluation of a blocking check still fails the step, as a failed ``AssetCheckResult`` does.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)

CheckEvent = dg.AssetCheckEvaluation | dg.Output  # what a check built on :func:`evaluations` yields
Targets = Mapping[str, AssetCheckEvaluationTargetMaterializationData]


def latest_materializations(instance: dg.DagsterInstance, key: dg.AssetKey, partitions: list[str]) -> Targets:
    """Partition key -> its latest materialization (run, storage id, time), for the keys that have one;
    two queries whatever the number of partitions."""
    ids = instance.event_log_storage.get_latest_storage_id_by_partition(
        key, dg.DagsterEventType.ASSET_MATERIALIZATION, set(partitions))
    if not ids:
        return {}
    records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key, storage_ids=list(ids.values())),
                                              limit=len(ids)).records
    return {r.partition_key: AssetCheckEvaluationTargetMaterializationData(
                run_id=r.run_id, storage_id=r.storage_id, timestamp=r.timestamp)
            for r in records if r.partition_key is not None}


def evaluations(context: dg.AssetCheckExecutionContext,
                results: Mapping[str, dg.AssetCheckResult]) -> Iterator[CheckEvent]:
    """One evaluation per partition key of ``results`` (each key's own result), then the check's output.

    ``results`` must hold every partition key of the run (``context.partition_keys``): a key left
    out would stay PLANNED and show SKIPPED, so it is refused."""
    missing = set(context.partition_keys) - set(results)
    if missing:
        raise ValueError(f"no check result for partition(s) {', '.join(sorted(missing))}")
    (spec,) = context.check_specs
    targets = latest_materializations(context.instance, spec.asset_key, sorted(results))
    for partition, result in sorted(results.items()):
        yield dg.AssetCheckEvaluation(
            asset_key=spec.asset_key, check_name=spec.name, passed=result.passed, metadata=result.metadata,
            target_materialization_data=targets.get(partition), severity=result.severity,
            description=result.description, blocking=spec.blocking, partition=partition)
    (output,) = context.op_def.output_defs
    yield dg.Output(None, output_name=output.name)
