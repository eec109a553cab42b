"""The warehouse contract shared by the DuckDB and BigQuery backends.

A write is a :class:`PartitionBatch` - the validated frames of one or more partition days of one
table - merged on the table's natural key in one atomic statement: new keys inserted, rows
whose content hash changed updated - where the table declares a revision column, only by a row of
the same or a newer revision (an older one is skipped and counted as stale, so an out-of-order
settlement run or a late IRIS message never overwrites a newer one) - identical rows untouched.
Rows are deleted only from a table whose semantics is the source's current state
(``WriteSemantics.CURRENT_STATE``), only on a day the source produced whole (``whole_days``), and
only where no row of that day was older than the stored one: the stored rows of such a day that
its complete response no longer holds, in the same transaction as the upsert. Duplicate keys
within a batch are resolved before the MERGE: the highest revision column wins, then the row that
came last from the API.

The batch is the whole write contract between a source (the API, landed IRIS rows, a derived
table) and a backend: typed load statistics for the metadata, the response digests to remember
with the MERGE, and the actions to run once it has committed. What a backend remembers is asked
for up front (:meth:`Warehouse.remembered_digests`) and handed to the source, never filled in
behind the frames' back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, NamedTuple, Protocol, TypeAlias

from bmrs_assets.core.settlement import LONDON, day_window
from bmrs_assets.core.tables import IDENTIFIER, Kind, TableDeclaration, WriteSemantics
from bmrs_assets.elexon.datasets import Dataset

if TYPE_CHECKING:  # pandas and pyarrow load with the data, not with the code location
    import pandas as pd
    import pyarrow as pa

def quote(name: str) -> str:
    """Quote an identifier that the registry declared; anything else is refused."""
    if not IDENTIFIER.match(name):
        raise ValueError(f"refusing unsafe SQL identifier {name!r}")
    return f'"{name}"' if not name.startswith("`") else name


# Schema metadata a source sets on a day's table when it has checked that no natural key repeats in it,
# so that a backend need not group the day's keys again (the typing workers do it off the run's process).
UNIQUE_KEY = b"bmrs.unique_key"

# (dataset, partition day) -> digest of the response bodies last merged, and its rows; both backends.
DIGESTS_TABLE = "_bmrs_response_digests"


@dataclass
class DayCounts:
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    stale: int = 0  # rows older (by the revision column) than the stored row of their key: skipped
    deleted: int = 0  # stored rows the day's complete response no longer holds (current-state tables only)

    @property
    def changed(self) -> bool:
        """Whether the write changed a stored row of the day."""
        return bool(self.inserted or self.updated or self.deleted)


@dataclass
class DayStats:
    """The shape of one stored partition day, for completeness checks."""

    rows: int = 0
    periods: int = 0  # distinct settlement periods (0 if the dataset has none)
    groups: dict[str, int] = field(default_factory=dict)  # rows per value of the completeness group column


@dataclass
class MergeResult:
    """What one MERGE did, per partition day and in total."""

    dataset: str
    days: dict[date, DayCounts] = field(default_factory=dict)
    duplicates_in_batch: int = 0
    seconds: float = 0.0

    def total(self, name: str) -> int:
        return sum(getattr(c, name) for c in self.days.values())

    @property
    def changed(self) -> bool:
        """Whether the write changed a stored row of any day."""
        return any(c.changed for c in self.days.values())

    def add(self, other: MergeResult) -> None:
        """Fold another write's (a later chunk's) counts into this one."""
        self.days.update(other.days)
        self.duplicates_in_batch += other.duplicates_in_batch
        self.seconds += other.seconds


class RememberedBody(NamedTuple):
    """What a warehouse remembers of a day it merged: the digest of the response bodies, its rows,
    and whether the stored day still is what that MERGE left (``intact``: its rows and checksum
    match; a day deleted, damaged or edited since is not, and is repaired by the next write)."""

    digest: str
    rows: int
    intact: bool = True


@dataclass(frozen=True)
class UnchangedDay:
    """Stands in for a day's frame when its response is byte-for-byte the one last merged: not parsed,
    nothing to write; ``rows`` is what the warehouse remembered of it (reported as fetched and unchanged)."""

    rows: int


@dataclass(frozen=True)
class FailedDay:
    """Stands in for a day its source could not produce (retry budget spent, schema violation, an
    empty answer): nothing of it is written, the other days of the write go on, and the write ends
    failed naming the day and ``reason`` (which names dataset and partition)."""

    reason: str


DayFrame: TypeAlias = "pd.DataFrame | pa.Table | UnchangedDay | FailedDay"


@dataclass
class LoadStats:
    """What producing a batch's frames found, reported as materialization metadata.

    A source adds to it as its frames are read: complete once ``frames`` is exhausted."""

    rows_fetched: int = 0
    rows_outside_partition: int = 0  # dropped: outside the partition's half-open London day
    unknown_fields: set[str] = field(default_factory=set)  # kept in ``_extra``
    api_requests: int = 0
    api_retries: int = 0
    api_window_splits: int = 0
    api_bytes: int = 0
    days_unchanged_body: int = 0
    fetch_seconds: float = 0.0
    bodies_typed: int = 0  # response bodies parsed and typed
    bodies_typed_by_workers: int = 0  # of which by typing worker processes (``elexon/typing_pool.py``)


def no_extra_metadata() -> dict[str, object]:
    return {}


@dataclass
class PartitionBatch:
    """Frames for ``days`` of ``dataset`` (a registry entry or a derived table), produced lazily so a
    big range never sits in memory whole.

    A frame is a pandas DataFrame or an Arrow table with the table's declared types, or an
    :class:`UnchangedDay`, or a :class:`FailedDay` (a source that reports a bad day rather than
    raising, so the other days are still written). Filled while ``frames`` is read, for after it:
    ``stats``, and ``body_digests`` (day -> digest of the response bodies of each day that was
    typed, set before that day's frame is yielded), which a backend that remembers digests stores
    with the MERGE. ``after_commit`` runs, in order, once a MERGE has committed, with that MERGE's
    result (a range is written in chunks, ``warehouse/chunks.py``: once per chunk, for its days;
    e.g. marking IRIS messages merged); ``extra_metadata`` is called at the end, for metadata only
    the source knows.
    """

    dataset: TableDeclaration
    days: list[date]
    frames: Iterable[tuple[date, DayFrame]]
    stats: LoadStats = field(default_factory=LoadStats)
    body_digests: dict[date, str] = field(default_factory=dict)
    # days whose stored rows are compared column by column, not by their content hash, so that a
    # row damaged by hand (its hash no longer its content's) is rewritten: see RememberedBody.intact
    repair_days: frozenset[date] = frozenset()
    # days whose frame is the source's complete current state of the day (filled by the source before
    # it yields the frame): on a CURRENT_STATE table, the stored rows of such a day that the frame no
    # longer holds are deleted. Never an IRIS delta, a failed, empty, incomplete or unfinished day.
    whole_days: set[date] = field(default_factory=set)
    after_commit: tuple[Callable[[MergeResult], None], ...] = ()
    extra_metadata: Callable[[], Mapping[str, object]] = no_extra_metadata
    # a backend with a readers' copy (DuckDB's snapshot) refreshes it after this write; the chunks of
    # a range leave it to ``Warehouse.publish`` (``warehouse/chunks.py``: about once a minute, and at the end)
    publish: bool = True


class KeyCounts(NamedTuple):
    """Rows in a range, and how many natural keys occur more than once among them (must be 0)."""

    rows: int
    duplicate_keys: int


class Warehouse(Protocol):
    """What an IO manager needs from a backend."""

    def merge(self, batch: PartitionBatch) -> MergeResult: ...

    def publish(self, changed: bool = True) -> None:
        """Make every committed write visible to readers (DuckDB: its readers' snapshot, refreshed when
        ``changed`` or missing; BigQuery: nothing to do, a committed MERGE is visible)."""
        ...

    def remembered_digests(self, ds: Dataset, days: list[date]) -> dict[date, RememberedBody]:
        """Per day, the response digest and rows of its last MERGE; {} from a backend that remembers nothing."""
        ...

    def read(self, ds: Dataset, first: date, last: date) -> pd.DataFrame: ...

    def count_by_day(self, ds: Dataset, first: date, last: date) -> dict[date, int]: ...

    def day_stats(self, ds: Dataset, first: date, last: date) -> dict[date, DayStats]: ...

    def key_counts(self, ds: Dataset, first: date, last: date) -> KeyCounts: ...


def deletable_days(batch: PartitionBatch, days: Iterable[date], stale: Mapping[date, int]) -> list[date]:
    """The days of a write whose withdrawn rows are deleted: the table is the source's current state,
    the day came whole, and none of its rows was older than the stored one (an older response is
    not the current state)."""
    if batch.dataset.semantics is not WriteSemantics.CURRENT_STATE:
        return []
    return sorted(d for d in set(days) if d in batch.whole_days and not stale.get(d, 0))


def day_runs(days: Iterable[date]) -> list[tuple[date, date]]:
    """Consecutive days as (first, last) runs, for a compact partition filter."""
    runs: list[tuple[date, date]] = []
    for d in sorted(set(days)):
        if runs and (d - runs[-1][1]).days == 1:
            runs[-1] = (runs[-1][0], d)
        else:
            runs.append((d, d))
    return runs


def partition_day_of(ds: Dataset, value: object) -> date:
    """The partition day a partition-column value belongs to (London day for timestamps)."""
    import pandas as pd  # a stored value is a pandas or Arrow scalar: pandas is loaded with it

    if ds.partition_kind is Kind.DATE:
        return value if isinstance(value, date) and not isinstance(value, datetime) else pd.Timestamp(value).date()
    return pd.Timestamp(value).tz_convert(LONDON).date()


def partition_bounds(ds: Dataset, first: date, last: date) -> tuple[object, object]:
    """Inclusive dates for DATE partitions; a half-open UTC interval for TIMESTAMP ones."""
    if ds.partition_kind is Kind.DATE:
        return first, last
    return day_window(first).start, day_window(last).end


def tally(ds: Dataset, actions: Iterator[tuple[str, object] | tuple[str, object, int]], fetched: Counter,
          days: list[date], stale: Counter | None = None) -> dict[date, DayCounts]:
    """Per-day inserted/updated/deleted/stale/unchanged from the write's (action, partition value[, rows])
    rows and the rows it skipped as older than the stored revision (``stale``, per day)."""
    counts = {d: DayCounts(fetched=fetched.get(d, 0), stale=(stale or {}).get(d, 0)) for d in days}
    for action, value, *n in actions:
        day = partition_day_of(ds, value)
        c = counts.setdefault(day, DayCounts())
        if action == "INSERT":
            c.inserted += n[0] if n else 1
        elif action == "UPDATE":
            c.updated += n[0] if n else 1
        elif action == "DELETE":
            c.deleted += n[0] if n else 1
    for c in counts.values():
        c.unchanged = c.fetched - c.inserted - c.updated - c.stale
    return counts
