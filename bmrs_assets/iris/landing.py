"""The IRIS landing store: every message, durably, keyed by its message id, before it is acknowledged.

A SQLite file (``BMRS_IRIS_LANDING_PATH``, default ``data/iris_landing.sqlite``), deliberately not
the DuckDB warehouse: DuckDB allows one writing process per file, and the consumer must keep
landing while Dagster runs MERGE. SQLite in WAL mode lets the consumer write, the sensor read and
the runs mark messages merged, from different processes at once; ``synchronous=FULL`` makes every
commit durable (the WAL is fsynced) before :meth:`LandingStore.land` returns, and only then does
the consumer complete the message on the queue.

Tables:

* ``messages``: one row per message id: subject, dataset (NULL when the registry does not know the
  subject), status (``landed`` rows go to the warehouse; ``held`` are kept but not merged, see
  ``Dataset.iris``; ``unknown_dataset``), enqueue / land / merge times, delivery count, body hash
  and size, unknown fields, and the raw body (zlib) for messages that are not split into rows;
* ``message_days``: the message's rows split by partition day (zlib JSON, exactly as received),
  with their state ``pending`` -> ``merged`` (or ``held``) and the run that merged them;
* ``dead_letters``: every message dead-lettered, with the reason and its raw body, so nothing is
  lost even when the queue's dead-letter copy expires.

A redelivered message id is recognised (insert-if-absent) and not landed twice; a different body
under an id already landed is landed under ``<id>@<body hash>``, never dropped.
"""

from __future__ import annotations

import hashlib
import sqlite3
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson

