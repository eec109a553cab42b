import itertools
from datetime import UTC, date, datetime, timedelta

import pytest

from bmrs_assets.core.settlement import (
    UtcWindow,
    day_window,
    parse_day,
    period_start,
    periods_in_day,
    settlement_period_of,
)

SPRING, AUTUMN, WINTER, SUMMER = date(2025, 3, 30), date(2025, 10, 26), date(2025, 12, 17), date(2026, 5, 6)


@pytest.mark.parametrize(("day", "n"), [(SPRING, 46), (AUTUMN, 50), (WINTER, 48), (SUMMER, 48),
                                        (date(2024, 3, 31), 46), (date(2024, 10, 27), 50),
                                        (date(2025, 3, 29), 48), (date(2025, 10, 27), 48)])
def test_periods_in_day_follow_the_clock_changes(day, n):
    assert periods_in_day(day) == n


def test_day_windows_in_utc():
    assert day_window(WINTER) == UtcWindow(datetime(2025, 12, 17, tzinfo=UTC), datetime(2025, 12, 18, tzinfo=UTC))
    # BST: the settlement day starts at 23:00 UTC the previous evening (real DISEBSP sample)
    assert day_window(SUMMER).start == datetime(2026, 5, 5, 23, tzinfo=UTC)
    assert day_window(SPRING).duration == timedelta(hours=23)
    assert day_window(AUTUMN).duration == timedelta(hours=25)
    assert day_window(AUTUMN).start == datetime(2025, 10, 25, 23, tzinfo=UTC)
    assert day_window(AUTUMN).end == datetime(2025, 10, 27, 0, tzinfo=UTC)


@pytest.mark.parametrize("day", [SPRING, AUTUMN, WINTER, SUMMER])
def test_every_period_round_trips(day):
    starts = [period_start(day, p) for p in range(1, periods_in_day(day) + 1)]
    assert all(b - a == timedelta(minutes=30) for a, b in itertools.pairwise(starts))
    for p, s in enumerate(starts, start=1):
        assert settlement_period_of(s) == (day, p)
        assert settlement_period_of(s + timedelta(minutes=29, seconds=59)) == (day, p)
    assert starts[-1] + timedelta(minutes=30) == day_window(day).end


def test_autumn_repeated_hour_is_periods_3_to_6():
    # 01:00-02:00 local happens twice on the autumn day: first in BST (00:00Z), then in GMT (01:00Z)
    assert settlement_period_of(datetime(2025, 10, 26, 0, 0, tzinfo=UTC)) == (AUTUMN, 3)
    assert settlement_period_of(datetime(2025, 10, 26, 1, 0, tzinfo=UTC)) == (AUTUMN, 5)
    assert period_start(AUTUMN, 50) == datetime(2025, 10, 26, 23, 30, tzinfo=UTC)


def test_nonexistent_periods_and_bad_keys_are_refused():
    with pytest.raises(ValueError, match="does not exist"):
        period_start(SPRING, 47)
    with pytest.raises(ValueError, match="not a valid settlement date"):
        parse_day("2025-13-01")
    with pytest.raises(ValueError, match="not a valid settlement date"):
        parse_day("2025-01-01; DROP TABLE x")
    with pytest.raises(ValueError):
        settlement_period_of(datetime(2025, 1, 1))  # naive: refused, never guessed


def test_window_chunks_and_halves():
    w = day_window(AUTUMN)
    chunks = w.chunks(timedelta(hours=24))
    assert [c.duration for c in chunks] == [timedelta(hours=24), timedelta(hours=1)]
    a, b = w.halves()
    assert a.end == b.start and a.start == w.start and b.end == w.end
