"""Request strategies: how a partition day of a dataset is asked for, and how such a request reads back.

Every registry entry holds one strategy. For the client it yields the day's slices (the requests
before any split), the path and query parameters of each slice exactly as the OpenAPI spec names
them, and the two halves of a slice the API calls too large. For the simulator it reads a request's
parameters back into the :class:`Scope` of rows they select, refusing what the API refuses. Both
directions live in one object, so the simulator answers the requests the client sends, by the same
rules, and nothing branches on a dataset or a request style.
"""

from __future__ import annotations

import string
from abc import ABC, abstractmethod
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import ClassVar

from bmrs_assets.core.settlement import PERIOD, UTC, UtcWindow, day_window, utc_iso
from bmrs_assets.core.tables import PERIOD_COLUMN

Variant = tuple[tuple[str, str], ...]  # path placeholder values, sorted by name
MAX_PERIOD = 50  # every period parameter is documented "1-50 inclusive"
DEFAULT_WINDOW = timedelta(hours=1)  # what a time window left open answers (the API: the latest data)


class RequestError(ValueError):
    """Parameters the API refuses; the simulator answers 400 with this message."""


@dataclass(frozen=True)
class Slice:
    """The scope of one request: a day, and within it a UTC window or a period range."""

    day: date
    variant: Variant = ()
    window: UtcWindow | None = None
    periods: tuple[int, int] | None = None


@dataclass(frozen=True)
class Scope:
    """The rows one request selects, read back from its parameters.

    Either settlement dates ``first``..``last`` (the first from period ``periods[0]``, the last up to
    ``periods[1]``, counted on ``period_field``; all periods if ``periods`` is None), or the instants
    ``start``..``end`` (both inclusive) of ``time_field``. ``size`` is what counts against an
    endpoint's window limit (None: nothing does).
    """

    first: date | None = None
    last: date | None = None
    periods: tuple[int, int] | None = None
    period_field: str = PERIOD_COLUMN
    time_field: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    variant: Variant = ()
    size: timedelta | None = None
    current: bool = False  # the source's current state, whatever the day (a reference list)


@dataclass(frozen=True)
class Endpoint:
    """A path serving a dataset's rows to its request strategy, with that path's window limit.

    Besides the entry's own path, the plain ``/datasets/X`` twin of a stream path: the platform never
    asks it, the simulator serves it and the spec subset keeps it.
    """

    path: str
    max_window: timedelta | None = None


def parse_instant(name: str, value: str) -> datetime:
    """An RFC 3339 instant in UTC (no offset: UTC); RequestError naming the parameter otherwise."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise RequestError(f"The value '{value}' is not valid for {name}.") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_date(name: str, value: str) -> date:
    """A date (the date part of an instant also serves); RequestError naming the parameter otherwise."""
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise RequestError(f"The value '{value}' is not valid for {name}.") from None


def _int(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise RequestError(f"The value '{value}' is not valid for {name}.") from None


def _required(query: dict[str, str], name: str) -> str:
    if name not in query:
        raise RequestError(f"The {name} field is required.")
    return query[name]


def _window_scope(time_field: str, start: datetime, end: datetime) -> Scope:
    if end < start:
        raise RequestError("The from date must be before the to date.")
    return Scope(time_field=time_field, start=start, end=end, size=end - start)


def _hours(d: timedelta) -> str:
    return f"{d.total_seconds() / 3600:g} h"


class RequestStrategy(ABC):
    """How a partition day is asked for. Implementations are frozen dataclasses, declared in entries."""

    max_window: timedelta | None = None  # the longest request the entry's path answers (None: no limit)
    splittable: ClassVar[bool] = False  # whether a slice can be halved when the API calls it too large

    @property
    @abstractmethod
    def query_params(self) -> tuple[str, ...]:
        """The query parameters this form sends, and the only ones it reads back."""

    @abstractmethod
    def slices(self, day: date) -> list[Slice]:
        """The requests that cover partition day ``day`` before any split."""

    @abstractmethod
    def params(self, sl: Slice) -> dict[str, str]:
        """The query parameters of one slice, in the order they are sent."""

    @abstractmethod
    def read(self, query: dict[str, str], path_params: dict[str, str], now: datetime) -> Scope:
        """The rows a request in this form selects; RequestError for what the API refuses."""

    @abstractmethod
    def describe(self) -> str:
        """The requests of partition day D, as one line of markdown."""

    def path(self, template: str, sl: Slice) -> str:
        """The request path of one slice."""
        return template

    def path_fields(self) -> set[str]:
        """The placeholders this form fills in a path template."""
        return set()

    def row_fields(self) -> tuple[str, ...]:
        """The row fields this form's filters apply to (they must be declared columns)."""
        return ()

    def split(self, sl: Slice) -> tuple[Slice, Slice] | None:
        """Two halves of a slice the API called too large, or None when it cannot be made smaller."""
        return None

    def validate(self, path: str, columns: Collection[str]) -> None:
        """ValueError unless this form fits the path template and the declared columns."""
        placeholders = {name for _, name, _, _ in string.Formatter().parse(path) if name}
        if placeholders != self.path_fields():
            raise ValueError(f"path {path!r} has placeholders {sorted(placeholders)}, "
                             f"{type(self).__name__} fills {sorted(self.path_fields())}")
        for name in self.row_fields():
            if name not in columns:
                raise ValueError(f"{type(self).__name__} filters on {name!r}, which is not a declared column")


