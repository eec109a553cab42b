"""HTTP client for the Elexon Insights API.

Everything the old cron scripts got wrong about the API is handled here, once, for every dataset:
both JSON envelopes, windows too large for an endpoint (split in half and retried), transient
failures (429/5xx/timeouts retried with exponential backoff honouring ``Retry-After``), a global
rate limit, and errors that carry the response body. "No rows" is an empty list; a failed request
is an exception - never the same thing.

The API cannot stall a run (which holds the only ``elexon_api`` pool slot while it waits):

* a ``Retry-After`` longer than ``retry_after_max_s`` is not slept: the day fails at once, saying so,
  and the next run (an automation tick) asks again;
* every request has a total ``deadline_s`` - connect, headers and the whole body - not only a
  per-read timeout (:mod:`bmrs_assets.elexon.deadline`); a request cut by it fails the day at once,
  without a retry: it has already used the whole deadline, and retrying a server that trickles would
  hold the pool for up to ``max_retries + 1`` deadlines;
* a body is refused as soon as its announced length or the bytes received pass the dataset's cap
  (:meth:`ElexonClient.body_cap`), holding at most the cap plus one chunk.
"""

from __future__ import annotations

import fcntl
import hashlib
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import orjson

from bmrs_assets.elexon import deadline
from bmrs_assets.elexon.base_url import LIVE_BASE_URL
from bmrs_assets.elexon.datasets import Dataset
from bmrs_assets.elexon.requests import Slice

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
TOO_LARGE = re.compile(r"exceed|too (large|long|big|wide)|maximum|must not be (longer|greater)", re.I)
BODY_IN_ERRORS = 2000
# A dataset's body cap: a generous multiple of its expected day (rows_per_day rows of at most ~1 kB,
# x64), never under the floor (a registry estimate can be low, and a day can be revised many times)
# and never over the client's max_body_bytes.
BODY_CAP_BYTES_PER_ROW = 64 * 1024
BODY_CAP_FLOOR = 128 * 1024 * 1024


class ElexonApiError(RuntimeError):
    """A request that failed for good. The message names dataset, partition, URL and body."""

    def __init__(self, dataset: str, day: date, message: str, *, status: int | None = None,
                 url: str = "", body: str = "") -> None:
        self.dataset, self.day, self.status, self.url, self.body = dataset, day, status, url, body
        parts = [f"{dataset} partition {day.isoformat()}: {message}"]
        if status is not None:
            parts.append(f"HTTP {status}")
        if url:
            parts.append(f"url={url}")
        if body:
            parts.append(f"body={body[:BODY_IN_ERRORS]!r}")
        super().__init__("; ".join(parts))


class _OutOfTime(Exception):
    """The request's deadline passed."""


class _TooBig(Exception):
    def __init__(self, head: str, received: int, announced: int | None = None) -> None:
        self.head, self.received, self.announced = head, received, announced


@dataclass
class FetchStats:
    """Counters reported as materialization metadata."""

    requests: int = 0
    retries: int = 0
    splits: int = 0
    bytes: int = 0
    seconds: float = 0.0

    def add(self, other: FetchStats) -> None:
        self.requests += other.requests
        self.retries += other.retries
        self.splits += other.splits
        self.bytes += other.bytes
        self.seconds += other.seconds


