"""``python -m bmrs_assets backfill``: a real Dagster asset backfill of registry datasets, or its plan.

The backfill is submitted the way the UI's backfill dialog does it (GraphQL ``launchPartitionBackfill``
for an asset selection: ``PartitionBackfill.from_asset_partitions`` over the code location's asset
graph, then ``instance.add_backfill``), to the instance of ``DAGSTER_HOME``. Nothing runs here: the
Dagster daemon's backfill loop picks it up and launches runs of each asset's ``BackfillPolicy``
(``Dataset.days_per_run`` days, capped by ``BMRS_BACKFILL_MAX_DAYS_PER_RUN``), which wait in the run
queue and for the ``elexon_api`` pool; the UI shows the backfill at ``BMRS_UI_URL/runs/b/<id>``.

``--wait`` follows the backfill with Dagster's own accounting (the asset backfill data's materialized,
failed-and-downstream and requested subsets, as the daemon last updated them) until it ends. ``--plan``
prints what the backfill would cost (``bmrs_assets/elexon/plan.py``) from the instance's recent
materializations of each asset, and launches nothing. See docs/backfills.md.

The code location is built in this process (``bmrs_assets.definitions``) from the same environment
the daemon's code server reads: run the command with the daemon's ``BMRS_*`` settings, or the run
counts it prints are not the ones the daemon launches.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TextIO

import dagster as dg
from dagster._core.definitions.assets.graph.base_asset_graph import BaseAssetGraph
from dagster._core.definitions.utils import check_valid_title
from dagster._core.execution.asset_backfill import AssetBackfillStatus, PartitionedAssetBackfillStatus
from dagster._core.execution.backfill import BULK_ACTION_TERMINAL_STATUSES, BulkActionStatus, PartitionBackfill
from dagster._core.storage.tags import BACKFILL_ID_TAG
from dagster._core.utils import make_new_backfill_id
from dagster._time import get_current_timestamp

from bmrs_assets.core.settlement import days_between, parse_day
from bmrs_assets.defs.elexon.assets import RANGE_END, RANGE_START
from bmrs_assets.elexon.dataset import MAX_DAYS_PER_RUN, Dataset
from bmrs_assets.elexon.datasets import REGISTRY, get_dataset
from bmrs_assets.elexon.plan import (
    History,
    Limits,
    RunSample,
    format_duration,
    plan_dataset,
    render,
    runs_needed,
    shared_runs,
)
from bmrs_assets.settings import value

HISTORY_RUNS = 5  # recent runs of an asset whose metadata the plan measures
SUCCESS = (BulkActionStatus.COMPLETED_SUCCESS, BulkActionStatus.COMPLETED)
METADATA = ("rows_fetched", "api_requests", "api_bytes", "fetch_seconds", "seconds")


class BackfillError(ValueError):
    """A selection the command refuses: an unknown dataset, or days outside the partitions."""


# --- selection ---------------------------------------------------------------------------------
def select_datasets(names: Sequence[str] | None) -> list[Dataset]:
    """The registry entries named (case-insensitive, in order, once each); none or ``all``: every entry."""
    if not names or any(n.lower() == "all" for n in names):
        return list(REGISTRY.values())
    chosen: dict[str, Dataset] = {}
    for name in names:
        try:
            ds = get_dataset(name)
        except KeyError as exc:
            raise BackfillError(exc.args[0]) from None
        chosen[ds.code] = ds
    return list(chosen.values())


def asset_key(ds: Dataset) -> dg.AssetKey:
    return dg.AssetKey(["bmrs", ds.asset_name])


def partition_days(first: date, last: date, partitions: dg.PartitionsDefinition) -> list[date]:
    """Every day ``first``...``last``; a :class:`BackfillError` when the range is empty or leaves the
    partitions (before ``BMRS_START_DATE``, or after today in Europe/London)."""
    if first > last:
        raise BackfillError(f"--from {first} is after --to {last}")
    lowest = parse_day(partitions.get_first_partition_key())
    highest = parse_day(partitions.get_last_partition_key())
    if first < lowest:
        raise BackfillError(f"--from {first} is before the first partition, {lowest} (BMRS_START_DATE)")
    if last > highest:
        raise BackfillError(f"--to {last} is after the last partition, {highest} (today in Europe/London)")
    return days_between(first, last)


def asset_graph() -> BaseAssetGraph:
    """The code location's asset graph, built now from this process's environment (as the daemon's
    code server builds it from its own)."""
    from bmrs_assets.definitions import build_all_definitions

    return build_all_definitions().resolve_asset_graph()


def run_size(graph: BaseAssetGraph, key: dg.AssetKey, days: int) -> int:
    """Partition days per run of ``key`` in a backfill of ``days`` days, from its ``BackfillPolicy``
    (single run: all of them; none: one run per partition)."""
    policy = graph.get(key).backfill_policy
    if policy is None:
        return 1
    return policy.max_partitions_per_run or max(1, days)


# --- launch ------------------------------------------------------------------------------------
def submit(instance: dg.DagsterInstance, graph: BaseAssetGraph, keys: Sequence[dg.AssetKey], days: Sequence[date],
           title: str, description: str) -> str:
    """Add an asset backfill of ``days`` of ``keys`` to ``instance`` (status REQUESTED, for the
    daemon), exactly as GraphQL ``launchPartitionBackfill`` builds one for an asset selection; its id."""
    backfill_id = make_new_backfill_id()
    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id=backfill_id, asset_graph=graph, partition_names=[d.isoformat() for d in days],
        asset_selection=list(keys), backfill_timestamp=get_current_timestamp(), tags={},
        dynamic_partitions_store=instance, all_partitions=False, title=check_valid_title(title[:100]),
        description=description, run_config=None)
    instance.add_backfill(backfill)
    return backfill_id


def backfill_url(backfill_id: str) -> str:
    """The backfill's page in the Dagster UI (``BMRS_UI_URL`` + ``/runs/b/<id>``)."""
    return f"{value('BMRS_UI_URL').rstrip('/')}/runs/b/{backfill_id}"