@dataclass(frozen=True)
class SettlementDay(RequestStrategy):
    """``from=D&to=D&settlementPeriodFrom=a&settlementPeriodTo=b``: the rows of settlement date D.

    Once a period bound is given, the API filters ``from``/``to`` on settlement date (no midnight
    overlap; 46- and 50-period days alike); without one, on ``time_field`` by instant. Asking for
    periods up to 50 returns those the day has. ``periods_per_request`` asks for a day in smaller
    requests, each typed while the next downloads (None: periods 1-50 in one).
    """

    periods_per_request: int | None = None
    time_field: str | None = None  # what from/to filter as instants (None: the simulator serves dates only)
    period_field: str = PERIOD_COLUMN  # the row field the period bounds apply to

    splittable: ClassVar[bool] = True

    @property
    def query_params(self) -> tuple[str, ...]:
        return ("from", "to", "settlementPeriodFrom", "settlementPeriodTo")

    def slices(self, day: date) -> list[Slice]:
        step = self.periods_per_request or MAX_PERIOD
        return [Slice(day, periods=(lo, min(lo + step - 1, MAX_PERIOD))) for lo in range(1, MAX_PERIOD + 1, step)]

    def params(self, sl: Slice) -> dict[str, str]:
        assert sl.periods is not None
        d = sl.day.isoformat()
        return {"from": d, "to": d, "settlementPeriodFrom": str(sl.periods[0]), "settlementPeriodTo": str(sl.periods[1])}

    def split(self, sl: Slice) -> tuple[Slice, Slice] | None:
        if sl.periods is None or sl.periods[1] <= sl.periods[0]:
            return None
        lo, hi = sl.periods
        mid = (lo + hi) // 2
        return Slice(sl.day, sl.variant, periods=(lo, mid)), Slice(sl.day, sl.variant, periods=(mid + 1, hi))

    def read(self, query: dict[str, str], path_params: dict[str, str], now: datetime) -> Scope:
        if "settlementPeriodFrom" not in query and "settlementPeriodTo" not in query:
            if self.time_field is None:
                raise RequestError("Give settlementPeriodFrom/settlementPeriodTo: this endpoint is served by "
                                   "settlement date only.")
            return _window_scope(self.time_field, parse_instant("from", _required(query, "from")),
                                 parse_instant("to", _required(query, "to")))
        first = parse_date("from", _required(query, "from"))
        last = parse_date("to", _required(query, "to"))
        sp_from = _int("settlementPeriodFrom", query.get("settlementPeriodFrom", "1"))
        sp_to = _int("settlementPeriodTo", query.get("settlementPeriodTo", str(MAX_PERIOD)))
        if not (1 <= sp_from <= MAX_PERIOD and 1 <= sp_to <= MAX_PERIOD):
            raise RequestError("Settlement periods must be between 1 and 50 inclusive.")
        if last < first:
            raise RequestError("The from date must be before the to date.")
        size = (last - first).days * timedelta(hours=24) + (sp_to - sp_from + 1) * PERIOD
        return Scope(first=first, last=last, periods=(sp_from, sp_to), period_field=self.period_field, size=size)

    def row_fields(self) -> tuple[str, ...]:
        return (self.period_field, *filter(None, [self.time_field]))

    def validate(self, path: str, columns: Collection[str]) -> None:
        if self.periods_per_request is not None and not 1 <= self.periods_per_request <= MAX_PERIOD:
            raise ValueError(f"periods_per_request is 1-{MAX_PERIOD}, not {self.periods_per_request}")
        super().validate(path, columns)

    def describe(self) -> str:
        whole = f"`from=D&to=D&settlementPeriodFrom=1&settlementPeriodTo={MAX_PERIOD}`"
        slices = self.slices(date(2000, 1, 1))
        if len(slices) == 1:
            return f"{whole}, one request"
        shown = [f"{a}-{b}" for a, b in (s.periods for s in slices if s.periods)]
        return (f"{whole} in {len(slices)} requests of {self.periods_per_request} periods "
                f"({', '.join(shown[:2])}, ..., {shown[-1]})")


