"""What runs inside a measured child process: the platform contender, and helpers the peers share.

A child receives its configuration as JSON (``python -m bench --child SPEC``), runs the load, and
prints one ``BENCH-RESULT {...}`` line; the parent (``bench/runner.py``) measures it from outside.
Wall seconds are taken around the load itself, so interpreter start and imports are excluded.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path


def days_of(first: str, last: str) -> list[date]:
    """The days ``first``..``last`` (ISO, inclusive)."""
    a, b = date.fromisoformat(first), date.fromisoformat(last)
    return [a + timedelta(days=i) for i in range((b - a).days + 1)]


def child_platform(spec: dict) -> dict:
    """bmrs_assets through Dagster: one range run, or one run per day (``per_partition``)."""
    import dagster as dg

    import bmrs_assets
    import bmrs_assets.elexon.api_source
    import bmrs_assets.warehouse.duckdb_backend  # a run's libraries, imported before the clock as the floor's are
    from bmrs_assets.cli.runs import asset_job, materialize_range

    instance = dg.DagsterInstance.get()
    writes = _time_event_writes(instance)
    days = days_of(spec["first"], spec["last"])
    ranges = [(d, d) for d in days] if spec.get("per_partition") else [(days[0], days[-1])]
    job = asset_job([spec["dataset"]])  # the code location, loaded before the run as a run worker does
    started = time.perf_counter()
    written = fetched = skipped = 0
    in_asset = 0.0  # fetch + parse + type + validate + MERGE: the step's own work (handle_output)
    run_ids = []
    for first, last in ranges:
        result, lines = materialize_range(first, last, instance=instance, job=job)
        if not result.success:
            raise SystemExit(f"platform run failed for {first}..{last}")
        run_ids.append(result.run_id)
        written += sum(ln.inserted + ln.updated for ln in lines)
        fetched += sum(ln.rows for ln in lines)
        events = result.get_asset_materialization_events()  # one per partition, each with the run's metadata
        md = events[0].step_materialization_data.materialization.metadata if events else {}
        skipped += md["days_unchanged_body"].value if "days_unchanged_body" in md else 0
        in_asset += md["seconds"].value if "seconds" in md else 0.0
    seconds = time.perf_counter() - started
    profile = dagster_profile(instance, run_ids, writes, in_asset, f"bmrs__{spec['dataset'].lower()}")
    return {"seconds": seconds, "rows_fetched": fetched, "rows_written": written, "days_unchanged_body": skipped,
            "load_seconds": round(in_asset, 3), "dagster_seconds": round(seconds - in_asset, 3),
            "runs": len(ranges), "rows_in_table": count_rows(spec["db"], f'"bmrs_{spec["dataset"].lower()}"'),
            "dagster_profile": profile, "code": str(Path(bmrs_assets.__file__).parent)}


def _time_event_writes(instance: object) -> dict:
    """Count and time every event the run writes to the instance's event log (``store_event``)."""
    storage = instance.event_log_storage
    acc = {"events": 0, "seconds": 0.0}
    real = storage.store_event

    def timed(event: object, *args: object, **kwargs: object) -> object:
        t = time.perf_counter()
        try:
            return real(event, *args, **kwargs)
        finally:
            acc["seconds"] += time.perf_counter() - t
            acc["events"] += 1

    storage.store_event = timed
    return acc


def dagster_profile(instance: object, run_ids: list[str], writes: dict, io_manager_seconds: float,
                    asset_step: str) -> dict:
    """Where a run's Dagster share goes: the events it wrote (count, serialized bytes by type, seconds
    spent writing them), its steps' wall seconds (the asset step ``asset_step``, whose IO manager is
    ours, and the check steps), measured from the run's own event records."""
    from dagster_shared.serdes import serialize_value

    by_type: dict[str, list[int]] = {}
    starts: dict[str, float] = {}
    steps: dict[str, float] = {}
    for run_id in run_ids:
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            kind = event.event_type_value if event else "LOG"
            n, size = by_type.get(kind, [0, 0])
            by_type[kind] = [n + 1, size + len(serialize_value(entry))]
            if event is not None and event.step_key:
                if kind == "STEP_START":
                    starts[event.step_key] = entry.timestamp
                elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in starts:
                    steps[event.step_key] = steps.get(event.step_key, 0.0) + entry.timestamp - starts.pop(event.step_key)
    checks = {k: v for k, v in steps.items() if k != asset_step}  # the asset's checks, each a step of its own
    return {"events": sum(n for n, _ in by_type.values()), "event_bytes": sum(b for _, b in by_type.values()),
            "event_writes": writes["events"], "event_write_seconds": round(writes["seconds"], 3),
            "by_type": dict(sorted(by_type.items(), key=lambda kv: -kv[1][1])),
            "asset_step_seconds": round(sum(v for k, v in steps.items() if k not in checks), 3),
            "check_steps": len(checks), "check_steps_seconds": round(sum(checks.values()), 3),
            "io_manager_seconds": round(io_manager_seconds, 3)}


def count_rows(db: str, table: str) -> int:
    """Rows of ``table`` (as written in SQL: quoted or schema-qualified) in a DuckDB file."""
    import duckdb

    con = duckdb.connect(db, read_only=True)
    try:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        con.close()


def child_count(spec: dict) -> dict:
    """Rows of ``spec["table"]`` in ``spec["db"]``: a whole-process run's table, counted outside the parent."""
    return {"seconds": 0.0, "rows_in_table": count_rows(spec["db"], spec["table"])}
