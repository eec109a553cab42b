"""Small readers the end-to-end tests share: the warehouse's rows, a run's metadata and failure."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest


def query(db: Path | str, sql: str) -> list[tuple]:
    """Rows of ``sql`` on the DuckDB warehouse file, opened read-only."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def dump(db: Path | str, table: str) -> list[tuple]:
    """Every row of ``table``, in a stable order, for before/after comparisons."""
    return query(db, f"SELECT * FROM {table} ORDER BY ALL")


def metadata_of(result: dg.ExecuteInProcessResult, name: str | dg.AssetKey) -> dict:
    """The materialization metadata of one asset in a run: by dataset code / asset name, or by key."""
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        if mat.asset_key == name or (isinstance(name, str) and mat.asset_key.path[-1] == name.lower()):
            return {k: v.value for k, v in mat.metadata.items()}
    raise AssertionError(f"no materialization for {name}")


def failure_text(result: dg.ExecuteInProcessResult) -> str:
    """The first failed step's error message with its cause's, as a user sees them."""
    error = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error
    return error.message + "".join(c.message for c in ([error.cause] if error.cause else []))


def materialize_against(body: bytes, codes: list[str], day: date, instance: dg.DagsterInstance,
                        monkeypatch: pytest.MonkeyPatch) -> tuple[dg.ExecuteInProcessResult, list]:
    """One run of ``codes`` for ``day`` against a loopback server that answers every request with ``body``."""
    from bmrs_assets.cli.runs import materialize_range
    from bmrs_assets_tests.support.scripted_server import Reply, ScriptedServer

    server = ScriptedServer(lambda path, n: Reply(body=body))
    try:
        monkeypatch.setenv("BMRS_API_BASE_URL", server.url)
        return materialize_range(day, day, codes, instance=instance)
    finally:
        server.stop()


def run_stand_in(instance: dg.DagsterInstance, key: dg.AssetKey, partitions: dg.PartitionsDefinition, day: date,
                 passed: bool = True) -> None:
    """A real run of one partition ``day`` of ``key``: a stand-in asset with that key materializes it, then
    its blocking ``complete_partition`` check passes or fails (one evaluation per run and partition)."""

    @dg.asset(key=key, partitions_def=partitions)
    def stand_in() -> None:
        return None

    @dg.asset_check(asset=key, name="complete_partition", partitions_def=partitions, blocking=True)
    def complete_partition() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=passed)

    dg.materialize([stand_in, complete_partition], instance=instance, partition_key=day.isoformat(), raise_on_error=False)
