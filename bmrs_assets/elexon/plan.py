"""What a history backfill will cost, before anything is launched: pure arithmetic, no Dagster.

For each dataset of a backfill, :func:`plan_dataset` gives the days, the runs (``ceil(days / days
per run)``), the first-page requests (``len(initial_slices(ds, day))`` summed over the days:
pagination and window splits on a 400 may add more), the expected rows and bytes, and the duration:

    max(requests / rate limit, requests x latency / requests in flight)
        + processing seconds per row x rows        (when measured)

The figures come from the dataset's recent runs (a :class:`History` of :class:`RunSample`, read
from the materialization metadata by the caller) when there are any, else from the registry's
``rows_per_day``; every :class:`Figure` says where it came from, and one that cannot be known
without a run (bytes, latency, processing) is ``None`` rather than a guess.

Every dataset's steps share the ``elexon_api`` pool (one at a time) and the machine-wide rate
limit, so the durations of a backfill's datasets add up: :func:`totals`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from bmrs_assets.core.durations import format_duration
from bmrs_assets.elexon.client import initial_slices
from bmrs_assets.elexon.dataset import Dataset


@dataclass(frozen=True)
class RunSample:
    """What one past run of a dataset recorded (its materialization metadata ``rows_fetched``,
    ``api_requests``, ``api_bytes``, ``fetch_seconds``, ``seconds``) and how many partition days it covered."""

    days: int
    rows: int
    requests: int
    bytes: int
    fetch_seconds: float
    seconds: float


@dataclass(frozen=True)
class History:
    """The recent runs of one dataset, pooled: every rate is a ratio of sums (a long run weighs more)."""

    samples: tuple[RunSample, ...]

    def __post_init__(self) -> None:
        if not self.samples:
            raise ValueError("a History holds at least one run")

    def _sum(self, name: str) -> float:
        return sum(getattr(s, name) for s in self.samples)

    @property
    def runs(self) -> int:
        return len(self.samples)

    @property
    def days(self) -> int:
        return int(self._sum("days"))

    @property
    def rows_per_day(self) -> float:
        return self._sum("rows") / self.days if self.days else 0.0

    @property
    def bytes_per_day(self) -> float:
        return self._sum("bytes") / self.days if self.days else 0.0

    @property
    def latency_s(self) -> float | None:
        """API seconds per request (rate-limit waits and retries included); None without requests."""
        requests = self._sum("requests")
        return self._sum("fetch_seconds") / requests if requests else None

    @property
    def processing_s_per_row(self) -> float | None:
        """The runs' seconds not spent waiting for the API, per row; None without rows."""
        rows = self._sum("rows")
        return max(0.0, self._sum("seconds") - self._sum("fetch_seconds")) / rows if rows else None

    def describe(self) -> str:
        return f"the last {self.runs} run{'s' if self.runs > 1 else ''} ({self.days} day{'s' if self.days > 1 else ''})"


@dataclass(frozen=True)
class Limits:
    """How fast the API may be asked: ``BMRS_RATE_LIMIT_PER_S`` and ``BMRS_API_IN_FLIGHT``."""

    rate_limit_per_s: float
    in_flight: int

    def __post_init__(self) -> None:
        if self.rate_limit_per_s <= 0 or self.in_flight < 1:
            raise ValueError(f"rate limit must be > 0 and in-flight >= 1, got {self.rate_limit_per_s}, {self.in_flight}")


@dataclass(frozen=True)
class Figure:
    """A planned quantity and where it came from; ``value`` None: unknown (no run measured it)."""

    value: float | None
    source: str


@dataclass(frozen=True)
class DatasetPlan:
    """One dataset's share of a backfill. ``seconds`` is the estimated duration (see the module docstring)."""

    code: str
    days: int
    days_per_run: int
    runs: int
    requests: int
    rows: Figure
    bytes: Figure
    latency_s: Figure
    processing_s_per_row: Figure
    seconds: float


def runs_needed(days: int, days_per_run: int) -> int:
    """Runs of at most ``days_per_run`` consecutive days covering ``days`` days: ``ceil(days / days_per_run)``."""
    if days_per_run < 1:
        raise ValueError(f"days per run must be at least 1, got {days_per_run}")
    return math.ceil(days / days_per_run) if days > 0 else 0


def shared_runs(days: int, days_per_run: Iterable[int]) -> int:
    """Runs a backfill of the same ``days`` for several assets launches in all: Dagster puts assets
    with the same partitions and the same ``BackfillPolicy`` in the same runs, so each distinct run
    size counts once."""
    return sum(runs_needed(days, n) for n in set(days_per_run))


def first_page_requests(ds: Dataset, days: Iterable[date]) -> int:
    """Requests for ``days`` before pagination or any split on a 400: ``len(initial_slices(ds, day))`` summed."""
    return sum(len(initial_slices(ds, day)) for day in days)


def duration_seconds(requests: int, rows: float, limits: Limits, latency_s: float | None,
                     processing_s_per_row: float | None) -> float:
    """``max(requests / rate, requests x latency / in-flight) + processing x rows``; an unknown
    latency or processing rate contributes nothing."""
    api = requests / limits.rate_limit_per_s
    if latency_s is not None:
        api = max(api, requests * latency_s / limits.in_flight)
    return api + (processing_s_per_row or 0.0) * rows


