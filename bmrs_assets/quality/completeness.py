"""Is a stored partition day complete? Exact where the shape is fixed, a median floor where not.

The old system counted a day with 50 rows as "present". Here each dataset's registry entry says
what a complete day looks like (``Completeness``), and :func:`evaluate` compares a day's stored
shape with it: COSTS one row per settlement period (46/48/50), MID two, FREQ one per 15 s,
FUELINST 288 per fuel type, and for variable datasets (BOALF, BOD, PN, ...) at least a
configurable fraction of the trailing 28-day median.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from bmrs_assets.core.settlement import UTC, day_window, periods_in_day
from bmrs_assets.elexon.datasets import Dataset
from bmrs_assets.settings import value
from bmrs_assets.warehouse.contract import DayStats

if TYPE_CHECKING:
    import pyarrow as pa

FRACTION_ENV = "BMRS_MEDIAN_FLOOR_FRACTION"


@dataclass(frozen=True)
class Verdict:
    """The completeness of one partition day."""

    passed: bool
    expected: str
    actual: int
    reason: str
    in_progress: bool = False  # the London day has not ended yet: a shortfall is expected


def arriving_stats(ds: Dataset, table: pa.Table) -> DayStats:
    """The shape of a day as it arrives (its typed rows, counted once per natural key as the MERGE
    will store them), judged by :func:`evaluate` before it is written: a current-state day deletes
    only if it is whole, and a finished one that is not is refused."""
    import pyarrow.compute as pc  # the caller holds an Arrow table: pyarrow is loaded

    if not table.num_rows:
        return DayStats()
    columns = list(dict.fromkeys([*ds.key, *filter(None, [ds.period_column, ds.completeness.group_by])]))
    distinct = table.select(columns).group_by(columns, use_threads=False).aggregate([])
    periods = pc.count_distinct(distinct[ds.period_column]).as_py() if ds.period_column else 0
    groups: dict[str, int] = {}
    if ds.completeness.group_by:
        for item in pc.value_counts(distinct[ds.completeness.group_by]).to_pylist():
            groups[str(item["values"])] = int(item["counts"])
    return DayStats(rows=distinct.num_rows, periods=periods, groups=groups)


def median_fraction(ds: Dataset) -> float | None:
    override = value(FRACTION_ENV)
    return override if override is not None and ds.completeness.median_fraction is not None else ds.completeness.median_fraction


def exact_rows(ds: Dataset, day: date) -> int | None:
    """The exact row count (per group, if the dataset groups) a complete day has, if fixed."""
    rule = ds.completeness
    if rule.per_period is not None:
        return rule.per_period * periods_in_day(day)
    if rule.interval is not None:
        return int(day_window(day).duration / rule.interval)
    return None


def evaluate(ds: Dataset, day: date, stats: DayStats | None, history: dict[date, int],
             now: datetime | None = None) -> Verdict:
    """Judge ``day`` from its stored shape and the row counts of earlier days (``history``)."""
    rule = ds.completeness
    stats = stats or DayStats()
    in_progress = day_window(day).end > (now or datetime.now(UTC))
    if stats.rows < rule.min_rows:
        return Verdict(False, f">= {rule.min_rows} rows", stats.rows, "no rows stored for this day", in_progress)
    exact = exact_rows(ds, day)
    if exact is not None and rule.group_by:
        wrong = {g: n for g, n in sorted(stats.groups.items()) if n != exact}
        if wrong:
            return Verdict(False, f"{exact} rows per {rule.group_by}", stats.rows,
                           f"{len(wrong)} {rule.group_by} value(s) off: " +
                           ", ".join(f"{g}={n}" for g, n in list(wrong.items())[:6]), in_progress)
        return Verdict(True, f"{exact} rows per {rule.group_by}", stats.rows,
                       f"{len(stats.groups)} {rule.group_by} values x {exact}", in_progress)
    if exact is not None:
        ok = stats.rows == exact
        return Verdict(ok, f"exactly {exact} rows", stats.rows,
                       "complete" if ok else f"{stats.rows} of {exact} rows", in_progress)
    if rule.all_periods:
        n = periods_in_day(day)
        ok = stats.periods == n
        return Verdict(ok, f"all {n} settlement periods", stats.rows,
                       "every period present" if ok else f"{stats.periods} of {n} periods present", in_progress)
    fraction = median_fraction(ds)
    earlier = [n for d, n in sorted(history.items()) if d < day][-rule.median_days:]
    if fraction is None or len(earlier) < 3:
        return Verdict(True, f">= {rule.min_rows} rows", stats.rows,
                       f"{len(earlier)} earlier day(s) stored: too few for a median floor", in_progress)
    median = statistics.median(earlier)
    floor = fraction * median
    ok = stats.rows >= floor
    return Verdict(ok, f">= {floor:.0f} rows ({fraction:g} x median {median:.0f} of {len(earlier)} days)",
                   stats.rows, "within the usual volume" if ok else
                   f"{stats.rows} rows is under {fraction:g} x the {len(earlier)}-day median ({median:.0f})", in_progress)
