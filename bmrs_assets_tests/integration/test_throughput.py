"""The throughput work: an unchanged response is recognised before it is parsed, prefetching keeps
order and errors, and the benchmark machinery runs (on a tiny configuration)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date

import duckdb
import pyarrow.compute as pc
import pytest

import bmrs_assets.core.fingerprint as fingerprint
import bmrs_assets.elexon.api_source as api_source
import bmrs_assets.elexon.typing_pool as typing_pool
from bmrs_assets.cli.runs import materialize_range
from bmrs_assets.elexon.client import ElexonClient, initial_slices
from bmrs_assets.elexon.datasets import BOD, COSTS
from bmrs_assets.warehouse.contract import DIGESTS_TABLE, FailedDay
from bmrs_assets_tests.support.helpers import dump, metadata_of
from bmrs_assets_tests.support.scripted_server import Reply, ScriptedServer

DAY = date(2025, 12, 17)






@pytest.fixture
def parse_calls(monkeypatch):
    calls: list[str] = []
    real = typing_pool.to_table  # the serial path (a one-day run starts no typing workers)

    def counting(ds, day, rows, **kw):
        calls.append(f"{ds.code} {day}")
        return real(ds, day, rows, **kw)

    monkeypatch.setattr(typing_pool, "to_table", counting)
    return calls


def test_an_unchanged_response_is_not_parsed_and_nothing_is_written(platform_env, instance, simulator, parse_calls):
    first, _ = materialize_range(DAY, DAY, ["COSTS", "BOALF"], instance=instance)
    assert first.success and sorted(parse_calls) == ["BOALF 2025-12-17", "COSTS 2025-12-17"]
    snapshot = {t: dump(platform_env, t) for t in ("bmrs_costs", "bmrs_boalf")}
    parse_calls.clear()
    again, lines = materialize_range(DAY, DAY, ["COSTS", "BOALF"], instance=instance)
    assert again.success and parse_calls == []
    for code in ("COSTS", "BOALF"):
        md = metadata_of(again, code)
        assert md["days_unchanged_body"] == 1 and md["rows_inserted"] == md["rows_updated"] == 0
        assert md["rows_unchanged"] == md["rows_fetched"] == len(snapshot[f"bmrs_{code.lower()}"])
        assert md["api_requests"] == 1  # the response is still fetched: only its parsing is skipped
    assert all(ln.inserted == ln.updated == 0 and ln.unchanged == ln.rows > 0 for ln in lines)
    assert {t: dump(platform_env, t) for t in snapshot} == snapshot

    # a changed response (a later settlement run revises COSTS) is parsed and MERGEd as before
    simulator.config.run = 1
    revised, _ = materialize_range(DAY, DAY, ["COSTS", "BOALF"], instance=instance)
    assert revised.success and parse_calls == ["COSTS 2025-12-17"]
    md = metadata_of(revised, "COSTS")
    assert md["days_unchanged_body"] == 0 and md["rows_updated"] > 0
    assert dump(platform_env, "bmrs_costs") != snapshot["bmrs_costs"]
    assert dump(platform_env, "bmrs_boalf") == snapshot["bmrs_boalf"]
    con = duckdb.connect(str(platform_env), read_only=True)
    try:
        remembered = con.execute(f"SELECT dataset, day, rows FROM {DIGESTS_TABLE} ORDER BY 1").fetchall()
    finally:
        con.close()
    assert remembered == [("BOALF", DAY, len(snapshot["bmrs_boalf"])), ("COSTS", DAY, 48)]


def test_new_typing_rules_parse_an_unchanged_response_again(platform_env, instance, parse_calls, monkeypatch):
    assert materialize_range(DAY, DAY, ["COSTS"], instance=instance)[0].success
    monkeypatch.setattr(fingerprint, "TYPING_VERSION", fingerprint.TYPING_VERSION + "-next")
    again, _ = materialize_range(DAY, DAY, ["COSTS"], instance=instance)
    assert again.success and parse_calls == ["COSTS 2025-12-17"] * 2
    assert metadata_of(again, "COSTS")["days_unchanged_body"] == 0


def test_a_failed_write_remembers_no_response(platform_env, instance, parse_calls, monkeypatch):
    import bmrs_assets.warehouse.duckdb_backend as duckdb_warehouse

    def failing(*_a, **_k):
        raise RuntimeError("injected failure before the MERGE")

    with monkeypatch.context() as m:
        m.setattr(duckdb_warehouse, "merge_sql", failing)
        m.setattr(duckdb_warehouse, "insert_sql", failing)  # a first load INSERTs: nothing in the range to match
        assert not materialize_range(DAY, DAY, ["COSTS"], instance=instance)[0].success
    again, _ = materialize_range(DAY, DAY, ["COSTS"], instance=instance)
    assert again.success and len(parse_calls) == 2  # nothing was remembered, so it is parsed again
    assert metadata_of(again, "COSTS")["rows_inserted"] == 48


def test_prefetching_yields_days_in_order_and_fails_on_the_failing_day(simulator):
    days = [date(2025, 12, d) for d in range(10, 16)]
    client = ElexonClient(base_url=simulator.url, rate_limit_per_s=1000)
    batch = api_source.ApiSource(COSTS, client, in_flight=3).batch(days)
    got = [d for d, t in batch.frames if t.num_rows == 48]
    assert got == days and batch.stats.api_requests == 6 and set(batch.body_digests) == set(days)

    def reply(path, n):
        return Reply(status=404, body=b'{"error": "nope"}') if "2025-12-12" in path else Reply(body=b"[]")

    server = ScriptedServer(reply)
    try:
        client = ElexonClient(base_url=server.url, rate_limit_per_s=1000, max_retries=0)
        seen = list(api_source.ApiSource(dataclasses_replace_allow_empty(COSTS), client, in_flight=3).frames(days))
        assert [d for d, _ in seen] == days, "a failing day does not stop the days after it"
        failed = {d: f.reason for d, f in seen if isinstance(f, FailedDay)}
        assert list(failed) == [date(2025, 12, 12)]
        assert failed[date(2025, 12, 12)].startswith("COSTS partition 2025-12-12: request refused; HTTP 404")
    finally:
        server.stop()


@pytest.mark.parametrize("day", [DAY, date(2025, 10, 26)])  # an ordinary day and a 50-period one
def test_a_day_fetched_in_period_chunks_types_to_the_whole_day_response(simulator, day):
    """BOD comes in nine requests, each typed as it arrives: the same rows, values and hashes as one."""
    import dataclasses

    assert [s.periods for s in initial_slices(BOD, day)] == [(1, 6), (7, 12), (13, 18), (19, 24), (25, 30),
                                                             (31, 36), (37, 42), (43, 48), (49, 50)]
    whole = dataclasses.replace(BOD, request=dataclasses.replace(BOD.request, periods_per_request=None))
    tables, stats = {}, {}
    for name, ds in (("chunks", BOD), ("whole", whole)):
        source = api_source.ApiSource(ds, ElexonClient(base_url=simulator.url, rate_limit_per_s=1000))
        stats[name] = source.stats
        ((got_day, table),) = list(source.frames([day]))
        assert got_day == day
        tables[name] = table.drop_columns(["_ingested_utc"])
    assert stats["chunks"].api_requests == 9 and stats["whole"].api_requests == 1
    assert tables["chunks"].num_rows == tables["whole"].num_rows > 250_000
    # the same rows, values and _hash_key (in period-chunk order, which no key spans: it holds the period)
    by_key = [(k, "ascending") for k in BOD.key]
    assert tables["chunks"].sort_by(by_key).equals(tables["whole"].sort_by(by_key))
    assert pc.max(tables["chunks"]["settlementPeriod"]).as_py() == (50 if day.month == 10 else 48)
    assert stats["chunks"].rows_fetched == stats["whole"].rows_fetched


def test_periods_per_request_is_declared_only_where_it_means_something():
    import dataclasses

    from bmrs_assets.elexon.datasets import FREQ

    for bad in (0, 51):
        with pytest.raises(ValueError, match="BOD: periods_per_request is 1-50"):
            dataclasses.replace(BOD, request=dataclasses.replace(BOD.request, periods_per_request=bad))
    # FREQ is asked for by a UTC time window: its strategy has no settlement periods to group
    with pytest.raises(TypeError, match="unexpected keyword argument 'periods_per_request'"):
        dataclasses.replace(FREQ, request=dataclasses.replace(FREQ.request, periods_per_request=6))
    assert [s.periods for s in initial_slices(dataclasses.replace(
        BOD, request=dataclasses.replace(BOD.request, periods_per_request=25)), DAY)] == [
        (1, 25), (26, 50)]


def dataclasses_replace_allow_empty(ds):
    import dataclasses

    return dataclasses.replace(ds, allow_empty=True)


def test_the_benchmark_runs_on_a_tiny_configuration(tmp_path):
    """One day, one repetition, platform + floor + no-op re-run, and history over 2 BOD and 3 BOALF
    days: the machinery, not the figures."""
    out = tmp_path / "results"
    proc = subprocess.run([sys.executable, "-m", "bench", "--days", "1", "--reps", "1", "--no-warmup",
                           "--no-dlt", "--scenarios", "boalf,noop,history", "--history-bod-days", "2",
                           "--history-boalf-days", "3", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (report_file,) = out.glob("*.json")
    report = json.loads(report_file.read_text())
    runs = {(r["scenario"], r["contender"]): r for r in report["runs"]}
    history = {("history", "platform-bod-1d"), ("history", "platform-bod-2d"), ("history", "platform-boalf-3d")}
    floors = {("boalf", "floor"), ("boalf", "floor-threads"), ("boalf", "floor-procs")}
    assert set(runs) == {("boalf", "platform"), ("noop", "platform-rerun")} | floors | history
    bod_1, bod_2 = (runs[("history", f"platform-bod-{n}d")]["extra"]["rows_in_table"] for n in (1, 2))
    assert bod_2 > bod_1 > 250_000
    assert runs[("history", "platform-boalf-3d")]["extra"]["rows_in_table"] > 3 * 15_000
    assert set(report["meta"]["history"]["misses"].values()) == {0}  # the fill covered every request
    assert report["meta"]["history"]["boalf_reference"] == "boalf"
    assert all(report["ratios"][k] > 0 for k in ("history_bod_rss_ratio", "history_boalf_rss_mib",
                                                  "history_boalf_s_per_day_ratio"))
    assert "| BOALF 3 d, platform, one run (history) |" in (out / "latest.md").read_text()
    rows = runs[("boalf", "floor")]["extra"]["rows_in_table"]
    assert rows == runs[("boalf", "platform")]["extra"]["rows_in_table"] > 15_000
    assert all(runs[c]["extra"]["rows_in_table"] == rows for c in floors)
    assert runs[("noop", "platform-rerun")]["extra"]["rows_written"] == 0
    assert runs[("noop", "platform-rerun")]["extra"]["days_unchanged_body"] == 1
    assert all(r["peak_rss_mib"] > 50 and r["seconds"] > 0 for r in report["runs"])
    assert report["meta"]["versions"]["dagster"] and report["meta"]["machine"]["cores"]
    assert "| BOALF 1 d, platform, single-run backfill |" in (out / "latest.md").read_text()
    assert report["ratios"]["noop_rows_written"] == 0 and report["ratios"]["boalf_vs_floor"] > 0
    assert report["ratios"]["boalf_vs_floor_parallel"] > 0


def _git_ok() -> bool:
    from bench.runner import ROOT

    probe = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", "HEAD^{commit}"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.slow  # about a minute: a dozen processes, each importing Dagster
def test_the_benchmark_measures_parallel_floors_whole_processes_and_imports(tmp_path):
    """Two BOALF days with the floor's parallel variants, the whole-process runs (a COSTS day through
    ``dagster asset materialize``, the range through ``python -m bmrs_assets run``) and the import
    scenario against a baseline worktree (HEAD here: the machinery, not the figures)."""
    from bench.runner import ROOT

    out = tmp_path / "results"
    scenarios = "boalf,process" + (",import,cuts" if _git_ok() else "")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-m", "bench", "--days", "2", "--reps", "1", "--no-warmup", "--no-dlt",
                           "--scenarios", scenarios, "--import-reps", "1", "--import-baseline-rev", "HEAD",
                           "--cuts-baseline-rev", "HEAD", "--out", str(out)], capture_output=True, text=True,
                          timeout=600, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (report_file,) = out.glob("*.json")
    report = json.loads(report_file.read_text())
    runs = {(r["scenario"], r["contender"]): r for r in report["runs"]}
    rows = runs[("boalf", "platform")]["extra"]["rows_in_table"]
    assert rows > 2 * 15_000
    for contender in ("floor", "floor-threads", "floor-procs"):
        assert runs[("boalf", contender)]["extra"]["rows_in_table"] == rows
    assert runs[("boalf", "floor-procs")]["extra"]["processes"] == 2
    assert 1 <= len(runs[("boalf", "floor-procs")]["extra"]["worker_peak_rss_mib"]) <= 2  # workers that typed a day
    assert runs[("boalf", "floor-threads")]["extra"]["in_flight"] == 2
    assert runs[("process", "platform-costs-1d")]["extra"]["rows_in_table"] == 48
    assert runs[("process", "platform")]["extra"]["rows_in_table"] == runs[("process", "floor")]["extra"][
        "rows_in_table"] == rows
    assert runs[("process", "platform")]["extra"]["argv"][:3] == ["-m", "bmrs_assets", "run"]
    # whole process: spawn to exit, so more than the floor's own load and with CPU spent
    floor = runs[("process", "floor")]
    assert floor["process_seconds"] > floor["seconds"] > 0 and floor["cpu_seconds"] > 0
    ratios = report["ratios"]
    for key in ("boalf_vs_floor", "boalf_vs_floor_parallel", "process_boalf_vs_floor", "process_costs_seconds",
                "process_costs_rss_mib"):
        assert ratios[key] > 0, key
    assert ratios["process_boalf_vs_floor"] == pytest.approx(
        runs[("process", "platform")]["process_seconds"] / floor["process_seconds"])
    assert set(report["meta"]["row_counts"]["boalf"].values()) == {rows}
    md = (out / "latest.md").read_text()
    assert "| BOALF 2 d, whole process, `python -m bmrs_assets run` |" in md
    assert "| COSTS 1 d, whole process, `dagster asset materialize` |" in md
    assert "| boalf_vs_floor_parallel | ≤ 1.3 |" in md and "best parallel floor" in md
    if "import" in scenarios:
        imports = {c: r for (s, c), r in runs.items() if s == "import"}
        assert set(imports) == {"import-current", "import-baseline", "import-dagster"}
        assert all(r["cpu_seconds"] > 0 and r["seconds"] > 0 for r in imports.values())
        files = report["meta"]["import"]["files"]
        assert files["current"] == str(ROOT / "bmrs_assets" / "__init__.py")
        assert files["baseline"].endswith("/baseline/bmrs_assets/__init__.py") and files["baseline"] != files["current"]
        assert ratios["import_vs_baseline"] > 0 and ratios["import_vs_dagster"] > 0
        assert "| import_vs_baseline | ≤ 0.5 |" in md
        worktrees = subprocess.run(["git", "-C", str(ROOT), "worktree", "list"], capture_output=True, text=True)
        assert "/baseline " not in worktrees.stdout  # removed afterwards
        # cuts: the same runs without workers and at a baseline revision, each with its Dagster profile
        for dataset in ("boalf", "bod"):
            cut = {c: r for (sc, c), r in runs.items() if sc == f"cuts-{dataset}"}
            assert set(cut) == {"platform", "platform-no-workers", "platform-baseline"}
            assert len({r["extra"]["rows_in_table"] for r in cut.values()}) == 1
            assert cut["platform-baseline"]["extra"]["code"].endswith("/cuts-path/bmrs_assets")
            assert cut["platform"]["extra"]["code"] == str(ROOT / "bmrs_assets")
            for r in cut.values():
                profile = r["extra"]["dagster_profile"]
                assert profile["events"] == profile["event_writes"] > 10 and profile["check_steps"] == 4
                assert 0 < profile["io_manager_seconds"] < profile["asset_step_seconds"] < r["seconds"]
            assert ratios[f"cuts_{dataset}_vs_baseline"] > 0 and ratios[f"cuts_{dataset}_vs_no_workers"] > 0
        assert "/cuts-baseline " not in worktrees.stdout
        assert "| cuts-bod | platform-baseline |" in md


def test_the_best_parallel_floor_is_the_faster_variant_of_each_repetition():
    """Synthetic runs: per repetition the faster of floor-threads and floor-procs, the platform's run
    of that repetition divided by it; the whole-process pair on spawn-to-exit seconds; the import
    ratio on CPU seconds; and the tightened verdicts follow."""
    import argparse

    from bench.report import summarise, verdicts
    from bench.runner import Run

    args = argparse.Namespace(days=44, bod_days=1, history_bod_days=30, history_boalf_days=365)

    def run(scenario, contender, seconds, rep, process_seconds=None, cpu=None):
        return Run(scenario, contender, rep, seconds, 400.0, process_seconds or seconds + 2, {}, cpu)

    runs = [run("boalf", "platform", 12.0, 0), run("boalf", "floor", 10.0, 0),
            run("boalf", "floor-threads", 9.0, 0), run("boalf", "floor-procs", 6.0, 0),
            run("boalf", "platform", 14.0, 1), run("boalf", "floor", 11.0, 1),
            run("boalf", "floor-threads", 7.0, 1), run("boalf", "floor-procs", 10.0, 1),
            run("process", "platform", 20.0, 0, 20.0), run("process", "floor", 9.0, 0, 10.0),
            run("import", "import-current", 1.0, 0, cpu=1.0), run("import", "import-baseline", 2.5, 0, cpu=2.5),
            run("import", "import-dagster", 1.0, 0, cpu=0.8)]
    rows, ratios = summarise(runs, args)
    assert ratios["boalf_vs_floor_parallel"] == pytest.approx((12.0 / 6.0 + 14.0 / 7.0) / 2)
    assert ratios["boalf_vs_floor"] == pytest.approx((12.0 / 10.0 + 14.0 / 11.0) / 2)
    assert ratios["process_boalf_vs_floor"] == pytest.approx(2.0)  # spawn to exit, not the floor's own 9 s
    assert ratios["import_vs_baseline"] == pytest.approx(0.4) and ratios["import_vs_dagster"] == pytest.approx(1.25)
    v = verdicts(ratios)
    assert (v["boalf_vs_floor"], v["boalf_vs_floor_parallel"], v["process_boalf_vs_floor"],
            v["import_vs_baseline"]) == ("MISSED", "MISSED", "MISSED", "met")
    assert v["bod_vs_floor_parallel"] == "n/a" and v["import_vs_dagster"] == "reported"
    par = {r["what"]: r for r in rows}["BOALF 44 d, platform, single-run backfill"]
    assert par["parallel_floor_seconds"] == pytest.approx(6.5)  # median of the per-repetition best, 6 and 7


def test_the_history_figures_are_computed_from_the_runs_and_paired_within_the_run():
    """The history targets from synthetic runs: the BOALF reference measured by history itself
    (paired) or taken from the boalf scenario, and verdicts that follow the figures."""
    import argparse

    from bench.report import summarise, verdicts
    from bench.runner import Run

    args = argparse.Namespace(days=44, bod_days=1, history_bod_days=30, history_boalf_days=365)

    def run(scenario, contender, seconds, rss, rep=0):
        return Run(scenario, contender, rep, seconds, rss, seconds + 5, {"dagster_seconds": 1.0})

    runs = [run("history", "platform-bod-1d", 2.0, 500), run("history", "platform-bod-30d", 60.0, 600),
            run("history", "platform-boalf-44d", 8.8, 600), run("history", "platform-boalf-365d", 73.0, 900)]
    rows, ratios = summarise(runs, args)
    assert ratios["history_bod_rss_ratio"] == pytest.approx(1.2)
    assert ratios["history_boalf_rss_mib"] == 900
    assert ratios["history_boalf_s_per_day_ratio"] == pytest.approx((73.0 / 365) / (8.8 / 44))
    v = verdicts(ratios)
    assert (v["history_bod_rss_ratio"], v["history_boalf_rss_mib"], v["history_boalf_s_per_day_ratio"]) == (
        "met", "met", "met")
    assert v["bod_rss_mib"] == "n/a"  # the history's 1-day BOD run is not the bod scenario's
    notes = {r["what"]: r["note"] for r in rows}
    assert notes["BOD 30 d, platform, one run (history)"].startswith("× 1-day RSS 1.20")
    assert "× 1.00 the 44-day run's (history)" in notes["BOALF 365 d, platform, one run (history)"]

    # the boalf scenario ran: its median is the reference; and a long run that grows is MISSED
    runs = [run("boalf", "platform", 8.8, 650), run("boalf", "platform", 9.9, 650, rep=1),
            run("history", "platform-bod-1d", 2.0, 500), run("history", "platform-bod-30d", 60.0, 600),
            run("history", "platform-bod-1d", 2.0, 500, rep=1), run("history", "platform-bod-30d", 90.0, 3000, rep=1),
            run("history", "platform-boalf-365d", 120.0, 6000)]
    rows, ratios = summarise(runs, args)
    assert ratios["history_boalf_s_per_day_ratio"] == pytest.approx((120.0 / 365) / (9.35 / 44))
    assert ratios["history_bod_rss_ratio"] == pytest.approx((1.2 + 6.0) / 2)
    v = verdicts(ratios)
    assert (v["history_bod_rss_ratio"], v["history_boalf_rss_mib"], v["history_boalf_s_per_day_ratio"]) == (
        "MISSED", "MISSED", "MISSED")
    assert "(boalf scenario)" in {r["what"]: r["note"] for r in rows}["BOALF 365 d, platform, one run (history)"]


def test_the_floor_keeps_its_units_in_order_and_at_most_a_window_ahead():
    """``bench.peers.in_order``: results in submission order, never more than ``window`` submitted
    and not yet consumed (the parallel floors' bounded memory)."""
    from concurrent.futures import Future

    from bench.peers import in_order

    submitted: list[int] = []
    consumed: list[int] = []
    ahead: list[int] = []

    def submit(unit):
        submitted.append(unit)
        ahead.append(len(submitted) - len(consumed))
        f = Future()
        f.set_result(unit * 10)
        return f

    for result in in_order(submit, list(range(7)), 3):
        consumed.append(result // 10)
    assert consumed == list(range(7)) and submitted == list(range(7))
    assert max(ahead) == 3
