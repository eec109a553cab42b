"""The ``cuts`` scenario: a run as it is, against the same run without typing workers and before the cuts.

For BOALF over ``--days`` and BOD over ``--bod-days``, each repetition runs in turn (the order
rotated between repetitions): the platform as it is (``platform``), the same without typing
workers (``platform-no-workers``, ``BMRS_TYPING_WORKERS=0``: the workers' share alone), and the
platform at ``--cuts-baseline-rev`` (``platform-baseline``, default 4d8c802: the last commit before
issue 18's run cuts), whose ``bmrs_assets`` is imported from a temporary worktree while the child's
own code (``bench/children.py``, the same measurement) is this tree's; each baseline child reports
the package it imported, and the scenario refuses a run that imported another. Every platform
run's Dagster profile (events, their bytes by type, the seconds spent writing them, the asset step
and the check steps: ``children.dagster_profile``) is in the results, so each cut's before and
after figures sit beside the runs that measured them.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from bench.runner import ROOT, Bench
from bench.whole import git

CONTENDERS = ("platform", "platform-no-workers", "platform-baseline")


@contextmanager
def baseline_code(bench: Bench, rev: str) -> Iterator[Path]:
    """A directory whose ``bmrs_assets`` is the package at ``rev`` (a detached worktree, removed after)."""
    tree = bench.work / "cuts-baseline"
    git("worktree", "add", "--detach", str(tree), rev)
    try:
        shim = bench.work / "cuts-path"
        shim.mkdir()
        (shim / "bmrs_assets").symlink_to(tree / "bmrs_assets")
        yield shim
    finally:
        git("worktree", "remove", "--force", str(tree))


def run_cuts(bench: Bench, rep: int, url: str, shim: Path, runs: list[tuple[str, date, date]], rate: float) -> None:
    """One repetition of the three contenders on each (dataset, first, last) of ``runs``."""
    for dataset, first, last in runs:
        order = list(CONTENDERS)
        order = order[rep % 3:] + order[:rep % 3]
        for contender in order:
            env = {"platform": {}, "platform-no-workers": {"BMRS_TYPING_WORKERS": "0"},
                   "platform-baseline": {"BENCH_PYTHONPATH_FIRST": str(shim)}}[contender]
            bench.platform(f"cuts-{dataset.lower()}", rep, url, dataset, first, last, rate, contender=contender, env=env)
            run = bench.runs[-1]
            expected = shim / "bmrs_assets" if contender == "platform-baseline" else ROOT / "bmrs_assets"
            if Path(run.extra.get("code", "")) != expected:
                raise RuntimeError(f"cuts {contender}: imported bmrs_assets from {run.extra.get('code')}, not {expected}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cuts-baseline-rev", default="4d8c802",
                        help="cuts: the revision a run is compared with (before issue 18's run cuts)")


PROFILE = (("events", "events", 0), ("event_bytes", "event KiB", 0), ("event_write_seconds", "event writes s", 2),
           ("check_steps_seconds", "check steps s", 2), ("asset_step_seconds", "asset step s", 2),
           ("io_manager_seconds", "IO manager s", 2))


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def cut_ratios(runs: list, ratios: dict) -> None:
    """``cuts_<dataset>_vs_baseline`` and ``cuts_<dataset>_vs_no_workers``: the platform's seconds over
    the other contender's, paired per repetition (reported, no target)."""
    from bench.report import paired_ratio

    for dataset in ("boalf", "bod"):
        scenario = f"cuts-{dataset}"
        ratios[f"cuts_{dataset}_vs_baseline"] = paired_ratio(runs, scenario, "platform", scenario, "platform-baseline")
        ratios[f"cuts_{dataset}_vs_no_workers"] = paired_ratio(runs, scenario, "platform", scenario,
                                                             "platform-no-workers")


def dagster_share_lines(runs: list) -> list[str]:
    """A markdown table of every platform run's Dagster profile, medians per scenario and contender."""
    groups: dict[tuple[str, str], list] = {}
    for r in runs:
        if r.rep >= 0 and isinstance(r.extra.get("dagster_profile"), dict):
            groups.setdefault((r.scenario, r.contender), []).append(r)
    if not groups:
        return []
    lines = ["", "Dagster's share of each platform run (medians; `children.dagster_profile`: the run's own event "
             "records, and the seconds its event-log writes took):", "",
             "| scenario | contender | seconds | " + " | ".join(label for _, label, _ in PROFILE) + " |",
             "|---|---|---:|" + "---:|" * len(PROFILE)]
    for (scenario, contender), rs in groups.items():
        cells = []
        for key, _, digits in PROFILE:
            v = _median([r.extra["dagster_profile"].get(key) for r in rs
                         if r.extra["dagster_profile"].get(key) is not None])
            v = v / 1024 if v is not None and key == "event_bytes" else v
            cells.append("" if v is None else f"{v:.{digits}f}")
        lines.append(f"| {scenario} | {contender} | {_median([r.seconds for r in rs]):.2f} | " + " | ".join(cells) + " |")
    return lines