@dataclass(frozen=True)
class TimeWindow(RequestStrategy):
    """``<from_param>=start&<to_param>=end``: the London day as a UTC window on ``time_field``.

    In requests of at most ``max_window`` (the endpoint's limit; None: the whole day in one). The API
    treats both ends as inclusive, so a row exactly at a boundary comes back in two windows.
    """

    from_param: str
    to_param: str
    time_field: str
    max_window: timedelta | None = None

    splittable: ClassVar[bool] = True

    @property
    def query_params(self) -> tuple[str, ...]:
        return (self.from_param, self.to_param)

    def slices(self, day: date) -> list[Slice]:
        window = day_window(day)
        return [Slice(day, window=w) for w in (window.chunks(self.max_window) if self.max_window else [window])]

    def params(self, sl: Slice) -> dict[str, str]:
        assert sl.window is not None
        return {self.from_param: utc_iso(sl.window.start), self.to_param: utc_iso(sl.window.end)}

    def split(self, sl: Slice) -> tuple[Slice, Slice] | None:
        if sl.window is None or sl.window.duration.total_seconds() < 2:
            return None
        a, b = sl.window.halves()
        return Slice(sl.day, sl.variant, window=a), Slice(sl.day, sl.variant, window=b)

    def read(self, query: dict[str, str], path_params: dict[str, str], now: datetime) -> Scope:
        start = parse_instant(self.from_param, query[self.from_param]) if self.from_param in query else now - DEFAULT_WINDOW
        end = parse_instant(self.to_param, query[self.to_param]) if self.to_param in query else now
        return _window_scope(self.time_field, start, end)

    def row_fields(self) -> tuple[str, ...]:
        return (self.time_field,)

    def validate(self, path: str, columns: Collection[str]) -> None:
        if self.max_window is not None and self.max_window <= timedelta(0):
            raise ValueError("max_window must be positive")
        super().validate(path, columns)

    def describe(self) -> str:
        text = (f"`{self.from_param}=S&{self.to_param}=E`, S to E the London day in UTC "
                f"(on `{self.time_field}`, both ends inclusive)")
        return f"{text}, in requests of at most {_hours(self.max_window)}" if self.max_window else text


