"""The freshness dashboard: one static, self-contained HTML page (plus the same data as JSON).

Per dataset it shows how old its latest data is (time since the materialization of the latest
partition day that decided its freshness, never negative, "never" when there is none), when that
was, the freshness verdict (``quality/freshness.py``: the latest partition days, the same verdict
as the ``fresh_latest_partitions`` check in the UI and the alerts), and a heatmap
of the last 60 complete settlement days (yesterday and the 59 before: today is still being
published and is judged by the freshness policy), each day complete / partial / missing / failed.

Status rule (the old display took the *freshest* of its streams as the overall status; this one
takes the worst):

* a dataset **fails** if its freshness policy fails or any day in the window is not complete
  (partial, missing or failed); it **warns** if only the policy's warn window is breached;
  otherwise it **passes**;
* the overall status is the **worst** dataset status: fail > warn > pass.

:func:`build_view` and :func:`render_html` are pure (plain data in, plain data/HTML out), and this
module imports no Dagster; the asset ``bmrs/freshness_dashboard`` (group ``monitoring``, every 15
minutes, :mod:`bmrs_assets.defs.monitoring.dashboard`) and ``python -m bmrs_assets dashboard`` only
gather the data and write the files.
"""

import html
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path

from bmrs_assets.core.pages import write_page
from bmrs_assets.core.settlement import UTC, london_today
from bmrs_assets.elexon.datasets import Dataset
from bmrs_assets.monitoring.alerts import human_age
from bmrs_assets.quality.freshness import SEVERITY_RANK, FreshnessStatus
from bmrs_assets.quality.gaps import STATUSES, DayState, DayStatus
from bmrs_assets.settings import setting, start_date

WINDOW_DAYS = 60
UNTRACKED = "untracked"  # a day before BMRS_START_DATE: not a partition, not a problem
PATH_ENV = "BMRS_DASHBOARD_PATH"
RULE = ("Overall status is the worst dataset status (fail > warn > pass). A dataset fails if its freshness policy "
        "fails or any day of the window is partial, missing or failed; it warns if only the policy's warn window "
        "is breached.")
COLOURS = {"complete": "#2e7d32", "partial": "#f9a825", "missing": "#d32f2f", "failed": "#4a148c",
           UNTRACKED: "#e0e0e0"}
LEGEND = {"complete": "complete", "partial": "partial (stored, but short of a complete day)",
          "missing": "missing (never materialized)", "failed": "failed (latest run failed)",
          UNTRACKED: "before BMRS_START_DATE"}


def window(today: date, days: int = WINDOW_DAYS) -> list[date]:
    """The ``days`` complete settlement days before ``today``, oldest first."""
    return [today - timedelta(days=i) for i in range(days, 0, -1)]


def worst(states: Iterable[str]) -> str:
    states = list(states)
    return max(states, key=lambda s: SEVERITY_RANK[s]) if states else "fail"


def dataset_view(code: str, description: str, fresh: FreshnessStatus, statuses: Mapping[date, DayStatus],
                 days: list[date]) -> dict:
    """One dataset's row: freshness, the window's day statuses, counts and its status."""
    cells = []
    for d in days:
        s = statuses.get(d)
        if s is None:
            cells.append({"day": d.isoformat(), "status": UNTRACKED, "rows": 0, "detail": "before BMRS_START_DATE"})
        else:
            cells.append({"day": d.isoformat(), "status": s.status, "rows": s.rows, "detail": s.detail})
    counts = {k: sum(1 for c in cells if c["status"] == k) for k in (*STATUSES, UNTRACKED)}
    bad = {k: counts[k] for k in (DayState.PARTIAL, DayState.MISSING, DayState.FAILED) if counts[k]}
    age = None if fresh.age is None else max(timedelta(0), fresh.age)
    reasons = []
    if fresh.state != "pass":
        reasons.append(f"freshness {fresh.state}: " + (
            "never materialized" if fresh.last_materialized is None else f"{human_age(age)} old ({fresh.detail})"))
    if bad:
        n = sum(bad.values())
        reasons.append(f"{n} of the last {len(days)} days not complete (" +
                       ", ".join(f"{v} {k}" for k, v in bad.items()) + ")")
    stored = [c["day"] for c in cells if c["rows"] > 0]
    return {
        "dataset": code,
        "description": description,
        "status": worst([fresh.state, "fail" if bad else "pass"]),
        "reasons": reasons,
        "freshness": {
            "state": fresh.state,
            "detail": fresh.detail,
            "last_materialized": fresh.last_materialized.astimezone(UTC).isoformat(timespec="seconds")
            if fresh.last_materialized else None,
            "age_seconds": None if age is None else int(age.total_seconds()),
            "age": human_age(age),
        },
        "newest_stored_day": stored[-1] if stored else None,
        "counts": counts,
        "days": cells,
    }


