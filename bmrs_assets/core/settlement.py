"""GB settlement-day arithmetic.

A settlement day is a Europe/London local day; settlement period 1 starts at local midnight and
every period lasts 30 minutes, so a day has 46 periods on the spring clock change, 50 on the
autumn one and 48 otherwise. Everything here works on real time zones, never on strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
UTC = UTC
PERIOD = timedelta(minutes=30)


@dataclass(frozen=True)
class UtcWindow:
    """A half-open UTC interval [start, end)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("UtcWindow bounds must be timezone-aware")
        if self.end <= self.start:
            raise ValueError(f"empty window {self.start.isoformat()} .. {self.end.isoformat()}")

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def halves(self) -> tuple[UtcWindow, UtcWindow]:
        mid = self.start + (self.end - self.start) / 2
        return UtcWindow(self.start, mid), UtcWindow(mid, self.end)

    def chunks(self, max_len: timedelta) -> list[UtcWindow]:
        """Split into consecutive windows no longer than ``max_len``."""
        out, cursor = [], self.start
        while cursor < self.end:
            nxt = min(cursor + max_len, self.end)
            out.append(UtcWindow(cursor, nxt))
            cursor = nxt
        return out


def parse_day(value: str | date) -> date:
    """Parse a partition key (``YYYY-MM-DD``) into a date; anything else is refused."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise ValueError(f"not a valid settlement date (YYYY-MM-DD): {value!r}") from exc


def day_window(day: date) -> UtcWindow:
    """The UTC instants covered by the London day ``day``: [local 00:00, next local 00:00)."""
    start = datetime(day.year, day.month, day.day, tzinfo=LONDON).astimezone(UTC)
    nxt = day + timedelta(days=1)
    end = datetime(nxt.year, nxt.month, nxt.day, tzinfo=LONDON).astimezone(UTC)
    return UtcWindow(start, end)


def periods_in_day(day: date) -> int:
    """46, 48 or 50: the number of settlement periods of ``day``."""
    return int(day_window(day).duration / PERIOD)


def period_start(day: date, period: int) -> datetime:
    """UTC start of settlement period ``period`` (1-based) of ``day``."""
    n = periods_in_day(day)
    if not 1 <= period <= n:
        raise ValueError(f"settlement period {period} does not exist on {day} ({n} periods)")
    return day_window(day).start + (period - 1) * PERIOD


def settlement_period_of(instant: datetime) -> tuple[date, int]:
    """The (settlement date, period) containing the aware instant ``instant``."""
    if instant.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    day = instant.astimezone(LONDON).date()
    return day, int((instant - day_window(day).start) / PERIOD) + 1


def days_between(first: date, last: date) -> list[date]:
    """Every day from ``first`` to ``last`` inclusive."""
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def london_today(now: datetime | None = None) -> date:
    """Today's settlement date, from an aware 'now' (UTC clock, never local time)."""
    return (now or datetime.now(UTC)).astimezone(LONDON).date()


def utc_iso(instant: datetime) -> str:
    """RFC 3339 in UTC with a ``Z`` suffix, as the Elexon API emits and accepts."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
