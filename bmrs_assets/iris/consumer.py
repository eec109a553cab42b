"""The IRIS consumer: Elexon's real-time push (Azure Service Bus) into the landing store.

``python -m bmrs_assets iris`` runs it as its own long-lived process beside ``dagster dev``
(IRIS allows one connection per queue, and a Dagster sensor must stay short). Each loop:

1. receive a batch bounded in count (``--max-messages``) from the queue in peek-lock mode;
2. decode each message robustly: the body is a JSON array of rows in the API's shape, usually
   double-encoded (a JSON string holding the array); ``subject`` is the dataset code;
3. validate the rows with the dataset's schema (``frames.to_frame``, as API rows are), split by
   partition day; a message that cannot be decoded or fails validation is kept in the landing
   store's ``dead_letters`` and dead-lettered on the queue with the reason; it never blocks
   another message or dataset;
4. land the good messages in transactions bounded in bytes (``--max-batch-bytes``), durably,
   keyed by message id (``landing.py``), and only then complete them on the queue. A crash between
   landing and completing brings the message back; it is recognised as landed and completed.
   A landing failure abandons the message (redelivered later; Service Bus dead-letters it after
   its maximum delivery count).

A subject the registry does not know is landed as ``unknown_dataset`` and reported. Landed rows
reach the warehouse through the dataset assets (``iris_runs.py``).

The client secret is held in :class:`Secret`, whose text form is masked, and is never logged.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import orjson

from bmrs_assets.core.conform import to_frame
from bmrs_assets.core.settlement import LONDON
from bmrs_assets.core.tables import Kind
from bmrs_assets.elexon.datasets import IRIS_SUBJECTS, Dataset, IrisMode
from bmrs_assets.iris.landing import HELD, LANDED, UNKNOWN, LandedMessage, LandingStore, sha256
from bmrs_assets.settings import SETTINGS, is_set, setting

log = logging.getLogger("bmrs_assets.iris.consumer")

# Published by Elexon with the IRIS client samples; both overridable (BMRS_IRIS_NAMESPACE, BMRS_IRIS_TENANT_ID).
IRIS_NAMESPACE = SETTINGS["BMRS_IRIS_NAMESPACE"].default
IRIS_TENANT_ID = SETTINGS["BMRS_IRIS_TENANT_ID"].default
REASON_CHARS, DESCRIPTION_CHARS = 200, 1024


class Secret:
    """A credential whose ``str``/``repr`` never show it; ``reveal()`` is the only way in."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__


class ConfigError(ValueError):
    """The IRIS configuration is incomplete; the message names the variables, never their values."""


@dataclass(frozen=True)
class IrisConfig:
    client_id: str
    client_secret: Secret
    queue: str
    namespace: str = IRIS_NAMESPACE
    tenant_id: str = IRIS_TENANT_ID
    landing_path: str = ""

    @classmethod
    def from_env(cls) -> IrisConfig:
        missing = [n for n in ("BMRS_IRIS_CLIENT_ID", "BMRS_IRIS_CLIENT_SECRET", "BMRS_IRIS_QUEUE") if not is_set(n)]
        if missing:
            raise ConfigError(f"IRIS needs {', '.join(missing)} (from the IRIS registration page); not set")
        namespace = setting("BMRS_IRIS_NAMESPACE")
        if "." not in namespace:  # the bare namespace name as the IRIS page shows it
            namespace += ".servicebus.windows.net"
        return cls(client_id=setting("BMRS_IRIS_CLIENT_ID"), client_secret=Secret(setting("BMRS_IRIS_CLIENT_SECRET")),
                   queue=setting("BMRS_IRIS_QUEUE"), namespace=namespace, tenant_id=setting("BMRS_IRIS_TENANT_ID"),
                   landing_path=setting("BMRS_IRIS_LANDING_PATH"))

    def describe(self) -> str:
        return (f"queue {self.queue} on {self.namespace} (tenant {self.tenant_id}, client {self.client_id}, "
                f"secret {self.client_secret})")


def build_client(config: IrisConfig) -> Any:
    """``ServiceBusClient(namespace, ClientSecretCredential(tenant, client_id, secret))``; does not connect."""
    from azure.identity import ClientSecretCredential
    from azure.servicebus import ServiceBusClient

    credential = ClientSecretCredential(config.tenant_id, config.client_id, config.client_secret.reveal())
    return ServiceBusClient(config.namespace, credential)


def open_receiver(client: Any, config: IrisConfig, max_wait_s: float) -> Any:
    """A peek-lock receiver on the queue, no prefetch (messages are locked only when asked for)."""
    from azure.servicebus import ServiceBusReceiveMode

    return client.get_queue_receiver(config.queue, receive_mode=ServiceBusReceiveMode.PEEK_LOCK,
                                     max_wait_time=max_wait_s, prefetch_count=0)


