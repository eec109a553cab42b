"""The freshness dashboard: rendered in headless Chromium from chosen states, and built from a real instance."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from bmrs_assets.cli.runs import materialize_range
from bmrs_assets.core.settlement import day_window, london_today
from bmrs_assets.definitions import build_definitions
from bmrs_assets.elexon.datasets import BOALF, COSTS, FREQ, FUELINST, MID, REGISTRY
from bmrs_assets.monitoring.dashboard import build_view, dataset_view, render_html, window, write
from bmrs_assets.quality.freshness import PartitionFacts, freshness_status, required_days
from bmrs_assets.quality.gaps import DayStatus
from bmrs_assets_tests.support.browser import Dom, chromium, descendants

NOW = datetime(2025, 12, 17, 12, 0, tzinfo=UTC)
DAYS = window(date(2025, 12, 17))


def days_with(statuses: list[str]) -> dict[date, DayStatus]:
    assert len(statuses) == len(DAYS)
    rows = {"complete": 19000, "partial": 50, "missing": 0, "failed": 0}
    return {d: DayStatus("X", d, s, rows[s], f"{s} day") for d, s in zip(DAYS, statuses, strict=True)}


def latest(ds, when):
    """Every day ``ds`` requires at NOW last materialized at ``when``."""
    return {d: PartitionFacts(d, when) for d in required_days(ds.freshness, NOW)}


def chosen_view() -> tuple[dict, dict[str, list[str]]]:
    """COSTS fine; BOALF fresh but with the old system's 44-day hole; FREQ stale with a failed day;
    FUELINST only late enough to warn; MID materialized 'in the future' (clock skew)."""
    boalf = ["complete"] * 16 + ["partial"] + ["missing"] * 43
    freq = ["complete"] * 50 + ["failed"] + ["complete"] * 9
    states = {"COSTS": ["complete"] * 60, "BOALF": boalf, "FREQ": freq, "FUELINST": ["complete"] * 60,
              "MID": ["complete"] * 60}
    fresh = {"COSTS": NOW - timedelta(hours=2), "BOALF": NOW - timedelta(minutes=20), "FREQ": NOW - timedelta(hours=5),
             "FUELINST": NOW - timedelta(minutes=45), "MID": NOW + timedelta(minutes=10)}
    rows = [dataset_view(ds.code, ds.description, freshness_status(ds, latest(ds, fresh[ds.code]), NOW),
                         days_with(states[ds.code]), DAYS)
            for ds in (COSTS, BOALF, FREQ, FUELINST, MID)]
    return build_view(rows, NOW, DAYS), states


def rows_of(dom: Dom) -> dict[str, dict]:
    return {r["attrs"]["data-dataset"]: r for r in dom.elements if r["tag"] == "tr" and "data-dataset" in r["attrs"]}


def test_chromium_shows_the_worst_status_every_day_and_no_negative_age(tmp_path):
    view, states = chosen_view()
    page = tmp_path / "index.html"
    write(view, page)
    dom = Dom(chromium(["--dump-dom", page.as_uri()], tmp_path))

    banner = dom.find(id="overall")[0]
    assert banner["attrs"]["data-status"] == "fail"
    assert dom.find(id="overall-status")[0]["text"] == "FAIL"
    assert "2 failing, 1 warning, 2 passing of 5 datasets" in banner["text"]
    problems = [li["text"] for li in descendants(dom.find(id="problems")[0]) if li["tag"] == "li"]
    assert problems == ["BOALF: 44 of the last 60 days not complete (1 partial, 43 missing)",
                        "FREQ: freshness fail: 5 h 0 min old (2025-12-17: older than 1:00:00)",
                        "FREQ: 1 of the last 60 days not complete (1 failed)",
                        "FUELINST: freshness warn: 45 min old (2025-12-17: older than 0:30:00)"]

    rows = rows_of(dom)
    assert list(rows) == ["COSTS", "BOALF", "FREQ", "FUELINST", "MID"]
    assert {k: r["attrs"]["data-status"] for k, r in rows.items()} == {
        "COSTS": "pass", "BOALF": "fail", "FREQ": "fail", "FUELINST": "warn", "MID": "pass"}
    for code, row in rows.items():
        cells = [e for e in descendants(row) if "cell" in e["attrs"].get("class", "").split()]
        assert len(cells) == 60
        assert [c["attrs"]["data-status"] for c in cells] == states[code]
        assert [c["attrs"]["data-day"] for c in cells] == [d.isoformat() for d in DAYS]
        assert all(c["attrs"]["aria-label"] == f"{c['attrs']['data-day']}: {c['attrs']['data-status']}" for c in cells)
        assert all(c["attrs"]["title"].startswith(c["attrs"]["aria-label"]) for c in cells)
        age = next(e for e in descendants(row) if e["attrs"].get("class") == "age")
        assert int(age["attrs"]["data-age-seconds"]) >= 0 and "-" not in age["text"]
    ages = {k: next(e for e in descendants(r) if e["attrs"].get("class") == "age")["text"] for k, r in rows.items()}
    assert ages == {"COSTS": "2 h 0 min", "BOALF": "20 min", "FREQ": "5 h 0 min", "FUELINST": "45 min", "MID": "0 min"}
    counts = {k: [e["text"] for e in descendants(r) if "data-count" in e["attrs"]] for k, r in rows.items()}
    assert counts["BOALF"] == ["16", "1", "43", "0"] and counts["FREQ"] == ["59", "0", "0", "1"]
    freshness = {k: next(e for e in descendants(r) if e["attrs"].get("class") == "freshness")["attrs"]["data-state"]
                 for k, r in rows.items()}
    assert freshness == {"COSTS": "pass", "BOALF": "pass", "FREQ": "fail", "FUELINST": "warn", "MID": "pass"}
    legend = dom.find(**{"class": "legend"})[0]["children"]
    assert [e["text"].split(" ")[0] for e in legend] == ["complete", "partial", "missing", "failed", "before"]

    shot = tmp_path / "shot.png"
    chromium([f"--screenshot={shot}", "--window-size=1400,1000", page.as_uri()], tmp_path)
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    assert struct.unpack(">II", png[16:24]) == (1400, 1000)
    assert len(png) > 20_000  # a rendered table with colour, not a blank page


def test_overall_is_the_worst_dataset_never_the_best(tmp_path):
    view, _ = chosen_view()
    by_code = {d["dataset"]: d for d in view["datasets"]}
    one_warn = build_view([by_code["COSTS"], by_code["FUELINST"], by_code["MID"]], NOW, DAYS)
    assert one_warn["overall"]["status"] == "warn"
    assert build_view([by_code["COSTS"], by_code["MID"]], NOW, DAYS)["overall"]["status"] == "pass"
    page = tmp_path / "warn.html"
    page.write_text(render_html(one_warn))
    dom = Dom(chromium(["--dump-dom", page.as_uri()], tmp_path))
    assert dom.find(id="overall-status")[0]["text"] == "WARN"
    # a dataset never materialized: age "never", not 0 and not negative, and it fails
    never = dataset_view("BOALF", "", freshness_status(BOALF, {}, NOW), days_with(["missing"] * 60), DAYS)
    assert never["freshness"]["age"] == "never" and never["freshness"]["age_seconds"] is None and never["status"] == "fail"


def test_the_asset_and_the_command_write_the_page_from_the_instance(platform_env, persistent_instance, tmp_path,
                                                                     monkeypatch):
    instance, home = persistent_instance
    page = tmp_path / "dash" / "index.html"
    monkeypatch.setenv("BMRS_DASHBOARD_PATH", str(page))
    today = london_today()
    d1, d3 = today - timedelta(days=1), today - timedelta(days=3)
    assert materialize_range(d3, d3, ["COSTS"], instance=instance)[0].success
    assert materialize_range(d1, d1, ["COSTS", "FREQ"], instance=instance)[0].success
    due = required_days(COSTS.freshness, datetime.now(UTC))[0]  # before 08:00 London: the day before yesterday
    if due != d1:
        assert materialize_range(due, due, ["COSTS"], instance=instance)[0].success

    job = build_definitions().resolve_implicit_global_asset_job_def().get_subset(
        asset_selection={dg.AssetKey(["bmrs", "freshness_dashboard"])})
    result = job.execute_in_process(instance=instance)
    assert result.success
    meta = result.asset_materializations_for_node("bmrs__freshness_dashboard")[0].metadata
    assert meta["path"].value == str(page) and meta["overall_status"].value == "fail"
    assert meta["datasets_fail"].value == len(REGISTRY)  # 15 never loaded; COSTS and FREQ have holes in 60 days
    data = json.loads(page.with_suffix(".json").read_text())
    by_code = {d["dataset"]: d for d in data["datasets"]}
    assert data["window"] == {"first": (today - timedelta(days=60)).isoformat(),
                              "last": (today - timedelta(days=1)).isoformat(), "days": 60}
    complete = len({d1, d3, due})
    assert by_code["COSTS"]["counts"] == {"complete": complete, "partial": 0, "missing": 60 - complete, "failed": 0,
                                          "untracked": 0}
    assert by_code["COSTS"]["freshness"]["state"] == "pass" and 0 <= by_code["COSTS"]["freshness"]["age_seconds"] < 600
    assert by_code["FREQ"]["counts"]["complete"] == 1 and by_code["FREQ"]["newest_stored_day"] == d1.isoformat()
    # both required days never materialized: today's is late only once today began over 3 h ago (so in
    # London's first 3 hours yesterday's decides)
    today_late = datetime.now(UTC) - day_window(today).start > BOALF.freshness.fail_after
    deciding = today if today_late else today - timedelta(days=1)
    assert by_code["BOALF"]["freshness"] == {"state": "fail", "detail": f"{deciding.isoformat()}: never materialized",
                                             "last_materialized": None, "age_seconds": None, "age": "never"}

    dom = Dom(chromium(["--dump-dom", page.as_uri()], tmp_path))
    rows = rows_of(dom)
    assert list(rows) == list(REGISTRY) and dom.find(id="overall-status")[0]["text"] == "FAIL"
    costs = [e["attrs"]["data-status"] for e in descendants(rows["COSTS"]) if "data-status" in e["attrs"]]
    assert costs[-3:] == ["complete", "missing", "complete"] and len(costs) == 60

    # the command line writes the same page from the same instance, in another process
    out = tmp_path / "cli" / "index.html"
    proc = subprocess.run([sys.executable, "-m", "bmrs_assets", "dashboard", "--out", str(out)],
                          env={**os.environ, "DAGSTER_HOME": str(home)}, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"overall FAIL ({len(REGISTRY)} fail, 0 warn, 0 pass); open {out.as_uri()}" in proc.stdout
    cli = json.loads(out.with_suffix(".json").read_text())
    assert [(d["dataset"], d["counts"]) for d in cli["datasets"]] == [(d["dataset"], d["counts"]) for d in data["datasets"]]
