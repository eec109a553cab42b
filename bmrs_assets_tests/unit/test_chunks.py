"""write_in_chunks: whole-day chunks by rows and days, failed days left out, a breaking day isolated."""

from __future__ import annotations

from datetime import date, timedelta

import pyarrow as pa
import pytest

from bmrs_assets.elexon.datasets import COSTS
from bmrs_assets.warehouse import chunks
from bmrs_assets.warehouse.chunks import write_in_chunks
from bmrs_assets.warehouse.contract import DayCounts, FailedDay, MergeResult, PartitionBatch, UnchangedDay

DAYS = [date(2025, 11, 1) + timedelta(days=i) for i in range(10)]


class Recorder:
    """A warehouse that records each write's days and refuses any write holding ``poison``."""

    def __init__(self, poison: date | None = None) -> None:
        self.writes: list[list[date]] = []
        self.poison = poison
        self.published: list[tuple[int, bool]] = []  # (writes so far, changed) at each publish

    def publish(self, changed: bool = True) -> None:
        self.published.append((len(self.writes), changed))

    def merge(self, batch: PartitionBatch) -> MergeResult:
        frames = list(batch.frames)
        if self.poison in batch.days:
            raise ValueError(f"cannot cast a value of {self.poison}")
        self.writes.append(list(batch.days))
        return MergeResult("COSTS", {d: DayCounts(fetched=f.rows if isinstance(f, UnchangedDay) else len(f),
                                                  inserted=0 if isinstance(f, UnchangedDay) else len(f))
                                     for d, f in frames})


def rows(n: int) -> pa.Table:
    return pa.table({"x": list(range(n))})


def batch(frames: list, after_commit: tuple = ()) -> PartitionBatch:
    return PartitionBatch(COSTS, DAYS[:len(frames)], iter(frames), after_commit=after_commit)


def test_chunks_close_at_the_row_budget_or_the_day_limit_and_are_whole_days():
    wh = Recorder()
    frames = [(d, rows(100)) for d in DAYS]
    result = write_in_chunks(wh, batch(frames), max_rows=250, max_days=31)
    assert wh.writes == [DAYS[0:3], DAYS[3:6], DAYS[6:9], DAYS[9:10]]  # 300 rows >= 250 closes a chunk
    assert result.ok and result.chunks == 4 and result.merged.total("inserted") == 1000
    wh = Recorder()
    write_in_chunks(wh, batch([(d, rows(1)) for d in DAYS]), max_rows=10_000, max_days=4)
    assert [len(w) for w in wh.writes] == [4, 4, 2]
    wh = Recorder()
    write_in_chunks(wh, batch([(d, rows(500)) for d in DAYS[:3]]), max_rows=250, max_days=31)
    assert wh.writes == [[d] for d in DAYS[:3]], "a day over the budget is a chunk of its own"


def test_a_failed_day_is_left_out_and_named_and_the_others_are_committed():
    wh = Recorder()
    frames = [(d, FailedDay(f"COSTS partition {d}: gave up after 6 attempts") if d == DAYS[6] else rows(10))
              for d in DAYS]
    result = write_in_chunks(wh, batch(frames), max_rows=10_000, max_days=3)
    assert [d for w in wh.writes for d in w] == [d for d in DAYS if d != DAYS[6]]
    assert not result.ok and result.failed == {DAYS[6]: f"COSTS partition {DAYS[6]}: gave up after 6 attempts"}
    assert result.problems("COSTS") == f"COSTS partition {DAYS[6]}: gave up after 6 attempts"
    assert sorted(result.merged.days) == [d for d in DAYS if d != DAYS[6]] and not result.not_attempted