PENDING, MERGED, HELD = "pending", "merged", "held"
LANDED, UNKNOWN = "landed", "unknown_dataset"

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id     TEXT NOT NULL UNIQUE,
    subject        TEXT,
    dataset        TEXT,
    status         TEXT NOT NULL,
    enqueued_utc   TEXT,
    landed_utc     TEXT NOT NULL,
    delivery_count INTEGER,
    body_sha256    TEXT NOT NULL,
    body_bytes     INTEGER NOT NULL,
    row_count      INTEGER NOT NULL,
    unknown_fields TEXT,
    note           TEXT,
    raw            BLOB
);
CREATE TABLE IF NOT EXISTS message_days (
    message_id  TEXT NOT NULL,
    dataset     TEXT NOT NULL,
    day         TEXT NOT NULL,
    state       TEXT NOT NULL,
    row_count   INTEGER NOT NULL,
    rows        BLOB NOT NULL,
    merged_utc  TEXT,
    merge_run   TEXT,
    PRIMARY KEY (message_id, day)
);
CREATE INDEX IF NOT EXISTS message_days_by_partition ON message_days (dataset, day, state);
CREATE TABLE IF NOT EXISTS dead_letters (
    message_id     TEXT NOT NULL,
    body_sha256    TEXT NOT NULL,
    subject        TEXT,
    reason         TEXT NOT NULL,
    description    TEXT NOT NULL,
    enqueued_utc   TEXT,
    dead_utc       TEXT NOT NULL,
    delivery_count INTEGER,
    body_bytes     INTEGER NOT NULL,
    raw            BLOB NOT NULL,
    PRIMARY KEY (message_id, body_sha256)
);
"""


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat(timespec="microseconds")


def parse_iso(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def now_utc() -> datetime:
    return datetime.now(UTC)


def sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def pack(rows: list[dict]) -> bytes:
    return zlib.compress(orjson.dumps(rows), 3)


def unpack(blob: bytes) -> list[dict]:
    return orjson.loads(zlib.decompress(blob))


@dataclass
class LandedMessage:
    """What the consumer lands for one message (decoded, validated, split by partition day)."""

    message_id: str
    subject: str | None
    dataset: str | None
    status: str  # LANDED, HELD or UNKNOWN
    body: bytes
    enqueued_utc: datetime | None = None
    delivery_count: int | None = None
    days: dict[date, list[dict]] = field(default_factory=dict)
    unknown_fields: list[str] = field(default_factory=list)
    note: str | None = None

    @property
    def row_count(self) -> int:
        return sum(len(r) for r in self.days.values())


@dataclass(frozen=True)
class PendingPartition:
    """Landed rows of one (dataset, day) not yet merged into the warehouse."""

    dataset: str
    day: date
    messages: int
    rows: int
    max_seq: int
    oldest_landed_utc: datetime


@dataclass
class DayRows:
    """Every landed row of one (dataset, day), oldest message first, and the messages still pending."""

    rows: list[dict]
    messages: int
    pending_ids: list[str]


class LandingStore:
    """See the module docstring. Connections are short-lived and per call, so any process may use it."""

    def __init__(self, path: str | Path, busy_timeout_s: float = 60.0) -> None:
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self._ready = False

    # -- plumbing --------------------------------------------------------------------------
    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=FULL")  # the WAL is fsynced at every commit
            if not self._ready:
                con.executescript(SCHEMA)
                self._ready = True
            yield con
        finally:
            con.close()

    def _commit(self, con: sqlite3.Connection) -> None:
        con.execute("COMMIT")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
                self._commit(con)
            except BaseException:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                raise

    def exists(self) -> bool:
        return self.path.exists()

    # -- consumer side ---------------------------------------------------------------------
    def land(self, messages: Iterable[LandedMessage]) -> list[str]:
        """Land messages in one transaction, committed durably before returning.

        Returns one outcome per message: ``landed``, ``duplicate`` (this id and body were landed
        before: a redelivery) or ``renamed`` (same id, different body: landed as ``<id>@<hash>``).
        """
        outcomes = []
        now = iso(now_utc())
        with self._transaction() as con:
            for m in messages:
                digest = sha256(m.body)
                message_id = m.message_id
                found = con.execute("SELECT body_sha256 FROM messages WHERE message_id = ?", [message_id]).fetchone()
                outcome = "landed"
                if found is not None:
                    if found[0] == digest:
                        outcomes.append("duplicate")
                        continue
                    message_id = f"{m.message_id}@{digest[:16]}"
                    outcome = "renamed"
                    if con.execute("SELECT 1 FROM messages WHERE message_id = ?", [message_id]).fetchone():
                        outcomes.append("duplicate")
                        continue
                keep_raw = m.status != LANDED or not m.days
                con.execute(
                    "INSERT INTO messages (message_id, subject, dataset, status, enqueued_utc, landed_utc, delivery_count,"
                    " body_sha256, body_bytes, row_count, unknown_fields, note, raw) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    [message_id, m.subject, m.dataset, m.status, iso(m.enqueued_utc), now, m.delivery_count, digest,
                     len(m.body), m.row_count, ",".join(m.unknown_fields) or None, m.note,
                     zlib.compress(m.body, 3) if keep_raw else None])
                state = PENDING if m.status == LANDED else HELD
                con.executemany(
                    "INSERT INTO message_days (message_id, dataset, day, state, row_count, rows) VALUES (?,?,?,?,?,?)",
                    [(message_id, m.dataset, d.isoformat(), state, len(rows), pack(rows)) for d, rows in sorted(m.days.items())])
                outcomes.append(outcome)
        return outcomes

    def record_dead_letter(self, message_id: str, subject: str | None, body: bytes, reason: str, description: str,
                           enqueued_utc: datetime | None, delivery_count: int | None) -> bool:
        """Keep a dead-lettered message (and why); False if this id and body were recorded before."""
        with self._transaction() as con:
            cur = con.execute(
                "INSERT OR IGNORE INTO dead_letters (message_id, body_sha256, subject, reason, description, enqueued_utc,"
                " dead_utc, delivery_count, body_bytes, raw) VALUES (?,?,?,?,?,?,?,?,?,?)",
                [message_id, sha256(body), subject, reason, description, iso(enqueued_utc), iso(now_utc()),
                 delivery_count, len(body), zlib.compress(body, 3)])
            return cur.rowcount == 1

    # -- sensor side -----------------------------------------------------------------------
    def pending_partitions(self) -> list[PendingPartition]:
        """(dataset, day) pairs with landed rows not merged yet, oldest landing first."""
        if not self.exists():
            return []
        with self._connect() as con:
            rows = con.execute(
                "SELECT d.dataset, d.day, count(*), sum(d.row_count), max(m.seq), min(m.landed_utc) "
                "FROM message_days d JOIN messages m USING (message_id) WHERE d.state = ? "
                "GROUP BY d.dataset, d.day ORDER BY min(m.seq)", [PENDING]).fetchall()
        return [PendingPartition(ds, date.fromisoformat(d), n, r, s, parse_iso(t)) for ds, d, n, r, s, t in rows]

    # -- run side --------------------------------------------------------------------------
    def day_rows(self, dataset: str, day: date) -> DayRows:
        """Every landed row of (dataset, day), pending or already merged, in landing order.

        All of them, not only the pending ones, so that within the MERGE's batch the latest revision
        of a key wins exactly as it does for an API fetch of the whole day.
        """
        rows: list[dict] = []
        pending: list[str] = []
        n = 0
        if not self.exists():
            return DayRows(rows, 0, pending)
        with self._connect() as con:
            cur = con.execute(
                "SELECT d.message_id, d.state, d.rows FROM message_days d JOIN messages m USING (message_id) "
                "WHERE d.dataset = ? AND d.day = ? AND d.state IN (?, ?) ORDER BY m.enqueued_utc, m.seq",
                [dataset, day.isoformat(), PENDING, MERGED])
            for message_id, state, blob in cur:
                rows.extend(unpack(blob))
                n += 1
                if state == PENDING:
                    pending.append(message_id)
        return DayRows(rows, n, pending)

    def mark_merged(self, dataset: str, day: date, message_ids: list[str], run_id: str | None) -> int:
        """After the MERGE committed: these messages' rows of (dataset, day) are in the warehouse."""
        if not message_ids:
            return 0
        stamp = iso(now_utc())
        with self._transaction() as con:
            done = 0
            for i in range(0, len(message_ids), 500):
                chunk = message_ids[i:i + 500]
                cur = con.execute(
                    f"UPDATE message_days SET state = ?, merged_utc = ?, merge_run = ? WHERE dataset = ? AND day = ? "
                    f"AND state = ? AND message_id IN ({','.join('?' * len(chunk))})",
                    [MERGED, stamp, run_id, dataset, day.isoformat(), PENDING, *chunk])
                done += cur.rowcount
            return done

    # -- reporting and housekeeping --------------------------------------------------------
    def summary(self) -> dict[str, object]:
        """Counts for logs, the sensor and ``python -m bmrs_assets iris --status``."""
        out: dict[str, object] = {"messages": {}, "partitions": {}, "unknown_datasets": {}, "dead_letters": 0}
        if not self.exists():
            return out
        with self._connect() as con:
            out["messages"] = dict(con.execute("SELECT status, count(*) FROM messages GROUP BY 1").fetchall())
            out["partitions"] = dict(con.execute("SELECT state, count(*) FROM message_days GROUP BY 1").fetchall())
            out["unknown_datasets"] = dict(con.execute(
                "SELECT subject, count(*) FROM messages WHERE status = ? GROUP BY 1 ORDER BY 1", [UNKNOWN]).fetchall())
            out["held"] = dict(con.execute(
                "SELECT dataset, count(*) FROM messages WHERE status = 'held' GROUP BY 1 ORDER BY 1").fetchall())
            out["dead_letters"] = con.execute("SELECT count(*) FROM dead_letters").fetchone()[0]
            out["dead_letter_reasons"] = dict(con.execute(
                "SELECT reason, count(*) FROM dead_letters GROUP BY 1 ORDER BY 1").fetchall())
        return out

    def message_ids(self) -> list[str]:
        if not self.exists():
            return []
        with self._connect() as con:
            return [r[0] for r in con.execute("SELECT message_id FROM messages ORDER BY seq")]

    def latencies(self) -> list[tuple[str, datetime | None, datetime, datetime | None]]:
        """(message id, enqueued, landed, merged) for every landed message; merged = its last day merged."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT m.message_id, m.enqueued_utc, m.landed_utc, "
                "CASE WHEN sum(d.state = 'merged') = count(*) THEN max(d.merged_utc) END "
                "FROM messages m JOIN message_days d USING (message_id) GROUP BY m.seq ORDER BY m.seq").fetchall()
        return [(i, parse_iso(e), parse_iso(ld), parse_iso(md)) for i, e, ld, md in rows]

    def prune(self, older_than: timedelta) -> int:
        """Delete messages whose every day was merged more than ``older_than`` ago. Never unmerged ones."""
        cutoff = iso(now_utc() - older_than)
        with self._transaction() as con:
            ids = [r[0] for r in con.execute(
                "SELECT message_id FROM message_days GROUP BY message_id "
                "HAVING sum(state != 'merged') = 0 AND max(merged_utc) < ?", [cutoff])]
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                marks = ",".join("?" * len(chunk))
                con.execute(f"DELETE FROM message_days WHERE message_id IN ({marks})", chunk)
                con.execute(f"DELETE FROM messages WHERE message_id IN ({marks})", chunk)
            return len(ids)

