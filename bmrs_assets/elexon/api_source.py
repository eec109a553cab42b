"""Partition days from the Elexon API: fetched, typed and validated, as the frames of one write.

For each day the client fetches every response that covers it (``client.py``), each body is typed
into an Arrow table (``core/conform.py``) and the day's tables are yielded one day at a time, so a
long range never sits in memory at once. Requests run up to ``in_flight`` days ahead of the day
being typed (each still waits its turn of the client's rate limit).

A day the warehouse remembers (``remembered``: the digest of the response bodies it last merged,
asked for before fetching starts) is received whole first; if its bodies hash to that digest it is
yielded as :class:`UnchangedDay` without being parsed, since nothing about it can change. The
digest of every day that was typed is left in ``body_digests`` for the warehouse to remember in
the MERGE's own transaction.

For a dataset that is the source's current state (``WriteSemantics.CURRENT_STATE``), each finished
day is judged by its completeness rule as it arrives (``quality/completeness.py``, against the
stored row counts of earlier days in ``history``): a whole day is added to ``whole_days`` (its
withdrawn rows are deleted with the upsert); an incomplete one fails before anything of it is
written, since a partial response is not the day's state. A day still running is upserted only.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pyarrow as pa

from bmrs_assets.core.fingerprint import typing_fingerprint
from bmrs_assets.core.settlement import day_window
from bmrs_assets.core.tables import WriteSemantics
from bmrs_assets.elexon.client import Body, DayDigest, ElexonClient, FetchStats, initial_slices
from bmrs_assets.elexon.datasets import Dataset
from bmrs_assets.elexon.requests import Slice
from bmrs_assets.elexon.typing_pool import TypedBody, TypingPool, pooled, result_of, type_body
from bmrs_assets.quality.completeness import arriving_stats, evaluate
from bmrs_assets.warehouse.contract import (
    UNIQUE_KEY,
    DayStats,
    FailedDay,
    LoadStats,
    PartitionBatch,
    RememberedBody,
    UnchangedDay,
)

POOL_MIN_ROWS = 100_000  # expected rows of a write below which typing workers do not repay their start
ROWS_AHEAD = 200_000  # rows fetched and typed ahead of the warehouse while it writes (with workers)
MAX_DAYS_AHEAD = 12


class EmptyPartition(RuntimeError):
    """The API answered, but with no rows, for a dataset that always has rows."""


class IncompleteDay(RuntimeError):
    """A finished day of a current-state dataset arrived incomplete: nothing of it is written."""


def day_reason(ds: Dataset, day: date, exc: Exception) -> str:
    """Why a day failed, naming dataset and partition (the project's own errors already do)."""
    text = str(exc).strip()
    if f"{ds.code} partition {day}" in text:
        return text
    return f"{ds.code} partition {day}: {type(exc).__name__}: {text}"


class _FetchAhead:
    """Each day's slice requests, submitted on ``width`` threads up to ``depth`` days ahead of the day taken.

    ``fetch(slice)`` runs on a thread. Iterating yields (day, its futures) in day order; ``close``
    cancels what was not taken and waits for the threads."""

    def __init__(self, ds: Dataset, days: Iterable[date], fetch: Callable[[Slice], object], width: int,
                 depth: int) -> None:
        self._ds, self._fetch, self._depth = ds, fetch, max(1, width, depth)
        self._queue = iter(days)
        self._pending: deque[tuple[date, list[Future]]] = deque()
        self._pool = ThreadPoolExecutor(max_workers=max(1, width), thread_name_prefix=f"fetch-{ds.code}")

    def _top_up(self) -> None:
        while len(self._pending) < self._depth:
            day = next(self._queue, None)
            if day is None:
                return
            self._pending.append((day, [self._pool.submit(self._fetch, sl) for sl in initial_slices(self._ds, day)]))

    def __iter__(self) -> Iterator[tuple[date, list[Future]]]:
        self._top_up()
        while self._pending:
            day, futures = self._pending.popleft()
            self._top_up()
            yield day, futures

    def close(self) -> None:
        for _, futures in self._pending:
            for future in futures:
                future.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)


