"""Where are the holes? Every partition day of every dataset, classified from two sources of truth.

The old system looked only at ``MAX(timestamp)``, so a hole behind the frontier or a day with 50
rows was never found. Here each day since ``BMRS_START_DATE`` is classified from the orchestrator's
partition status (was it materialized, did its last run fail?) and the warehouse (is the stored day
complete by its dataset's completeness rule?):

* ``failed``: the latest run of that partition failed;
* ``missing``: never materialized;
* ``partial``: materialized, but the stored day fails its completeness rule;
* ``complete``: materialized and complete (for today: complete so far).

``python -m bmrs_assets gaps`` prints the contiguous non-complete ranges ready to paste into a
backfill. This module takes the partition status as plain data (partition key -> status name);
reading it from a Dagster instance is :func:`bmrs_assets.defs.quality.classify`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from bmrs_assets.core.settlement import day_window, days_between
from bmrs_assets.elexon.datasets import Dataset
from bmrs_assets.quality.completeness import evaluate
from bmrs_assets.warehouse.contract import Warehouse


class DayState(StrEnum):
    """What a stored partition day is; compares equal to its name as text (JSON, dashboard keys)."""

    COMPLETE = "complete"
    PARTIAL = "partial"  # stored, but short of what a complete day holds
    MISSING = "missing"  # never materialized
    FAILED = "failed"  # the latest run of the partition failed


STATUSES = tuple(DayState)
MATERIALIZED = "MATERIALIZED"  # partition status names, as Dagster's AssetPartitionStatus spells them
FAILED = "FAILED"


@dataclass(frozen=True)
class DayStatus:
    dataset: str
    day: date
    status: DayState
    rows: int
    detail: str


@dataclass(frozen=True)
class Gap:
    """A contiguous run of days with the same non-complete status."""

    dataset: str
    status: DayState
    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def partition_range(self) -> str:
        return f"{self.first.isoformat()}...{self.last.isoformat()}"

    def command(self) -> str:
        return backfill_command(self.dataset, self.first, self.last)


def backfill_command(code: str, first: date, last: date) -> str:
    """The command that fills ``first``...``last`` of dataset ``code``: a Dagster backfill the daemon
    runs through the run queue, in runs of the dataset's days per run (docs/backfills.md)."""
    return f"python -m bmrs_assets backfill --dataset {code.upper()} --from {first.isoformat()} --to {last.isoformat()}"


def days_to_classify(first: date, last: date, now: datetime) -> list[date]:
    """The days from ``first`` to ``last`` that have begun by ``now`` (a future day is not a gap)."""
    return [d for d in days_between(first, last) if day_window(d).start <= now]


def classify_days(ds: Dataset, days: list[date], partition_status: Mapping[str, str], warehouse: Warehouse,
                  now: datetime) -> list[DayStatus]:
    """The status of each of ``days`` (ascending) of ``ds``.

    ``partition_status`` maps a partition key (ISO day) to its orchestrator status name
    (``MATERIALIZED``, ``FAILED``, or anything else for a run in progress); a day absent from it
    was never materialized. Materialized days are judged by the warehouse's stored shape.
    """
    if not days:
        return []
    history_start = days[0] - timedelta(days=ds.completeness.median_days)
    stats = warehouse.day_stats(ds, history_start, days[-1])
    history = {d: s.rows for d, s in stats.items()}
    out = []
    for d in days:
        state = partition_status.get(d.isoformat())
        rows = stats[d].rows if d in stats else 0
        if state == FAILED:
            out.append(DayStatus(ds.code, d, DayState.FAILED, rows, "the latest run of this partition failed"))
        elif state != MATERIALIZED:
            detail = "in progress" if state is not None else "never materialized"
            out.append(DayStatus(ds.code, d, DayState.MISSING, rows, detail))
        else:
            verdict = evaluate(ds, d, stats.get(d), history, now)
            if verdict.passed or verdict.in_progress:
                note = " (day in progress)" if verdict.in_progress else ""
                out.append(DayStatus(ds.code, d, DayState.COMPLETE, rows, verdict.reason + note))
            else:
                out.append(DayStatus(ds.code, d, DayState.PARTIAL, rows, f"{verdict.reason}; expected {verdict.expected}"))
    return out


def gaps_of(statuses: list[DayStatus]) -> list[Gap]:
    """Contiguous ranges of days sharing a non-complete status."""
    out: list[Gap] = []
    for s in statuses:
        if s.status is DayState.COMPLETE:
            continue
        prev = out[-1] if out else None
        if prev and prev.dataset == s.dataset and prev.status == s.status and prev.last + timedelta(days=1) == s.day:
            out[-1] = Gap(prev.dataset, prev.status, prev.first, s.day)
        else:
            out.append(Gap(s.dataset, s.status, s.day, s.day))
    return out


def summary(statuses: list[DayStatus]) -> dict[str, int]:
    return {k: sum(1 for s in statuses if s.status == k) for k in STATUSES}


def render_text(results: dict[str, list[DayStatus]]) -> str:
    lines = []
    for code, statuses in results.items():
        counts = summary(statuses)
        lines.append(f"{code}: " + ", ".join(f"{counts[k]} {k}" for k in STATUSES))
        for gap in gaps_of(statuses):
            lines.append(f"  {gap.status:<8} {gap.partition_range}  ({gap.days} day{'s' if gap.days > 1 else ''})")
            lines.append(f"    {gap.command()}")
    return "\n".join(lines)


def render_json(results: dict[str, list[DayStatus]]) -> str:
    payload = {
        code: {"summary": summary(statuses),
               "gaps": [{**asdict(g), "first": g.first.isoformat(), "last": g.last.isoformat(), "days": g.days,
                         "partition_range": g.partition_range} for g in gaps_of(statuses)],
               "days": [{"day": s.day.isoformat(), "status": s.status, "rows": s.rows, "detail": s.detail}
                        for s in statuses]}
        for code, statuses in results.items()
    }
    return json.dumps(payload, indent=1)