class Receiver(Protocol):
    """The calls the consumer makes (a subset of ``azure.servicebus.ServiceBusReceiver``)."""

    def receive_messages(self, max_message_count: int | None = 1, max_wait_time: float | None = None) -> list[Any]: ...

    def complete_message(self, message: Any) -> None: ...

    def abandon_message(self, message: Any) -> None: ...

    def dead_letter_message(self, message: Any, reason: str | None = None, error_description: str | None = None) -> None: ...


# --- decoding -------------------------------------------------------------------------------
class Poison(ValueError):
    """A message that can never be landed as it is: dead-lettered with ``reason``."""

    def __init__(self, reason: str, description: str) -> None:
        super().__init__(f"{reason}: {description}")
        self.reason = reason
        self.description = description


def message_body(msg: Any) -> bytes:
    """The message's body as bytes, whether the SDK hands it over as bytes, str or chunks of bytes."""
    body = msg.body
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, list | dict | int | float) or body is None:  # an AMQP value body
        return orjson.dumps(body)
    return b"".join(bytes(part) if not isinstance(part, str) else part.encode("utf-8") for part in body)


def decode_rows(body: bytes) -> list[dict]:
    """The rows of an IRIS body: a JSON array, or a JSON string holding one (double-encoded)."""
    try:
        value: Any = orjson.loads(body.removeprefix(b"\xef\xbb\xbf"))
        for _ in range(2):  # double-encoded: the JSON text is itself a JSON string
            if isinstance(value, str):
                value = orjson.loads(value.strip().removeprefix("\ufeff"))
    except (orjson.JSONDecodeError, UnicodeDecodeError) as exc:
        raise Poison("undecodable", f"body is not JSON ({len(body)} bytes): {exc}; starts {body[:80]!r}") from None
    if isinstance(value, dict) and isinstance(value.get("data"), list):
        value = value["data"]  # tolerate the API's {"data": [...]} envelope
    if not isinstance(value, list):
        raise Poison("undecodable", f"body is JSON {type(value).__name__}, not an array of rows")
    bad = [i for i, row in enumerate(value) if not isinstance(row, dict)]
    if bad:
        raise Poison("undecodable", f"{len(bad)} element(s) are not JSON objects, first at index {bad[0]}: "
                                    f"{str(value[bad[0]])[:80]!r}")
    return value


def partition_day(ds: Dataset, row: dict) -> date:
    """The partition day of one raw row, from the registry's partition column."""
    value = row.get(ds.partition_column)
    if not isinstance(value, str):
        raise ValueError(f"{ds.partition_column} is {value!r}")
    if ds.partition_kind is Kind.DATE:
        return date.fromisoformat(value)
    instant = datetime.fromisoformat(value)
    if instant.tzinfo is None:
        raise ValueError(f"{ds.partition_column} {value!r} has no time zone")
    return instant.astimezone(LONDON).date()


def split_by_day(ds: Dataset, rows: list[dict]) -> dict[date, list[dict]]:
    days: dict[date, list[dict]] = {}
    for i, row in enumerate(rows):
        try:
            day = partition_day(ds, row)
        except ValueError as exc:
            raise Poison("invalid_rows", f"{ds.code} row {i}: no partition day: {exc}") from None
        days.setdefault(day, []).append(row)
    return days


