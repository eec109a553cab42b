"""Run-failure alerts: one message per failed run, one "resolved" when its partitions succeed later.

The ``bmrs_alerts`` sensor (:mod:`bmrs_assets.monitoring.alerts`) judges the data; a run can fail
without the data ever looking wrong to it (a revenue asset, the dashboard, an IRIS merge run,
today's partition). The ``bmrs_run_failures`` sensor (on by default, every minute;
:mod:`bmrs_assets.defs.monitoring.run_failures`) reads every run that finished since its last tick,
in the order they finished, and:

* a **failed** run is posted once to the same webhook (``BMRS_ALERT_WEBHOOK_URL``) as the other
  alerts: the assets that did not materialize, the partition(s) (the ``dagster/partition`` tag or
  the ``dagster/asset_partition_range_start``/``_end`` tags), the failed step(s), the error's first
  line, the job and the run id;
* a later **successful** run whose partitions cover a reported failure's partitions takes the
  assets it materialized off that failure (a job without assets must be the same job); when no
  asset is left, one "resolved" message is posted.

The cursor (JSON) holds the time of the last finished run read and the failures still open, so a
tick never repeats a message. A failed POST keeps the message pending in the cursor and the next
tick retries it. On the very first tick (no cursor) the sensor looks back
``BMRS_ALERT_LOOKBACK_DAYS`` and reports only the failures not already resolved by a later run.
Every text goes through :func:`~bmrs_assets.monitoring.alerts.redact`: the webhook URL never
appears in a message, a log line or the cursor.

Partition keys compare as text (daily keys are ISO days, so a range covers a day as expected).
This module imports no Dagster: the sensor turns each run record into a :class:`RunFacts`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from bmrs_assets.core.settlement import UTC
from bmrs_assets.monitoring.alerts import WEBHOOK_ENV, Delivery, TickResult, message, post_webhook, redact

PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
SOURCE_TAG = "bmrs/source"
CURSOR_VERSION = 1
WRAPPER_ERRORS = {"DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError"}
MAX_ERROR_CHARS = 300


def partitions_from_tags(tags: dict[str, str]) -> tuple[str, str] | None:
    """``(first, last)`` partition keys of a run from its tags; None for an unpartitioned run."""
    if tags.get(PARTITION_TAG):
        return tags[PARTITION_TAG], tags[PARTITION_TAG]
    start, end = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    if start:
        return start, end or start
    return None


def error_first_line(cls_name: str | None, text: str | None) -> str:
    """``Cls: first line`` of an error, the module path of ``Cls`` dropped, at most 300 characters."""
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    line = lines[0] if lines else ""
    if cls_name:
        head, sep, rest = line.partition(": ")
        if sep and head.rsplit(".", 1)[-1] == cls_name:
            line = rest
        line = f"{cls_name}: {line}" if line else cls_name
    line = line or "unknown error"
    return line if len(line) <= MAX_ERROR_CHARS else line[:MAX_ERROR_CHARS - 3] + "..."


@dataclass(frozen=True)
class RunFacts:
    """What the sensor needs to know about one finished run."""

    run_id: str
    job: str
    status: str  # "FAILURE" | "SUCCESS"
    finished: float  # the run record's update timestamp (epoch seconds)
    assets: tuple[str, ...] = ()  # failure: assets not materialized; success: assets materialized
    partitions: tuple[str, str] | None = None
    steps: tuple[str, ...] = ()  # failed steps
    error: str = ""  # the error's first line
    source: str | None = None  # the bmrs/source tag (e.g. "iris")


@dataclass(frozen=True)
class OpenFailure:
    """A failed run the cursor remembers: reported (or still to report) and not yet resolved."""

    run_id: str
    job: str
    assets: tuple[str, ...]  # the assets the run failed to materialize
    partitions: tuple[str, str] | None
    text: str  # the failure message's text, redacted
    since: str  # when the run failed (ISO, UTC)
    state: str = "pending"  # "pending" (not delivered yet) | "open" | "resolved" (resolution not delivered)
    resolved_by: str | None = None
    remaining: tuple[str, ...] | None = None  # assets not yet re-materialized (None: all of ``assets``)

    def to_json(self) -> dict:
        return {"run": self.run_id, "job": self.job, "assets": list(self.assets),
                "partitions": list(self.partitions) if self.partitions else None, "text": self.text,
                "since": self.since, "state": self.state, "resolved_by": self.resolved_by,
                "remaining": list(self.remaining) if self.remaining is not None else None}

    @classmethod
    def from_json(cls, d: dict) -> OpenFailure:
        parts = d.get("partitions")
        return cls(d["run"], d["job"], tuple(d.get("assets") or ()), (parts[0], parts[1]) if parts else None,
                   d["text"], d["since"], d.get("state", "open"), d.get("resolved_by"),
                   tuple(d["remaining"]) if d.get("remaining") is not None else None)


@dataclass
class Cursor:
    after: float | None = None  # update timestamp of the last finished run read
    open: list[OpenFailure] = field(default_factory=list)


def load_cursor(cursor: str | None) -> Cursor:
    if not cursor:
        return Cursor()
    data = json.loads(cursor)
    return Cursor(data.get("after"), [OpenFailure.from_json(d) for d in data.get("open", [])])


def dump_cursor(c: Cursor) -> str:
    return json.dumps({"v": CURSOR_VERSION, "after": c.after, "open": [f.to_json() for f in c.open]},
                      separators=(",", ":"))


def span(partitions: tuple[str, str] | None) -> str:
    if partitions is None:
        return "(unpartitioned)"
    first, last = partitions
    return first if first == last else f"{first}...{last}"


def what(assets: Iterable[str], job: str) -> str:
    assets = list(assets)
    return ", ".join(assets) if assets else f"job {job}"


def failure_text(run: RunFacts) -> str:
    """The one line of a failed run, without the ``[BMRS FAIL]`` prefix."""
    steps = run.steps[0] + (f" (+{len(run.steps) - 1} more)" if len(run.steps) > 1 else "") if run.steps else "(none)"
    source = f", source {run.source}" if run.source else ""
    return (f"run failure: {what(run.assets, run.job)} {span(run.partitions)} failed in step {steps}: {run.error} "
            f"(job {run.job}{source}, run {run.run_id[:8]})")


def resolved_text(f: OpenFailure) -> str:
    return (f"run failure resolved: {what(f.assets, f.job)} {span(f.partitions)} succeeded in run "
            f"{(f.resolved_by or '')[:8]} (failed run {f.run_id[:8]}, first reported {f.since})")


def covers(outer: tuple[str, str] | None, inner: tuple[str, str] | None) -> bool:
    """Whether a run over ``outer`` partitions re-did all of ``inner``."""
    if outer is None or inner is None:
        return outer is None and inner is None
    return outer[0] <= inner[0] and inner[1] <= outer[1]


def apply_success(f: OpenFailure, run: RunFacts) -> OpenFailure:
    """``f`` after the successful ``run``: fewer failed assets, or resolved, or unchanged."""
    if f.resolved_by or not covers(run.partitions, f.partitions):
        return f
    if not f.assets:  # a job without assets: the same job must succeed
        return replace(f, state="resolved", resolved_by=run.run_id) if run.job == f.job else f
    before = f.assets if f.remaining is None else f.remaining
    left = tuple(a for a in before if a not in run.assets)
    if left == before:
        return f
    return replace(f, remaining=left) if left else replace(f, state="resolved", resolved_by=run.run_id)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def advance(cursor: Cursor, runs: Iterable[RunFacts], url: str | None, first_tick: bool) -> Cursor:
    """The cursor after reading ``runs`` (in the order they finished): new failures pending, matches resolved.

    On the first tick (no cursor) a failure already resolved by a later run of the batch is dropped:
    it is history, not news. Otherwise a failure resolved before its message went out keeps both
    messages (failed, then resolved), so every failure is told once.
    """
    opened = list(cursor.open)
    after = cursor.after
    for run in runs:
        after = max(after or run.finished, run.finished)
        if run.status == "FAILURE":
            if not any(f.run_id == run.run_id for f in opened):
                opened.append(OpenFailure(run.run_id, run.job, run.assets, run.partitions,
                                          redact(failure_text(run), url), iso(run.finished)))
        elif run.status == "SUCCESS":
            nxt = []
            for f in opened:
                if f.resolved_by:
                    nxt.append(f)
                    continue
                g = apply_success(f, run)
                if g.resolved_by and f.state == "pending":
                    if first_tick:
                        continue
                    g = replace(g, state="pending")
                nxt.append(g)
            opened = nxt
    return Cursor(after, opened)


def run_tick(cursor: str | None, runs: Iterable[RunFacts], log: Callable[[str, str], None], url: str | None,
             post: Callable[[str, dict], str | None] = post_webhook) -> TickResult:
    """Read ``runs``, deliver what is pending and compute the next cursor (same rules as the data alerts).

    ``log(level, text)``; ``post(url, payload) -> error``. After one failed POST the rest wait for the
    next tick; what was not delivered stays in the cursor and is retried then."""
    state = advance(load_cursor(cursor), runs, url, cursor is None)
    counts = {"failed": 0, "resolved": 0}
    delivery = Delivery(url, log, post)

    def deliver(payload: dict, level: str) -> bool:
        return delivery({"text": redact(payload["text"], url)}, level)  # a run's error text may hold a secret

    kept: list[OpenFailure] = []
    for f in state.open:
        if f.state == "pending":
            if not deliver(message("new", "fail", f.text), "warning"):
                kept.append(f)
                continue
            counts["failed"] += 1
            f = replace(f, state="resolved" if f.resolved_by else "open")
        if f.state == "resolved":
            if deliver(message("resolved", "pass", resolved_text(f)), "info"):
                counts["resolved"] += 1
                continue
        kept.append(f)
    still = sum(1 for f in kept if f.state == "open")
    summary = (f"{counts['failed']} failed runs reported, {counts['resolved']} resolved, {still} still open; "
               f"{len(delivery.failed)} not delivered" + ("" if url else f" ({WEBHOOK_ENV} not set: logged only)"))
    return TickResult(dump_cursor(Cursor(state.after, kept)), delivery.sent, delivery.failed, summary)
