"""Typing response bodies on the machine's other cores: worker processes hand back Arrow tables.

Parsing JSON and building typed Arrow columns (``parse_body``, ``core/conform.to_table``) is
CPU-bound Python that holds the GIL, and each body is independent of the others, so threads would
not help and processes do: a pool of workers types bodies as they arrive, while this process
fetches the next ones and the warehouse writes the previous days.

* The workers are forked from the run's process when the write starts (:class:`TypingPool`), so
  they start in milliseconds with the typing code already imported.
* A worker returns exactly what :func:`type_body` returns here. A body it cannot type (bad JSON, a
  value of the wrong type, a failed check) comes back declined (None) and the caller types it
  again in its own process, which raises the error the serial path raises: errors, and every
  edge case, stay those of one code path. So does a body whose worker died (``BrokenProcessPool``).
* Only registry datasets go to the workers, which look theirs up by code.
"""

from __future__ import annotations

import logging
import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa

from bmrs_assets.core.conform import FrameReport, to_table
from bmrs_assets.core.tables import WriteSemantics
from bmrs_assets.elexon.client import Body, parse_body
from bmrs_assets.elexon.datasets import REGISTRY, Dataset
from bmrs_assets.quality.completeness import arriving_stats
from bmrs_assets.warehouse.contract import DayStats

LOG = logging.getLogger(__name__)


@dataclass
class TypedBody:
    """One body's rows of its partition day as the warehouse stores them, and what typing found.

    A worker also measures the body's rows as a day (``stats``: what the completeness rule judges,
    for a current-state dataset) and whether any natural key repeats in them (``unique_key``), so
    that a day that is one body is not grouped again in the run's process; None: not measured."""

    table: pa.Table
    report: FrameReport
    received: int  # rows in the body, the day's or not
    stats: DayStats | None = None
    unique_key: bool | None = None


def type_body(ds: Dataset, body: Body, ingested_utc: datetime, measure: bool = False) -> TypedBody:
    """Parse and type one body (the serial path; a worker runs the same, with ``measure``)."""
    rows = parse_body(ds, body)
    received = len(rows)
    table, report = to_table(ds, body.slice.day, rows, ingested_utc=ingested_utc)
    if not measure:
        return TypedBody(table, report, received)
    stats = arriving_stats(ds, table) if ds.semantics is WriteSemantics.CURRENT_STATE else None
    key = list(ds.key)
    unique = table.num_rows < 2 or table.select(key).group_by(key, use_threads=False).aggregate([]).num_rows == table.num_rows
    return TypedBody(table, report, received, stats, unique)


def _in_worker(code: str, body: Body, ingested_utc: datetime, measure: bool) -> TypedBody | None:
    """In a worker: the body typed, or None (declined) for the caller to type and raise its error."""
    try:
        return type_body(REGISTRY[code], body, ingested_utc, measure=measure)
    except Exception:
        return None


def _pid() -> int:
    return multiprocessing.current_process().pid or 0


def pooled(ds: Dataset) -> bool:
    """Whether ``ds`` can be typed by a worker: the registry's own entry (the worker looks it up)."""
    return REGISTRY.get(ds.code) is ds


class TypingPool:
    """``workers`` processes typing bodies, forked now; :meth:`close` stops them (and waits for them).

    Forked, not spawned: a worker inherits the imported typing code and the registry, so it is
    ready in milliseconds instead of after an interpreter start and the imports of pyarrow and
    pandas (a second or more, which a one-day run would spend waiting), and it imports no main
    module. It is forked before the run's fetching threads start. CPython re-initialises its own
    locks in the child (the import lock, logging's), pyarrow its thread pool; a worker only parses
    and types, and uses neither the network nor DuckDB."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._broken = False
        self._executor: ProcessPoolExecutor | None = None
        try:
            executor = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
            for _ in range(workers):  # the first submit forks every worker
                executor.submit(_pid)
            self._executor = executor
        except Exception as exc:  # no pool: every body is typed in this process, as without one
            LOG.warning(f"typing workers could not start ({type(exc).__name__}: {exc}); typing in the run's process")
            self._broken = True

    @property
    def ready(self) -> bool:
        return self._executor is not None and not self._broken

    def submit(self, ds: Dataset, body: Body, ingested_utc: datetime, measure: bool = True) -> Future | None:
        """The body's :class:`TypedBody` (or None: declined) to come, or None now: type it yourself.
        ``measure``: the body is likely its day's only one (see :class:`TypedBody`)."""
        if not self.ready:
            return None
        try:
            return self._executor.submit(_in_worker, ds.code, body, ingested_utc, measure)
        except RuntimeError:  # broken (a worker died) or shut down
            self._broken = True
            return None

    def close(self) -> None:
        """Cancel what no worker has started, and stop the workers."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)


def result_of(future: Future | None) -> TypedBody | None:
    """A submitted body's table, or None (not submitted, declined, or its worker died)."""
    if future is None:
        return None
    try:
        return future.result()
    except Exception:  # BrokenProcessPool, a pickling failure: the caller types the body itself
        return None