# --- the consumer ---------------------------------------------------------------------------
@dataclass
class BatchStats:
    received: int = 0
    landed: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    unknown: int = 0
    held: int = 0
    abandoned: int = 0
    rows: int = 0
    bytes: int = 0
    seconds: float = 0.0
    outcomes: dict[str, str] = field(default_factory=dict)  # message id -> what happened

    def add(self, other: BatchStats) -> None:
        for name in ("received", "landed", "duplicates", "dead_lettered", "unknown", "held", "abandoned", "rows", "bytes"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.seconds += other.seconds
        self.outcomes.update(other.outcomes)


@dataclass
class _Item:
    msg: Any
    landed: LandedMessage
    ds: Dataset | None
    poison: Poison | None = None


def _enqueued(msg: Any) -> datetime | None:
    value = getattr(msg, "enqueued_time_utc", None)
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _message_id(msg: Any, body: bytes) -> str:
    value = getattr(msg, "message_id", None)
    if value:
        return str(value)
    seq = getattr(msg, "sequence_number", None)
    return f"sequence-{seq}" if seq is not None else f"sha256-{sha256(body)}"


class Consumer:
    """Receive -> decode -> validate -> land -> complete, one bounded batch at a time."""

    def __init__(self, receiver: Receiver, store: LandingStore, *, max_messages: int = 100,
                 max_batch_bytes: int = 32 * 1024 * 1024, max_wait_s: float = 5.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        if max_messages < 1 or max_batch_bytes < 1:
            raise ValueError("batches must allow at least one message and one byte")
        self.receiver = receiver
        self.store = store
        self.max_messages = max_messages
        self.max_batch_bytes = max_batch_bytes
        self.max_wait_s = max_wait_s
        self.clock = clock
        self._warned_fields: set[tuple[str, tuple[str, ...]]] = set()

    # one batch ------------------------------------------------------------------------------
    def process_batch(self) -> BatchStats:
        started = time.perf_counter()
        stats = BatchStats()
        messages = self.receiver.receive_messages(max_message_count=self.max_messages, max_wait_time=self.max_wait_s)
        stats.received = len(messages)
        if not messages:
            return stats
        items = [self._prepare(msg) for msg in messages]
        self._validate([it for it in items if it.poison is None and it.landed.status != UNKNOWN])
        good = []
        for it in items:
            if it.poison is not None:
                self._dead_letter(it, stats)
            else:
                good.append(it)
        for chunk in self._chunks(good):
            self._land_and_complete(chunk, stats)
        stats.seconds = time.perf_counter() - started
        log.info("IRIS batch: %d received, %d landed, %d already landed, %d dead-lettered, %d unknown dataset, "
                 "%d held, %d abandoned; %d rows, %d bytes in %.2f s", stats.received, stats.landed, stats.duplicates,
                 stats.dead_lettered, stats.unknown, stats.held, stats.abandoned, stats.rows, stats.bytes, stats.seconds)
        return stats

    def _prepare(self, msg: Any) -> _Item:
        body = b""
        try:
            body = message_body(msg)
            subject = getattr(msg, "subject", None)
            message_id = _message_id(msg, body)
            landed = LandedMessage(message_id=message_id, subject=subject, dataset=None, status=UNKNOWN, body=body,
                                   enqueued_utc=_enqueued(msg), delivery_count=getattr(msg, "delivery_count", None))
            if not subject:
                return _Item(msg, landed, None, Poison("no_subject", "the message has no subject (dataset code)"))
            rows = decode_rows(body)
            ds = IRIS_SUBJECTS.get(str(subject).strip().upper())
            if ds is None:
                landed.note = f"{len(rows)} rows of dataset {subject!r}, which the registry does not know"
                return _Item(msg, landed, None)
            landed.dataset = ds.code
            if ds.iris is IrisMode.RAW:
                landed.status, landed.note = HELD, f"{len(rows)} rows kept as sent ({ds.code} iris='raw')"
                return _Item(msg, landed, ds)
            landed.status = LANDED if ds.iris is IrisMode.MERGE else HELD
            landed.days = split_by_day(ds, rows)
            known = set(ds.column_names)
            landed.unknown_fields = sorted({k for row in rows for k in row} - known)
            return _Item(msg, landed, ds)
        except Poison as poison:
            landed = LandedMessage(message_id=_message_id(msg, body), subject=getattr(msg, "subject", None), dataset=None,
                                   status=UNKNOWN, body=body, enqueued_utc=_enqueued(msg),
                                   delivery_count=getattr(msg, "delivery_count", None))
            return _Item(msg, landed, None, poison)

    def _validate(self, items: list[_Item]) -> None:
        """Type and validate rows per (dataset, day) group; a failing group is re-checked message by message."""
        groups: dict[tuple[str, date], list[_Item]] = {}
        for it in items:
            if it.ds is None or it.ds.iris is IrisMode.RAW:
                continue
            for day in it.landed.days:
                groups.setdefault((it.ds.code, day), []).append(it)
        now = self.clock()
        for (_code, day), members in groups.items():
            ds = members[0].ds
            assert ds is not None
            if self._check(ds, day, [r for it in members for r in it.landed.days[day]], now) is None:
                continue
            for it in members:
                if it.poison is None:
                    problem = self._check(ds, day, list(it.landed.days[day]), now)
                    if problem is not None:
                        it.poison = Poison("schema_validation", problem)
        for it in items:
            if it.poison is None and it.landed.unknown_fields and it.ds is not None:
                key = (it.ds.code, tuple(it.landed.unknown_fields))
                if key not in self._warned_fields:
                    self._warned_fields.add(key)
                    log.warning("IRIS %s sent fields the registry does not know, kept in _extra: %s",
                                it.ds.code, it.landed.unknown_fields)

    @staticmethod
    def _check(ds: Dataset, day: date, rows: list[dict], now: datetime) -> str | None:
        try:
            to_frame(ds, day, rows, ingested_utc=now, source="IRIS")
        except Exception as exc:  # FrameError, ValidationFailure, or anything the typing trips over
            return str(exc)
        return None

    def _chunks(self, items: list[_Item]) -> Iterable[list[_Item]]:
        chunk: list[_Item] = []
        size = 0
        for it in items:
            n = len(it.landed.body)
            if chunk and size + n > self.max_batch_bytes:
                yield chunk
                chunk, size = [], 0
            chunk.append(it)
            size += n
        if chunk:
            yield chunk

    def _land_and_complete(self, chunk: list[_Item], stats: BatchStats) -> None:
        try:
            outcomes = self.store.land([it.landed for it in chunk])
        except Exception as exc:
            log.error("IRIS landing failed for %d message(s), abandoning them for redelivery: %s", len(chunk), exc)
            for it in chunk:
                self._settle(self.receiver.abandon_message, it)
                stats.abandoned += 1
                stats.outcomes[it.landed.message_id] = "abandoned"
            return
        for it, outcome in zip(chunk, outcomes, strict=True):
            m = it.landed
            if outcome == "duplicate":
                stats.duplicates += 1
                log.info("IRIS %s was landed before (redelivery): completing it", m.message_id)
            elif m.status == UNKNOWN:
                stats.unknown += 1
                log.warning("IRIS %s: subject %r is not a registered dataset; landed as unknown_dataset, not merged",
                            m.message_id, m.subject)
            elif m.status == HELD:
                stats.held += 1
            else:
                stats.landed += 1
            if outcome == "renamed":
                log.warning("IRIS %s was landed before with a different body; this one is kept beside it", m.message_id)
            stats.rows += m.row_count
            stats.bytes += len(m.body)
            stats.outcomes[m.message_id] = outcome if outcome == "duplicate" else m.status
            self._settle(self.receiver.complete_message, it)

    def _dead_letter(self, it: _Item, stats: BatchStats) -> None:
        m, poison = it.landed, it.poison
        assert poison is not None
        log.error("IRIS %s (%s): dead-lettered: %s", m.message_id, m.subject, poison.description[:DESCRIPTION_CHARS])
        try:
            self.store.record_dead_letter(m.message_id, m.subject, m.body, poison.reason, poison.description,
                                          m.enqueued_utc, m.delivery_count)
        except Exception as exc:  # cannot keep a copy: leave it on the queue rather than lose it
            log.error("IRIS %s: could not record the dead letter (%s); abandoning it", m.message_id, exc)
            self._settle(self.receiver.abandon_message, it)
            stats.abandoned += 1
            stats.outcomes[m.message_id] = "abandoned"
            return
        self._settle(lambda msg: self.receiver.dead_letter_message(
            msg, reason=poison.reason[:REASON_CHARS], error_description=poison.description[:DESCRIPTION_CHARS]), it)
        stats.dead_lettered += 1
        stats.outcomes[m.message_id] = "dead_lettered"

    @staticmethod
    def _settle(action: Callable[[Any], None], it: _Item) -> None:
        """Complete / abandon / dead-letter; a lost lock only means the message comes back (and is recognised)."""
        try:
            action(it.msg)
        except Exception as exc:
            log.warning("IRIS %s: settling the message failed (%s: %s); it will be redelivered",
                        it.landed.message_id, type(exc).__name__, exc)

    # the loop ------------------------------------------------------------------------------
    def run(self, stop: threading.Event, idle_sleep_s: float = 0.0) -> BatchStats:
        """Process batches until ``stop`` is set; returns the totals."""
        total = BatchStats()
        while not stop.is_set():
            stats = self.process_batch()
            total.add(stats)
            if not stats.received and idle_sleep_s:
                stop.wait(idle_sleep_s)
        return total


def run_forever(config: IrisConfig, stop: threading.Event, *, max_messages: int, max_batch_bytes: int,
                max_wait_s: float, retention: timedelta, client_factory: Callable[[IrisConfig], Any] = build_client) -> None:
    """The long-lived process: (re)connect with backoff, consume, prune merged messages hourly."""
    store = LandingStore(Path(config.landing_path))
    backoff = 1.0
    last_prune = 0.0
    log.info("IRIS consumer: %s; landing store %s", config.describe(), store.path)
    while not stop.is_set():
        try:
            with client_factory(config) as client, open_receiver(client, config, max_wait_s) as receiver:
                consumer = Consumer(receiver, store, max_messages=max_messages, max_batch_bytes=max_batch_bytes,
                                    max_wait_s=max_wait_s)
                while not stop.is_set():
                    consumer.process_batch()
                    backoff = 1.0
                    if time.monotonic() - last_prune > 3600:
                        last_prune = time.monotonic()
                        pruned = store.prune(retention)
                        if pruned:
                            log.info("IRIS: pruned %d merged message(s) older than %s", pruned, retention)
        except Exception as exc:
            log.error("IRIS connection failed (%s: %s); reconnecting in %.0f s", type(exc).__name__, exc, backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, 300.0)


def install_signal_handlers(stop: threading.Event) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