def daemon_warning(instance: dg.DagsterInstance) -> str | None:
    """A warning when no backfill daemon has a recent heartbeat (nothing would pick the backfill up)."""
    try:
        status = instance.get_daemon_statuses(["BACKFILL"])["BACKFILL"]
    except Exception:  # a storage that keeps no heartbeats: nothing to say
        return None
    if status.healthy:
        return None
    return ("warning: no dagster-daemon is running for this instance (no recent BACKFILL heartbeat); the backfill "
            "waits until one starts (`make ui`, or `dagster-daemon run -w workspace.yaml`)")


# --- progress ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Progress:
    """A backfill's state as Dagster accounts it: asset partitions targeted, materialized, failed
    (failed or downstream of a failure) and requested but not yet finished, as of the daemon's last
    iteration; ``failed_keys`` maps each asset to its failed partition keys."""

    status: BulkActionStatus
    total: int
    done: int
    failed: int
    in_progress: int
    failed_keys: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None

    @property
    def remaining(self) -> int:
        return max(0, self.total - self.done - self.failed)

    @property
    def finished(self) -> bool:
        return self.status in BULK_ACTION_TERMINAL_STATUSES

    @property
    def succeeded(self) -> bool:
        return self.status in SUCCESS and self.failed == 0 and self.remaining == 0

    def counts(self) -> tuple[object, ...]:
        """What a change of is worth a new line (off a terminal)."""
        return self.status, self.done, self.failed, self.in_progress


def read_progress(instance: dg.DagsterInstance, backfill_id: str, graph: BaseAssetGraph) -> Progress:
    """The backfill's :class:`Progress` from its asset backfill data (what the UI's backfill page shows)."""
    backfill = instance.get_backfill(backfill_id)
    if backfill is None:
        raise BackfillError(f"no backfill {backfill_id!r} in this instance")
    data = backfill.get_asset_backfill_data(graph)
    total = done = failed = in_progress = 0
    for status in data.get_backfill_status_per_asset_key(graph):
        if isinstance(status, PartitionedAssetBackfillStatus):
            counts = status.partitions_counts_by_status
            total += status.num_targeted_partitions
            done += counts.get(AssetBackfillStatus.MATERIALIZED, 0)
            failed += counts.get(AssetBackfillStatus.FAILED, 0)
            in_progress += counts.get(AssetBackfillStatus.IN_PROGRESS, 0)
    failed_keys: dict[str, list[str]] = {}
    for key in data.failed_and_downstream_subset.partitions_subsets_by_asset_key:
        keys = set(data.failed_and_downstream_subset.get_partitions_subset(key).get_partition_keys())
        if key in data.materialized_subset.partitions_subsets_by_asset_key:
            keys -= set(data.materialized_subset.get_partitions_subset(key).get_partition_keys())
        if keys:
            failed_keys[key.to_user_string()] = sorted(keys)
    error = backfill.error.message.strip() if backfill.error else None
    return Progress(backfill.status, total, done, failed, in_progress, failed_keys, error)