@dataclass(frozen=True)
class SettlementDates(RequestStrategy):
    """``settlementDateFrom=D&settlementDateTo=D``: the rows of settlement date D in one request."""

    from_param: str = "settlementDateFrom"
    to_param: str = "settlementDateTo"

    @property
    def query_params(self) -> tuple[str, ...]:
        return (self.from_param, self.to_param)

    def slices(self, day: date) -> list[Slice]:
        return [Slice(day)]

    def params(self, sl: Slice) -> dict[str, str]:
        return {self.from_param: sl.day.isoformat(), self.to_param: sl.day.isoformat()}

    def read(self, query: dict[str, str], path_params: dict[str, str], now: datetime) -> Scope:
        if self.from_param not in query and self.to_param not in query:
            raise RequestError(f"The {self.from_param} field is required.")
        first = parse_date(self.from_param, query.get(self.from_param, query.get(self.to_param, "")))
        last = parse_date(self.to_param, query.get(self.to_param, query.get(self.from_param, "")))
        if last < first:
            raise RequestError("The from date must be before the to date.")
        return Scope(first=first, last=last)

    def describe(self) -> str:
        return f"`{self.from_param}=D&{self.to_param}=D`, one request"


@dataclass(frozen=True)
class PathDate(RequestStrategy):
    """The settlement date is a path segment, ``{settlementDate}``; no query parameters.

    One request per variant, each filling the path's other placeholders (``{"bidOffer": "bid"}``);
    the values are copied into every row of the response (columns of ``Origin.PATH``).
    """

    variants: tuple[dict[str, str], ...] = field(default=({},), hash=False)

    @property
    def query_params(self) -> tuple[str, ...]:
        return ()

    def slices(self, day: date) -> list[Slice]:
        return [Slice(day, tuple(sorted(v.items()))) for v in self.variants]

    def params(self, sl: Slice) -> dict[str, str]:
        return {}

    def path(self, template: str, sl: Slice) -> str:
        return template.format(settlementDate=sl.day.isoformat(), **dict(sl.variant))

    def path_fields(self) -> set[str]:
        return {"settlementDate", *(k for v in self.variants for k in v)}

    def read(self, query: dict[str, str], path_params: dict[str, str], now: datetime) -> Scope:
        day = parse_date("settlementDate", path_params["settlementDate"])
        for name in sorted(self.path_fields() - {"settlementDate"}):
            if path_params[name] not in {v.get(name) for v in self.variants}:
                raise RequestError(f"The value '{path_params[name]}' is not valid for {name}.")
        variant = tuple(sorted((k, path_params[k]) for k in self.path_fields() - {"settlementDate"}))
        return Scope(first=day, last=day, variant=variant)

    def validate(self, path: str, columns: Collection[str]) -> None:
        if not self.variants or len({frozenset(v) for v in self.variants}) != 1:
            raise ValueError("every path variant must fill the same placeholders")
        super().validate(path, columns)

    def describe(self) -> str:
        base = "the date in the path (`{settlementDate}` = D)"
        names = sorted(self.path_fields() - {"settlementDate"})
        if not names:
            return f"{base}, one request"
        each = ", ".join("`" + "&".join(f"{k}={v[k]}" for k in names) + "`" for v in self.variants)
        return f"{base}, one request per path variant ({each})"


@dataclass(frozen=True)
class Snapshot(RequestStrategy):
    """No parameters: the endpoint serves its current state (``/reference/bmunits/all``).

    Partition day D is the day the snapshot was taken: one request, and the day is copied into every
    row as ``stamp`` (a column of ``Origin.REQUEST``). The API keeps no history, so a day asked for
    after it passed holds the state as it was when asked, not as it was on that day.
    """

    stamp: str = "snapshotDate"

    @property
    def query_params(self) -> tuple[str, ...]:
        return ()

    def slices(self, day: date) -> list[Slice]:
        return [Slice(day, ((self.stamp, day.isoformat()),))]

    def params(self, sl: Slice) -> dict[str, str]:
        return {}

    def read(self, query: dict[str, str], path_params: dict[str, str], now: datetime) -> Scope:
        return Scope(current=True)

    def describe(self) -> str:
        return f"no parameters (the current list), one request; column `{self.stamp}` = D, the day it was taken"
