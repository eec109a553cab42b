"""A range written in chunks: memory bounded by the chunk, not the range; a bad day costs that day.

A source's frames are read day by day and gathered into chunks of whole days (about
``max_rows`` rows, at most ``max_days`` days, one day at least). Each chunk is one write of the
backend - one atomic MERGE (DuckDB: one transaction with its response digests) - so peak memory
follows the chunk, and a crash leaves whole chunks only. A day its source could not produce
(:class:`FailedDay`) is left out and recorded; a chunk whose write fails is tried again one day at
a time, so only the day that breaks it is lost. After ``give_up_after`` consecutive failed days the
rest of the range is not asked for (an API that is down must not cost the retry budget of every
remaining day) and is reported as not attempted.

Readers are shown the committed chunks (``Warehouse.publish``: DuckDB's readers' snapshot, a copy
of the whole file) about once every ``PUBLISH_EVERY_S`` and when the range ends, not after every
chunk: a copy per chunk made a long range's cost grow with the square of its length.

The caller learns of each commit as it happens (``on_commit``: progress, per-day metadata) and gets
a :class:`RangeResult`: the combined counts of what was committed, and every day that was not, with
its reason. It decides what a failed day means (the Dagster IO manager fails the run, naming them).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import closing, nullcontext
from dataclasses import dataclass, field
from datetime import date

from bmrs_assets.warehouse.contract import (
    DayFrame,
    FailedDay,
    MergeResult,
    PartitionBatch,
    UnchangedDay,
    Warehouse,
)

PUBLISH_EVERY_S = 60.0  # how often readers are shown a long range's committed chunks


@dataclass(frozen=True)
class Commit:
    """One committed chunk: its result, and where the range stands."""

    result: MergeResult
    days_done: int  # days committed or failed so far, this chunk included
    days_total: int
    seconds: float  # since the previous commit (or the start): fetching, typing and writing this chunk
    elapsed: float  # since the start of the range


@dataclass
class RangeResult:
    """What writing a range did: the committed days' combined counts and the days that were not committed."""

    merged: MergeResult
    failed: dict[date, str] = field(default_factory=dict)  # day -> reason
    not_attempted: list[date] = field(default_factory=list)
    gave_up_after: int = 0  # consecutive failed days after which the rest was not asked for (0: did not give up)
    chunks: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.not_attempted

    def problems(self, code: str) -> str:
        """The days not committed, one line each, for an error message."""
        lines = [reason if f"partition {d}" in reason else f"{code} partition {d}: {reason}"
                 for d, reason in sorted(self.failed.items())]
        if self.not_attempted:
            days = self.not_attempted
            why = (f"after {self.gave_up_after} consecutive failed days (BMRS_RANGE_GIVE_UP_AFTER)"
                   if self.gave_up_after else "(the source produced nothing for them)")
            lines.append(f"{code}: {len(days)} day(s) not attempted {why}: {days[0]}..{days[-1]}")
        return "\n".join(lines)


def _rows(frame: DayFrame) -> int:
    if isinstance(frame, (UnchangedDay, FailedDay)):
        return 0
    return len(frame)


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip()


def write_in_chunks(warehouse: Warehouse, batch: PartitionBatch, *, max_rows: int, max_days: int,
                    give_up_after: int = 0, on_commit: Callable[[Commit], None] | None = None) -> RangeResult:
    """Write ``batch`` in chunks of whole days; see the module docstring. Never raises for a bad day.

    ``give_up_after`` 0 never gives up. An exception from the frames themselves (a source that
    raises rather than reporting a :class:`FailedDay`) propagates after the chunks before it have
    been committed."""
    ds = batch.dataset
    total = len(batch.days)
    out = RangeResult(MergeResult(ds.code))
    started = last_commit = time.perf_counter()
    done = 0
    pending: list[tuple[date, DayFrame]] = []
    pending_rows = 0
    consecutive_failures = 0
    unpublished = changed = False
    last_publish = started

    def commit(result: MergeResult, days: int) -> None:
        nonlocal done, last_commit, unpublished, changed, last_publish
        out.merged.add(result)
        out.chunks += 1
        done += days
        unpublished = True
        changed |= result.changed
        now = time.perf_counter()
        if now - last_publish >= PUBLISH_EVERY_S:
            warehouse.publish(changed)
            unpublished = changed = False
            last_publish = time.perf_counter()
        for action in batch.after_commit:
            action(result)
        if on_commit is not None:
            on_commit(Commit(result, done, total, now - last_commit, now - started))
        last_commit = now

    def write(chunk: list[tuple[date, DayFrame]]) -> None:
        nonlocal done
        days = len(chunk)
        first = chunk[0][0]
        try:
            commit(warehouse.merge(_sub_batch(batch, chunk)), days)
        except Exception as exc:
            if days == 1:
                out.failed[first] = _reason(exc)
                done += 1
                return
            for one in chunk:  # find the day that breaks it; the others are committed on their own
                write([one])

    def read_all(frames: Iterator[tuple[date, DayFrame]]) -> None:
        nonlocal done, consecutive_failures, pending, pending_rows
        with closing(frames) if hasattr(frames, "close") else nullcontext():
            for day, frame in frames:
                if isinstance(frame, FailedDay):
                    out.failed[day] = frame.reason
                    done += 1
                    consecutive_failures += 1
                    if give_up_after and consecutive_failures >= give_up_after:
                        out.gave_up_after = consecutive_failures
                        break
                    continue
                consecutive_failures = 0
                pending.append((day, frame))
                pending_rows += _rows(frame)
                del frame
                if pending_rows >= max_rows or len(pending) >= max_days:
                    write(pending)
                    pending, pending_rows = [], 0
            if pending:
                write(pending)
                pending = []

    try:
        read_all(iter(batch.frames))
    finally:  # what was committed is shown to readers, whatever stopped the range
        if unpublished:
            warehouse.publish(changed)
    seen = set(out.failed) | set(out.merged.days)
    out.not_attempted = [d for d in batch.days if d not in seen]
    return out


def _drain(chunk: list[tuple[date, DayFrame]]) -> Iterator[tuple[date, DayFrame]]:
    while chunk:
        yield chunk.pop(0)


def _sub_batch(batch: PartitionBatch, chunk: list[tuple[date, DayFrame]]) -> PartitionBatch:
    """One chunk as a write of its own: its days, frames and response digests; the shared stats.

    A chunk of several days keeps its frames until the write is done, so that a failed write can
    be tried again day by day; a chunk of one day (a heavy dataset's) hands its frame over, so the
    backend holds the only reference and frees it as soon as it is written."""
    days = [d for d, _ in chunk]
    return PartitionBatch(batch.dataset, days, list(chunk) if len(chunk) > 1 else _drain(chunk), stats=batch.stats,
                          publish=False,
                          body_digests={d: batch.body_digests[d] for d in days if d in batch.body_digests},
                          repair_days=batch.repair_days & frozenset(days), whole_days=batch.whole_days & set(days))
