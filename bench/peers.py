"""The peers the platform is measured against: the floor and dlt, each run in a child process.

* **floor** - the least a loader can do: httpx GET -> orjson -> typed Arrow table -> DuckDB
  ``MERGE INTO`` on the natural key, one day at a time (or N requests in flight), no validation,
  no hashing, no metadata, no orchestration.
* **dlt** - the same days loaded with dlt (``write_disposition="merge"`` on the same primary key,
  parquet loader) into DuckDB; :func:`same_rows` checks it holds the platform's rows.
"""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path

from bench.children import count_rows, days_of


def _floor_table(ds: object, rows: list[dict]) -> object:
    """Rows -> an Arrow table typed as the registry says: one conversion per column, nothing else."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from bmrs_assets.core.tables import Kind

    direct = {Kind.INT: pa.int64(), Kind.FLOAT: pa.float64(), Kind.BOOL: pa.bool_(), Kind.STRING: pa.string()}
    arrays, names = [], []
    for col in ds.columns:
        values = [r.get(col.name) for r in rows]
        if col.kind in direct:
            arr = pa.array(values, direct[col.kind])
        elif col.kind is Kind.DATE:
            arr = pc.cast(pa.array(values, pa.string()), pa.date32())
        elif col.kind is Kind.TIMESTAMP:
            arr = pc.cast(pa.array(values, pa.string()), pa.timestamp("us", tz="UTC"))
        else:
            arr = pa.array([None if v is None else json.dumps(v) for v in values], pa.string())
        arrays.append(arr)
        names.append(col.name)
    return pa.Table.from_arrays(arrays, names=names)


def child_floor(spec: dict) -> dict:
    """httpx GET -> orjson -> typed Arrow table -> DuckDB MERGE INTO, a day at a time."""
    from concurrent.futures import ThreadPoolExecutor

    import duckdb
    import httpx
    import orjson

    from bmrs_assets.elexon.client import RateLimiter, build_request, initial_slices
    from bmrs_assets.elexon.datasets import get_dataset
    from bmrs_assets.warehouse.duckdb_backend import DUCKDB_TYPES

    ds = get_dataset(spec["dataset"])
    days = days_of(spec["first"], spec["last"])
    limiter = RateLimiter(spec["rate"])
    started = time.perf_counter()
    http = httpx.Client(timeout=120, limits=httpx.Limits(max_connections=spec["in_flight"]))
    con = duckdb.connect(spec["db"])
    cols = ", ".join(f'"{c.name}" {DUCKDB_TYPES[c.kind]}' for c in ds.columns)
    con.execute(f'CREATE TABLE t ({cols})')
    names = [f'"{c.name}"' for c in ds.columns]
    on = " AND ".join(f'T."{k}" IS NOT DISTINCT FROM S."{k}"' for k in ds.key)
    merge = (f"MERGE INTO t AS T USING incoming AS S ON {on} "
             f"WHEN MATCHED THEN UPDATE SET {', '.join(f'{n} = S.{n}' for n in names)} "
             f"WHEN NOT MATCHED THEN INSERT ({', '.join(names)}) VALUES ({', '.join('S.' + n for n in names)})")

    def fetch(day: date) -> list[dict]:
        rows: list[dict] = []
        for sl in initial_slices(ds, day):
            path, params = build_request(ds, sl)
            limiter.acquire()
            with http.stream("GET", spec["url"] + path, params=params) as response:
                response.raise_for_status()
                body = response.read()
            del response  # free the body now, not at the next full garbage collection
            rows.extend(orjson.loads(body))
            del body
        return rows

    with ThreadPoolExecutor(max_workers=spec["in_flight"]) as pool:
        for rows in pool.map(fetch, days) if spec["in_flight"] > 1 else map(fetch, days):
            incoming = _floor_table(ds, rows)
            del rows
            con.register("incoming", incoming)
            con.execute(merge)
            con.unregister("incoming")
            del incoming
    seconds = time.perf_counter() - started
    n = con.execute("SELECT count(*) FROM t").fetchone()[0]
    con.close()
    http.close()
    return {"seconds": seconds, "rows_in_table": n}


def child_dlt(spec: dict) -> dict:
    """dlt, merge on the natural key into DuckDB, parquet loader."""
    import dlt
    import httpx
    import orjson

    from bmrs_assets.elexon.client import RateLimiter, build_request, initial_slices
    from bmrs_assets.elexon.datasets import get_dataset

    ds = get_dataset(spec["dataset"])
    days = days_of(spec["first"], spec["last"])
    limiter = RateLimiter(spec["rate"])
    started = time.perf_counter()
    http = httpx.Client(timeout=120)

    # dlt makes primary-key columns NOT NULL, and bmUnit is null for interconnectors: the natural key
    # goes into one surrogate column, as a dlt user would do (nulls as empty, so they still compare equal).
    key = list(ds.key)

    @dlt.resource(name=ds.table, write_disposition="merge", primary_key="_natural_key")
    def rows():
        for day in days:
            for sl in initial_slices(ds, day):
                path, params = build_request(ds, sl)
                limiter.acquire()
                response = http.get(spec["url"] + path, params=params)
                response.raise_for_status()
                page = orjson.loads(response.content)
                del response
                for r in page:
                    r["_natural_key"] = "\x1f".join("" if r.get(k) is None else str(r[k]) for k in key)
                yield page

    pipeline = dlt.pipeline(pipeline_name="bench", pipelines_dir=spec["work"],
                            destination=dlt.destinations.duckdb(spec["db"]), dataset_name="bench")
    pipeline.run(rows(), loader_file_format=spec.get("format", "parquet"))
    seconds = time.perf_counter() - started
    http.close()
    return {"seconds": seconds, "rows_in_table": count_rows(spec["db"], f"bench.{ds.table}")}


def same_rows(platform_db: Path, dlt_db: Path, table: str, key: list[str], values: list[str]) -> dict:
    """Whether dlt's table holds the platform's rows: same keys, same values (timestamps compared in UTC)."""
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"ATTACH '{platform_db}' AS p (READ_ONLY)")
    con.execute(f"ATTACH '{dlt_db}' AS d (READ_ONLY)")
    dlt_cols = {r[0].lower(): r[0] for r in con.execute(
        f"SELECT column_name FROM duckdb_columns() WHERE database_name = 'd' AND table_name = '{table}'").fetchall()}

    def sel(alias: str, cols: list[str]) -> str:
        if alias == "p":
            return ", ".join(f'"{c}"' for c in cols)
        return ", ".join(f'"{dlt_cols.get(c.lower(), dlt_cols.get(_snake(c), c))}"' for c in cols)

    cols = key + values
    p_minus_d = con.execute(f"SELECT count(*) FROM (SELECT {sel('p', cols)} FROM p.main.{table} "
                            f"EXCEPT SELECT {sel('d', cols)} FROM d.bench.{table})").fetchone()[0]
    d_minus_p = con.execute(f"SELECT count(*) FROM (SELECT {sel('d', cols)} FROM d.bench.{table} "
                            f"EXCEPT SELECT {sel('p', cols)} FROM p.main.{table})").fetchone()[0]
    n_p = con.execute(f"SELECT count(*) FROM p.main.{table}").fetchone()[0]
    n_d = con.execute(f"SELECT count(*) FROM d.bench.{table}").fetchone()[0]
    con.close()
    return {"platform_rows": n_p, "dlt_rows": n_d, "platform_not_in_dlt": p_minus_d, "dlt_not_in_platform": d_minus_p,
            "same": n_p == n_d and p_minus_d == 0 and d_minus_p == 0, "columns_compared": cols}


def _snake(name: str) -> str:
    import re

    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