def progress_line(p: Progress, elapsed_s: float, width: int = 30) -> str:
    """``[####......] 3/5 done, 0 failed, 2 remaining (2 running) | 1 m 05 s, ETA 43 s | REQUESTED``:
    the ETA is the elapsed time per finished partition times the partitions remaining."""
    filled = round(width * p.done / p.total) if p.total else width
    bad = min(width - filled, round(width * p.failed / p.total)) if p.total else 0
    bar = "#" * filled + "x" * bad + "." * (width - filled - bad)
    finished = p.done + p.failed
    eta = "ETA ?" if not finished else f"ETA {format_duration(elapsed_s / finished * p.remaining)}"
    if p.finished or not p.remaining:
        eta = "ETA -"
    return (f"[{bar}] {p.done}/{p.total} done, {p.failed} failed, {p.remaining} remaining "
            f"({p.in_progress} running) | {format_duration(elapsed_s)}, {eta} | {p.status.value}")


def failed_runs(instance: dg.DagsterInstance, backfill_id: str) -> list[str]:
    """One line per failed or canceled run of the backfill: id, partition range, first error line."""
    runs = instance.get_runs(filters=dg.RunsFilter(tags={BACKFILL_ID_TAG: backfill_id},
                                                   statuses=[dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]))
    lines = []
    for run in runs:
        days = f"{run.tags.get(RANGE_START, '?')}...{run.tags.get(RANGE_END, '?')}"
        messages = [event.dagster_event.step_failure_data.error.message.strip().splitlines()[0]
                    for event in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
                    if event.dagster_event and event.dagster_event.step_failure_data.error]
        lines.append(f"  run {run.run_id} ({days}) {run.status.value}" + (f": {messages[0]}" if messages else ""))
    return lines


def wait(instance: dg.DagsterInstance, backfill_id: str, graph: BaseAssetGraph, out: TextIO,
         poll_s: float = 2.0, timeout_s: float | None = None) -> int:
    """Follow the backfill until it ends: redraw one line with ``\\r`` on a terminal, else print a
    line per change. 0 when every partition was materialized and the backfill completed; 1 when a
    partition failed, the backfill failed or was canceled (or ``timeout_s`` passed first)."""
    started = instance.get_backfill(backfill_id).backfill_timestamp
    tty, last, shown = out.isatty(), None, ""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        p = read_progress(instance, backfill_id, graph)
        line = progress_line(p, get_current_timestamp() - started)
        if tty:
            out.write("\r" + line.ljust(len(shown)))
            shown = line
        elif p.counts() != last:
            out.write(line + "\n")
        out.flush()
        last = p.counts()
        if p.finished or (deadline is not None and time.monotonic() > deadline):
            break
        time.sleep(poll_s)
    if tty:
        out.write("\n")
    return report_end(instance, backfill_id, p, out)


def report_end(instance: dg.DagsterInstance, backfill_id: str, p: Progress, out: TextIO) -> int:
    """The outcome in words (failed partitions and runs named); the exit status of :func:`wait`."""
    if p.succeeded:
        out.write(f"backfill {backfill_id} succeeded: {p.done} of {p.total} partitions materialized\n")
        return 0
    what = p.status.value if p.finished else f"still {p.status.value} when the wait ended"
    out.write(f"backfill {backfill_id} {what}: {p.done} of {p.total} partitions materialized, "
              f"{p.failed} failed, {p.remaining} not materialized\n")
    for key, keys in sorted(p.failed_keys.items()):
        out.write(f"  failed {key}: {', '.join(keys)}\n")
    for line in failed_runs(instance, backfill_id):
        out.write(line + "\n")
    if p.error:
        out.write(f"  error: {p.error.splitlines()[0]}\n")
    return 1


# --- plan --------------------------------------------------------------------------------------
def _number(metadata: dict, name: str) -> float | None:
    entry = metadata.get(name)
    raw = getattr(entry, "value", entry)
    return float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None


