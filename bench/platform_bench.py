"""The benchmark: bmrs_assets against the floor and against dlt, on loopback (``make bench``).

    python -m bench [--days 44] [--reps 3] [--no-dlt] [--scenarios boalf,per_partition,bod,latency,noop]

Every measured configuration runs in its own child process with its own fresh DuckDB file (and,
for the platform, its own Dagster instance), so each wall time and peak RSS is that configuration's
own: the peak RSS is the child's ``ru_maxrss`` from ``wait4``. The simulator is a separate process
that keeps the serialized response bodies (``--body-cache-mb``), and a warm-up pass fills it, so no
contender pays for generating data. The platform and the floor are alternated, run after run, so
their ratio holds on a noisy machine; every figure is the median of ``--reps`` runs.

Contenders:

* **platform** - bmrs_assets through Dagster, as a user's backfill runs: one single-run range
  backfill (``runner.materialize_range``), and separately the per-partition default (one run per
  day, in one process).
* **floor** - the least a loader can do: httpx GET -> orjson -> typed Arrow table -> DuckDB
  ``MERGE INTO`` on the natural key, one day at a time (or 4 requests in flight), no validation,
  no hashing, no metadata, no orchestration.
* **dlt** - the same days loaded with dlt (``write_disposition="merge"`` on the same primary key,
  parquet loader, its fastest configuration) into DuckDB, checked to hold the same rows (the
  ``bench`` extra: ``pip install -e '.[bench]'``).

Wall seconds are measured inside each child around the load itself (interpreter start and imports
excluded for every contender); each child's whole process wall time is recorded too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bmrs_assets.cli.runs import SimulatorProcess

ROOT = Path(__file__).resolve().parents[1]
FIRST_DAY = date(2025, 11, 1)  # 44 days of BOALF: 2025-11-01 .. 2025-12-14 (no clock change)
BOD_DAY = date(2025, 12, 17)
LOOPBACK_RATE = 1000.0  # requests/s for the CPU-bound loopback comparison (the floor has no limit)
LATENCY_RATE = 4.0  # the platform's default, for both contenders, where waiting is what is measured
IN_FLIGHT = 4
SCENARIOS = ("boalf", "per_partition", "bod", "latency", "noop")
TARGETS = {"boalf_vs_floor": 1.5, "boalf_vs_dlt": 0.25, "boalf_rss_mib": 800, "bod_vs_floor": 1.5,
           "bod_rss_mib": 1024, "latency_vs_floor": 1.5, "noop_vs_first": 0.3}


# --- the children -------------------------------------------------------------------------------
def _days(first: str, last: str) -> list[date]:
    a, b = date.fromisoformat(first), date.fromisoformat(last)
    return [a + timedelta(days=i) for i in range((b - a).days + 1)]


def child_platform(spec: dict) -> dict:
    """bmrs_assets through Dagster: one range run, or one run per day (``per_partition``)."""
    import dagster as dg

    from bmrs_assets.cli.runs import asset_job, materialize_range

    instance = dg.DagsterInstance.get()
    days = _days(spec["first"], spec["last"])
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
            "runs": len(ranges), "rows_in_table": _count(spec["db"], f'"bmrs_{spec["dataset"].lower()}"')}


def _count(db: str, table: str) -> int:
    """Rows of ``table`` (as written in SQL: quoted or schema-qualified) in a DuckDB file."""
    import duckdb

    con = duckdb.connect(db, read_only=True)
    try:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        con.close()


def _floor_table(ds: object, rows: list[dict]) -> object:
    """Rows -> an Arrow table typed as the registry says: one conversion per column, nothing else."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from bmrs_assets.elexon.datasets import Kind

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
    days = _days(spec["first"], spec["last"])
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
    days = _days(spec["first"], spec["last"])
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
    return {"seconds": seconds, "rows_in_table": _count(spec["db"], f"bench.{ds.table}")}


