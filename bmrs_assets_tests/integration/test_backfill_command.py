"""``python -m bmrs_assets backfill`` in process, on a Dagster instance on disk and without a daemon:
the backfill it submits, the days it refuses, the progress it reads, and ``--plan`` from a real run
and from the registry. (The daemon running such a backfill: ``system/test_backfill_command.py``.)"""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import dagster as dg
import pytest
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.definitions.automation_tick_evaluation_context import build_run_requests_with_backfill_policies
from dagster._core.definitions.events import AssetKeyPartitionKey
from dagster._core.execution.backfill import BulkActionStatus

from bmrs_assets.cli import backfill as cli
from bmrs_assets.cli.main import main
from bmrs_assets.cli.runs import materialize_range
from bmrs_assets.core.settlement import days_between, london_today
from bmrs_assets.elexon.datasets import BOD, COSTS, FREQ

FIRST, LAST = date(2025, 12, 1), date(2025, 12, 5)
ID = re.compile(r"^backfill id: ([a-z]+)$", re.M)


@pytest.fixture
def home(platform_env, persistent_instance, monkeypatch):
    instance, path = persistent_instance
    monkeypatch.setenv("DAGSTER_HOME", str(path))
    monkeypatch.setenv("BMRS_BACKFILL_MAX_DAYS_PER_RUN", "2")
    return instance


