"""The report: medians and paired ratios of the runs, and verdicts against the targets.

The files (``bench/results/<UTC stamp>.json``, ``latest.md``) are written by ``bench/output.py``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
from pathlib import Path

from bench.cuts import cut_ratios
from bench.runner import Run
from bench.scenarios import FLOOR_PROCESSES, FLOOR_THREADS, IN_FLIGHT

TARGETS = {"boalf_vs_floor": 1.0, "boalf_vs_floor_parallel": 1.3, "boalf_vs_dlt": 0.25, "boalf_rss_mib": 800,
           "bod_vs_floor": 1.3, "bod_rss_mib": 1024, "latency_vs_floor": 1.5, "noop_vs_first": 0.25,
           "process_boalf_vs_floor": 1.3, "import_vs_baseline": 0.5,
           "history_bod_rss_ratio": 1.3, "history_boalf_rss_mib": 1024, "history_boalf_s_per_day_ratio": 1.2}
# figures reported beside the targets, with no limit of their own
REPORTED = ("bod_vs_floor_parallel", "import_vs_dagster", "process_costs_seconds", "process_costs_rss_mib",
            "cuts_boalf_vs_baseline", "cuts_boalf_vs_no_workers", "cuts_bod_vs_baseline", "cuts_bod_vs_no_workers")
PARALLEL_FLOORS = ("floor-threads", "floor-procs")


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


def best_parallel(runs: list[Run], scenario: str, contender: str = "platform") -> tuple[float | None, float | None]:
    """(median over repetitions of the floor's best parallel seconds, median of contender ÷ that best).

    In each repetition the best parallel variant is the faster of ``floor-threads`` and
    ``floor-procs`` in that repetition; the contender's run of the same repetition is divided by it.
    """
    best: dict[int, float] = {}
    for r in runs:
        if r.scenario == scenario and r.contender in PARALLEL_FLOORS and r.rep >= 0:
            best[r.rep] = min(r.seconds, best.get(r.rep, r.seconds))
    mine = {r.rep: r.seconds for r in runs if r.scenario == scenario and r.contender == contender and r.rep >= 0}
    ratios = [mine[k] / best[k] for k in sorted(mine) if k in best and best[k] > 0]
    return (statistics.median(best.values()) if best else None, statistics.median(ratios) if ratios else None)


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
    if rows and dlt_sec and rows[-1]["what"].startswith(f"BOALF {days} d, platform, single"):  # the platform's row
        rows[-1]["dlt_seconds"] = dlt_sec
        rows[-1]["vs_dlt"] = paired_ratio(runs, "boalf", "platform", "boalf", "dlt-parquet")
    with_parallel(runs, rows, "boalf", f"BOALF {days} d")
    row(f"BOALF {days} d, dlt (merge, parquet loader)", "boalf", "dlt-parquet", "floor")
    row(f"BOALF {days} d, platform, per-partition default ({days} runs)", "per_partition", "platform-per-partition",
        "floor")
    if rows and rows[-1]["what"].startswith(f"BOALF {days} d, platform, per-partition") and m("boalf", "platform"):
        rows[-1]["note"] = (f"× the single-run backfill: {rows[-1]['seconds'] / m('boalf', 'platform'):.1f}; "
                            + rows[-1]["note"])
        rows[-1]["floor_seconds"] = m("boalf", "floor")
        rows[-1]["vs_floor"] = rows[-1]["seconds"] / rows[-1]["floor_seconds"] if rows[-1]["floor_seconds"] else None
    row(f"BOD {args.bod_days} d, platform", "bod", "platform", "floor")
    with_parallel(runs, rows, "bod", f"BOD {args.bod_days} d")
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

    whole_process(runs, args, rows, ratios)
    history(runs, args, rows, ratios)

    by = {r["what"]: r for r in rows}
    get = lambda key: next((r for w, r in by.items() if w.startswith(key)), None)  # noqa: E731
    b = get(f"BOALF {days} d, platform, single")
    ratios["boalf_vs_floor"] = b and b["vs_floor"]
    ratios["boalf_vs_floor_parallel"] = b and b.get("vs_parallel_floor")
    ratios["boalf_vs_dlt"] = b and b.get("vs_dlt")
    ratios["boalf_rss_mib"] = b and b["peak_rss_mib"]
    bod = by.get(f"BOD {args.bod_days} d, platform")
    ratios["bod_vs_floor"] = bod and bod["vs_floor"]
    ratios["bod_vs_floor_parallel"] = bod and bod.get("vs_parallel_floor")
    ratios["bod_rss_mib"] = bod and bod["peak_rss_mib"]
    lat = get(f"BOALF {days} d, 500 ms latency, platform")
    ratios["latency_vs_floor"] = lat and lat["vs_floor"]
    noop = get(f"BOALF {days} d, no-op")
    ratios["noop_vs_first"] = noop and noop.get("vs_first_run")
    ratios["noop_rows_written"] = noop and noop.get("rows_written")
    cut_ratios(runs, ratios)
    return rows, ratios


def with_parallel(runs: list[Run], rows: list[dict], scenario: str, what: str) -> None:
    """The floor's parallel variants: the platform row (the last one added, if it is this scenario's)
    gets the best parallel floor and its paired ratio; each variant gets a row against the serial floor."""
    par_seconds, par_ratio = best_parallel(runs, scenario)
    if par_seconds is None:
        return
    if rows and rows[-1]["what"].startswith(f"{what}, platform"):
        rows[-1]["parallel_floor_seconds"], rows[-1]["vs_parallel_floor"] = par_seconds, par_ratio
    labels = {"floor-threads": f"floor, {FLOOR_THREADS} threads", "floor-procs": f"floor, {FLOOR_PROCESSES} processes"}
    for contender, label in labels.items():
        sec = median(runs, scenario, contender)
        if sec is None:
            continue
        cpu = median(runs, scenario, contender, "cpu_seconds")
        workers = median(runs, scenario, contender, "worker_cpu_seconds")
        rss = median(runs, scenario, contender, "worker_peak_rss_mib_max")
        note = f"CPU {cpu:.1f} s" if cpu is not None else ""
        if workers is not None and rss is not None:
            note += f" + workers' {workers:.1f} s; workers' peak RSS up to {rss:.0f} MiB each (not in the column)"
        rows.append({"what": f"{what}, {label}", "seconds": sec, "peak_rss_mib": median(runs, scenario, contender,
                                                                                       "peak_rss_mib"),
                     "floor_seconds": median(runs, scenario, "floor"),
                     "vs_floor": paired_ratio(runs, scenario, contender, scenario, "floor"),
                     "floor_rss_mib": median(runs, scenario, "floor", "peak_rss_mib"),
                     "note": note})


def whole_process(runs: list[Run], args: argparse.Namespace, rows: list[dict], ratios: dict) -> None:
    """The ``process`` and ``import`` scenarios' rows and figures.

    ``process_boalf_vs_floor`` pairs, per repetition, the platform command's wall from spawn to exit
    with the serial floor child's (``process_seconds``: interpreter start and imports included for
    both). ``import_vs_baseline`` and ``import_vs_dagster`` are medians of per-repetition ratios of
    CPU seconds (user + system).
    """
    def m(c: str, a: str = "seconds", s: str = "process") -> float | None:
        return median(runs, s, c, a)

    def f(v: float | None, digits: int = 1) -> str:
        return "?" if v is None else f"{v:.{digits}f}"

    dagster_wall, dagster_cpu = m("import-dagster", s="import"), m("import-dagster", "cpu_seconds", "import")
    sec = m("platform-costs-1d")
    if sec is not None:
        steps = m("platform-costs-1d", "step_processes")
        note = f"CPU {f(m('platform-costs-1d', 'cpu_seconds'))} s"
        if steps:
            note += f"; {steps:.0f} step processes (Dagster's multiprocess executor)"
        if dagster_wall is not None:
            note += f"; `import dagster` alone {dagster_wall:.2f} s wall, {f(dagster_cpu, 2)} s CPU (import scenario)"
        rows.append({"what": "COSTS 1 d, whole process, `dagster asset materialize`", "seconds": sec,
                     "peak_rss_mib": m("platform-costs-1d", "peak_rss_mib"), "note": note})
    ratios["process_costs_seconds"] = sec
    ratios["process_costs_rss_mib"] = m("platform-costs-1d", "peak_rss_mib")
    sec = m("platform", "process_seconds")
    ratio = paired_ratio(runs, "process", "platform", "process", "floor", "process_seconds")
    if sec is not None:
        rows.append({"what": f"BOALF {args.days} d, whole process, `python -m bmrs_assets run`", "seconds": sec,
                     "cpu_seconds": m("platform", "cpu_seconds"),
                     "peak_rss_mib": m("platform", "peak_rss_mib"), "floor_seconds": m("floor", "process_seconds"),
                     "vs_floor": ratio, "floor_rss_mib": m("floor", "peak_rss_mib"),
                     "note": f"CPU {f(m('platform', 'cpu_seconds'))} s; floor: the serial floor's whole child "
                             f"(its load {f(m('floor'), 2)} s, CPU {f(m('floor', 'cpu_seconds'))} s)"})
    ratios["process_boalf_vs_floor"] = ratio
    vs_base = paired_ratio(runs, "import", "import-current", "import", "import-baseline", "cpu_seconds")
    vs_dagster = paired_ratio(runs, "import", "import-current", "import", "import-dagster", "cpu_seconds")
    ratios["import_vs_baseline"], ratios["import_vs_dagster"] = vs_base, vs_dagster
    for contender, label in (("import-current", "this tree"),
                             ("import-baseline", f"baseline {getattr(args, 'import_baseline_rev', '')}".strip()),
                             ("import-dagster", None)):
        wall = m(contender, s="import")
        if wall is None:
            continue
        note = f"CPU {f(m(contender, 'cpu_seconds', 'import'), 2)} s"
        if contender == "import-current":
            note += (f"; × baseline CPU {vs_base:.2f}" if vs_base is not None else "") + (
                f"; × `import dagster` CPU {vs_dagster:.2f}" if vs_dagster is not None else "")
        what = f"`import bmrs_assets.definitions`, {label}" if label else "`import dagster`"
        rows.append({"what": what, "seconds": wall, "peak_rss_mib": m(contender, "peak_rss_mib", "import"),
                     "cpu_seconds": m(contender, "cpu_seconds", "import"), "note": note})


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


def row_counts(runs: list[Run]) -> dict[str, dict[str, int]]:
    """Rows in each contender's table, per scenario whose contenders all load the same range (one
    entry per contender and repetition, warm-up included): they must all be equal."""
    out: dict[str, dict[str, int]] = {}
    for r in runs:
        n = r.extra.get("rows_in_table")
        if r.scenario in ("boalf", "bod", "latency", "process") and n is not None and r.contender != "platform-costs-1d":
            tag = "warm-up" if r.rep < 0 else f"rep {r.rep + 1}"
            out.setdefault(r.scenario, {})[f"{r.contender} {tag}"] = n
    return out


def verdicts(ratios: dict) -> dict[str, str]:
    """met, MISSED or n/a (not measured) per target; ``reported`` for the figures without a limit."""
    out = {}
    for k, limit in TARGETS.items():
        v = ratios.get(k)
        out[k] = "n/a" if v is None else ("met" if v <= limit else "MISSED")
    for k in REPORTED:
        out[k] = "n/a" if ratios.get(k) is None else "reported"
    if ratios.get("noop_rows_written") is not None:
        out["noop_rows_written"] = "met" if ratios["noop_rows_written"] == 0 else "MISSED"
    return out
