"""The commands as a user runs them: no DAGSTER_HOME needed, no Dagster notices, one line for a bad argument."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from bmrs_assets.cli.arguments import INSTANCE_TEMPLATE, UsageError, ensure_dagster_home
from bmrs_assets.cli.main import run_days
from bmrs_assets.settings import PROJECT_ROOT, value

NOTICES = ("BetaWarning", "PreviewWarning", "SupersessionWarning", "DeprecationWarning", "Traceback")


def command(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """``python -m bmrs_assets <args>`` in a fresh directory, DAGSTER_HOME unset, every file under ``tmp_path``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BMRS_", "DAGSTER_"))}
    clean.update(PYTHONPATH=str(PROJECT_ROOT), BMRS_DUCKDB_PATH=str(tmp_path / "bmrs.duckdb"),
                 BMRS_DAGSTER_HOME=str(tmp_path / "dagster_home"), BMRS_RATE_LIMIT_FILE=str(tmp_path / "rate_limit"),
                 **env)
    cwd = tmp_path / "cwd"
    cwd.mkdir(exist_ok=True)
    return subprocess.run([sys.executable, "-m", "bmrs_assets", *args], cwd=cwd, env=clean, capture_output=True,
                          text=True, timeout=300)


def test_gaps_without_dagster_home_creates_the_default_instance(tmp_path: Path) -> None:
    done = command(["gaps", "--dataset", "COSTS", "--since", "2025-12-01", "--until", "2025-12-03"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "COSTS: 0 complete, 0 partial, 3 missing, 0 failed"
    assert "backfill --dataset COSTS --from 2025-12-01 --to 2025-12-03" in done.stdout
    home = tmp_path / "dagster_home"
    assert (home / "dagster.yaml").read_text() == INSTANCE_TEMPLATE.read_text()
    assert not any(n in done.stderr for n in NOTICES), done.stderr
    assert done.stderr == ""


def test_a_run_prints_no_dagster_notices(tmp_path: Path, simulator) -> None:
    done = command(["run", "--dataset", "COSTS", "--from", "2025-12-16", "--to", "2025-12-17"], tmp_path,
                   BMRS_API_BASE_URL=simulator.url, BMRS_RATE_LIMIT_PER_S="50")
    assert done.returncode == 0, done.stderr
    assert "COSTS      2025-12-17        48        48" in done.stdout
    assert not any(n in done.stderr for n in NOTICES), done.stderr
    assert all(line.startswith("COSTS 2025-12-1") for line in done.stderr.splitlines()), done.stderr  # progress only


@pytest.mark.parametrize(("args", "problem"), [
    (["run", "--from", "2025-12-05", "--to", "2025-12-01"], "error: --from 2025-12-05 is after --to 2025-12-01"),
    (["run", "--days", "0"], "error: --days must be at least 1, got 0"),
    (["demo", "--dataset", "NOPE"], "error: unknown dataset 'NOPE'; registered: BM_UNITS, BOALF, BOAV, BOD, COSTS"),
    (["run", "--to", "2999-01-01"], "error: --to 2999-01-01 is after today ("),
    (["run", "--from", "2021-12-31", "--to", "2022-01-01"],
     "error: --from 2021-12-31 is before the first partition, 2022-01-01 (BMRS_START_DATE)"),
    (["run", "--from", "yesterday"], "error: --from: not a valid settlement date (YYYY-MM-DD): 'yesterday'"),
    (["gaps", "--dataset", "NOPE"], "error: unknown dataset 'NOPE'"),
    (["gaps", "--since", "2025-01-02", "--until", "2025-01-01"], "error: --since 2025-01-02 is after --until 2025-01-01"),
    (["dashboard", "--days", "0"], "error: --days must be at least 1, got 0"),
    (["backfill", "--from", "2025-12-05", "--to", "2025-12-01"], "error: --from 2025-12-05 is after --to 2025-12-01"),
    (["run", "--days", "three"], "python -m bmrs_assets run: error: argument --days: invalid int value: 'three'"),
])
def test_a_bad_argument_is_one_line_and_exit_2(tmp_path: Path, args: list[str], problem: str) -> None:
    done = command(args, tmp_path)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith(problem), done.stderr
    assert done.stdout == ""
    assert not (tmp_path / "bmrs.duckdb").exists()


def _args(first: str | None = None, last: str | None = None, days: int = 3) -> argparse.Namespace:
    return argparse.Namespace(first=first, last=last, days=days)


def test_run_days_defaults_and_one_sided_ranges(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BMRS_START_DATE", raising=False)
    today = date(2025, 12, 18)
    assert run_days(_args(), today) == (date(2025, 12, 15), date(2025, 12, 17))  # the last complete days
    assert run_days(_args(days=1), today) == (date(2025, 12, 17), date(2025, 12, 17))
    assert run_days(_args(last="2025-12-10"), today) == (date(2025, 12, 8), date(2025, 12, 10))  # --days up to --to
    assert run_days(_args(first="2025-12-01"), today) == (date(2025, 12, 1), date(2025, 12, 17))
    assert run_days(_args(first="2025-12-18", last="2025-12-18"), today) == (today, today)  # today: allowed
    with pytest.raises(UsageError, match=r"^--from 2025-12-18 is after --to 2025-12-17 \(its default"):
        run_days(_args(first="2025-12-18"), today)


def test_dagster_home_default_and_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BMRS_DAGSTER_HOME", raising=False)
    assert value("BMRS_DAGSTER_HOME") == PROJECT_ROOT / "data" / "dagster_home"  # the Makefile's, not created here
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", "relative_home")  # DAGSTER_HOME wins, made absolute as Dagster needs
    (tmp_path / "relative_home").mkdir()
    (tmp_path / "relative_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    assert ensure_dagster_home() == tmp_path / "relative_home"
    assert os.environ["DAGSTER_HOME"] == str(tmp_path / "relative_home")
    assert (tmp_path / "relative_home" / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"  # kept
