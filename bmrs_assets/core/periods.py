"""Settlement periods checked against their day and their time, vectorised, before anything is written.

A registry entry names each settlement-period column with a :class:`~bmrs_assets.core.tables.PeriodLabel`:
the row's period must exist on its settlement day (46 periods on the spring clock change, 50 on the
autumn one, 48 otherwise) and, where a time column fixes it, agree with that time by the arithmetic
of ``settlement.py``: the time is the period's start (``START``) or lies in [start, end) (``WITHIN``).

The work is one pass of numpy over the columns, with the settlement days' starts and period counts
computed once per distinct day (a partition has one or, for forecasts, a few), never per row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bmrs_assets.core.settlement import PERIOD, UTC, day_window, periods_in_day, settlement_period_of, utc_iso
from bmrs_assets.core.tables import PeriodLabel, PeriodRule

PERIOD_NS = PERIOD // timedelta(microseconds=1) * 1_000
_EPOCH = date(1970, 1, 1)
_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)
MAX_EXAMPLES = 5


class PeriodLabelError(ValueError):
    """A settlement period that does not exist on its day or disagrees with its time; nothing is written."""


def day_periods(days: Sequence[date]) -> tuple[np.ndarray, np.ndarray]:
    """For each settlement day: the UTC start of its period 1 (ns since the epoch) and its period count."""
    starts = [(day_window(d).start - _EPOCH_UTC) // timedelta(microseconds=1) * 1_000 for d in days]
    return np.array(starts, dtype=np.int64), np.array([periods_in_day(d) for d in days], dtype=np.int64)


def _values(arr: pa.Array | pa.ChunkedArray, to: pa.DataType, as_int: pa.DataType) -> tuple[np.ndarray, np.ndarray]:
    """(values as integers, valid mask) of a date, int or timestamp column."""
    typed = pc.cast(pc.cast(arr, to), as_int)
    valid = pc.is_valid(typed).to_numpy(zero_copy_only=False)
    return typed.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64, copy=False), valid


def _day(days_since_epoch: int) -> date:
    return _EPOCH + timedelta(days=int(days_since_epoch))


def label_problems(labels: Sequence[PeriodLabel], column: Callable[[str], pa.Array | pa.ChunkedArray]) -> list[str]:
    """What is wrong with the rows' settlement periods, one line per distinct problem (empty: all fit).

    ``column(name)`` returns a column as Arrow (date32, int64, timestamp); nulls are not checked here
    (nullability is the schema's business).
    """
    problems: list[str] = []
    for label in labels:
        dates, valid = _values(column(label.date), pa.date32(), pa.int32())
        periods, valid_p = _values(column(label.period), pa.int64(), pa.int64())
        valid &= valid_p
        times = None
        if label.time is not None:
            times, valid_t = _values(column(label.time), pa.timestamp("ns", tz="UTC"), pa.int64())
            valid &= valid_t
        if not valid.any():
            continue
        distinct, where = np.unique(dates[valid], return_inverse=True)
        starts, counts = day_periods([_day(d) for d in distinct])
        p = periods[valid]
        missing = (p < 1) | (p > counts[where])
        wrong = np.zeros(len(p), dtype=bool)
        if times is not None:
            t = times[valid]
            period_start = starts[where] + (p - 1) * PERIOD_NS
            if label.rule is PeriodRule.START:
                wrong = ~missing & (t != period_start)
            else:
                wrong = ~missing & ((t < period_start) | (t >= period_start + PERIOD_NS))
        bad = np.flatnonzero(missing | wrong)
        if not len(bad):
            continue
        rows = np.flatnonzero(valid)[bad]
        lines: dict[str, None] = {}
        for i, row in zip(bad, rows, strict=True):
            day = _day(dates[row])
            if missing[i]:
                lines[f"{label.period} {p[i]} does not exist on {day} ({counts[where[i]]} periods)"] = None
            else:
                assert times is not None
                lines[_disagreement(label, day, int(p[i]), int(times[row]))] = None
            if len(lines) == MAX_EXAMPLES:
                break
        more = len(bad) - len(lines)
        problems.extend(lines)
        if more > 0:
            problems.append(f"... {len(bad)} row(s) of {label.period} in all")
    return problems


def _disagreement(label: PeriodLabel, day: date, period: int, time_ns: int) -> str:
    instant = _EPOCH_UTC + timedelta(microseconds=time_ns // 1_000)
    text = utc_iso(instant) if time_ns % 1_000_000_000 == 0 else instant.isoformat()
    in_day, expected = settlement_period_of(instant)
    line = f"{label.period} {period} at {label.time} {text}, expected period {expected}"
    if in_day != day:
        line += f" of {in_day} (not of {day})"
    if label.rule is PeriodRule.START and instant != day_window(in_day).start + (expected - 1) * PERIOD:
        line += " (and a time that is not a period's start)"
    return line


def check_labels(code: str, day: date | str, labels: Sequence[PeriodLabel],
                 column: Callable[[str], pa.Array | pa.ChunkedArray]) -> None:
    """Raise :class:`PeriodLabelError` naming dataset, partition and each problem, if there is one."""
    problems = label_problems(labels, column)
    if problems:
        raise PeriodLabelError(f"{code} partition {day}: " + "; ".join(problems) + "; nothing of this day written")
