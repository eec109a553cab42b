"""SQL and schemas of the BigQuery backend, built from a table declaration: pure functions, no client.

Every identifier is validated before it is quoted (:func:`bq_quote`, :func:`table_ref`); literals are
built only from dates. ``merge_sql`` and ``classify_sql`` share the source, range filter, key match
and hash condition, so the classification predicts exactly what the MERGE does.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from google.cloud import bigquery

from bmrs_assets.core.settlement import day_window
from bmrs_assets.core.tables import IDENTIFIER, Kind, table_columns
from bmrs_assets.elexon.datasets import Dataset
from bmrs_assets.warehouse.contract import day_runs

BQ_TYPES: dict[Kind, str] = {
    Kind.DATE: "DATE",
    Kind.TIMESTAMP: "TIMESTAMP",
    Kind.INT: "INT64",
    Kind.FLOAT: "FLOAT64",
    Kind.BOOL: "BOOL",
    Kind.STRING: "STRING",
    Kind.JSON: "JSON",
}
# The names the tables API reports for the same types (legacy spellings).
API_TYPE_NAMES: dict[str, str] = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}
# Types BigQuery can cluster on; at most four clustering columns.
CLUSTERABLE = frozenset({Kind.DATE, Kind.TIMESTAMP, Kind.INT, Kind.BOOL, Kind.STRING})
MAX_CLUSTERING_COLUMNS = 4
# Equality-join stand-ins for NULL in nullable key columns (any value of the type works, see key_match).
NULL_STAND_INS: dict[Kind, str] = {
    Kind.DATE: "DATE '0001-01-01'",
    Kind.TIMESTAMP: "TIMESTAMP '0001-01-01 00:00:00+00'",
    Kind.INT: "0",
    Kind.BOOL: "FALSE",
    Kind.STRING: "''",
}
LONDON_TZ = "Europe/London"
ORDINAL = "_ordinal"
PROJECT_ID = re.compile(r"^[a-z][a-z0-9.:-]{2,99}$")
DATASET_ID = re.compile(r"^[A-Za-z0-9_]{1,1024}$")


def bq_quote(name: str) -> str:
    """Backtick-quote a column name the registry declared; anything else is refused."""
    if not IDENTIFIER.match(name):
        raise ValueError(f"refusing unsafe SQL identifier {name!r}")
    return f"`{name}`"


def table_ref(project: str, dataset: str, table: str) -> str:
    """A validated, quoted ``project.dataset.table`` reference."""
    if not PROJECT_ID.match(project) or not DATASET_ID.match(dataset) or not DATASET_ID.match(table):
        raise ValueError(f"refusing unsafe table reference {project!r}.{dataset!r}.{table!r}")
    return f"`{project}.{dataset}.{table}`"


def table_schema(ds: Dataset) -> list[bigquery.SchemaField]:
    """Target columns with explicit types, all NULLABLE: validation happens before any write, and a
    nullable column never needs DDL when the registry relaxes it or adds a column."""
    return [bigquery.SchemaField(c.name, BQ_TYPES[c.kind], mode="NULLABLE") for c in table_columns(ds)]


def stage_schema(ds: Dataset) -> list[bigquery.SchemaField]:
    """Staging columns: JSON travels as STRING (parsed by the MERGE), plus the order rows came in."""
    fields = [bigquery.SchemaField(c.name, "STRING" if c.kind is Kind.JSON else BQ_TYPES[c.kind])
              for c in table_columns(ds)]
    return [*fields, bigquery.SchemaField(ORDINAL, "INT64")]


def clustering_fields(ds: Dataset) -> list[str]:
    """The leading natural-key columns BigQuery can cluster on (at most four). A DATE partition
    column is skipped: each daily partition holds a single value of it."""
    out = []
    for name in ds.key:
        col = ds.column(name)
        if col.kind not in CLUSTERABLE or (name == ds.partition_column and col.kind is Kind.DATE):
            continue
        out.append(name)
    return out[:MAX_CLUSTERING_COLUMNS]


def check_key_types(ds: Dataset) -> None:
    """BigQuery cannot PARTITION BY / GROUP BY a FLOAT64 or JSON column: refuse such keys early."""
    bad = [k for k in ds.key if ds.column(k).kind not in NULL_STAND_INS]
    if bad:
        raise ValueError(f"{ds.code}: key columns {bad} have types BigQuery cannot group on")


def _timestamp_literal(value: datetime) -> str:
    return f"TIMESTAMP '{value.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S')}+00'"


def partition_filter(ds: Dataset, alias: str, first: date, last: date) -> str:
    """A constant range on the partition column, which is what lets BigQuery prune partitions.

    DATE partitions: inclusive dates. TIMESTAMP partitions: the half-open UTC interval of the
    London days first..last (at most one extra UTC-day partition is touched at each end)."""
    col = f"{alias}.{bq_quote(ds.partition_column)}"
    if ds.partition_kind is Kind.DATE:
        return f"{col} BETWEEN DATE '{first.isoformat()}' AND DATE '{last.isoformat()}'"
    start, end = day_window(first).start, day_window(last).end
    return f"{col} >= {_timestamp_literal(start)} AND {col} < {_timestamp_literal(end)}"


def day_expr(ds: Dataset, alias: str) -> str:
    """The partition day of a row (the London day for TIMESTAMP partition columns)."""
    col = f"{alias}.{bq_quote(ds.partition_column)}"
    return col if ds.partition_kind is Kind.DATE else f"DATE({col}, '{LONDON_TZ}')"


def key_match(ds: Dataset, t: str, s: str) -> str:
    """Null-safe key equality written as equi-join conditions BigQuery can hash-join on.

    ``T.k IS NOT DISTINCT FROM S.k`` (or ``T.k = S.k OR both NULL``) can push a join into a nested
    loop; ``IFNULL(T.k, x) = IFNULL(S.k, x) AND (T.k IS NULL) = (S.k IS NULL)`` is two equalities
    and exact whatever ``x`` is (the second equality separates a real ``x`` from NULL)."""
    parts = []
    for name in ds.key:
        col = ds.column(name)
        q = bq_quote(name)
        if col.nullable:
            x = NULL_STAND_INS[col.kind]
            parts.append(f"IFNULL({t}.{q}, {x}) = IFNULL({s}.{q}, {x}) AND ({t}.{q} IS NULL) = ({s}.{q} IS NULL)")
        else:
            parts.append(f"{t}.{q} = {s}.{q}")
    return " AND ".join(parts)


def dedup_sql(ds: Dataset, stage: str) -> str:
    """Latest revision wins within a batch; ties go to the row the API sent last."""
    part = ", ".join(bq_quote(k) for k in ds.key)
    order = (f"{bq_quote(ds.revision_column)} DESC NULLS LAST, " if ds.revision_column else "") + f"{ORDINAL} DESC"
    return (f"SELECT * EXCEPT ({ORDINAL}) FROM {stage} WHERE TRUE "
            f"QUALIFY ROW_NUMBER() OVER (PARTITION BY {part} ORDER BY {order}) = 1")


def not_older(ds: Dataset) -> str:
    """The source row may replace the stored one: same or newer revision (see the DuckDB backend's)."""
    if not ds.revision_column:
        return "TRUE"
    rev = bq_quote(ds.revision_column)
    return f"(T.{rev} IS NULL OR S.{rev} >= T.{rev})"


def _value(ds_col_kind: Kind, expr: str) -> str:
    return f"PARSE_JSON({expr})" if ds_col_kind is Kind.JSON else expr


def changed(ds: Dataset, repair: bool = False) -> str:
    """The stored row differs from the source row: by content hash; when repairing, by any registry
    column too (a row edited by hand keeps its old hash). JSON compares as its text."""
    by_hash = "T.`_hash_key` != S.`_hash_key`"
    if not repair:
        return by_hash

    def text(alias: str, c) -> str:
        ref = f"{alias}.{bq_quote(c.name)}"
        return f"TO_JSON_STRING({ref})" if c.kind is Kind.JSON else ref

    return "(" + " OR ".join([by_hash, *(f"{text('T', c)} IS DISTINCT FROM {text('S', c)}" for c in ds.columns)]) + ")"


def days_filter(ds: Dataset, alias: str, days: list[date]) -> str:
    """The rows of exactly these partition days: constant ranges (runs of days), so BigQuery prunes."""
    return "(" + " OR ".join(f"({partition_filter(ds, alias, a, b)})" for a, b in day_runs(days)) + ")"


def merge_sql(ds: Dataset, target: str, stage: str, first: date, last: date, repair: bool = False,
              delete_days: list[date] | None = None) -> str:
    """ONE MERGE: de-duplicated source, target restricted to the partition range (pruned), null-safe
    key match; update only rows whose content hash changed and that are not older than the stored
    revision; insert new keys; delete the stored rows of ``delete_days`` (days of a current-state
    table that came whole) that the source no longer holds, and no other row."""
    cols = table_columns(ds)
    names = [bq_quote(c.name) for c in cols]
    sets = ", ".join(f"{bq_quote(c.name)} = {_value(c.kind, 'S.' + bq_quote(c.name))}"
                     for c in cols if c.name not in ds.key)
    values = ", ".join(_value(c.kind, "S." + bq_quote(c.name)) for c in cols)
    return (
        f"MERGE {target} AS T\n"
        f"USING ({dedup_sql(ds, stage)}) AS S\n"
        f"ON {partition_filter(ds, 'T', first, last)}\n"
        f"  AND {key_match(ds, 'T', 'S')}\n"
        f"WHEN MATCHED AND {changed(ds, repair)} AND {not_older(ds)} THEN UPDATE SET {sets}\n"
        f"WHEN NOT MATCHED THEN INSERT ({', '.join(names)}) VALUES ({values})"
        + (f"\nWHEN NOT MATCHED BY SOURCE AND {days_filter(ds, 'T', delete_days)} THEN DELETE" if delete_days else "")
    )


def deletions_sql(ds: Dataset, target: str, stage: str, days: list[date]) -> str:
    """Per day of ``days``: the stored rows the MERGE will delete (no source row has their key).

    The same key match and day filter as :func:`merge_sql`'s ``WHEN NOT MATCHED BY SOURCE``."""
    keys = ", ".join(bq_quote(k) for k in dict.fromkeys([*ds.key, ds.partition_column]))
    return (f"WITH S AS ({dedup_sql(ds, stage)})\n"
            f"SELECT {day_expr(ds, 'T')} AS day, COUNT(*) AS deleted FROM (SELECT {keys} FROM {target} AS T "
            f"WHERE {days_filter(ds, 'T', days)}) AS T\n"
            f"WHERE NOT EXISTS (SELECT 1 FROM S WHERE {key_match(ds, 'T', 'S')}) GROUP BY day")


def classify_sql(ds: Dataset, target: str, stage: str, first: date, last: date, repair: bool = False) -> str:
    """Per partition day: de-duplicated rows, and how many the MERGE will insert, update and skip as stale.

    Same source, same range filter, same key and hash conditions as :func:`merge_sql`; it reads
    only the key, partition and hash columns of the target partitions."""
    wanted = [c.name for c in ds.columns] if repair else [*ds.key, ds.partition_column, *filter(None, [ds.revision_column])]
    keys = ", ".join(bq_quote(k) for k in dict.fromkeys(wanted))
    differs = f"T.`_hash_key` IS NOT NULL AND {changed(ds, repair)}"
    return (
        f"WITH S AS ({dedup_sql(ds, stage)}),\n"
        f"T AS (SELECT {keys}, `_hash_key` FROM {target} AS T WHERE {partition_filter(ds, 'T', first, last)})\n"
        f"SELECT {day_expr(ds, 'S')} AS day, COUNT(*) AS fetched,\n"
        f"  COUNTIF(T.`_hash_key` IS NULL) AS inserted,\n"
        f"  COUNTIF({differs} AND {not_older(ds)}) AS updated,\n"
        f"  COUNTIF({differs} AND NOT IFNULL({not_older(ds)}, FALSE)) AS stale\n"
        f"FROM S LEFT JOIN T ON {key_match(ds, 'T', 'S')}\n"
        f"GROUP BY day ORDER BY day"
    )


# --- response digests (``_bmrs_response_digests``) ------------------------------------------
DIGESTS_SCHEMA = [
    bigquery.SchemaField("dataset", "STRING", mode="REQUIRED"),
    bigquery.SchemaField("day", "DATE", mode="REQUIRED"),
    bigquery.SchemaField("digest", "STRING", mode="REQUIRED"),
    bigquery.SchemaField("rows", "INT64", mode="REQUIRED"),
    bigquery.SchemaField("recorded_utc", "TIMESTAMP", mode="REQUIRED"),
    bigquery.SchemaField("stored_check", "INT64"),
]
DIGEST = re.compile(r"^[0-9A-Za-z_.:-]{1,128}$")
CODE = re.compile(r"^[A-Za-z0-9_]{1,64}$")


def _code_literal(ds: Dataset) -> str:
    if not CODE.match(ds.code):
        raise ValueError(f"refusing unsafe dataset code {ds.code!r}")
    return f"'{ds.code}'"


def stored_checks_sql(ds: Dataset, target: str, first: date, last: date) -> str:
    """Per stored partition day: rows and a checksum of every row (XOR of a fingerprint of the
    row's JSON): any change to the day changes it."""
    return (f"SELECT {day_expr(ds, 'X')} AS day, COUNT(*) AS n, BIT_XOR(FARM_FINGERPRINT(TO_JSON_STRING(X))) AS c "
            f"FROM {target} AS X WHERE {partition_filter(ds, 'X', first, last)} GROUP BY day")


def remembered_sql(digests: str, ds: Dataset, target: str, first: date, last: date) -> str:
    """The remembered digest and rows of each day of ``ds`` in first..last, and whether its stored
    rows still are what the recorded MERGE left (``intact``: same rows, same checksum)."""
    return (f"SELECT R.day, R.digest, R.`rows`, IFNULL(R.`rows` = C.n AND R.stored_check = C.c, FALSE) AS intact "
            f"FROM {digests} AS R LEFT JOIN ({stored_checks_sql(ds, target, first, last)}) "
            f"AS C ON R.day = C.day WHERE R.dataset = {_code_literal(ds)} "
            f"AND R.day BETWEEN DATE '{first.isoformat()}' AND DATE '{last.isoformat()}'")


def remember_sql(digests: str, ds: Dataset, target: str, days: dict[date, tuple[str, int]]) -> str:
    """One MERGE recording each day's (digest, rows) and its stored rows' checksum, replacing what
    was remembered of it.

    Literals only from validated values: the registry's code, dates, digests of a fixed alphabet, ints."""
    rows = []
    for day, (digest, n) in sorted(days.items()):
        if not DIGEST.match(digest):
            raise ValueError(f"{ds.code} partition {day}: refusing unsafe digest {digest!r}")
        rows.append(f"SELECT {_code_literal(ds)} AS dataset, DATE '{day.isoformat()}' AS day, "
                    f"'{digest}' AS digest, {int(n)} AS `rows`")
    first, last = min(days), max(days)
    source = (f"SELECT R.dataset, R.day, R.digest, R.`rows`, C.c AS stored_check FROM ({' UNION ALL '.join(rows)}) AS R "
              f"LEFT JOIN ({stored_checks_sql(ds, target, first, last)}) AS C ON R.day = C.day")
    return (f"MERGE {digests} AS T USING ({source}) AS S ON T.dataset = S.dataset AND T.day = S.day\n"
            "WHEN MATCHED THEN UPDATE SET digest = S.digest, `rows` = S.`rows`, recorded_utc = CURRENT_TIMESTAMP(), "
            "stored_check = S.stored_check\n"
            "WHEN NOT MATCHED THEN INSERT (dataset, day, digest, `rows`, recorded_utc, stored_check) "
            "VALUES (S.dataset, S.day, S.digest, S.`rows`, CURRENT_TIMESTAMP(), S.stored_check)")