@dataclass
class ApiSource:
    """The frames of one write of ``ds`` from the API; counters go into ``stats``.

    ``remembered`` is what the warehouse remembers of the days (``Warehouse.remembered_digests``);
    empty, every day is parsed. ``history`` is the stored rows of earlier days (the completeness
    rule's median floor). The client is closed once the frames are exhausted or abandoned."""

    ds: Dataset
    client: ElexonClient
    remembered: Mapping[date, RememberedBody] = field(default_factory=dict)
    in_flight: int = 1
    log: logging.Logger | None = None
    stats: LoadStats = field(default_factory=LoadStats)
    body_digests: dict[date, str] = field(default_factory=dict)
    history: dict[date, int] = field(default_factory=dict)  # a whole day joins it as it arrives
    whole_days: set[date] = field(default_factory=set)
    now: datetime | None = None  # for tests; the wall clock otherwise
    workers: int = 0  # typing worker processes (``typing_pool.py``), for a write of at least ``pool_min_rows``
    pool_min_rows: int = POOL_MIN_ROWS  # expected rows (registry ``rows_per_day`` x days)
    _pool: TypingPool | None = field(default=None, init=False, repr=False)

    def batch(self, days: list[date], repair_all: bool = False) -> PartitionBatch:
        """The write: ``days`` fetched lazily, as the backend reads the frames. Days the warehouse
        remembers but no longer holds intact, or every day with ``repair_all``, are repaired."""
        repair = frozenset(days) if repair_all else frozenset(d for d, r in self.remembered.items() if not r.intact)
        return PartitionBatch(self.ds, days, self.frames(days), stats=self.stats, body_digests=self.body_digests,
                              repair_days=repair, whole_days=self.whole_days)

    def frames(self, days: Iterable[date]) -> Iterator[tuple[date, pa.Table | UnchangedDay | FailedDay]]:
        """Each day in turn: its typed table, :class:`UnchangedDay` for a remembered, unchanged response,
        or :class:`FailedDay` for a day that failed (retry budget spent, schema violation, no rows),
        so that one bad day does not cost the others."""
        days = list(days)
        fingerprint = typing_fingerprint(self.ds)
        self._pool = self._start_pool(days)
        depth = self.in_flight + (self._days_ahead() if self._pool else 0)
        try:
            with closing(_FetchAhead(self.ds, days, self._fetch, self.in_flight, depth)) as ahead:
                for day, futures in ahead:
                    # no local keeps the frame (or the day's responses) while the consumer writes it
                    yield day, self._day_or_failure(day, futures, fingerprint)
        finally:
            if self._pool is not None:
                self._pool.close()
            self.client.close()

    def _start_pool(self, days: list[date]) -> TypingPool | None:
        """Typing workers for a write big enough to repay starting them (a day of COSTS is not)."""
        if self.workers < 1 or not pooled(self.ds) or self.ds.rows_per_day * len(days) < self.pool_min_rows:
            return None
        return TypingPool(self.workers)

    def _days_ahead(self) -> int:
        """Days fetched (and typed by the workers) ahead of the one taken, while the warehouse writes:
        about ``ROWS_AHEAD`` rows, between 1 and ``MAX_DAYS_AHEAD`` days."""
        return max(1, min(MAX_DAYS_AHEAD, ROWS_AHEAD // max(1, self.ds.rows_per_day)))

    def _fetch(self, sl: Slice) -> tuple[list[Body], FetchStats, list[Future | None]]:
        """On a fetching thread: one slice's bodies, each handed to a typing worker as it arrives
        (unless the day may be unchanged: then it is hashed first and never parsed if it is)."""
        bodies, fetched = self.client.fetch_slice_bodies(self.ds, sl)
        pool, now = self._pool, datetime.now(UTC)
        remembered = self.remembered.get(sl.day)
        if pool is None or (remembered is not None and remembered.intact):
            return bodies, fetched, [None] * len(bodies)
        alone = len(bodies) == 1 and len(initial_slices(self.ds, sl.day)) == 1  # the day's only body: measured
        return bodies, fetched, [pool.submit(self.ds, b, now, measure=alone) for b in bodies]

    def _day_or_failure(self, day: date, futures: list[Future], fingerprint: str) -> pa.Table | UnchangedDay | FailedDay:
        """The day, or :class:`FailedDay` with the reason: a failed day costs that day only."""
        try:
            return self._day(day, futures, fingerprint)
        except Exception as exc:
            failed = FailedDay(day_reason(self.ds, day, exc))
            if self.log is not None:
                self.log.error(failed.reason)
            return failed
        finally:
            futures.clear()  # the futures hold the responses: let them go with the day

    def _day(self, day: date, futures: list[Future], fingerprint: str) -> pa.Table | UnchangedDay:
        """One day: its typed table, or :class:`UnchangedDay`; raises whatever made it fail."""
        digest = DayDigest(fingerprint)
        bodies: Iterable[tuple[Body, Future | None]] = self._received(futures, digest)
        if day in self.remembered and self.remembered[day].intact:  # received whole first: never parsed if unchanged
            bodies = list(bodies)
            if self._unchanged(day, digest):
                return UnchangedDay(self.remembered[day].rows)
        table, measured = self._type_day(day, bodies)
        if self.ds.semantics is WriteSemantics.CURRENT_STATE:
            self._judge_whole(day, table, measured.stats if measured else None)
        self.body_digests[day] = digest.hexdigest()
        return table

    def _judge_whole(self, day: date, table: pa.Table, stats: DayStats | None = None) -> None:
        """A finished day of a current-state dataset: whole (deletes what it no longer holds) or refused."""
        now = self.now or datetime.now(UTC)
        if day_window(day).end > now or table.num_rows == 0:
            return  # still running, or empty (allowed for this dataset): upserted, nothing deleted
        verdict = evaluate(self.ds, day, stats or arriving_stats(self.ds, table), self.history, now)
        if not verdict.passed:
            raise IncompleteDay(
                f"{self.ds.code} partition {day}: the response is not a complete day ({verdict.reason}; expected "
                f"{verdict.expected}); {self.ds.code} is stored as the source's current state, so nothing of this "
                "day is written and the stored day stays as it was (re-run it once Elexon serves the whole day)")
        self.whole_days.add(day)
        self.history[day] = table.num_rows

    def _received(self, futures: list[Future], digest: DayDigest) -> Iterator[tuple[Body, Future | None]]:
        """The bodies of a day's requests in request order, as each request completes, each with its
        typing in a worker (or None); counts them and adds each to the day's digest."""
        while futures:
            bodies, fetched, typing = futures.pop(0).result()  # popped: the request's responses go once typed
            self._count(fetched)
            for body, typed in zip(bodies, typing, strict=True):
                digest.add(body)
                yield body, typed

    def _count(self, fetched: FetchStats) -> None:
        self.stats.api_requests += fetched.requests
        self.stats.api_retries += fetched.retries
        self.stats.api_window_splits += fetched.splits
        self.stats.api_bytes += fetched.bytes
        self.stats.fetch_seconds += fetched.seconds

    def _unchanged(self, day: date, digest: DayDigest) -> bool:
        """Whether the day's bodies, all received, are the ones last merged; if so it counts as fetched."""
        remembered = self.remembered[day]
        if remembered.digest != digest.hexdigest():
            return False
        self.stats.days_unchanged_body += 1
        self.stats.rows_fetched += remembered.rows
        return True

    def _type_day(self, day: date, bodies: Iterable[tuple[Body, Future | None]]) -> tuple[pa.Table, TypedBody | None]:
        """One day's rows as one table, each body typed (by a worker, or here) and freed in turn (BOD
        comes in nine). A body a worker declined is typed here, which raises the reason. With the table,
        the worker's measure of the day when the day is one body it typed (else None).

        Raises :class:`EmptyPartition` for a day with no rows of a dataset that always has some."""
        tables, received, outside, unknown, measured = [], 0, 0, set(), []
        for body, typing in bodies:
            typed = result_of(typing)
            if typed is not None:
                self.stats.bodies_typed_by_workers += 1
            else:  # not handed to a worker, declined (this raises why) or its worker died
                typed = type_body(self.ds, body, datetime.now(UTC))
            self.stats.bodies_typed += 1
            del body, typing
            received += typed.received
            tables.append(typed.table)
            outside += typed.report.rows_outside_partition
            unknown |= set(typed.report.unknown_fields)
            measured.append(typed if typed.unique_key is not None else None)
            del typed
        table = pa.concat_tables(tables)  # every slice answers with at least one body
        del tables
        # a day that is one body a worker measured: its figures are the day's (keys cannot repeat across bodies
        # they have not been compared across, so a day of several bodies is measured again where it is judged)
        whole = measured[0] if len(measured) == 1 and measured[0] is not None else None
        if whole is not None and whole.unique_key:
            table = table.replace_schema_metadata({**(table.schema.metadata or {}), UNIQUE_KEY: b"1"})
        self.stats.rows_fetched += received
        self.stats.rows_outside_partition += outside
        self.stats.unknown_fields |= unknown
        if unknown and self.log is not None:
            self.log.warning(f"{self.ds.code} {day}: API sent fields the registry does not know, kept in "
                             f"_extra: {sorted(unknown)}")
        if table.num_rows == 0 and not self.ds.allow_empty:
            raise EmptyPartition(
                f"{self.ds.code} partition {day}: the API returned {received} row(s) and none "
                f"belong to this settlement day; {self.ds.code} always has data, so this partition fails "
                "rather than succeed empty (re-run it once Elexon has published the day)")
        return table, whole
