"""What runs inside a measured child process: the platform contender, and helpers the peers share.

A child receives its configuration as JSON (``python -m bench --child SPEC``), runs the load, and
prints one ``BENCH-RESULT {...}`` line; the parent (``bench/runner.py``) measures it from outside.
Wall seconds are taken around the load itself, so interpreter start and imports are excluded.
"""

from __future__ import annotations

import time
from datetime import date, timedelta


def days_of(first: str, last: str) -> list[date]:
    """The days ``first``..``last`` (ISO, inclusive)."""
    a, b = date.fromisoformat(first), date.fromisoformat(last)
    return [a + timedelta(days=i) for i in range((b - a).days + 1)]


def child_platform(spec: dict) -> dict:
    """bmrs_assets through Dagster: one range run, or one run per day (``per_partition``)."""
    import dagster as dg

    from bmrs_assets.cli.runs import asset_job, materialize_range

    instance = dg.DagsterInstance.get()
    days = days_of(spec["first"], spec["last"])
    ranges = [(d, d) for d in days] if spec.get("per_partition") else [(days[0], days[-1])]
    job = asset_job([spec["dataset"]])  # the code location, loaded before the run as a run worker does
    started = time.perf_counter()
    written = fetched = skipped = 0
    in_asset = 0.0  # fetch + parse + type + validate + MERGE: the step's own work (handle_output)
    for first, last in ranges:
        result, lines = materialize_range(first, last, instance=instance, job=job)
        if not result.success:
            raise SystemExit(f"platform run failed for {first}..{last}")
        written += sum(ln.inserted + ln.updated for ln in lines)
        fetched += sum(ln.rows for ln in lines)
        events = result.get_asset_materialization_events()  # one per partition, each with the run's metadata
        md = events[0].step_materialization_data.materialization.metadata if events else {}
        skipped += md["days_unchanged_body"].value if "days_unchanged_body" in md else 0
        in_asset += md["seconds"].value if "seconds" in md else 0.0
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows_fetched": fetched, "rows_written": written, "days_unchanged_body": skipped,
            "load_seconds": round(in_asset, 3), "dagster_seconds": round(seconds - in_asset, 3),
            "runs": len(ranges), "rows_in_table": count_rows(spec["db"], f'"bmrs_{spec["dataset"].lower()}"')}


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