def command(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["backfill", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_backfill_is_submitted_for_the_daemon(home, capsys, monkeypatch):
    monkeypatch.setenv("BMRS_UI_URL", "http://ui.example:3000/")
    code, out, err = command(capsys, "--dataset", "costs", "--dataset", "FREQ", "--from", FIRST.isoformat(),
                             "--to", LAST.isoformat())
    assert code == 0, err
    backfill_id = ID.search(out)[1]
    backfill = home.get_backfill(backfill_id)
    assert backfill is not None and backfill.status == BulkActionStatus.REQUESTED and backfill.is_asset_backfill
    assert backfill.title == f"bmrs backfill COSTS, FREQ {FIRST}...{LAST}"
    graph = cli.asset_graph()
    target = backfill.get_asset_backfill_data(graph).target_subset
    assert target.asset_keys == {cli.asset_key(COSTS), cli.asset_key(FREQ)}
    for key in target.asset_keys:
        assert sorted(target.get_partitions_subset(key).get_partition_keys()) == [
            d.isoformat() for d in days_between(FIRST, LAST)]
    assert "bmrs/costs: 3 run(s) of up to 2 day(s)" in out and "bmrs/freq: 3 run(s) of up to 2 day(s)" in out
    assert "the daemon launches 3 run(s) in all" in out  # the same policy: both assets in each run
    assert f"UI: http://ui.example:3000/runs/b/{backfill_id}" in out
    assert "no dagster-daemon is running" in err
    assert home.get_runs() == []  # nothing runs here: the daemon launches the runs


@pytest.mark.parametrize(("first", "last", "message"), [
    ("2023-12-31", "2024-01-02", "--from 2023-12-31 is before the first partition, 2024-01-01 (BMRS_START_DATE)"),
    ("2025-12-05", "2025-12-01", "--from 2025-12-05 is after --to 2025-12-01"),
    ("2025-12-01", "2025-13-01", "not a valid settlement date"),
])
def test_days_outside_the_partitions_are_refused(home, capsys, first, last, message):
    code, out, err = command(capsys, "--dataset", "COSTS", "--from", first, "--to", last)
    assert code == 2 and message in err and out == ""
    assert home.get_backfills() == []


def test_a_day_after_today_and_an_unknown_dataset_are_refused(home, capsys):
    tomorrow = london_today() + timedelta(days=1)
    code, _, err = command(capsys, "--from", FIRST.isoformat(), "--to", tomorrow.isoformat())
    assert code == 2 and f"--to {tomorrow} is after the last partition, {london_today()} (today" in err
    code, _, err = command(capsys, "--dataset", "NOPE", "--from", FIRST.isoformat(), "--to", LAST.isoformat())
    assert code == 2 and "unknown dataset 'NOPE'" in err
    assert home.get_backfills() == []


def test_all_or_no_dataset_means_every_registry_dataset():
    assert cli.select_datasets(None) == cli.select_datasets(["all"]) == cli.select_datasets(["COSTS", "ALL"])
    assert [ds.code for ds in cli.select_datasets(["bod", "COSTS", "BOD"])] == ["BOD", "COSTS"]


def test_the_run_count_is_what_dagster_builds(platform_env, monkeypatch, instance):
    """Runs per asset are ceil(days / max_partitions_per_run), and assets with the same policy share
    runs: checked against the function the backfill daemon builds its run requests with."""
    monkeypatch.setenv("BMRS_BACKFILL_MAX_DAYS_PER_RUN", "0")
    graph = cli.asset_graph()
    days = days_between(date(2025, 1, 1), date(2025, 2, 9))  # 40 days
    datasets = [COSTS, FREQ, BOD]
    sizes = [cli.run_size(graph, cli.asset_key(ds), len(days)) for ds in datasets]
    assert sizes == [COSTS.days_per_run, FREQ.days_per_run, BOD.days_per_run]
    requests = build_run_requests_with_backfill_policies(
        [AssetKeyPartitionKey(cli.asset_key(ds), d.isoformat()) for ds in datasets for d in days], graph, instance)
    assert len(requests) == cli.shared_runs(len(days), sizes)
    bod_runs = [r for r in requests if cli.asset_key(BOD) in r.asset_selection]
    assert len(bod_runs) == -(-len(days) // BOD.days_per_run)


def _finish(instance: dg.DagsterInstance, backfill_id: str, failed: list[str]) -> None:
    """Mark a backfill ended as the daemon would: its days materialized except ``failed``."""
    graph = cli.asset_graph()
    backfill = instance.get_backfill(backfill_id)
    data = backfill.get_asset_backfill_data(graph)
    key = next(iter(data.target_subset.asset_keys))
    pdef = graph.get(key).partitions_def
    keys = data.target_subset.get_partitions_subset(key).get_partition_keys()
    done = AssetGraphSubset(partitions_subsets_by_asset_key={
        key: pdef.subset_with_partition_keys([k for k in keys if k not in failed])})
    bad = AssetGraphSubset(partitions_subsets_by_asset_key={key: pdef.subset_with_partition_keys(failed)})
    data = data._replace(materialized_subset=done, failed_and_downstream_subset=bad, requested_subset=data.target_subset)
    status = BulkActionStatus.COMPLETED_FAILED if failed else BulkActionStatus.COMPLETED_SUCCESS
    instance.update_backfill(backfill.with_asset_backfill_data(data, dynamic_partitions_store=instance,
                                                               asset_graph=graph).with_status(status))


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_wait_reads_dagsters_accounting_and_exits_by_it(home, capsys):
    graph = cli.asset_graph()
    days = days_between(FIRST, LAST)
    ok = cli.submit(home, graph, [cli.asset_key(COSTS)], days, "ok", "")
    assert cli.read_progress(home, ok, graph) == cli.Progress(BulkActionStatus.REQUESTED, 5, 0, 0, 0, {}, None)
    _finish(home, ok, [])
    out = io.StringIO()
    assert cli.wait(home, ok, graph, out, poll_s=0) == 0
    lines = out.getvalue().splitlines()
    assert "] 5/5 done, 0 failed, 0 remaining (0 running)" in lines[0] and "COMPLETED_SUCCESS" in lines[0]
    assert lines[-1] == f"backfill {ok} succeeded: 5 of 5 partitions materialized"

    bad = cli.submit(home, graph, [cli.asset_key(COSTS)], days, "bad", "")
    _finish(home, bad, ["2025-12-03"])
    term = Terminal()
    assert cli.wait(home, bad, graph, term, poll_s=0) == 1
    text = term.getvalue()
    assert text.startswith("\r[") and "4/5 done, 1 failed, 0 remaining" in text and "COMPLETED_FAILED" in text
    assert "failed bmrs/costs: 2025-12-03" in text


def test_wait_gives_up_after_its_timeout_and_fails(home):
    graph = cli.asset_graph()
    backfill_id = cli.submit(home, graph, [cli.asset_key(COSTS)], days_between(FIRST, LAST), "t", "")
    out = io.StringIO()
    assert cli.wait(home, backfill_id, graph, out, poll_s=0.05, timeout_s=0.2) == 1
    lines = out.getvalue().splitlines()
    assert len([ln for ln in lines if ln.startswith("[")]) == 1  # one line per change, off a terminal
    assert "still REQUESTED when the wait ended" in lines[-1]


def test_progress_line():
    p = cli.Progress(BulkActionStatus.REQUESTED, total=10, done=4, failed=1, in_progress=3)
    line = cli.progress_line(p, elapsed_s=50, width=10)
    assert line == "[####x.....] 4/10 done, 1 failed, 5 remaining (3 running) | 50 s, ETA 50 s | REQUESTED"
    assert "ETA ?" in cli.progress_line(cli.Progress(BulkActionStatus.REQUESTED, 10, 0, 0, 0), 5)


def test_plan_measures_the_last_run_and_falls_back_to_the_registry(home, capsys):
    result, _ = materialize_range(date(2025, 12, 1), date(2025, 12, 2), ["COSTS"], instance=home)
    assert result.success
    code, out, err = command(capsys, "--plan", "--dataset", "COSTS", "--dataset", "FREQ", "--from", "2025-11-01",
                             "--to", "2025-11-30")
    assert code == 0, err
    assert home.get_backfills() == [] and len(home.get_runs()) == 1  # nothing launched
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.split()[:1] in (["COSTS"], ["FREQ"])}
    assert rows["COSTS"][1:6] == ["30", "15", "2", "30", "1.4"]  # 30 days, 15 runs of 2, 30 requests, 48 x 30 rows
    assert rows["FREQ"][1:6] == ["30", "15", "2", "30", "172.8"]  # FREQ's registry 5,760 rows a day
    assert "COSTS: rows: the last 1 run (2 days), 48/day" in out
    assert re.search(r"COSTS: .*bytes: the last 1 run \(2 days\), [\d.]+ kB/day; latency: the last 1 run", out)
    assert re.search(r"COSTS:.* processing: the last 1 run \(2 days\), [\d.]+ [mu]?s/row", out)
    assert "FREQ: rows: registry rows_per_day (5,760/day), no run recorded; bytes: unknown" in out
    assert "latency: not measured, duration from the rate limit alone" in out
    assert rows["COSTS"][6] == rows["FREQ"][6] == "k"
    assert rows["COSTS"][8] in ("kB", "MB") and float(rows["COSTS"][7]) > 0
    assert rows["FREQ"][7] == "?"
