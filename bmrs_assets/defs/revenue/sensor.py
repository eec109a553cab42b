"""The sensor that keeps the revenue assets in step with their sources.

When a source partition of the revenue (BOALF, BOD, PN, EBOCF, COSTS or BM_UNITS) is materialized
(first time or again), the derived partitions it changes are requested: all four revenue tables of
that settlement day for BOALF/BOD/PN, all but ``boalf_with_prices`` for EBOCF, ``bm_unit_revenue``
and ``vlp_revenue`` for system prices (COSTS) or a BM unit reference snapshot. A BOALF day also feeds the next day's
``boalf_with_prices`` (acceptances running past midnight), so that day is requested too, once the
rest of its inputs are there (the gate below): re-computed if it was computed before, and computed
at last if it was held back waiting for this day. One run per settlement day, however many sources
changed. Which sources, which assets and which days all come
from the tables' declared ``reads`` (:data:`DOWNSTREAM`, from ``revenue.lineage.reruns``).

A derived day is requested only when every partition its run reads (``lineage.inputs``: e.g. BOALF
D-1 and D, BOD D, PN D; a derived input not recomputed in the same run; not an optional read) exists
and the latest evaluation of each of its blocking checks did not fail with ERROR severity
(``defs/quality.blocking_checks``; a WARN is a day still in progress, which Dagster's blocking lets through too).
Blocking only holds inside one run, so this is what stops a failed source day feeding the revenue.
A day held back this way is requested when the input is materialized again and passes (that
materialization is a new event, also for the day after it). While an input's blocking check is still to be evaluated (its
run is going), the cursor stays before the triggering event and the day is planned again.

It is a plain sensor over the instance's event log with the last processed event id as cursor:
every materialization event is seen, including the many partitions one range run writes, and a
derived partition already materialized after the source event (e.g. in the same run) is not
requested again. A declarative ``AutomationCondition`` was not used: ``all_deps_match`` (and so
``all_deps_blocking_checks_passed``) is true for a day when *any* of the partitions a dep maps to
matches (BOALF D-1 passing lets D through with BOALF D failed), ``check_failed`` counts WARN
failures, and "the next day, once its other inputs are there" is not a dependency condition.
"""


from collections import defaultdict
from datetime import timedelta
from typing import NamedTuple

import dagster as dg

from bmrs_assets.core.settlement import parse_day
from bmrs_assets.defs.quality import blocking_checks, latest_materialization, latest_materialization_record
from bmrs_assets.defs.revenue.lineage import DERIVED_KEYS, asset_key
from bmrs_assets.revenue import lineage
from bmrs_assets.settings import start_date


class Target(NamedTuple):
    """A derived partition to consider after day D of a source was materialized (``lineage.Rerun`` as a key)."""

    shift: int  # the derived day is D + shift
    asset: dg.AssetKey


def _targets(source: str) -> tuple[Target, ...]:
    return tuple(Target(r.shift, asset_key(r.table)) for r in lineage.reruns(source))


# source asset -> what its materialized day D re-runs
DOWNSTREAM: dict[dg.AssetKey, tuple[Target, ...]] = {asset_key(name): _targets(name) for name in lineage.sources()}
SENSOR_NAME = "revenue_on_source_materialization"
_SOURCES = " or ".join([", ".join(n.upper() for n in lineage.sources()[:-1]), lineage.sources()[-1].upper()])
BATCH = 1000


def _latest_storage_id(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str) -> int | None:
    record = latest_materialization_record(instance, key, partition)
    return record.storage_id if record else None


def inputs_state(instance: dg.DagsterInstance, partition: str, assets: list[dg.AssetKey]) -> str:
    """``ready``: every input partition of ``assets`` for ``partition`` exists and none of its blocking checks
    failed (ERROR); ``waiting``: one is missing or failed; ``pending``: a blocking check is still to run."""
    pending = False
    for name, day in lineage.inputs([k.path[-1] for k in assets], parse_day(partition)):
        if day < start_date():
            continue  # not a partition: the asset reads what there is
        key, pk = asset_key(name), day.isoformat()
        if latest_materialization(instance, key, pk) is None:
            return "waiting"
        checks = blocking_checks(instance, key, pk)
        if checks.failed:
            return "waiting"
        pending = pending or bool(checks.pending)
    return "pending" if pending else "ready"


def plan_requests(instance: dg.DagsterInstance, after_storage_id: int) -> tuple[list[dg.RunRequest], int]:
    """The run requests for source materializations after ``after_storage_id``, and the new cursor."""
    records, horizon = [], None
    for key in DOWNSTREAM:
        result = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key, after_storage_id=after_storage_id),
                                                 limit=BATCH, ascending=True)
        records += [(r, key) for r in result.records]
        if result.has_more and result.records:  # process up to where every source is complete
            last = result.records[-1].storage_id
            horizon = last if horizon is None else min(horizon, last)
    if horizon is not None:
        records = [(r, k) for r, k in records if r.storage_id <= horizon]
    cursor = max([after_storage_id, *(r.storage_id for r, _ in records)])

    wanted: dict[str, dict[dg.AssetKey, int]] = defaultdict(dict)  # day -> derived asset -> triggering event id
    for record, key in records:
        if record.partition_key is None:
            continue
        day = parse_day(record.partition_key)
        for target in DOWNSTREAM[key]:
            # e.g. the next day, which reads this day's acceptances running past midnight: the gate below
            # leaves it alone while its own sources are not there yet
            slot = wanted[(day + timedelta(days=target.shift)).isoformat()]
            slot[target.asset] = max(slot.get(target.asset, 0), record.storage_id)

    requests = []
    for partition, assets in sorted(wanted.items()):
        stale = [k for k in DERIVED_KEYS if k in assets
                 and (_latest_storage_id(instance, k, partition) or 0) < assets[k]]
        if not stale:
            continue  # already recomputed after the source changed (e.g. in the same run)
        state = inputs_state(instance, partition, stale)
        if state == "pending":  # plan this day again once the checks have run
            cursor = min(cursor, min(assets[k] for k in stale) - 1)
        if state != "ready":
            continue
        trigger = max(assets[k] for k in stale)
        requests.append(dg.RunRequest(
            run_key=f"revenue:{partition}:{trigger}", partition_key=partition, asset_selection=stale,
            tags={"bmrs/trigger": "source materialization", "bmrs/trigger_event": str(trigger)}))
    return requests, cursor


def build_revenue_sensor() -> dg.SensorDefinition:
    @dg.sensor(name=SENSOR_NAME, target=dg.AssetSelection.assets(*DERIVED_KEYS), minimum_interval_seconds=60,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Requests the revenue assets' partitions for each settlement day whose "
                           f"{_SOURCES} partition was materialized.")
    def revenue_on_source_materialization(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        requests, cursor = plan_requests(context.instance, int(context.cursor or 0))
        skip = None if requests else dg.SkipReason("no new source materializations needing a revenue run")
        return dg.SensorResult(run_requests=requests, cursor=str(cursor), skip_reason=skip)

    return revenue_on_source_materialization
