"""An in-process stand-in for an IRIS Service Bus queue, and IRIS-format messages from the simulator.

``FakeQueue`` keeps Service Bus's peek-lock rules: a received message is locked until it is
completed, abandoned or dead-lettered; a crash of the consumer (``crash()``) lets every lock lapse
and the messages come back with a higher delivery count; settling a message whose lock has lapsed
raises; after ``max_delivery_count`` deliveries an abandoned message goes to the dead-letter queue.
``FakeReceiver`` implements exactly the calls the consumer makes.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from bmrs_assets.elexon.datasets import REGISTRY
from bmrs_assets.simulator.data import GENERATORS, SimState


class SimulatedCrash(BaseException):  # not an Exception: the consumer must not catch it
    """The consumer process dies here (nothing after this point runs)."""


class MessageLockLost(Exception):
    """Settling a message whose lock is gone (as ``azure.servicebus.exceptions.MessageLockLostError``)."""


@dataclass
class FakeMessage:
    message_id: str
    subject: str | None
    payload: bytes | str
    enqueued_time_utc: datetime
    sequence_number: int
    delivery_count: int = 0
    lock_token: int = 0

    @property
    def body(self):
        """Like the SDK: a data body is handed over as an iterator of byte chunks."""
        if isinstance(self.payload, str):
            return self.payload
        return iter([self.payload[i:i + 65536] for i in range(0, len(self.payload), 65536)] or [b""])


@dataclass
class FakeQueue:
    max_delivery_count: int = 10
    available: list[FakeMessage] = field(default_factory=list)
    locked: dict[int, FakeMessage] = field(default_factory=dict)
    completed: list[str] = field(default_factory=list)
    dead_letters: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    abandoned: list[str] = field(default_factory=list)
    receives: list[int] = field(default_factory=list)  # how many messages each receive call returned
    faults: dict[str, Callable[[FakeMessage], None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._cond = threading.Condition()
        self._seq = itertools.count(1)
        self._token = itertools.count(1)

    def send(self, message_id: str, subject: str | None, payload: bytes | str, enqueued: datetime | None = None) -> None:
        with self._cond:
            self.available.append(FakeMessage(message_id, subject, payload, enqueued or datetime.now(UTC), next(self._seq)))
            self._cond.notify_all()

    def receiver(self) -> FakeReceiver:
        return FakeReceiver(self)

    def crash(self) -> None:
        """The consumer died: every lock lapses and the locked messages are delivered again."""
        with self._cond:
            self.available.extend(self.locked.values())
            self.available.sort(key=lambda m: m.sequence_number)
            self.locked.clear()
            self._cond.notify_all()

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self.available) + len(self.locked)

    def _take(self, msg: FakeMessage, action: str) -> FakeMessage:
        fault = self.faults.get(action)
        if fault is not None:
            fault(msg)
        found = self.locked.pop(msg.lock_token, None)
        if found is None:
            raise MessageLockLost(f"the lock on {msg.message_id} was lost")
        return found


class FakeReceiver:
    """receive / complete / abandon / dead-letter, as the consumer calls them on a ServiceBusReceiver."""

    def __init__(self, queue: FakeQueue) -> None:
        self.queue = queue

    def __enter__(self) -> FakeReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def receive_messages(self, max_message_count: int | None = 1, max_wait_time: float | None = None) -> list[FakeMessage]:
        q = self.queue
        with q._cond:
            if not q.available and max_wait_time:
                q._cond.wait_for(lambda: bool(q.available), timeout=max_wait_time)
            batch = q.available[:max_message_count or 1]
            del q.available[:len(batch)]
            out = []
            for m in batch:
                m.delivery_count += 1
                m.lock_token = next(q._token)
                q.locked[m.lock_token] = m
                out.append(FakeMessage(m.message_id, m.subject, m.payload, m.enqueued_time_utc, m.sequence_number,
                                       m.delivery_count, m.lock_token))
            q.receives.append(len(out))
        fault = q.faults.get("receive")
        if fault is not None and out:
            fault(out[0])
        return out

    def complete_message(self, message: FakeMessage) -> None:
        with self.queue._cond:
            self.queue._take(message, "complete")
            self.queue.completed.append(message.message_id)
        fault = self.queue.faults.get("after_complete")
        if fault is not None:
            fault(message)

    def abandon_message(self, message: FakeMessage) -> None:
        q = self.queue
        with q._cond:
            m = q._take(message, "abandon")
            q.abandoned.append(m.message_id)
            if m.delivery_count >= q.max_delivery_count:
                q.dead_letters.append((m.message_id, "MaxDeliveryCountExceeded", None))
            else:
                q.available.append(m)
                q.available.sort(key=lambda x: x.sequence_number)
                q._cond.notify_all()

    def dead_letter_message(self, message: FakeMessage, reason: str | None = None, error_description: str | None = None) -> None:
        with self.queue._cond:
            self.queue._take(message, "dead_letter")
            self.queue.dead_letters.append((message.message_id, reason, error_description))


# --- IRIS-format messages from the simulator -------------------------------------------------
@dataclass
class IrisFile:
    message_id: str
    subject: str
    body: bytes
    rows: list[dict]


def encode(rows: list[dict], double: bool = True) -> bytes:
    """An IRIS body: the JSON array, usually double-encoded (a JSON string holding it)."""
    text = json.dumps(rows)
    return json.dumps(text).encode() if double else text.encode()


def iris_files(code: str, day: date, rows_per_message: int, *, double: bool | None = None,
               rows: list[dict] | None = None) -> list[IrisFile]:
    """One day of ``code`` from the simulator, split into messages as IRIS publishes them (per file).

    ``double=None`` alternates double-encoded and plain bodies.
    """
    ds = REGISTRY.get(code.split("/")[0])
    subject = (ds.iris_subject or ds.code) if ds else code
    rows = rows if rows is not None else GENERATORS[code].make(day, SimState())
    out = []
    for n, i in enumerate(range(0, len(rows), rows_per_message)):
        chunk = rows[i:i + rows_per_message]
        enc = double if double is not None else n % 2 == 0
        out.append(IrisFile(f"{subject}_{day:%Y%m%d}_{n:05d}.json", subject, encode(chunk, enc), chunk))
    return out
