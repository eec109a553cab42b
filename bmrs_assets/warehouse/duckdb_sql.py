"""SQL of the DuckDB backend, built from a table declaration: pure functions, no connection.

Identifiers are validated before they are quoted (``contract.quote``); literals are built only from
dates; range bounds travel as parameters ``$1``/``$2``.
"""

from __future__ import annotations

from datetime import date

from bmrs_assets.core.settlement import day_window
from bmrs_assets.core.tables import Kind, table_columns
from bmrs_assets.elexon.datasets import Dataset
from bmrs_assets.warehouse.contract import day_runs, quote

DUCKDB_TYPES: dict[Kind, str] = {
    Kind.DATE: "DATE",
    Kind.TIMESTAMP: "TIMESTAMPTZ",
    Kind.INT: "BIGINT",
    Kind.FLOAT: "DOUBLE",
    Kind.BOOL: "BOOLEAN",
    Kind.STRING: "VARCHAR",
    Kind.JSON: "JSON",
}


def create_table_sql(ds: Dataset, qualified: str) -> str:
    cols = ",\n  ".join(f"{quote(c.name)} {DUCKDB_TYPES[c.kind]}" for c in table_columns(ds))
    return f"CREATE TABLE IF NOT EXISTS {qualified} (\n  {cols}\n)"


def partition_filter(ds: Dataset, alias: str, first_param: int) -> str:
    col = f"{alias}.{quote(ds.partition_column)}"
    if ds.partition_kind is Kind.DATE:
        return f"{col} BETWEEN ${first_param} AND ${first_param + 1}"
    return f"{col} >= ${first_param} AND {col} < ${first_param + 1}"


def not_older(ds: Dataset) -> str:
    """The source row may replace the stored one: same or newer revision (a stored row without one
    yields to any; a source row without one never replaces a stored revision). TRUE without a
    revision column."""
    if not ds.revision_column:
        return "TRUE"
    rev = quote(ds.revision_column)
    return f"(T.{rev} IS NULL OR S.{rev} >= T.{rev})"


def _key_on(ds: Dataset) -> str:
    return " AND ".join(f"T.{quote(k)} IS NOT DISTINCT FROM S.{quote(k)}" for k in ds.key)


def changed(ds: Dataset, repair: bool = False) -> str:
    """The stored row differs from the source row: by content hash; when repairing, by any registry
    column too (a row edited by hand keeps its old hash)."""
    by_hash = 'T."_hash_key" IS DISTINCT FROM S."_hash_key"'
    if not repair:
        return by_hash
    return "(" + " OR ".join([by_hash, *(f"T.{quote(c.name)} IS DISTINCT FROM S.{quote(c.name)}"
                                        for c in ds.columns)]) + ")"


def merge_sql(ds: Dataset, target: str, source: str, repair: bool = False) -> str:
    """One MERGE: null-safe key match inside the partition range; update only changed rows that are
    not older than the stored revision."""
    names = [quote(c.name) for c in table_columns(ds)]
    sets = ", ".join(f"{n} = S.{n}" for n in names)
    return (
        f"MERGE INTO {target} AS T USING {source} AS S\n"
        f"ON {_key_on(ds)} AND {partition_filter(ds, 'T', 1)}\n"
        f"WHEN MATCHED AND {changed(ds, repair)} AND {not_older(ds)} THEN UPDATE SET {sets}\n"
        f"WHEN NOT MATCHED THEN INSERT ({', '.join(names)}) VALUES ({', '.join('S.' + n for n in names)})\n"
        f"RETURNING merge_action, {quote(ds.partition_column)}"
    )


def stale_sql(ds: Dataset, target: str, source: str) -> str:
    """Per partition value: source rows the MERGE will skip because the stored row is newer."""
    part = f"S.{quote(ds.partition_column)}"
    return (f"SELECT {part}, count(*) FROM {source} AS S JOIN {target} AS T ON {_key_on(ds)} "
            f"AND {partition_filter(ds, 'T', 1)} WHERE {changed(ds)} AND NOT coalesce({not_older(ds)}, FALSE) GROUP BY 1")


def days_filter(ds: Dataset, alias: str, days: list[date]) -> str:
    """The rows of exactly these partition days (literals built from dates only; runs of days as ranges)."""
    col = f"{alias}.{quote(ds.partition_column)}"
    parts = []
    for first, last in day_runs(days):
        if ds.partition_kind is Kind.DATE:
            parts.append(f"{col} BETWEEN DATE '{first.isoformat()}' AND DATE '{last.isoformat()}'")
        else:
            start, end = day_window(first).start, day_window(last).end
            parts.append(f"({col} >= TIMESTAMPTZ '{start.isoformat()}' AND {col} < TIMESTAMPTZ '{end.isoformat()}')")
    return "(" + " OR ".join(parts) + ")"


def delete_sql(ds: Dataset, target: str, source: str, days: list[date]) -> str:
    """The stored rows of ``days`` whose key the source no longer holds, deleted (run after the MERGE,
    in its transaction).

    Not the MERGE's ``WHEN NOT MATCHED BY SOURCE``: DuckDB 1.5 then joins the whole target table,
    measured 56 s against 0.08 s for this anti-join on a 3-million-row table (one day of 10,000 rows)."""
    return (f"DELETE FROM {target} AS T WHERE {days_filter(ds, 'T', days)} AND NOT EXISTS "
            f"(SELECT 1 FROM {source} AS S WHERE {_key_on(ds)}) RETURNING 'DELETE' AS merge_action, "
            f"{quote(ds.partition_column)}")


def insert_sql(ds: Dataset, target: str, source: str) -> str:
    """Every source row into the target, by column name (what the MERGE does when nothing matches)."""
    names = ", ".join(quote(c.name) for c in table_columns(ds))
    return f"INSERT INTO {target} ({names}) SELECT {names} FROM {source}"


def dedup_sql(ds: Dataset, stage: str) -> str:
    """Latest revision wins within a batch; ties go to the row the API sent last."""
    part = ", ".join(quote(k) for k in ds.key)
    order = (f"{quote(ds.revision_column)} DESC NULLS LAST, " if ds.revision_column else "") + '"_ordinal" DESC'
    return (f"SELECT * EXCLUDE (\"_ordinal\") FROM {stage} "
            f"QUALIFY row_number() OVER (PARTITION BY {part} ORDER BY {order}) = 1")
