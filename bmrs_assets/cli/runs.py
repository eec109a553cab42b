"""Materialize partition ranges in-process and summarise what each dataset/day did.

Used by ``make demo`` (against the bundled simulator) and ``make run`` (against the live API).
Runs go through a real Dagster instance (``DAGSTER_HOME``), so ``make ui`` shows them afterwards.
Each run is tagged with its process (``cli/reaping.py``): before it starts, runs of the instance
whose process died are marked failed and their pool slots freed, so a killed run cannot block the
``elexon_api`` pool for the next one; while it waits for the pool it sleeps and obeys SIGTERM
(``cli/slot_wait.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import dagster as dg

from bmrs_assets.cli import slot_wait
from bmrs_assets.cli.reaping import reap_dead_runs, worker_tags
from bmrs_assets.core.memory import freeze_loaded_objects
from bmrs_assets.defs.elexon.assets import FULL_REFRESH_TAG, RANGE_END, RANGE_START


@dataclass
class DayLine:
    dataset: str
    day: str
    rows: int
    inserted: int
    updated: int
    unchanged: int
    stale: int = 0  # skipped: older than the stored revision
    deleted: int = 0  # withdrawn by the source (current-state tables)


def asset_job(selection: list[str] | None = None) -> dg.JobDefinition:
    """The job over the selected assets (all of them, revenue assets included, by default).

    Loading the code location: what a Dagster run worker does once, before its run starts.
    """
    from bmrs_assets.definitions import build_all_definitions  # reads the environment at call time

    job = build_all_definitions().resolve_implicit_global_asset_job_def()
    if selection:
        job = job.get_subset(asset_selection={dg.AssetKey(["bmrs", s.lower()]) for s in selection})
    freeze_loaded_objects()  # as definitions.py does: later GC passes skip what loading left
    return job


def materialize_range(first: date, last: date, selection: list[str] | None = None,
                      instance: dg.DagsterInstance | None = None, log_level: str = "WARNING",
                      job: dg.JobDefinition | None = None,
                      full_refresh: bool = False) -> tuple[dg.ExecuteInProcessResult, list[DayLine]]:
    """One run over [first, last] for the selected assets (or for ``job``, already loaded);
    ``full_refresh`` parses and MERGEs every day even where the response is the one last merged."""
    job = job or asset_job(selection)
    tags = {RANGE_START: first.isoformat(), RANGE_END: last.isoformat(), **worker_tags()}
    if full_refresh:
        tags[FULL_REFRESH_TAG] = "true"
    instance = instance or dg.DagsterInstance.get()
    slot_wait.install()
    reap_dead_runs(instance)
    result = job.execute_in_process(
        instance=instance,
        tags=tags,
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
    )
    lines: list[DayLine] = []
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        if mat is None or "per_day_json" not in mat.metadata:
            continue
        for day, c in sorted(mat.metadata["per_day_json"].value.items()):
            lines.append(DayLine(mat.asset_key.path[-1].upper(), day, c["rows"], c["inserted"],
                                 c["updated"], c["unchanged"], c.get("stale", 0), c.get("deleted", 0)))
    unique = {(ln.dataset, ln.day): ln for ln in lines}
    return result, [unique[k] for k in sorted(unique)]


def format_table(lines: list[DayLine]) -> str:
    w = max([10, *(len(ln.dataset) for ln in lines)])  # derived tables have longer names
    header = (f"{'dataset':<{w}} {'day':<10} {'rows':>9} {'inserted':>9} {'updated':>8} {'unchanged':>9} "
              f"{'stale':>6} {'deleted':>7}")
    body = [f"{ln.dataset:<{w}} {ln.day:<10} {ln.rows:>9} {ln.inserted:>9} {ln.updated:>8} {ln.unchanged:>9} "
            f"{ln.stale:>6} {ln.deleted:>7}" for ln in lines]
    return "\n".join([header, "-" * len(header), *body])
