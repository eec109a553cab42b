"""The result files: ``<out>/<UTC stamp>.json`` (the machine, the versions, the table, the ratios
and every run's raw figures) and ``<out>/latest.md`` (the table, and the targets with their verdicts
and the figures each ratio was formed from)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from bench.cuts import dagster_share_lines
from bench.report import REPORTED, TARGETS, verdicts
from bench.runner import Run
from bench.scenarios import FLOOR_PROCESSES, FLOOR_THREADS, IN_FLIGHT, LATENCY_RATE, LOOPBACK_RATE


def _s(v: float | None, unit: str = " s") -> str:
    return "?" if v is None else f"{v:.2f}{unit}"


def basis(rows: list[dict], meta: dict) -> dict[str, str]:
    """Per target, the medians its paired ratio compares (the ratio itself is the median of the
    per-repetition ratios, so it need not equal the quotient of these medians)."""
    days, bod_days = meta["days"], meta["bod_days"]

    def get(prefix: str) -> dict | None:
        return next((r for r in rows if r["what"].startswith(prefix)), None)

    out: dict[str, str] = {}
    for key, prefix in (("boalf", f"BOALF {days} d, platform, single"), ("bod", f"BOD {bod_days} d, platform")):
        r = get(prefix)
        if r is None:
            continue
        out[f"{key}_vs_floor"] = f"platform {_s(r['seconds'])} ÷ serial floor {_s(r.get('floor_seconds'))}"
        if r.get("parallel_floor_seconds") is not None:
            out[f"{key}_vs_floor_parallel"] = (f"platform {_s(r['seconds'])} ÷ best parallel floor "
                                               f"{_s(r['parallel_floor_seconds'])} (faster of threads, processes)")
        if r.get("dlt_seconds") is not None:
            out[f"{key}_vs_dlt"] = f"platform {_s(r['seconds'])} ÷ dlt {_s(r['dlt_seconds'])}"
        out[f"{key}_rss_mib"] = "the platform child's peak RSS"
    if r := get(f"BOALF {days} d, 500 ms latency, platform"):
        out["latency_vs_floor"] = f"platform {_s(r['seconds'])} ÷ floor {IN_FLIGHT} in flight {_s(r.get('floor_seconds'))}"
    if r := get(f"BOALF {days} d, no-op"):
        out["noop_vs_first"] = f"re-run {_s(r['seconds'])} ÷ first run {_s(r.get('first_run_seconds'))}"
        out["noop_rows_written"] = "rows the re-run wrote (most of any repetition)"
    if r := get(f"BOALF {days} d, whole process"):
        out["process_boalf_vs_floor"] = (f"`run` spawn to exit {_s(r['seconds'])} ÷ floor child spawn to exit "
                                         f"{_s(r.get('floor_seconds'))}")
    if r := get("COSTS 1 d, whole process"):
        out["process_costs_seconds"] = f"spawn to exit, peak RSS {_s(r['peak_rss_mib'], ' MiB')}"
        out["process_costs_rss_mib"] = "the same process's peak RSS"
    imports = {r["what"].split(", ", 1)[-1]: r for r in rows if "import " in r["what"]}
    current = imports.get("this tree")
    baseline = next((r for k, r in imports.items() if k.startswith("baseline")), None)
    if current and baseline:
        out["import_vs_baseline"] = (f"CPU {_s(current['cpu_seconds'])} ÷ {baseline['what'].split(', ')[-1]} "
                                     f"CPU {_s(baseline['cpu_seconds'])}")
    if current and "`import dagster`" in imports:
        out["import_vs_dagster"] = f"CPU {_s(current['cpu_seconds'])} ÷ {_s(imports['`import dagster`']['cpu_seconds'])}"
    return out


def markdown(rows: list[dict], ratios: dict, meta: dict, runs: list | None = None) -> str:
    def f(v: float | None, digits: int = 2) -> str:
        return "" if v is None else f"{v:.{digits}f}"

    history_reps = f" (history: of {meta.get('history_reps', 1)}, after a fill)" if meta.get("history") else ""
    import_reps = f" (import: of {meta['import']['reps']})" if meta.get("import") else ""
    lines = [f"Benchmark {meta['started_utc']} on {meta['machine']['cores']} cores, {meta['machine']['ram_gib']} GiB "
             f"({meta['machine']['cpu']}); seconds and RSS are medians of {meta['reps']} runs after a warm-up"
             f"{history_reps}{import_reps}, × columns medians of the per-run ratios (pairs run back to back); load "
             f"average at start {', '.join(f'{x:.1f}' for x in meta['machine']['load_average_at_start'])}.",
             "",
             "| what | seconds | peak RSS MiB | floor s | × floor | best parallel floor s | × parallel floor "
             "| dlt s | × dlt | note |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        note = r.get("note", "")
        if "rows_written" in r:
            note = (f"rows written {r['rows_written']}; × first run {f(r.get('vs_first_run'))} "
                    f"(first {f(r.get('first_run_seconds'))} s)" + (f"; {note}" if note else ""))
        lines.append(f"| {r['what']} | {f(r['seconds'])} | {f(r['peak_rss_mib'], 0)} | {f(r.get('floor_seconds'))} | "
                     f"{f(r.get('vs_floor'))} | {f(r.get('parallel_floor_seconds'))} | {f(r.get('vs_parallel_floor'))} | "
                     f"{f(r.get('dlt_seconds'))} | {f(r.get('vs_dlt'))} | {note} |")
    lines += ["", "| target | limit | measured | verdict | paired figures (medians) |", "|---|---:|---:|---|---|"]
    v, why = verdicts(ratios), basis(rows, meta)
    for k, limit in TARGETS.items():
        lines.append(f"| {k} | ≤ {limit} | {f(ratios.get(k))} | {v[k]} | {why.get(k, '')} |")
    if "noop_rows_written" in v:
        lines.append(f"| noop_rows_written | = 0 | {ratios['noop_rows_written']} | {v['noop_rows_written']} | "
                     f"{why.get('noop_rows_written', '')} |")
    for k in REPORTED:
        if ratios.get(k) is not None:
            lines.append(f"| {k} | (none) | {f(ratios[k])} | {v[k]} | {why.get(k, '')} |")
    lines += ["", f"Rate limits: {LOOPBACK_RATE:g}/s for both contenders on loopback (the floor has none); "
              f"{LATENCY_RATE:g}/s with {IN_FLIGHT} requests in flight for both in the latency scenario "
              f"(platform: BMRS_API_IN_FLIGHT={IN_FLIGHT}; elsewhere its default, 1: the next day is fetched while "
              f"the current one is typed). Parallel floors: {FLOOR_THREADS} threads, or {FLOOR_PROCESSES} worker "
              "processes handing back Arrow tables, each fetching and typing a response; the parent MERGEs the days in "
              "order. CPU is the child's and that of the children it waited for (wait4): the floor-procs workers, a "
              "forkserver's children, are outside it and report theirs."]
    if meta.get("import"):
        i = meta["import"]
        lines.append(f"Import: baseline {i['baseline_rev']} ({i['baseline_commit'][:12]}), imported from "
                     f"{i['files']['baseline']}; this tree's from {i['files']['current']}.")
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
    lines += dagster_share_lines(runs or [])
    if meta.get("cuts_baseline_rev"):
        lines.append(f"Cuts: `platform-baseline` is bmrs_assets at {meta['cuts_baseline_rev']} (before issue 18's run "
                     "cuts), `platform-no-workers` this tree with BMRS_TYPING_WORKERS=0; cuts_* ratios are the "
                     "platform's seconds over theirs, paired per repetition.")
    if meta.get("row_counts"):
        lines.append("Rows loaded, every contender of a scenario and repetition: " + "; ".join(
            f"{k} {'the same, ' + str(sorted(set(c.values()))[0]) if len(set(c.values())) == 1 else 'DIFFER ' + str(c)}"
            for k, c in meta["row_counts"].items()) + ".")
    return "\n".join(lines) + "\n"


def write_report(out: Path, started_utc: datetime, runs: list[Run], rows: list[dict], ratios: dict, meta: dict) -> None:
    """``<out>/<UTC stamp>.json`` (everything, every run) and ``<out>/latest.md`` (the table), then print the table."""
    report = {"meta": meta, "table": rows, "ratios": ratios, "targets": TARGETS, "reported": list(REPORTED),
              "runs": [r.__dict__ for r in runs]}
    md = markdown(rows, ratios, meta, runs)
    out.mkdir(parents=True, exist_ok=True)
    stamp = started_utc.strftime("%Y%m%dT%H%M%SZ")
    (out / f"{stamp}.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (out / "latest.md").write_text(md)
    print()
    print(md)
    print(f"written {out / (stamp + '.json')} and {out / 'latest.md'} in {meta['total_seconds']} s", flush=True)
