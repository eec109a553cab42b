"""Alerts: tell someone, once, when data goes missing or stale, and again when it is back.

The old system lost 44 days of BOALF and nobody was told. Here a sensor (``bmrs_alerts``, on by
default, every minute; :mod:`bmrs_assets.defs.monitoring.alerts`) works out the current set of
*problems*:

* **freshness**: a dataset whose latest partition days (today and yesterday for real-time feeds, the
  newest settlement day due for settlement-run feeds) are not recent enough for its registry
  ``Freshness`` rule or failed a blocking check (``warn`` or ``fail``, from
  :func:`bmrs_assets.quality.freshness.freshness_status`: the verdict the ``fresh_latest_partitions``
  check shows in the UI);
* **gap**: a contiguous run of days that are not complete (missing, partial or failed, from
  :func:`bmrs_assets.defs.quality.classify`) within the lookback (``BMRS_ALERT_LOOKBACK_DAYS``, default
  14 days before today; today is still being published and is left to the freshness rule);
* **check**: the latest ``complete_partition`` evaluation of a day older than the lookback failed
  (days inside it are judged live by the gap classification, with the same rule, so a partial day
  is one message, not two). The ``no_gaps_recent_days`` check runs the same classification hourly
  over ``BMRS_GAP_CHECK_DAYS``; the sensor does it live every tick over a lookback that defaults
  to that same window, so its failures are always gap problems here already.

Each problem has a stable identity, and the sensor cursor (JSON) keeps those already reported.
A tick diffs the two: a new problem is posted once to ``BMRS_ALERT_WEBHOOK_URL`` as Slack-compatible
JSON (``{"text": ...}``) and logged; a reported problem that is gone gets one "resolved" message; a
reported problem that is still there is not repeated (a gap that grows, or whose start is filled,
is the same problem: gaps match by overlapping day ranges). A warn that becomes a fail is posted
again, as an escalation. A failed POST is logged and the problem stays unreported, so the next tick
retries it. Without the variable, messages are only logged. The webhook URL is a secret: it never
appears in a log line, a message or the cursor.

This module imports no Dagster: :func:`find_problems` takes the facts (freshness verdict,
day statuses, failed checks) as functions, and the sensor supplies them from its instance.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from bmrs_assets.core.settlement import UTC, london_today
from bmrs_assets.elexon.datasets import Dataset
from bmrs_assets.quality.freshness import SEVERITY_RANK, FreshnessStatus
from bmrs_assets.quality.gaps import DayState, DayStatus, backfill_command
from bmrs_assets.settings import start_date, value

WEBHOOK_ENV = "BMRS_ALERT_WEBHOOK_URL"
LOOKBACK_ENV = "BMRS_ALERT_LOOKBACK_DAYS"
CURSOR_VERSION = 1


def lookback_days() -> int:
    """``BMRS_ALERT_LOOKBACK_DAYS``; by default the ``no_gaps_recent_days`` check's window (14 days)."""
    return value(LOOKBACK_ENV)