def recent_history(instance: dg.DagsterInstance, key: dg.AssetKey, runs: int = HISTORY_RUNS) -> History | None:
    """The last ``runs`` API runs of ``key`` from the instance's materializations: one sample per run
    (a range run records the same run metadata on each partition; its partitions are counted). Runs
    without the metadata, or without API requests (IRIS runs), are left out; None: no such run."""
    result = instance.fetch_materializations(key, limit=runs * MAX_DAYS_PER_RUN + 1)
    groups: dict[str, tuple[dict, set[str]]] = {}
    for record in result.records:  # newest first; a run's events are contiguous
        mat = record.asset_materialization
        if mat is None:
            continue
        metadata, partitions = groups.setdefault(record.run_id, (dict(mat.metadata), set()))
        partitions.add(mat.partition or "")
    ordered = list(groups.items())
    if result.has_more and ordered:
        ordered.pop()  # the oldest run may be cut by the limit: its partition count is not known
    samples: list[RunSample] = []
    for _, (metadata, partitions) in ordered:
        figures = [_number(metadata, name) for name in METADATA]
        if any(f is None for f in figures) or not figures[1]:
            continue
        rows, requests, size, fetch_s, seconds = figures
        samples.append(RunSample(len(partitions), int(rows), int(requests), int(size), fetch_s, seconds))
        if len(samples) == runs:
            break
    return History(tuple(samples)) if samples else None


def plan(instance: dg.DagsterInstance, graph: BaseAssetGraph, datasets: Sequence[Dataset], days: Sequence[date],
         history_runs: int = HISTORY_RUNS) -> str:
    """The ``--plan`` text for ``datasets`` over ``days``: nothing is launched."""
    limits = Limits(value("BMRS_RATE_LIMIT_PER_S"), value("BMRS_API_IN_FLIGHT"))
    plans = [plan_dataset(ds, days, run_size(graph, asset_key(ds), len(days)),
                          recent_history(instance, asset_key(ds), history_runs), limits) for ds in datasets]
    return render(plans, days[0], days[-1], limits)


# --- the command -------------------------------------------------------------------------------
def launch_text(backfill_id: str, graph: BaseAssetGraph, datasets: Sequence[Dataset], days: Sequence[date]) -> str:
    """What ``backfill`` prints once the backfill is in the instance: its id, the runs per asset, the UI link."""
    sizes = {ds.code: run_size(graph, asset_key(ds), len(days)) for ds in datasets}
    lines = [f"backfill id: {backfill_id}",
             f"{len(days)} day(s) {days[0].isoformat()}...{days[-1].isoformat()} of {len(datasets)} dataset(s):"]
    for ds in datasets:
        n = sizes[ds.code]
        lines.append(f"  {asset_key(ds).to_user_string()}: {runs_needed(len(days), n)} run(s) of up to {n} day(s)")
    lines += [f"the daemon launches {shared_runs(len(days), sizes.values())} run(s) in all (datasets with the same "
              "days per run share runs); they wait in the run queue and for the elexon_api pool",
              f"UI: {backfill_url(backfill_id)}"]
    return "\n".join(lines)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """``python -m bmrs_assets backfill``: 0 launched (or planned, or, with ``--wait``, succeeded);
    1 the backfill did not succeed; 2 a refused selection; 130 the wait interrupted (the backfill goes on)."""
    out = out or sys.stdout
    try:
        datasets = select_datasets(args.dataset)
        graph = asset_graph()
        days = partition_days(parse_day(args.first), parse_day(args.last),
                              graph.get(asset_key(datasets[0])).partitions_def)
    except (BackfillError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    keys = [asset_key(ds) for ds in datasets]
    with dg.DagsterInstance.get() as instance:
        if args.plan:
            out.write(plan(instance, graph, datasets, days, args.history_runs) + "\n")
            return 0
        codes = ", ".join(ds.code for ds in datasets) if len(datasets) <= 5 else f"{len(datasets)} datasets"
        span = f"{days[0].isoformat()}...{days[-1].isoformat()}"
        backfill_id = submit(instance, graph, keys, days, f"bmrs backfill {codes} {span}",
                             f"python -m bmrs_assets backfill: {', '.join(ds.code for ds in datasets)}, {span}")
        out.write(launch_text(backfill_id, graph, datasets, days) + "\n")
        warning = daemon_warning(instance)
        if warning:
            print(warning, file=sys.stderr)
        out.flush()
        if not args.wait:
            return 0
        try:
            return wait(instance, backfill_id, graph, out, poll_s=args.poll)
        except KeyboardInterrupt:
            out.write(f"\nstopped waiting; the backfill goes on (cancel it in the UI): {backfill_url(backfill_id)}\n")
            return 130
