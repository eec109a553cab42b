"""The peers the platform is measured against: the floor and dlt, each run in a child process.

* **floor** - the least a loader can do: httpx GET -> orjson -> typed Arrow table -> DuckDB
  ``MERGE INTO`` on the natural key, one day at a time (or N requests in flight), no validation,
  no hashing, no metadata, no orchestration.
* **dlt** - the same days loaded with dlt (``write_disposition="merge"`` on the same primary key,
  parquet loader) into DuckDB; :func:`same_rows` checks it holds the platform's rows.
"""

from __future__ import annotations

import json
import os
import resource
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
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


def _floor_request(ds: object, url: str, day: date, index: int, http: object, limiter: object) -> object:
    """One of a day's requests (the ``index``-th of ``initial_slices``, as the platform asks): httpx GET
    -> orjson -> a typed Arrow table (``_floor_table``), the body freed first."""
    import orjson

    from bmrs_assets.elexon.client import build_request, initial_slices

    path, params = build_request(ds, initial_slices(ds, day)[index])
    limiter.acquire()
    with http.stream("GET", url + path, params=params) as response:
        response.raise_for_status()
        body = response.read()
    del response  # free the body now, not at the next full garbage collection
    rows = orjson.loads(body)
    del body
    return _floor_table(ds, rows)


_WORKER: dict = {}  # a floor-procs worker's own client, limiter and dataset (set by _worker_init)


def _worker_init(dataset: str, rate: float, rate_file: str, barrier: object) -> None:
    """A floor-procs worker: imports and its client made before the clock starts (as for every contender)."""
    import httpx
    import orjson  # noqa: F401  (imported before the clock starts, as in the serial floor)
    import pyarrow.compute  # noqa: F401

    from bmrs_assets.core.tables import Kind  # noqa: F401
    from bmrs_assets.elexon.client import RateLimiter
    from bmrs_assets.elexon.datasets import get_dataset

    _WORKER.update(ds=get_dataset(dataset), http=httpx.Client(timeout=120),
                   limiter=RateLimiter(rate, state_path=rate_file))  # one rate across the workers
    barrier.wait(timeout=120)  # every worker started before the first day is handed out


def _worker_ready() -> int:
    return os.getpid()


def _worker_request(url: str, day: date, index: int) -> tuple[int, float, float, object]:
    """In a floor-procs worker: one request's typed Arrow table, handed back (pickled) to the parent,
    with the worker's pid, its peak RSS so far (MiB) and its CPU seconds so far (user + system).

    A worker is the forkserver's child, not the floor child's, so the parent's ``wait4`` sees
    neither its memory nor its CPU: it reports them itself."""
    table = _floor_request(_WORKER["ds"], url, day, index, _WORKER["http"], _WORKER["limiter"])
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return os.getpid(), usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime, table


def in_order(submit: Callable[[tuple[date, int]], Future], units: list[tuple[date, int]],
             window: int) -> Iterator[object]:
    """Each unit's result in order, with at most ``window`` units held at once: submitted, being
    worked on, done and waiting, or in the caller's hands (the next is submitted once the caller
    asks for the following result)."""
    pending: deque[Future] = deque()
    todo = iter(units)
    for unit in todo:
        pending.append(submit(unit))
        if len(pending) >= window:
            break
    while pending:
        result = pending.popleft().result()
        yield result
        del result
        nxt = next(todo, None)
        if nxt is not None:
            pending.append(submit(nxt))