def test_a_chunk_that_fails_to_write_is_retried_day_by_day_so_only_the_breaking_day_is_lost():
    wh = Recorder(poison=DAYS[4])
    result = write_in_chunks(wh, batch([(d, rows(10)) for d in DAYS]), max_rows=10_000, max_days=3)
    assert wh.writes == [DAYS[0:3], [DAYS[3]], [DAYS[5]], DAYS[6:9], DAYS[9:10]]
    assert list(result.failed) == [DAYS[4]]
    assert result.problems("COSTS") == f"COSTS partition {DAYS[4]}: ValueError: cannot cast a value of {DAYS[4]}"


def test_consecutive_failures_stop_the_range_and_the_rest_is_reported_not_attempted():
    closed = []

    def frames():
        try:
            for d in DAYS:
                yield d, (FailedDay(f"COSTS partition {d}: down") if d >= DAYS[2] else rows(10))
        finally:
            closed.append(True)  # the source is closed: it stops fetching

    wh = Recorder()
    result = write_in_chunks(wh, PartitionBatch(COSTS, DAYS, frames()), max_rows=10_000, max_days=31,
                             give_up_after=3)
    assert wh.writes == [DAYS[:2]] and list(result.failed) == DAYS[2:5]
    assert result.not_attempted == DAYS[5:] and closed == [True]
    assert result.problems("COSTS").endswith(
        f"COSTS: 5 day(s) not attempted after 3 consecutive failed days (BMRS_RANGE_GIVE_UP_AFTER): "
        f"{DAYS[5]}..{DAYS[9]}")


def test_after_commit_runs_once_per_chunk_with_its_days_and_progress_is_reported():
    seen, progress = [], []
    wh = Recorder()
    write_in_chunks(wh, batch([(d, rows(10)) for d in DAYS[:5]], after_commit=(lambda r: seen.append(sorted(r.days)),)),
                    max_rows=10_000, max_days=2, on_commit=lambda c: progress.append((c.days_done, c.days_total)))
    assert seen == [DAYS[0:2], DAYS[2:4], DAYS[4:5]]
    assert progress == [(2, 5), (4, 5), (5, 5)]


def test_an_exception_from_the_frames_propagates_after_the_chunks_before_it_are_committed():
    def frames():
        yield DAYS[0], rows(10)
        yield DAYS[1], rows(10)
        raise RuntimeError("landing store unreadable")

    wh = Recorder()
    with pytest.raises(RuntimeError, match="landing store unreadable"):
        write_in_chunks(wh, PartitionBatch(COSTS, DAYS[:3], frames()), max_rows=10_000, max_days=1)
    assert wh.writes == [[DAYS[0]], [DAYS[1]]]


def test_readers_are_shown_a_range_once_at_its_end_not_after_every_chunk():
    wh = Recorder()
    write_in_chunks(wh, batch([(d, rows(100)) for d in DAYS]), max_rows=250, max_days=31)
    assert len(wh.writes) > 2
    assert wh.published == [(len(wh.writes), True)]


def test_a_long_range_is_shown_to_readers_as_it_goes(monkeypatch):
    monkeypatch.setattr(chunks, "PUBLISH_EVERY_S", 0.0)  # every commit is "a minute later"
    wh = Recorder()
    write_in_chunks(wh, batch([(d, rows(100)) for d in DAYS[:6]]), max_rows=250, max_days=31)
    assert wh.published == [(n, True) for n in range(1, len(wh.writes) + 1)]


def test_what_was_committed_is_shown_to_readers_when_the_source_raises():
    def frames():
        yield DAYS[0], rows(300)
        raise RuntimeError("the source broke")

    wh = Recorder()
    with pytest.raises(RuntimeError, match="the source broke"):
        write_in_chunks(wh, PartitionBatch(COSTS, DAYS[:2], frames()), max_rows=250, max_days=31)
    assert wh.writes == [[DAYS[0]]]
    assert wh.published == [(1, True)]


def test_an_unchanged_range_publishes_only_if_readers_have_no_copy():
    wh = Recorder()
    write_in_chunks(wh, batch([(d, UnchangedDay(5)) for d in DAYS[:3]]), max_rows=250, max_days=31)
    assert wh.published == [(1, False)]