def build_view(datasets: list[dict], now: datetime, days: list[date]) -> dict:
    """The whole page's data: the rows and the overall status (the worst row)."""
    status = worst(d["status"] for d in datasets)
    return {
        "generated_utc": now.astimezone(UTC).isoformat(timespec="seconds"),
        "window": {"first": days[0].isoformat(), "last": days[-1].isoformat(), "days": len(days)},
        "overall": {
            "status": status,
            "rule": RULE,
            "counts": {k: sum(1 for d in datasets if d["status"] == k) for k in ("fail", "warn", "pass")},
            "problems": [f"{d['dataset']}: {r}" for d in datasets for r in d["reasons"]],
        },
        "datasets": datasets,
    }


def gather(datasets: Iterable[Dataset], freshness: Callable[[Dataset], FreshnessStatus],
           classify: Callable[[Dataset, date, date], list[DayStatus]], now: datetime | None = None,
           days: int = WINDOW_DAYS) -> dict:
    """The view from the facts the two functions supply.

    ``freshness(ds)``: the freshness verdict of ``ds`` (:func:`bmrs_assets.defs.quality.freshness`);
    ``classify(ds, first, last)``: the day statuses of that range (never called for days before
    ``BMRS_START_DATE``: those cells are untracked).
    """
    now = now or datetime.now(UTC)
    span = window(london_today(now), days)
    first = max(span[0], start_date())
    rows = []
    for ds in datasets:
        fresh = freshness(ds)
        statuses = classify(ds, first, span[-1]) if first <= span[-1] else []
        rows.append(dataset_view(ds.code, ds.description, fresh, {s.day: s for s in statuses}, span))
    return build_view(rows, now, span)


# --- rendering ----------------------------------------------------------------------------------

CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;color:#212121;background:#fafafa}
main{padding:16px 24px}
.banner{padding:16px 24px;color:#fff}
.banner h1{margin:0 0 4px;font-size:24px}
.banner p{margin:2px 0}
.banner ul{margin:6px 0 0;padding-left:20px}
.status-pass{background:#2e7d32}.status-warn{background:#f57f17}.status-fail{background:#c62828}
.badge{display:inline-block;min-width:44px;text-align:center;padding:2px 6px;border-radius:3px;color:#fff;font-weight:600}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{padding:6px 7px;border-bottom:1px solid #e0e0e0;text-align:left;vertical-align:middle;white-space:nowrap}
th{background:#eeeeee;font-weight:600}
td.freshness{white-space:normal;max-width:230px}
.heatmap{display:flex;gap:1px}
.cell{display:inline-block;width:7px;height:16px;border-radius:1px;flex:none}
.axis{display:flex;justify-content:space-between;font-size:10px;color:#757575}
.legend{display:flex;gap:16px;align-items:center;margin:12px 0;flex-wrap:wrap}
.legend .cell{margin-right:4px;vertical-align:middle}
.meta{color:#616161;font-size:12px}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _cell(c: dict) -> str:
    label = f"{c['day']}: {c['status']}"
    title = f"{label} ({c['rows']} rows; {c['detail']})" if c["status"] != UNTRACKED else f"{label} ({c['detail']})"
    return (f'<span class="cell" role="img" data-day="{_e(c["day"])}" data-status="{_e(c["status"])}" '
            f'style="background:{COLOURS[c["status"]]}" title="{_e(title)}" aria-label="{_e(label)}"></span>')


def _when(iso: str | None) -> str:
    return "never" if not iso else datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _row(d: dict) -> str:
    f = d["freshness"]
    counts = d["counts"]
    cells = "".join(_cell(c) for c in d["days"])
    axis = f'<div class="axis"><span>{_e(d["days"][0]["day"])}</span><span>{_e(d["days"][-1]["day"])}</span></div>' \
        if d["days"] else ""
    why = "; ".join(d["reasons"]) or "ok"
    return (
        f'<tr class="dataset" data-dataset="{_e(d["dataset"])}" data-status="{_e(d["status"])}">'
        f'<td><strong>{_e(d["dataset"])}</strong></td>'
        f'<td><span class="badge status-{_e(d["status"])}" title="{_e(why)}">{_e(d["status"].upper())}</span></td>'
        f'<td class="age" data-age-seconds="{"" if f["age_seconds"] is None else f["age_seconds"]}">{_e(f["age"])}</td>'
        f'<td class="last-materialized" data-value="{_e(f["last_materialized"] or "")}">{_e(_when(f["last_materialized"]))}</td>'
        f'<td class="freshness" data-state="{_e(f["state"])}"><span class="badge status-{_e(f["state"])}">'
        f'{_e(f["state"].upper())}</span> <span class="meta">{_e(f["detail"])}</span></td>'
        '<td class="counts">' + " / ".join(f'<span data-count="{k}">{counts[k]}</span>' for k in STATUSES) + '</td>'
        f'<td><div class="heatmap" aria-label="{_e(d["dataset"])}, last {len(d["days"])} days">{cells}</div>{axis}</td>'
        "</tr>")


def render_html(view: dict) -> str:
    """The page for ``view`` (from :func:`build_view`): static, no external resources, no script."""
    o = view["overall"]
    w = view["window"]
    problems = "".join(f"<li>{_e(p)}</li>" for p in o["problems"][:40])
    more = f"<li>... and {len(o['problems']) - 40} more</li>" if len(o["problems"]) > 40 else ""
    legend = "".join(f'<span><span class="cell" style="background:{COLOURS[k]}"></span>{_e(v)}</span>'
                     for k, v in LEGEND.items())
    c = o["counts"]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="300">
<title>BMRS freshness: {_e(o["status"].upper())}</title>
<style>{CSS}</style></head>
<body>
<header id="overall" class="banner status-{_e(o["status"])}" data-status="{_e(o["status"])}">
<h1>BMRS data: <span id="overall-status">{_e(o["status"].upper())}</span></h1>
<p>{c["fail"]} failing, {c["warn"]} warning, {c["pass"]} passing of {len(view["datasets"])} datasets.
Generated {_e(_when(view["generated_utc"]))}.</p>
<p class="rule">{_e(o["rule"])}</p>
<ul id="problems">{problems}{more}</ul>
</header>
<main>
<p class="meta">Coverage: the last {w["days"]} complete settlement days, {_e(w["first"])} to {_e(w["last"])}
(today is still being published and is judged by the freshness rule). "Newest data age" is the time since the
materialization of the latest partition day that decided the freshness (today/yesterday, or the newest settlement
day due); a heal of an older day does not count.</p>
<div class="legend">{legend}</div>
<table id="datasets">
<thead><tr><th>Dataset</th><th>Status</th><th>Newest data age</th><th>Last materialized (UTC)</th>
<th>Freshness policy</th><th>complete / partial /<br>missing / failed</th><th>Last {w["days"]} days</th></tr></thead>
<tbody>
{"".join(_row(d) for d in view["datasets"])}
</tbody></table>
</main></body></html>
"""


def dashboard_path() -> Path:
    return Path(setting(PATH_ENV))


def write(view: dict, path: Path | None = None) -> tuple[Path, Path]:
    """Write ``index.html`` (or ``path``) and the same data as ``.json`` beside it, atomically."""
    return write_page(path or dashboard_path(), render_html(view), view)
