"""The report: medians and paired ratios of the runs, verdicts against the targets, and the files.

``bench/results/<UTC stamp>.json`` holds the machine, the versions, the table, the ratios and every
run's raw figures; ``bench/results/latest.md`` the table and the verdicts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
from datetime import datetime
from pathlib import Path

from bench.runner import Run
from bench.scenarios import IN_FLIGHT, LATENCY_RATE, LOOPBACK_RATE

TARGETS = {"boalf_vs_floor": 1.5, "boalf_vs_dlt": 0.25, "boalf_rss_mib": 800, "bod_vs_floor": 1.5,
           "bod_rss_mib": 1024, "latency_vs_floor": 1.5, "noop_vs_first": 0.3,
           "history_bod_rss_ratio": 1.3, "history_boalf_rss_mib": 1024, "history_boalf_s_per_day_ratio": 1.2}


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


def paired_ratio(runs: list[Run], scenario: str, contender: str, other_scenario: str, other: str,
                 attr: str = "seconds") -> float | None:
    """The median over repetitions of contender/other, each pair measured back to back in the same repetition."""
    mine = {r.rep: getattr(r, attr) for r in runs if r.scenario == scenario and r.contender == contender and r.rep >= 0}
    theirs = {r.rep: getattr(r, attr) for r in runs
              if r.scenario == other_scenario and r.contender == other and r.rep >= 0}
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

    history(runs, args, rows, ratios)

    by = {r["what"]: r for r in rows}
    get = lambda key: next((r for w, r in by.items() if w.startswith(key)), None)  # noqa: E731
    b = get(f"BOALF {days} d, platform, single")
    ratios["boalf_vs_floor"] = b and b["vs_floor"]
    ratios["boalf_vs_dlt"] = b and b.get("vs_dlt")
    ratios["boalf_rss_mib"] = b and b["peak_rss_mib"]
    bod = by.get(f"BOD {args.bod_days} d, platform")
    ratios["bod_vs_floor"] = bod and bod["vs_floor"]
    ratios["bod_rss_mib"] = bod and bod["peak_rss_mib"]
    lat = get(f"BOALF {days} d, 500 ms latency, platform")
    ratios["latency_vs_floor"] = lat and lat["vs_floor"]
    noop = get(f"BOALF {days} d, no-op")
    ratios["noop_vs_first"] = noop and noop.get("vs_first_run")
    ratios["noop_rows_written"] = noop and noop.get("rows_written")
    return rows, ratios


def history(runs: list[Run], args: argparse.Namespace, rows: list[dict], ratios: dict) -> None:
    """The history scenario's rows and its three figures (``history_*``), from the runs it made.

    The BOD ratio is the median of the per-repetition ratios (long run ÷ 1-day run, back to back).
    The seconds-per-day ratio compares the long BOALF run with the ``--days`` BOALF run: paired per
    repetition when the history scenario measured that run itself, else against the ``boalf``
    scenario's median.
    """
    n_bod, n_boalf, days = args.history_bod_days, args.history_boalf_days, args.days
    bod_1, bod_n = "platform-bod-1d", f"platform-bod-{n_bod}d"
    boalf_n, boalf_ref = f"platform-boalf-{n_boalf}d", f"platform-boalf-{days}d"

    def add(label: str, contender: str, note: str = "") -> dict | None:
        sec, rss = median(runs, "history", contender), median(runs, "history", contender, "peak_rss_mib")
        if sec is None:
            return None
        dagster = median(runs, "history", contender, "dagster_seconds")
        parts = [note] if note else []
        if dagster is not None:
            parts.append(f"of which Dagster (run, events, checks) {dagster:.1f} s")
        rows.append({"what": label, "seconds": sec, "peak_rss_mib": rss, "note": "; ".join(parts)})
        return rows[-1]

    rss_ratio = paired_ratio(runs, "history", bod_n, "history", bod_1, "peak_rss_mib")
    add("BOD 1 d, platform, one run (history)", bod_1)
    add(f"BOD {n_bod} d, platform, one run (history)", bod_n,
        f"× 1-day RSS {rss_ratio:.2f}" if rss_ratio is not None else "")
    ratios["history_bod_rss_ratio"] = rss_ratio

    per_day = None
    if median(runs, "history", boalf_ref) is not None:  # measured here, back to back with the long run
        per_day = paired_ratio(runs, "history", boalf_n, "history", boalf_ref)
        per_day = per_day * days / n_boalf if per_day is not None else None
        reference = "history"
        add(f"BOALF {days} d, platform, one run (history)", boalf_ref,
            f"{median(runs, 'history', boalf_ref) / days:.3f} s/day")
    elif median(runs, "boalf", "platform") is not None:
        long, ref = median(runs, "history", boalf_n), median(runs, "boalf", "platform")
        per_day = (long / n_boalf) / (ref / days) if long is not None and ref else None
        reference = "boalf scenario"
    sec = median(runs, "history", boalf_n)
    note = ""
    if sec is not None:
        note = f"{sec / n_boalf:.3f} s/day"
        if per_day is not None:
            note += f", × {per_day:.2f} the {days}-day run's ({reference})"
    add(f"BOALF {n_boalf} d, platform, one run (history)", boalf_n, note)
    ratios["history_boalf_rss_mib"] = median(runs, "history", boalf_n, "peak_rss_mib")
    ratios["history_boalf_s_per_day_ratio"] = per_day


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

    history_reps = f" (history: of {meta.get('history_reps', 1)}, after a fill)" if meta.get("history") else ""
    lines = [f"Benchmark {meta['started_utc']} on {meta['machine']['cores']} cores, {meta['machine']['ram_gib']} GiB "
             f"({meta['machine']['cpu']}); seconds and RSS are medians of {meta['reps']} runs after a warm-up"
             f"{history_reps}, × columns medians of the per-run ratios (pairs run back to back); load average at start "
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
    if meta.get("history"):
        h = meta["history"]
        fills = "; ".join(f"{f['dataset']} {f['days']} d, {f['requests']} requests, {f['mib']:.0f} MiB in "
                          f"{f['seconds']:.0f} s" for f in h["fills"])
        lines.append(f"History: one run per range, served from memory by bench/replay.py, filled first by "
                     f"{h['generators']} simulators ({fills}); requests the fill missed: "
                     f"{sum(h['misses'].values())}; BOALF s/day compared with the {h['boalf_reference']} "
                     "scenario's run.")
    if meta.get("dlt_same_rows") is not None:
        s = meta["dlt_same_rows"]
        lines.append(f"dlt holds the same rows as the platform: {s['same']} ({s['dlt_rows']} vs {s['platform_rows']} rows, "
                     f"compared on {len(s['columns_compared'])} columns).")
    return "\n".join(lines) + "\n"


def write_report(out: Path, started_utc: datetime, runs: list[Run], rows: list[dict], ratios: dict, meta: dict) -> None:
    """``<out>/<UTC stamp>.json`` (everything, every run) and ``<out>/latest.md`` (the table), then print the table."""
    report = {"meta": meta, "table": rows, "ratios": ratios, "targets": TARGETS,
              "runs": [r.__dict__ for r in runs]}
    md = markdown(rows, ratios, meta)
    out.mkdir(parents=True, exist_ok=True)
    stamp = started_utc.strftime("%Y%m%dT%H%M%SZ")
    (out / f"{stamp}.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (out / "latest.md").write_text(md)
    print()
    print(md)
    print(f"written {out / (stamp + '.json')} and {out / 'latest.md'} in {meta['total_seconds']} s", flush=True)