def plan_dataset(ds: Dataset, days: Sequence[date], days_per_run: int, history: History | None,
                 limits: Limits) -> DatasetPlan:
    """The plan for backfilling ``days`` of ``ds`` in runs of ``days_per_run`` days; measured
    figures from ``history`` when given, else the registry's ``rows_per_day`` (bytes, latency and
    processing then unknown)."""
    n = len(days)
    requests = first_page_requests(ds, days)
    if history is None:
        rows = Figure(float(ds.rows_per_day * n), f"registry rows_per_day ({ds.rows_per_day:,}/day), no run recorded")
        size = Figure(None, "unknown, no run recorded")
        latency = Figure(None, "not measured, duration from the rate limit alone")
        processing = Figure(None, "not measured")
    else:
        where = history.describe()
        rows = Figure(history.rows_per_day * n, f"{where}, {history.rows_per_day:,.0f}/day")
        size = Figure(history.bytes_per_day * n, f"{where}, {format_bytes(history.bytes_per_day)}/day")
        latency = Figure(history.latency_s, f"{where}, per request" if history.latency_s is not None
                         else f"not measured ({where} made no request)")
        processing = Figure(history.processing_s_per_row,
                            f"not measured ({where} fetched no rows)" if history.processing_s_per_row is None else
                            f"{where}, {format_seconds(history.processing_s_per_row)}/row")
    seconds = duration_seconds(requests, rows.value or 0.0, limits, latency.value, processing.value)
    return DatasetPlan(ds.code, n, days_per_run, runs_needed(n, days_per_run), requests, rows, size, latency,
                       processing, seconds)


@dataclass(frozen=True)
class Totals:
    """A backfill's sums. ``bytes`` counts only the datasets whose bytes are known (``bytes_unknown`` the rest)."""

    days: int
    runs: int
    requests: int
    rows: float
    bytes: float
    bytes_unknown: int
    seconds: float


def totals(plans: Sequence[DatasetPlan]) -> Totals:
    """The sums over ``plans``; runs counted as Dagster launches them (:func:`shared_runs`), and
    durations added (the pool runs one dataset step at a time)."""
    days = max((p.days for p in plans), default=0)
    return Totals(days, shared_runs(days, (p.days_per_run for p in plans)), sum(p.requests for p in plans),
                  sum(p.rows.value or 0.0 for p in plans), sum(p.bytes.value or 0.0 for p in plans),
                  sum(1 for p in plans if p.bytes.value is None), sum(p.seconds for p in plans))


# --- text --------------------------------------------------------------------------------------
def format_count(n: float) -> str:
    """``1234`` -> ``1.2 k``, ``5_600_000`` -> ``5.6 M``; below a thousand as is."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f}"


def format_bytes(n: float | None) -> str:
    """Bytes in B / kB / MB / GB (powers of 1000); ``?`` for unknown."""
    if n is None:
        return "?"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


def format_seconds(seconds: float) -> str:
    """A short time in the unit that suits it: ``3.2 us``, ``48.0 ms``, ``1.50 s``."""
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.1f} us"


def render(plans: Sequence[DatasetPlan], first: date, last: date, limits: Limits) -> str:
    """The plan as text: a table per dataset, the totals, then where each figure came from."""
    header = (f"{'dataset':<10} {'days':>6} {'runs':>5} {'days/run':>8} {'requests':>9} {'rows':>9} {'bytes':>9} "
              f"{'latency':>9} {'duration':>10}")
    lines = [f"Backfill plan {first.isoformat()}...{last.isoformat()}: rate limit {limits.rate_limit_per_s:g} "
             f"requests/s, {limits.in_flight} in flight. Nothing is launched.", "", header, "-" * len(header)]
    for p in plans:
        latency = "?" if p.latency_s.value is None else f"{p.latency_s.value * 1000:.0f} ms"
        lines.append(f"{p.code:<10} {p.days:>6} {p.runs:>5} {p.days_per_run:>8} {p.requests:>9} "
                     f"{format_count(p.rows.value or 0):>9} {format_bytes(p.bytes.value):>9} {latency:>9} "
                     f"{format_duration(p.seconds):>10}")
    t = totals(plans)
    size = "?" if t.bytes_unknown == len(plans) else format_bytes(t.bytes) + ("+?" if t.bytes_unknown else "")
    lines += ["-" * len(header),
              f"{'total':<10} {t.days:>6} {t.runs:>5} {'':>8} {t.requests:>9} {format_count(t.rows):>9} {size:>9} "
              f"{'':>9} {format_duration(t.seconds):>10}", "", "Where the figures come from:"]
    for p in plans:
        lines.append(f"  {p.code}: rows: {p.rows.source}; bytes: {p.bytes.source}; latency: {p.latency_s.source}; "
                     f"processing: {p.processing_s_per_row.source}")
    lines += ["",
              "requests: first pages only (initial_slices per day); pagination and window splits on a 400 may add more.",
              "duration: max(requests / rate limit, requests x latency / in flight) + processing seconds per row x rows;",
              "  latency includes rate-limit waits and retries. Every dataset step waits for the elexon_api pool",
              "  (one at a time) and runs wait in the run queue, so the total is the sum; run start-up is not included.",
              "runs: per dataset, ceil(days / days per run); the total counts datasets with the same days per run once",
              "  (Dagster puts them in the same runs)."]
    return "\n".join(lines)
