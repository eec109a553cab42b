"""From the IRIS landing store to the warehouse: the sensor that requests runs, and how a run is recognised.

Landed rows reach the same ``bmrs_<dataset>`` tables as API rows through the same asset, IO manager
and MERGE on the same natural key; only the source of the frames differs. A run tagged
``bmrs/source=iris`` makes each dataset asset read its partition days' landed rows from the
landing store (``iris/landed_source.py``) instead of calling the API. Right after the MERGE
commits, the messages read are marked merged in the landing store.

The sensor ``bmrs_iris_landed`` (every 30 s, a few milliseconds of SQLite reads) groups landed but
unmerged rows by partition day and requests one run per day for the datasets that have some, at
most ``BMRS_IRIS_MAX_RUNS_PER_TICK`` runs a tick. A day whose IRIS run is still queued or running is
left until it finishes; a day still unmerged after its run (a failure, or a crash between the
MERGE and the marking: the MERGE is idempotent, so merging again is safe) is retried with backoff.
Days after today (PN/BOD are submitted ahead) wait until their partition exists; days before
``BMRS_START_DATE`` are kept and reported, never merged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg

from bmrs_assets.core.settlement import london_today
from bmrs_assets.defs.quality import BLOCKING_CHECKS
from bmrs_assets.elexon.datasets import REGISTRY, IrisMode
from bmrs_assets.iris.landing import LandingStore, PendingPartition
from bmrs_assets.settings import setting, start_date, value

SOURCE_TAG = "bmrs/source"
DAY_TAG = "bmrs/iris_day"
IRIS = "iris"
IN_FLIGHT = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
             dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
# IRIS runs are small: one process, steps in sequence (no process per step).
IN_PROCESS = {"execution": {"config": {"in_process": {}}}}


def landing_store() -> LandingStore:
    return LandingStore(Path(setting("BMRS_IRIS_LANDING_PATH")))


def is_iris_run(tags: dict[str, str]) -> bool:
    return tags.get(SOURCE_TAG) == IRIS


# --- the sensor -----------------------------------------------------------------------------
@dataclass
class Plan:
    """What one sensor tick decided."""

    requests: list[dg.RunRequest] = field(default_factory=list)
    cursor: dict[str, list[float]] = field(default_factory=dict)
    waiting: list[str] = field(default_factory=list)  # (dataset day) pairs not requested this tick, and why

    def describe(self) -> str:
        asked = [f"{r.partition_key}: {', '.join(k.path[-1].upper() for k in r.asset_selection or [])}"
                 for r in self.requests]
        return "; ".join(asked + self.waiting) or "nothing landed to merge"


def retry_delay_s(attempt: int) -> float:
    """1, 2, 4 ... minutes, at most 30, between attempts at a day that stays unmerged."""
    return float(min(60 * 2 ** max(attempt - 1, 0), 1800))


def plan_runs(pending: list[PendingPartition], in_flight_days: set[str], cursor: dict[str, list[float]], now_s: float,
              first_day: date, today: date, max_runs: int) -> Plan:
    """One run per partition day with landed-unmerged rows of mergeable datasets; see the module docstring."""
    by_day: dict[date, list[PendingPartition]] = {}
    plan = Plan()
    for p in pending:
        ds = REGISTRY.get(p.dataset)
        if ds is None or ds.iris is not IrisMode.MERGE:
            continue
        if p.day < first_day:
            plan.waiting.append(f"{p.dataset} {p.day}: before BMRS_START_DATE, kept in the landing store only")
        elif p.day > today:
            plan.waiting.append(f"{p.dataset} {p.day}: partition does not exist yet")
        else:
            by_day.setdefault(p.day, []).append(p)
    for day in sorted(by_day):
        key = day.isoformat()
        parts = by_day[day]
        max_seq = max(p.max_seq for p in parts)
        seq, at, attempt = cursor.get(key, [0, 0.0, 0])
        if key in in_flight_days:
            plan.cursor[key] = [seq, at, attempt]
            plan.waiting.append(f"{key}: IRIS run in progress")
            continue
        if max_seq > seq:
            attempt = 1
        elif now_s - at >= retry_delay_s(int(attempt)):
            attempt += 1
        else:
            plan.cursor[key] = [seq, at, attempt]
            plan.waiting.append(f"{key}: unmerged after attempt {int(attempt)}, retrying after backoff")
            continue
        if len(plan.requests) >= max_runs:
            if key in cursor:
                plan.cursor[key] = cursor[key]
            plan.waiting.append(f"{key}: next tick (at most {max_runs} runs a tick)")
            continue
        plan.cursor[key] = [max_seq, now_s, attempt]
        codes = sorted(p.dataset for p in parts)
        keys = [dg.AssetKey(["bmrs", REGISTRY[c].asset_name]) for c in codes]
        plan.requests.append(dg.RunRequest(
            asset_selection=keys, partition_key=key, tags={SOURCE_TAG: IRIS, DAY_TAG: key}, run_config=IN_PROCESS,
            # the partition's own checks; the 14-day gap check keeps its hourly schedule
            asset_check_keys=[dg.AssetCheckKey(k, name) for k in keys for name in BLOCKING_CHECKS]))
    return plan


def in_flight_iris_days(instance: dg.DagsterInstance) -> set[str]:
    runs = instance.get_runs(filters=dg.RunsFilter(tags={SOURCE_TAG: IRIS}, statuses=IN_FLIGHT), limit=500)
    return {r.tags[DAY_TAG] for r in runs if DAY_TAG in r.tags}


def evaluate_tick(instance: dg.DagsterInstance, cursor: str | None, store: LandingStore | None = None,
                  now: datetime | None = None) -> tuple[Plan, dict[str, object]]:
    store = store or landing_store()
    now = now or datetime.now(UTC)
    plan = plan_runs(store.pending_partitions(), in_flight_iris_days(instance), json.loads(cursor) if cursor else {},
                     now.timestamp(), start_date(), london_today(now),
                     value("BMRS_IRIS_MAX_RUNS_PER_TICK"))
    return plan, store.summary()


def iris_sensor() -> dg.SensorDefinition:
    """Landed IRIS messages -> runs of the affected partitions (``BMRS_IRIS_SENSOR=off`` to start it stopped)."""
    running = value("BMRS_IRIS_SENSOR")

    @dg.sensor(name="bmrs_iris_landed", minimum_interval_seconds=30, target=dg.AssetSelection.groups("elexon"),
               default_status=dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED,
               description="Requests runs (tag bmrs/source=iris) that MERGE landed IRIS messages into the tables.")
    def bmrs_iris_landed(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        store = landing_store()
        if not store.exists():
            return dg.SkipReason(f"no IRIS landing store at {store.path} (is `python -m bmrs_assets iris` running?)")
        plan, summary = evaluate_tick(context.instance, context.cursor, store)
        unknown = summary.get("unknown_datasets") or {}
        if unknown:
            context.log.warning(f"IRIS messages of datasets the registry does not know, kept in the landing store: {unknown}")
        context.log.info(f"IRIS landing store: {summary}; this tick: {plan.describe()}")
        if not plan.requests:
            return dg.SensorResult(skip_reason=dg.SkipReason(
                f"{plan.describe()}; unknown-dataset messages landed: {sum(unknown.values())}; "
                f"dead letters: {summary.get('dead_letters', 0)}"), cursor=json.dumps(plan.cursor))
        return dg.SensorResult(run_requests=plan.requests, cursor=json.dumps(plan.cursor))

    return bmrs_iris_landed
