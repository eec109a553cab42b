"""The bounded-retry automation condition and the failures it reads from the Dagster instance.

:class:`RetryDue` is true for a failed partition whose next retry is due by ``quality/retries.py``'s
schedule (15 min, 1 h, 4 h, then daily after the last failure, at most ``BMRS_RETRY_MAX_ATTEMPTS``
times); the heal condition uses it instead of re-requesting every failed day at every tick.
Failures are read from Dagster's own records: the runs that planned the partition
(``ASSET_MATERIALIZATION_PLANNED``, which names each partition of a range run too) since its last
materialization and ended failed or canceled; so the count survives restarts and needs no state of
its own. (Dagster 1.13 writes no ``ASSET_FAILED_TO_MATERIALIZE`` event when a step fails.)
"""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from bmrs_assets.quality.retries import RetryState, max_retries

FAILED_RUNS = frozenset({dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED})


def _first_error_line(instance: dg.DagsterInstance, run_id: str, partition: str) -> str:
    """The run's error for the alert: the line of its step failure naming the partition (a range
    run's failure lists each failed day), else its first line, else the run failure's."""
    for kind in (dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE):
        for entry in instance.all_logs(run_id, of_type=kind):
            event = entry.dagster_event
            error = getattr(event.event_specific_data, "error", None) if event else None
            text = (error.message if error is not None else "") or (event.message if event else "") or ""
            lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
            if lines:
                return next((line for line in lines if f"partition {partition}" in line), lines[0])
    return "no error recorded"


def retry_state(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str, retries: int | None = None) -> RetryState:
    """Consecutive failed runs of ``partition`` since its last materialization (counted up to ``retries`` + 2)."""
    retries = max_retries() if retries is None else retries
    done = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1)
    after = done.records[0].timestamp if done.records else None
    planned = instance.get_event_records(
        dg.EventRecordsFilter(dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED, asset_key=key,
                              asset_partitions=[partition], after_timestamp=after),
        limit=retries + 2, ascending=False)
    failed = []
    for record in planned:  # newest first
        run = instance.get_run_by_id(record.run_id)
        if run is not None and run.status in FAILED_RUNS:
            failed.append(record)
    if not failed:
        return RetryState(0)
    last = failed[0]
    return RetryState(len(failed), datetime.fromtimestamp(last.timestamp, UTC),
                      _first_error_line(instance, last.run_id, partition))


class RetryDue(dg.AutomationCondition):
    """True for the candidate partitions whose next retry is due (see the module docstring)."""

    def __repr__(self) -> str:  # stable: the definitions snapshot records it
        return "RetryDue()"

    @property
    def name(self) -> str:
        return "retry_due"

    @property
    def description(self) -> str:
        return "the next retry of a failed partition is due (15 min, 1 h, 4 h, then daily; bounded)"

    def evaluate(self, context: dg.AutomationContext) -> dg.AutomationResult:
        retries = max_retries()
        now = context.evaluation_time
        instance = context.asset_graph_view.instance
        due = {pk for pk in context.candidate_subset.expensively_compute_partition_keys()
               if retry_state(instance, context.key, pk, retries).due(now, retries)}
        subset = context.asset_graph_view.get_subset_from_partition_keys(context.key, context.partitions_def, due)
        return dg.AutomationResult(context, subset)