def child_floor(spec: dict) -> dict:
    """httpx GET -> orjson -> typed Arrow table -> DuckDB MERGE INTO, a day at a time, in day order.

    The unit of work is one request (a day is one, a BOD day nine: the platform's requests), fetched
    and typed into Arrow; a day's tables are MERGEd together once its last request is in. Three
    variants of the same work: serial (``in_flight`` 1, ``processes`` 0); ``in_flight`` threads each
    fetching and typing a request (``floor-threads``, or the latency scenario's 4 in flight); or a
    pool of ``processes`` worker processes (forkserver) each fetching and typing a request and handing
    the Arrow table back (``floor-procs``). The MERGEs are the parent's, in day order; at most
    ``in_flight + 1`` (threads) or ``processes + 1`` responses are held at once (in flight, typed and
    waiting, or being added to the day), so memory stays bounded: one day's typed tables besides
    (as the platform holds).
    """
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

    import duckdb
    import httpx
    import orjson  # noqa: F401  (imports before the clock starts, for every variant)
    import pyarrow as pa
    import pyarrow.compute

    from bmrs_assets.elexon.client import RateLimiter, initial_slices
    from bmrs_assets.elexon.datasets import get_dataset
    from bmrs_assets.warehouse.duckdb_backend import DUCKDB_TYPES

    ds = get_dataset(spec["dataset"])
    days = days_of(spec["first"], spec["last"])
    procs, threads = spec.get("processes", 0), spec["in_flight"]
    pool: ThreadPoolExecutor | ProcessPoolExecutor
    if procs:
        ctx = mp.get_context("forkserver")
        pool = ProcessPoolExecutor(procs, mp_context=ctx, initializer=_worker_init, initargs=(
            spec["dataset"], spec["rate"], str(Path(spec["work"]) / "rate"), ctx.Barrier(procs)))
        # each submit starts a worker while none is idle; their initializers wait for each other
        for f in [pool.submit(_worker_ready) for _ in range(procs)]:
            f.result()
    else:
        pool = ThreadPoolExecutor(max_workers=threads)
    limiter = RateLimiter(spec["rate"])
    started = time.perf_counter()
    http = httpx.Client(timeout=120, limits=httpx.Limits(max_connections=threads))
    con = duckdb.connect(spec["db"])
    cols = ", ".join(f'"{c.name}" {DUCKDB_TYPES[c.kind]}' for c in ds.columns)
    con.execute(f'CREATE TABLE t ({cols})')
    names = [f'"{c.name}"' for c in ds.columns]
    on = " AND ".join(f'T."{k}" IS NOT DISTINCT FROM S."{k}"' for k in ds.key)
    merge = (f"MERGE INTO t AS T USING incoming AS S ON {on} "
             f"WHEN MATCHED THEN UPDATE SET {', '.join(f'{n} = S.{n}' for n in names)} "
             f"WHEN NOT MATCHED THEN INSERT ({', '.join(names)}) VALUES ({', '.join('S.' + n for n in names)})")

    def fetch(unit: tuple[date, int]) -> object:
        return _floor_request(ds, spec["url"], *unit, http, limiter)

    workers_rss: dict[int, float] = {}
    workers_cpu: dict[int, float] = {}

    def from_worker(results: Iterator[tuple[int, float, float, object]]) -> Iterator[object]:
        for pid, rss, cpu, table in results:
            workers_rss[pid] = max(rss, workers_rss.get(pid, 0.0))
            workers_cpu[pid] = max(cpu, workers_cpu.get(pid, 0.0))
            yield table

    units = [(day, i) for day in days for i in range(len(initial_slices(ds, day)))]
    if procs:
        tables = from_worker(in_order(lambda u: pool.submit(_worker_request, spec["url"], *u), units, procs + 1))
    elif threads > 1:
        tables = in_order(lambda u: pool.submit(fetch, u), units, threads + 1)
    else:
        tables = map(fetch, units)
    last_of_day = {day: max(i for d, i in units if d == day) for day in days}
    parts: list = []
    for (day, i), table in zip(units, tables, strict=True):
        parts.append(table)
        del table
        if i < last_of_day[day]:
            continue
        incoming = pa.concat_tables(parts)
        parts.clear()
        con.register("incoming", incoming)
        con.execute(merge)
        con.unregister("incoming")
        del incoming
    seconds = time.perf_counter() - started
    pool.shutdown()
    n = con.execute("SELECT count(*) FROM t").fetchone()[0]
    con.close()
    http.close()
    out = {"seconds": seconds, "rows_in_table": n, "processes": procs, "in_flight": threads}
    if procs:  # the child's ru_maxrss and CPU are its own; the workers' are reported beside them
        out["worker_peak_rss_mib"] = sorted(round(x, 1) for x in workers_rss.values())
        out["worker_peak_rss_mib_max"] = max(out["worker_peak_rss_mib"], default=None)
        out["worker_cpu_seconds"] = round(sum(workers_cpu.values()), 3)
    return out


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
