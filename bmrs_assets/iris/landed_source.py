"""Partition days from the IRIS landing store, as the frames of one write.

Landed rows reach the same ``bmrs_<dataset>`` tables as API rows through the same MERGE on the same
natural key; only the source of the frames differs. Each day's landed rows are typed and validated
like API rows (``to_frame(..., source="IRIS")``); the messages read are marked merged in the landing
store only once the MERGE has committed (a post-commit action of the batch), so a crash in between
leaves them pending and the (idempotent) MERGE is simply run again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pandas as pd

from bmrs_assets.core.conform import to_frame
from bmrs_assets.elexon.datasets import Dataset
from bmrs_assets.iris.landing import LandingStore
from bmrs_assets.warehouse.contract import LoadStats, MergeResult, PartitionBatch


class NoLandedRows(RuntimeError):
    """An IRIS run was asked for a partition day with no landed rows."""


@dataclass
class LandedSource:
    """The frames of one write of ``ds`` from the landing store, for the run ``run_id``."""

    ds: Dataset
    store: LandingStore
    run_id: str | None
    log: logging.Logger | None = None
    stats: LoadStats = field(default_factory=LoadStats)
    messages: int = 0  # landed messages with rows in the days read
    newly_merged: int = 0  # ... of which not yet merged before this write
    _read: dict[date, list[str]] = field(default_factory=dict, init=False, repr=False)  # day -> pending ids read

    def batch(self, days: list[date]) -> PartitionBatch:
        return PartitionBatch(self.ds, days, self.frames(days), stats=self.stats,
                              after_commit=(self.mark_merged,), extra_metadata=self.metadata)

    def frames(self, days: list[date]) -> Iterator[tuple[date, pd.DataFrame]]:
        """Each day's landed rows, typed and validated; :class:`NoLandedRows` for a day with none
        (unless the dataset may be empty)."""
        for day in days:
            started = time.perf_counter()
            landed = self.store.day_rows(self.ds.code, day)
            self.stats.fetch_seconds += time.perf_counter() - started
            if not landed.rows and not self.ds.allow_empty:
                raise NoLandedRows(f"{self.ds.code} partition {day}: no IRIS rows are landed for this day "
                                   f"(landing store {self.store.path}); nothing to merge")
            self._read[day] = landed.pending_ids
            self.messages += landed.messages
            self.newly_merged += len(landed.pending_ids)
            self.stats.rows_fetched += len(landed.rows)
            frame, report = to_frame(self.ds, day, landed.rows, ingested_utc=datetime.now(UTC), source="IRIS")
            self.stats.rows_outside_partition += report.rows_outside_partition
            self.stats.unknown_fields |= set(report.unknown_fields)
            if report.unknown_fields and self.log is not None:
                self.log.warning(f"{self.ds.code} {day}: IRIS sent fields the registry does not know, kept in _extra: "
                                 f"{report.unknown_fields}")
            yield day, frame

    def mark_merged(self, result: MergeResult) -> None:
        """Post-commit, once per committed chunk: the messages read for its days are merged (by this run)."""
        for day in sorted(result.days):
            ids = self._read.pop(day, None)
            if ids is not None:
                self.store.mark_merged(self.ds.code, day, ids, self.run_id)

    def metadata(self) -> dict[str, object]:
        return {"source": "IRIS", "iris_messages": self.messages, "iris_messages_newly_merged": self.newly_merged}