def human_age(age: timedelta | None) -> str:
    """``2 d 3 h``, ``5 h 2 min``, ``12 min``; ``never`` for no age. Never negative."""
    if age is None:
        return "never"
    minutes = max(0, int(age.total_seconds() // 60))
    d, rest = divmod(minutes, 24 * 60)
    h, m = divmod(rest, 60)
    if d:
        return f"{d} d {h} h"
    if h:
        return f"{h} h {m} min"
    return f"{m} min"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one dataset now."""

    dataset: str
    kind: str  # "freshness" | "gap" | "check:<check name>"
    severity: str  # "warn" | "fail"
    text: str  # one line for a human, without the [BMRS ...] prefix
    first: date | None = None  # the day range, for gaps and partition checks
    last: date | None = None

    @property
    def ident(self) -> str:
        return f"{self.dataset}/{self.kind}" + (f"/{self.first.isoformat()}" if self.first else "")


@dataclass(frozen=True)
class Reported:
    """A problem already reported (an entry of the sensor cursor)."""

    ident: str
    dataset: str
    kind: str
    severity: str
    text: str
    first: date | None
    last: date | None
    since: str  # when it was first reported (ISO, UTC)

    def to_json(self) -> dict:
        return {"id": self.ident, "dataset": self.dataset, "kind": self.kind, "severity": self.severity,
                "text": self.text, "first": self.first.isoformat() if self.first else None,
                "last": self.last.isoformat() if self.last else None, "since": self.since}

    @classmethod
    def from_json(cls, d: dict) -> Reported:
        return cls(d["id"], d["dataset"], d["kind"], d["severity"], d["text"],
                   date.fromisoformat(d["first"]) if d.get("first") else None,
                   date.fromisoformat(d["last"]) if d.get("last") else None, d["since"])

    @classmethod
    def of(cls, p: Problem, since: datetime, ident: str | None = None) -> Reported:
        return cls(ident or p.ident, p.dataset, p.kind, p.severity, p.text, p.first, p.last,
                   since.astimezone(UTC).isoformat(timespec="seconds"))


def load_cursor(cursor: str | None) -> list[Reported]:
    if not cursor:
        return []
    data = json.loads(cursor)
    return [Reported.from_json(d) for d in data.get("open", [])]


def dump_cursor(entries: Iterable[Reported]) -> str:
    return json.dumps({"v": CURSOR_VERSION, "open": [e.to_json() for e in sorted(entries, key=lambda e: e.ident)]},
                      separators=(",", ":"))


# --- what is wrong now --------------------------------------------------------------------------

@dataclass
class Evaluation:
    problems: list[Problem] = field(default_factory=list)
    unavailable: set[tuple[str, str]] = field(default_factory=set)  # (dataset, kind) that could not be evaluated
    errors: list[str] = field(default_factory=list)


def freshness_problem(fs: FreshnessStatus) -> Problem | None:
    if fs.state == "pass":
        return None
    if fs.last_materialized is None:
        text = f"{fs.dataset} is stale: never materialized"
    else:
        text = (f"{fs.dataset} is stale: last materialized {fs.last_materialized:%Y-%m-%d %H:%M} UTC, "
                f"{human_age(fs.age)} ago ({fs.detail})")
    return Problem(fs.dataset, "freshness", fs.state, text)


def day_runs(statuses: list[DayStatus]) -> list[list[DayStatus]]:
    """Contiguous runs of non-complete days, whatever their status (a hole is one problem)."""
    runs: list[list[DayStatus]] = []
    for s in statuses:
        if s.status is DayState.COMPLETE:
            continue
        if runs and runs[-1][-1].day + timedelta(days=1) == s.day:
            runs[-1].append(s)
        else:
            runs.append([s])
    return runs


def gap_problem(ds: Dataset, run: list[DayStatus]) -> Problem:
    first, last = run[0].day, run[-1].day
    counts = {k: sum(1 for s in run if s.status == k) for k in (DayState.PARTIAL, DayState.MISSING, DayState.FAILED)}
    what = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
    n = len(run)
    example = run[0].detail
    text = (f"{ds.code} has {n} day{'s' if n > 1 else ''} not complete, {first.isoformat()}...{last.isoformat()} "
            f"({what}; {first.isoformat()}: {example}). Backfill: {backfill_command(ds.code, first, last)}")
    return Problem(ds.code, "gap", "fail", text, first, last)


def _overlaps(a_first: date | None, a_last: date | None, b_first: date | None, b_last: date | None) -> bool:
    if a_first is None or b_first is None:
        return a_first is None and b_first is None
    return a_first <= (b_last or b_first) and b_first <= (a_last or a_first)


def failed_check_problem(ds: Dataset, first: str | None, last: str | None, description: str | None,
                         window_first: date) -> Problem | None:
    """The problem for failed (ERROR) ``complete_partition`` evaluations of the days ``first``...``last``.

    ``first``/``last`` are ISO days, a run of consecutive days whose latest evaluation failed
    (``last`` defaults to ``first``). None when the range starts inside the lookback window (those days are judged
    live by the gap classification, with the same rule, so a partial day is one gap problem, not
    a gap and a check) or is unknown. The reported range is clipped to the day before the window.
    """
    if not first or date.fromisoformat(first) >= window_first:
        return None
    first_day = date.fromisoformat(first)
    last_day = min(date.fromisoformat(last or first), window_first - timedelta(days=1))
    why = description or "see the check in Dagster"
    return Problem(ds.code, "check:complete_partition", "fail",
                   f"{ds.code}: the complete_partition check failed for {first_day.isoformat()}...{last_day.isoformat()}"
                   f" ({why[:300]})", first_day, last_day)


def find_problems(datasets: Iterable[Dataset], freshness: Callable[[Dataset], FreshnessStatus],
                  classify: Callable[[Dataset, date, date], list[DayStatus]],
                  failed_checks: Callable[[date], list[Problem]], now: datetime | None = None,
                  lookback: int | None = None, reported: Iterable[Reported] = ()) -> Evaluation:
    """The current problems of every dataset, from the facts the three functions supply.

    ``freshness(ds)``: the freshness verdict of ``ds`` (:func:`bmrs_assets.defs.quality.freshness`);
    ``classify(ds, first, last)``: the day statuses of that range; ``failed_checks(window_first)``:
    the check problems for days before the window (see :func:`failed_check_problem`).

    Gaps are looked for in the ``lookback`` days before today, and also as far back as any gap
    already reported for that dataset, so a reported gap stays open until it is really filled
    instead of silently ageing out of the window. A failure to read one dataset's days marks that
    dataset/kind unavailable (so :func:`diff` keeps its reported problems open) instead of
    silencing the others.
    """
    now = now or datetime.now(UTC)
    lookback = lookback_days() if lookback is None else lookback
    today = london_today(now)
    last_day = today - timedelta(days=1)
    window_first = max(start_date(), today - timedelta(days=lookback))
    reported = list(reported)
    datasets = list(datasets)
    out = Evaluation()
    for ds in datasets:
        fresh = freshness_problem(freshness(ds))
        if fresh:
            out.problems.append(fresh)
        open_gaps = [r for r in reported if r.dataset == ds.code and r.kind == "gap" and r.first]
        first = min([window_first, *(r.first for r in open_gaps)])
        if first > last_day:
            continue
        try:
            statuses = classify(ds, first, last_day)
            gaps = []
            for run in day_runs(statuses):
                in_window = run[-1].day >= window_first
                still_open = any(_overlaps(r.first, r.last, run[0].day, run[-1].day) for r in open_gaps)
                if in_window or still_open:
                    gaps.append(gap_problem(ds, run))
            out.problems.extend(gaps)
        except Exception as exc:  # one dataset's failure must not silence the others
            out.unavailable.add((ds.code, "gap"))
            out.errors.append(f"{ds.code}: could not classify days ({type(exc).__name__}: {exc})")
    try:
        gaps = [p for p in out.problems if p.kind == "gap"]
        out.problems.extend(c for c in failed_checks(window_first)  # not twice for one hole
                            if not any(g.dataset == c.dataset and _overlaps(g.first, g.last, c.first, c.last) for g in gaps))
    except Exception as exc:
        out.unavailable.update((ds.code, "check:complete_partition") for ds in datasets)
        out.errors.append(f"could not read check evaluations ({type(exc).__name__}: {exc})")
    return out


# --- what to say -------------------------------------------------------------------------------

@dataclass
class Diff:
    new: list[Problem] = field(default_factory=list)
    escalated: list[tuple[Reported, Reported]] = field(default_factory=list)  # (as reported, as now)
    ongoing: list[Reported] = field(default_factory=list)  # still open, range/text refreshed
    resolved: list[Reported] = field(default_factory=list)


def diff(reported: Iterable[Reported], problems: Iterable[Problem],
         unavailable: set[tuple[str, str]] = frozenset()) -> Diff:  # type: ignore[assignment]
    """New, escalated, ongoing and resolved problems, given those already reported.

    A problem matches a reported one of the same dataset and kind when both have no day range or
    their ranges overlap. A reported problem whose dataset/kind could not be evaluated this time
    stays open: an error is never taken for a recovery.
    """
    reported = list(reported)
    problems = list(problems)
    matches: dict[str, list[Problem]] = {}
    out = Diff()
    for p in problems:
        hits = [r for r in reported if r.dataset == p.dataset and r.kind == p.kind
                and _overlaps(r.first, r.last, p.first, p.last)]
        for r in hits:
            matches.setdefault(r.ident, []).append(p)
        if not hits:
            out.new.append(p)
    for r in reported:
        now_ = matches.get(r.ident)
        if not now_:
            (out.ongoing if (r.dataset, r.kind) in unavailable else out.resolved).append(r)
            continue
        worst = max(now_, key=lambda p: SEVERITY_RANK[p.severity])
        firsts = [p.first for p in now_ if p.first]
        lasts = [p.last for p in now_ if p.last]
        current = Reported(r.ident, r.dataset, r.kind, worst.severity, worst.text if len(now_) == 1 else
                           "; ".join(p.text for p in now_), min(firsts) if firsts else None,
                           max(lasts) if lasts else None, r.since)
        if SEVERITY_RANK[worst.severity] > SEVERITY_RANK[r.severity]:
            out.escalated.append((r, current))
        else:
            out.ongoing.append(current)
    return out


def message(kind: str, severity: str, text: str) -> dict:
    """A Slack-compatible incoming-webhook payload."""
    label = {"new": severity.upper(), "escalated": f"{severity.upper()} (escalated)", "resolved": "RESOLVED"}[kind]
    icon = {"fail": ":red_circle:", "warn": ":large_yellow_circle:"}.get(severity, ":white_check_mark:")
    if kind == "resolved":
        icon = ":white_check_mark:"
    return {"text": f"{icon} [BMRS {label}] {text}"}


def resolved_text(r: Reported) -> str:
    what = {"freshness": "is fresh again", "gap": "is complete again"}.get(r.kind, "passes again")
    span = f" {r.first.isoformat()}...{r.last.isoformat()}" if r.first and r.last else ""
    kind = r.kind.replace("check:", "check ")
    return f"{r.dataset} {kind}{span} {what} (first reported {r.since})"


# --- how to say it -----------------------------------------------------------------------------

def redact(text: str, secret: str | None) -> str:
    """``text`` with the webhook URL (and its host part) removed."""
    if not secret:
        return text
    import httpx  # only where an alert is sent: the code location loads without it

    try:
        host = httpx.URL(secret).netloc.decode()
    except Exception:
        host = ""
    for s in (secret, secret.rstrip("/"), host):
        if s:
            text = text.replace(s, "<webhook>")
    return text


def post_webhook(url: str, payload: dict, timeout_s: float = 10.0) -> str | None:
    """POST ``payload``; None on a 2xx answer, else why not (never naming the URL).

    Sent through an httpx transport rather than a client: the client logs every request's full URL
    at INFO, and this URL is a secret.
    """
    import httpx

    request = httpx.Request("POST", url, json=payload,
                            extensions={"timeout": httpx.Timeout(timeout_s).as_dict()})
    try:
        with httpx.HTTPTransport(retries=0) as transport:
            response = transport.handle_request(request)
            try:
                response.read()
            finally:
                response.close()
    except httpx.HTTPError as exc:
        return redact(f"{type(exc).__name__}: {exc}", url)
    if 200 <= response.status_code < 300:
        return None
    return f"webhook answered HTTP {response.status_code}"


@dataclass
class Delivery:
    """One tick's messages to the webhook (only logged without one): ``deliver(payload, level)`` says
    whether it went out. After one failed POST the rest wait for the next tick, which retries them."""

    url: str | None
    log: Callable[[str, str], None]
    post: Callable[[str, dict], str | None] = post_webhook
    sent: list[dict] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    broken: bool = False

    def __call__(self, payload: dict, level: str) -> bool:
        self.log(level, payload["text"])
        if not self.url:
            return True
        if self.broken:
            self.failed.append(payload["text"])
            return False
        error = self.post(self.url, payload)
        if error is None:
            self.sent.append(payload)
            return True
        self.broken = True
        self.failed.append(payload["text"])
        self.log("error", f"alert not delivered, will retry next tick: {redact(error, self.url)}")
        return False


@dataclass
class TickResult:
    cursor: str
    sent: list[dict]
    failed: list[str]
    summary: str


def run_tick(cursor: str | None, evaluation: Evaluation, log: Callable[[str, str], None],
             url: str | None, now: datetime | None = None,
             post: Callable[[str, dict], str | None] = post_webhook) -> TickResult:
    """Diff, deliver and compute the next cursor. ``log(level, text)``; ``post(url, payload) -> error``."""
    now = now or datetime.now(UTC)
    reported = load_cursor(cursor)
    d = diff(reported, evaluation.problems, evaluation.unavailable)
    for err in evaluation.errors:
        log("warning", redact(err, url))
    next_open: list[Reported] = list(d.ongoing)
    deliver = Delivery(url, log, post)
    for p in d.new:
        if deliver(message("new", p.severity, p.text), "warning"):
            next_open.append(Reported.of(p, now))
    for before, current in d.escalated:
        next_open.append(current if deliver(message("escalated", current.severity, current.text), "warning") else before)
    for r in d.resolved:
        if not deliver(message("resolved", "pass", resolved_text(r)), "info"):
            next_open.append(r)
    summary = (f"{len(d.new)} new, {len(d.escalated)} escalated, {len(d.resolved)} resolved, "
               f"{len(d.ongoing)} still open; {len(deliver.failed)} not delivered"
               + ("" if url else f" ({WEBHOOK_ENV} not set: logged only)"))
    return TickResult(dump_cursor(next_open), deliver.sent, deliver.failed, summary)