CHILDREN = {"platform": child_platform, "floor": child_floor, "dlt": child_dlt}


def child_main(spec: dict) -> None:
    result = CHILDREN[spec["kind"]](spec)
    print("BENCH-RESULT " + json.dumps(result), flush=True)


# --- the parent ---------------------------------------------------------------------------------
@dataclass
class Run:
    scenario: str
    contender: str
    rep: int  # -1: warm-up
    seconds: float
    peak_rss_mib: float
    process_seconds: float
    extra: dict = field(default_factory=dict)


def run_child(spec: dict, env: dict[str, str], log: Path) -> tuple[dict, float, float]:
    """Run one configuration in a child; (its result, its peak RSS in MiB, its process wall seconds)."""
    started = time.perf_counter()
    with open(log, "ab") as err:
        proc = subprocess.Popen([sys.executable, "-m", "bench", "--child", json.dumps(spec)],
                                stdout=subprocess.PIPE, stderr=err, env=env, cwd=spec["work"])
        out = b""
        assert proc.stdout is not None
        for chunk in iter(lambda: proc.stdout.read(65536), b""):
            out += chunk
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{spec['kind']} child failed (exit {proc.returncode}); see {log}")
    line = [ln for ln in out.decode().splitlines() if ln.startswith("BENCH-RESULT ")][-1]
    return json.loads(line[len("BENCH-RESULT "):]), usage.ru_maxrss / 1024.0, wall


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args, self.work = args, work
        self.runs: list[Run] = []
        self.n = 0
        self.log = work / "children.log"

    def fresh(self, name: str) -> Path:
        self.n += 1
        d = self.work / f"{self.n:03d}-{name}"
        d.mkdir()
        return d

    def platform_env(self, d: Path, url: str, rate: float, db: Path, in_flight: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BMRS_")}
        env.update(BMRS_API_BASE_URL=url, BMRS_DUCKDB_PATH=str(db), BMRS_RATE_LIMIT_PER_S=str(rate),
                   BMRS_RATE_LIMIT_FILE=str(d / "rate"), BMRS_API_IN_FLIGHT=str(in_flight),
                   BMRS_START_DATE="2025-01-01", DAGSTER_HOME=str(d / "dagster_home"))
        (d / "dagster_home").mkdir(exist_ok=True)
        # the instance the project ships (make demo/ui): run queue, elexon_api pool, no telemetry
        (d / "dagster_home" / "dagster.yaml").write_text((ROOT / "deploy" / "instance" / "dagster.yaml").read_text())
        return env

    def measure(self, scenario: str, contender: str, rep: int, spec: dict, env: dict[str, str]) -> Run:
        result, rss, wall = run_child(spec, env, self.log)
        run = Run(scenario, contender, rep, result.pop("seconds"), round(rss, 1), round(wall, 3), result)
        self.runs.append(run)
        tag = "warm-up" if rep < 0 else f"rep {rep + 1}"
        print(f"  {scenario:<14} {contender:<22} {tag:<8} {run.seconds:8.2f} s  peak RSS {run.peak_rss_mib:7.1f} MiB  "
              f"{json.dumps(result)}", flush=True)
        return run

    def platform(self, scenario: str, rep: int, url: str, dataset: str, first: date, last: date, rate: float,
                 per_partition: bool = False, db: Path | None = None, contender: str = "platform",
                 in_flight: int = 1) -> Path:
        d = self.fresh(f"{scenario}-{contender}")
        db = db or d / "warehouse.duckdb"
        spec = {"kind": "platform", "work": str(d), "db": str(db), "dataset": dataset, "first": first.isoformat(),
                "last": last.isoformat(), "per_partition": per_partition}
        self.measure(scenario, contender, rep, spec, self.platform_env(d, url, rate, db, in_flight))
        return db

    def floor(self, scenario: str, rep: int, url: str, dataset: str, first: date, last: date, rate: float,
              in_flight: int = 1, contender: str = "floor") -> None:
        d = self.fresh(f"{scenario}-{contender}")
        spec = {"kind": "floor", "work": str(d), "db": str(d / "floor.duckdb"), "dataset": dataset, "url": url,
                "first": first.isoformat(), "last": last.isoformat(), "rate": rate, "in_flight": in_flight}
        self.measure(scenario, contender, rep, spec, dict(os.environ))

    def dlt(self, scenario: str, rep: int, url: str, dataset: str, first: date, last: date, rate: float) -> Path:
        d = self.fresh(f"{scenario}-dlt")
        spec = {"kind": "dlt", "work": str(d), "db": str(d / "dlt.duckdb"), "dataset": dataset, "url": url,
                "first": first.isoformat(), "last": last.isoformat(), "rate": rate, "format": "parquet"}
        env = dict(os.environ, RUNTIME__LOG_LEVEL="WARNING", DLT_DATA_DIR=str(d / "dlt_data"))
        self.measure(scenario, "dlt-parquet", rep, spec, env)
        return Path(spec["db"])


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


def median(runs: list[Run], scenario: str, contender: str, attr: str = "seconds") -> float | None:
    values = [getattr(r, attr, None) if hasattr(r, attr) else r.extra.get(attr) for r in runs
              if r.scenario == scenario and r.contender == contender and r.rep >= 0]
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {"cores": os.cpu_count(), "ram_gib": round(mem / 2**30, 1), "cpu": cpu, "platform": platform.platform(),
            "load_average_at_start": list(os.getloadavg())}


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("dagster", "duckdb", "pyarrow", "pandas", "pandera", "orjson", "httpx", "dlt"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def paired_ratio(runs: list[Run], scenario: str, contender: str, other_scenario: str, other: str) -> float | None:
    """The median over repetitions of contender/other, each pair measured back to back in the same repetition."""
    mine = {r.rep: r.seconds for r in runs if r.scenario == scenario and r.contender == contender and r.rep >= 0}
    theirs = {r.rep: r.seconds for r in runs if r.scenario == other_scenario and r.contender == other and r.rep >= 0}
    ratios = [mine[k] / theirs[k] for k in sorted(mine) if k in theirs and theirs[k] > 0]
    return statistics.median(ratios) if ratios else None


def summarise(runs: list[Run], args: argparse.Namespace) -> tuple[list[dict], dict]:
    """Rows of the results table and the ratios checked against the targets.

    Ratios are medians of the per-repetition ratios (each platform run against the floor or dlt run
    of the same repetition, back to back), which is what the alternation is for on a noisy machine.
    """
    def m(s: str, c: str, a: str = "seconds") -> float | None:
        return median(runs, s, c, a)

    days = args.days
    rows = []
    ratios: dict[str, float | None] = {}

    def row(label: str, scenario: str, contender: str, floor_c: str | None = None, note: str = "") -> None:
        sec, rss = m(scenario, contender), m(scenario, contender, "peak_rss_mib")
        if sec is None:
            return
        fl = m(scenario, floor_c) if floor_c else None
        dagster = m(scenario, contender, "dagster_seconds")
        if dagster is not None and not note:
            note = f"of which Dagster (run, events, checks) {dagster:.1f} s"
        rows.append({"what": label, "seconds": sec, "peak_rss_mib": rss,
                     "floor_seconds": fl, "vs_floor": paired_ratio(runs, scenario, contender, scenario, floor_c) if fl else None,
                     "floor_rss_mib": m(scenario, floor_c, "peak_rss_mib") if floor_c else None, "note": note})

    row(f"BOALF {days} d, platform, single-run backfill", "boalf", "platform", "floor")
    dlt_sec = m("boalf", "dlt-parquet")
    if rows and dlt_sec:
        rows[-1]["dlt_seconds"] = dlt_sec
        rows[-1]["vs_dlt"] = paired_ratio(runs, "boalf", "platform", "boalf", "dlt-parquet")
    row(f"BOALF {days} d, dlt (merge, parquet loader)", "boalf", "dlt-parquet", "floor")
    row(f"BOALF {days} d, platform, per-partition default ({days} runs)", "per_partition", "platform-per-partition",
        "floor")
    if rows and rows[-1]["what"].startswith(f"BOALF {days} d, platform, per-partition") and m("boalf", "platform"):
        rows[-1]["note"] = (f"× the single-run backfill: {rows[-1]['seconds'] / m('boalf', 'platform'):.1f}; "
                            + rows[-1]["note"])
        rows[-1]["floor_seconds"] = m("boalf", "floor")
        rows[-1]["vs_floor"] = rows[-1]["seconds"] / rows[-1]["floor_seconds"] if rows[-1]["floor_seconds"] else None
    row(f"BOD {args.bod_days} d, platform", "bod", "platform", "floor")
    row(f"BOALF {days} d, 500 ms latency, platform (4/s, {IN_FLIGHT} in flight)", "latency", "platform",
        "floor-4-in-flight")
    row(f"BOALF {days} d, 500 ms latency, floor serial (4/s)", "latency", "floor-serial", "floor-4-in-flight")
    first = m("noop", "platform-first") or m("boalf", "platform")
    row(f"BOALF {days} d, no-op re-run", "noop", "platform-rerun", None)
    if rows and rows[-1]["what"].endswith("no-op re-run") and first:
        rows[-1]["first_run_seconds"] = first
        rows[-1]["vs_first_run"] = (paired_ratio(runs, "noop", "platform-rerun", "noop", "platform-first")
                                    or paired_ratio(runs, "noop", "platform-rerun", "boalf", "platform"))
        written = [r.extra.get("rows_written") for r in runs if r.contender == "platform-rerun" and r.rep >= 0]
        rows[-1]["rows_written"] = max(written) if written else None

    by = {r["what"]: r for r in rows}
    get = lambda key: next((r for w, r in by.items() if w.startswith(key)), None)  # noqa: E731
    b = get(f"BOALF {days} d, platform, single")
    ratios["boalf_vs_floor"] = b and b["vs_floor"]
    ratios["boalf_vs_dlt"] = b and b.get("vs_dlt")
    ratios["boalf_rss_mib"] = b and b["peak_rss_mib"]
    bod = get(f"BOD {args.bod_days} d, platform")
    ratios["bod_vs_floor"] = bod and bod["vs_floor"]
    ratios["bod_rss_mib"] = bod and bod["peak_rss_mib"]
    lat = get(f"BOALF {days} d, 500 ms latency, platform")
    ratios["latency_vs_floor"] = lat and lat["vs_floor"]
    noop = get(f"BOALF {days} d, no-op")
    ratios["noop_vs_first"] = noop and noop.get("vs_first_run")
    ratios["noop_rows_written"] = noop and noop.get("rows_written")
    return rows, ratios


def verdicts(ratios: dict) -> dict[str, str]:
    out = {}
    for k, limit in TARGETS.items():
        v = ratios.get(k)
        out[k] = "n/a" if v is None else ("met" if v <= limit else "MISSED")
    if ratios.get("noop_rows_written") is not None:
        out["noop_rows_written"] = "met" if ratios["noop_rows_written"] == 0 else "MISSED"
    return out


def markdown(rows: list[dict], ratios: dict, meta: dict) -> str:
    def f(v: float | None, digits: int = 2) -> str:
        return "" if v is None else f"{v:.{digits}f}"

    lines = [f"Benchmark {meta['started_utc']} on {meta['machine']['cores']} cores, {meta['machine']['ram_gib']} GiB "
             f"({meta['machine']['cpu']}); seconds and RSS are medians of {meta['reps']} runs after a warm-up, "
             f"× columns medians of the per-run ratios (pairs run back to back); load average at start "
             f"{', '.join(f'{x:.1f}' for x in meta['machine']['load_average_at_start'])}.",
             "",
             "| what | seconds | peak RSS MiB | floor s | × floor | dlt s | × dlt | note |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        note = r.get("note", "")
        if "rows_written" in r:
            note = (f"rows written {r['rows_written']}; × first run {f(r.get('vs_first_run'))} "
                    f"(first {f(r.get('first_run_seconds'))} s)" + (f"; {note}" if note else ""))
        lines.append(f"| {r['what']} | {f(r['seconds'])} | {f(r['peak_rss_mib'], 0)} | {f(r.get('floor_seconds'))} | "
                     f"{f(r.get('vs_floor'))} | {f(r.get('dlt_seconds'))} | {f(r.get('vs_dlt'))} | {note} |")
    lines += ["", "| target | limit | measured | verdict |", "|---|---:|---:|---|"]
    v = verdicts(ratios)
    for k, limit in TARGETS.items():
        lines.append(f"| {k} | ≤ {limit} | {f(ratios.get(k))} | {v[k]} |")
    if "noop_rows_written" in v:
        lines.append(f"| noop_rows_written | = 0 | {ratios['noop_rows_written']} | {v['noop_rows_written']} |")
    lines += ["", f"Rate limits: {LOOPBACK_RATE:g}/s for both contenders on loopback (the floor has none); "
              f"{LATENCY_RATE:g}/s with {IN_FLIGHT} requests in flight for both in the latency scenario "
              f"(platform: BMRS_API_IN_FLIGHT={IN_FLIGHT}; elsewhere its default, 1: the next day is fetched while "
              "the current one is typed)."]
    if meta.get("dlt_same_rows") is not None:
        s = meta["dlt_same_rows"]
        lines.append(f"dlt holds the same rows as the platform: {s['same']} ({s['dlt_rows']} vs {s['platform_rows']} rows, "
                     f"compared on {len(s['columns_compared'])} columns).")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--days", type=int, default=44)
    parser.add_argument("--bod-days", type=int, default=1)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--no-warmup", action="store_true")
    parser.add_argument("--no-dlt", action="store_true", help="skip dlt (e.g. without the bench extra)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--latency-ms", type=float, default=500.0)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    if args.child:
        child_main(json.loads(args.child))
        return 0
    scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}")
    if not args.no_dlt:
        try:
            import dlt  # noqa: F401
        except ImportError:
            parser.error("dlt is not installed: pip install -e '.[bench]', or pass --no-dlt")
    started_utc = datetime.now(UTC)
    first, last = FIRST_DAY, FIRST_DAY + timedelta(days=args.days - 1)
    bod_first, bod_last = BOD_DAY, BOD_DAY + timedelta(days=args.bod_days - 1)
    cache_mb = str(int(60 + 9 * args.days + 80 * args.bod_days))
    work = Path(tempfile.mkdtemp(prefix="bmrs-bench-"))
    bench = Bench(args, work)
    meta: dict = {"started_utc": started_utc.isoformat(timespec="seconds"), "machine": machine(),
                  "versions": versions(), "reps": args.reps, "days": args.days, "bod_days": args.bod_days,
                  "first_day": first.isoformat(), "bod_day": bod_first.isoformat(), "scenarios": scenarios,
                  "loopback_rate_per_s": LOOPBACK_RATE, "latency_rate_per_s": LATENCY_RATE, "in_flight": IN_FLIGHT,
                  "latency_ms": args.latency_ms, "work": str(work)}
    print(f"bmrs_assets benchmark: {args.days} days of BOALF from {first}, {args.reps} reps; work in {work}", flush=True)
    total = time.perf_counter()
    with SimulatorProcess("--body-cache-mb", cache_mb) as sim, \
            SimulatorProcess("--body-cache-mb", cache_mb if "latency" in scenarios else "0",
                             "--latency-ms", str(args.latency_ms)) as slow:
        url, slow_url = sim.url, slow.url
        reps = ([-1] if not args.no_warmup else []) + list(range(args.reps))
        for rep in reps:
            flip = rep % 2 == 1  # alternate who goes first
            platform_db = None
            if "boalf" in scenarios:
                pair = [lambda r=rep: bench.platform("boalf", r, url, "BOALF", first, last, LOOPBACK_RATE),
                        lambda r=rep: bench.floor("boalf", r, url, "BOALF", first, last, LOOPBACK_RATE)]
                results = [fn() for fn in (reversed(pair) if flip else pair)]
                platform_db = results[1] if flip else results[0]
                if not args.no_dlt and rep >= 0:
                    dlt_db = bench.dlt("boalf", rep, url, "BOALF", first, last, LOOPBACK_RATE)
                    if rep == 0:
                        ds_cols = ["dataset", "settlementDate", "settlementPeriodFrom", "settlementPeriodTo", "timeFrom",
                                   "timeTo", "levelFrom", "levelTo", "acceptanceNumber", "acceptanceTime",
                                   "deemedBoFlag", "soFlag", "amendmentFlag", "storFlag", "rrFlag"]
                        key = ["bmUnit", "nationalGridBmUnit", "acceptanceNumber", "settlementDate", "timeFrom"]
                        meta["dlt_same_rows"] = same_rows(platform_db, dlt_db, "bmrs_boalf", key,
                                                          [c for c in ds_cols if c not in key])
                        print(f"  dlt same rows: {meta['dlt_same_rows']}", flush=True)
            if "noop" in scenarios:  # the same days again on the warehouse just loaded, nothing changed upstream
                if "boalf" not in scenarios:
                    platform_db = bench.platform("noop", rep, url, "BOALF", first, last, LOOPBACK_RATE,
                                                 contender="platform-first")
                bench.platform("noop", rep, url, "BOALF", first, last, LOOPBACK_RATE, db=platform_db,
                               contender="platform-rerun")
            if "bod" in scenarios:
                pair = [lambda r=rep: bench.platform("bod", r, url, "BOD", bod_first, bod_last, LOOPBACK_RATE),
                        lambda r=rep: bench.floor("bod", r, url, "BOD", bod_first, bod_last, LOOPBACK_RATE)]
                for fn in (reversed(pair) if flip else pair):
                    fn()
            if "latency" in scenarios:
                pair = [lambda r=rep: bench.platform("latency", r, slow_url, "BOALF", first, last, LATENCY_RATE,
                                                     in_flight=IN_FLIGHT),
                        lambda r=rep: bench.floor("latency", r, slow_url, "BOALF", first, last, LATENCY_RATE,
                                                  in_flight=IN_FLIGHT, contender="floor-4-in-flight")]
                for fn in (reversed(pair) if flip else pair):
                    fn()
                if rep >= 0:
                    bench.floor("latency", rep, slow_url, "BOALF", first, last, LATENCY_RATE, contender="floor-serial")
            if "per_partition" in scenarios and rep >= 0:
                bench.platform("per_partition", rep, url, "BOALF", first, last, LOOPBACK_RATE, per_partition=True,
                               contender="platform-per-partition")
    meta["total_seconds"] = round(time.perf_counter() - total, 1)
    rows, ratios = summarise(bench.runs, args)
    meta["verdicts"] = verdicts(ratios)
    report = {"meta": meta, "table": rows, "ratios": ratios, "targets": TARGETS,
              "runs": [r.__dict__ for r in bench.runs]}
    md = markdown(rows, ratios, meta)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = started_utc.strftime("%Y%m%dT%H%M%SZ")
    (out / f"{stamp}.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (out / "latest.md").write_text(md)
    print()
    print(md)
    print(f"written {out / (stamp + '.json')} and {out / 'latest.md'} in {meta['total_seconds']} s", flush=True)
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