class RateLimiter:
    """Spaces request starts at least 1/rate seconds apart, across threads - and, given a
    ``state_path``, across every process on the machine sharing that file (concurrent Dagster
    runs of a backfill), so the configured rate is a global budget, not a per-run one.
    """

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, state_path: str | None = None) -> None:
        if per_second <= 0:
            raise ValueError("rate limit must be positive")
        self.interval = 1.0 / per_second
        self._next = 0.0
        self._lock = threading.Lock()
        self._clock, self._sleep = (time.time, sleep) if state_path else (clock, sleep)
        self._path = state_path

    def acquire(self) -> None:
        with self._lock:
            now = self._clock()
            if self._path:
                start = self._reserve_shared(now)
            else:
                start = max(now, self._next)
                self._next = start + self.interval
        if start > now:
            self._sleep(start - now)

    def _reserve_shared(self, now: float) -> float:
        """Take the next free slot from the shared file, under an exclusive file lock."""
        Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        with open(self._path, "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                fh.seek(0)
                text = fh.read().strip()
                nxt = float(text) if text else 0.0
                start = max(now, nxt)
                fh.seek(0)
                fh.truncate()
                fh.write(repr(start + self.interval))
                fh.flush()
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return start


def initial_slices(ds: Dataset, day: date) -> list[Slice]:
    """The requests that cover ``day`` for ``ds`` before any split on a 400 (its request strategy's)."""
    return ds.request.slices(day)


def build_request(ds: Dataset, sl: Slice) -> tuple[str, dict[str, str]]:
    """Path and query parameters for one slice, exactly as the OpenAPI spec names them."""
    return ds.request.path(ds.path, sl), ds.request.params(sl)


def rows_of(payload: object) -> list[dict] | None:
    """The rows of either envelope (bare array or ``{"data": [...]}``); None if neither."""
    rows = payload.get("data") if isinstance(payload, dict) else payload
    if isinstance(rows, list) and (set(map(type, rows)) <= {dict} or all(isinstance(r, dict) for r in rows)):
        return rows  # (the type set answers for plain dicts, as parsed JSON objects are, without Python per row)
    return None


@dataclass
class Body:
    """One 200 response body as received, and the slice it answers.

    Kept as the chunks that arrived: a body whose digest shows it unchanged is never joined.
    """

    slice: Slice
    url: str
    parts: list[bytes]
    sha256: bytes = b""  # of the body, computed as it arrived (on the fetching thread)

    @property
    def size(self) -> int:
        return sum(map(len, self.parts))

    @property
    def content(self) -> bytes:
        if len(self.parts) != 1:
            self.parts = [b"".join(self.parts)]
        return self.parts[0]


def parse_body(ds: Dataset, body: Body) -> list[dict]:
    """The rows of one response body (either envelope), with the slice's path variant as fields."""
    day, url, raw = body.slice.day, body.url, body.content
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ElexonApiError(ds.code, day, f"response is not JSON ({exc})", status=200,
                             url=url, body=raw[:BODY_IN_ERRORS].decode("utf-8", "replace")) from None
    rows = rows_of(payload)
    if rows is None:
        raise ElexonApiError(ds.code, day, "response is neither a JSON array of rows nor "
                             '{"data": [rows]}', status=200, url=url,
                             body=raw[:BODY_IN_ERRORS].decode("utf-8", "replace"))
    extra = dict(body.slice.variant)
    if extra:
        for r in rows:
            r.update(extra)
    return rows


class DayDigest:
    """A digest of everything that decides a day's rows: the typing rules and every body received.

    Bodies are added in request order, each as it arrives, so it needs no body kept.
    """

    def __init__(self, fingerprint: str) -> None:
        self._h = hashlib.sha256(fingerprint.encode())

    def add(self, b: Body) -> None:
        self._h.update(repr((b.slice.variant, b.slice.window, b.slice.periods, b.size)).encode())
        self._h.update(b.sha256 or hashlib.sha256(b.content).digest())

    def passing(self, bodies: Iterable[Body]) -> Iterator[Body]:
        """The bodies, each added to the digest as it goes by."""
        for b in bodies:
            self.add(b)
            yield b

    def hexdigest(self) -> str:
        return self._h.hexdigest()



def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


@dataclass
class ElexonClient:
    """A rate-limited, retrying client. One instance per run; safe to share across threads."""

    base_url: str = LIVE_BASE_URL
    rate_limit_per_s: float = 4.0
    max_retries: int = 5
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    timeout_s: float = 60.0  # each socket operation (connect, a read, a write)
    deadline_s: float = 120.0  # a whole request: connect + headers + body
    retry_after_max_s: float = 300.0  # a longer Retry-After fails the day instead of being slept
    max_body_bytes: int = 512 * 1024 * 1024  # the ceiling of every dataset's body cap
    rate_limit_file: str | None = None
    sleep: Callable[[float], None] = time.sleep
    _http: httpx.Client = field(init=False, repr=False)
    _limiter: RateLimiter = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        proxied = any(k in urllib.request.getproxies() for k in ("http", "https", "all"))
        self._http = httpx.Client(timeout=self.timeout_s, headers={"Accept": "application/json"},
                                  transport=None if proxied else deadline.transport())
        self._limiter = RateLimiter(self.rate_limit_per_s, sleep=self.sleep, state_path=self.rate_limit_file)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ElexonClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def body_cap(self, ds: Dataset) -> int:
        """The most bytes one response body of ``ds`` may have (see ``BODY_CAP_*``)."""
        return min(self.max_body_bytes, max(BODY_CAP_FLOOR, ds.rows_per_day * BODY_CAP_BYTES_PER_ROW))

    def fetch_day(self, ds: Dataset, day: date) -> tuple[list[dict], FetchStats]:
        """Every row the API has for ``ds`` on settlement day ``day``, with request counters."""
        stats = FetchStats()
        started = time.perf_counter()
        rows: list[dict] = []
        for chunk in self.iter_slices(ds, initial_slices(ds, day), stats):
            rows.extend(chunk)
        stats.seconds = time.perf_counter() - started
        return rows, stats

    def iter_slices(self, ds: Dataset, slices: list[Slice], stats: FetchStats) -> Iterator[list[dict]]:
        """Rows per slice, splitting any slice the API calls too large."""
        for body in self.iter_bodies(ds, slices, stats):
            yield parse_body(ds, body)

    def fetch_slice_bodies(self, ds: Dataset, sl: Slice) -> tuple[list[Body], FetchStats]:
        """The raw bodies that answer one slice (more than one if the API had it split; not parsed),
        with request counters. Fetching the bytes first lets the caller recognise a body it has
        already loaded before paying for parsing it."""
        stats = FetchStats()
        started = time.perf_counter()
        bodies = list(self.iter_bodies(ds, [sl], stats))
        stats.seconds = time.perf_counter() - started
        return bodies, stats

    def iter_bodies(self, ds: Dataset, slices: list[Slice], stats: FetchStats) -> Iterator[Body]:
        """The 200 body of each slice, splitting any slice the API calls too large."""
        pending = list(reversed(slices))
        while pending:
            sl = pending.pop()
            path, params = build_request(ds, sl)
            try:
                url, body, sha = self._get_body(ds, sl.day, path, params, stats)
            except ElexonApiError as exc:
                halves = ds.request.split(sl) if exc.status == 400 and TOO_LARGE.search(exc.body) else None
                if halves is None:
                    raise
                stats.splits += 1
                pending.extend(reversed(halves))
                continue
            yield Body(sl, url, body, sha)

    def _get_body(self, ds: Dataset, day: date, path: str, params: dict[str, str],
                  stats: FetchStats) -> tuple[str, list[bytes], bytes]:
        url = self.base_url + path
        attempt = 0
        while True:
            self._limiter.acquire()
            stats.requests += 1
            cap = self.body_cap(ds)
            try:
                with deadline.deadline(self.deadline_s):
                    try:
                        body, sha, status, response_url, retry_after = self._get(url, params, cap)
                    except httpx.TransportError:
                        if deadline.expired():
                            raise _OutOfTime from None
                        raise
            except _OutOfTime:
                raise ElexonApiError(ds.code, day, f"no complete response within the request deadline of "
                                     f"{self.deadline_s:g} s (BMRS_API_DEADLINE_S: connect, headers and body); "
                                     "not retried", url=url) from None
            except httpx.TransportError as exc:  # timeouts, resets, truncated bodies
                status, text, wait = None, f"{type(exc).__name__}: {exc}", None
            except _TooBig as exc:
                seen = (f"announced {exc.announced} bytes" if exc.announced is not None
                        else f"refused at {exc.received} bytes received")
                raise ElexonApiError(ds.code, day, f"response larger than {cap} bytes ({seen}), the body cap of "
                                     f"{ds.code}; refused", url=url, body=exc.head) from None
            else:
                text = ""
                if status == 200:
                    stats.bytes += sum(map(len, body))
                    return response_url, body, sha
                text = b"".join(body).decode("utf-8", "replace")
                del body
                if status not in RETRYABLE_STATUS:
                    raise ElexonApiError(ds.code, day, "request refused", status=status,
                                         url=response_url, body=text)
                wait = retry_after
                if wait is not None and wait > self.retry_after_max_s:
                    raise ElexonApiError(ds.code, day, f"HTTP {status} with Retry-After {wait:g} s, more than the "
                                         f"{self.retry_after_max_s:g} s cap (BMRS_API_RETRY_AFTER_MAX_S): not waiting; "
                                         "the day fails now and a later run asks again", url=url, body=text)
            if attempt >= self.max_retries:
                raise ElexonApiError(ds.code, day, f"gave up after {attempt + 1} attempts",
                                     status=status, url=url, body=text)
            attempt += 1
            stats.retries += 1
            backoff = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
            self.sleep(max(backoff, wait or 0.0))

    def _get(self, url: str, params: dict[str, str],
             cap: int) -> tuple[list[bytes], bytes, int, str, float | None]:
        """GET with the body read in chunks, so an absurd response is refused, not buffered: at once if
        its ``Content-Length`` is over ``cap``, else when the bytes received pass it (so at most the cap
        plus one chunk is ever held), and when the deadline passes between chunks.

        Returns (body chunks, its SHA-256, status, final URL, Retry-After seconds) rather than the response:
        an httpx response sits in reference cycles and would keep its body alive until a full garbage
        collection, so nothing of it outlives this call but the bytes the caller asked for. The body
        is hashed chunk by chunk as it arrives (hashlib releases the GIL), so recognising an
        unchanged response later costs nothing but a comparison.
        """
        with self._http.stream("GET", url, params=params) as response:
            announced = response.headers.get("Content-Length", "")
            if announced.isdigit() and int(announced) > cap:
                raise _TooBig("", 0, int(announced))
            chunks, size, sha, head = [], 0, hashlib.sha256(), b""
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > cap:
                    chunks.clear()  # (the exception's traceback holds this frame: keep no body alive in it)
                    raise _TooBig((head + chunk)[:BODY_IN_ERRORS].decode("utf-8", "replace"), size)
                if deadline.expired():
                    raise _OutOfTime
                if len(head) < BODY_IN_ERRORS:
                    head += chunk[:BODY_IN_ERRORS]
                chunks.append(chunk)
                sha.update(chunk)
            return chunks, sha.digest(), response.status_code, str(response.url), _retry_after(response)
