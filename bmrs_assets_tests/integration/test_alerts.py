"""The alert sensor against a real instance (real runs through the simulator) and a real loopback receiver."""

from __future__ import annotations

import json
import logging
import threading
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg

from bmrs_assets.cli.runs import materialize_range
from bmrs_assets.core.settlement import UTC, day_window, london_today
from bmrs_assets.definitions import build_definitions
from bmrs_assets.elexon.datasets import REGISTRY
from bmrs_assets.monitoring.alerts import WEBHOOK_ENV, Problem, Reported, diff, load_cursor, post_webhook
from bmrs_assets_tests.support.scripted_server import Reply, ScriptedServer

SECRET = "T0AAA/B0BBB/xoxb-SECRET-token-4242"


class Receiver(ThreadingHTTPServer):
    """A webhook receiver on 127.0.0.1 that records every POST and answers ``status``."""

    daemon_threads = True

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.status = 200
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _ReceiverHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/services/{SECRET}"

    def take(self) -> list[dict]:
        with self.lock:
            out, self.posts = self.posts, []
        return out


class _ReceiverHandler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.server.lock:
            self.server.posts.append({"path": self.path, "content_type": self.headers["Content-Type"],
                                      "status": self.server.status, "json": json.loads(body)})
        self.send_response(self.server.status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


def tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None):
    """One evaluation of ``bmrs_alerts`` with the resources the daemon would give it."""
    repo = defs.get_repository_def()
    sensor = repo.get_sensor_def("bmrs_alerts")
    top = repo.get_top_level_resources()
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs,
                                      resources={k: v for k, v in top.items() if k in sensor.required_resource_keys})
    return sensor.evaluate_tick(context)


def texts(posts: list[dict]) -> list[str]:
    return [p["json"]["text"] for p in posts]


def freq_rows(day: date, n: int) -> list[dict]:
    start = day_window(day).start
    return [{"dataset": "FREQ", "measurementTime": (start + timedelta(seconds=15 * i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
             "frequency": 50.0} for i in range(n)]


def snapshot_staleness(code: str, now: datetime) -> list[str]:
    """The freshness alert of a daily snapshot (BM_UNITS) never taken, by the clock: it is judged by
    yesterday's London day, begun ``now - yesterday 00:00`` ago (26 h warns, 36 h fails)."""
    begun = now - day_window(london_today(now) - timedelta(days=1)).start
    if begun > timedelta(hours=36):
        return [f":red_circle: [BMRS FAIL] {code} is stale: never materialized"]
    if begun > timedelta(hours=26):
        return [f":large_yellow_circle: [BMRS WARN] {code} is stale: never materialized"]
    return []


def is_snapshot(code: str) -> bool:
    rule = REGISTRY[code].freshness
    return not (rule.cron or rule.realtime)


def test_sensor_alerts_once_per_problem_resolves_and_retries(platform_env, simulator, instance, receiver, monkeypatch,
                                                            caplog, capfd):
    caplog.set_level(logging.DEBUG)  # any Python logger (httpx, httpcore, ...) must not leak the URL either
    monkeypatch.setenv("BMRS_ALERT_LOOKBACK_DAYS", "5")
    today = london_today()
    d = {i: today - timedelta(days=i) for i in range(1, 6)}
    # COSTS: complete except a hole on d3; FREQ: complete except d2, stored with 50 of 5760 rows
    assert materialize_range(d[5], d[4], ["COSTS"], instance=instance)[0].success
    assert materialize_range(d[2], d[1], ["COSTS"], instance=instance)[0].success
    assert materialize_range(d[5], d[3], ["FREQ"], instance=instance)[0].success
    assert materialize_range(d[1], today, ["FREQ"], instance=instance)[0].success  # today too: fresh
    partial = ScriptedServer(lambda p, n: Reply(body=json.dumps(freq_rows(d[2], 50)).encode()))
    try:
        monkeypatch.setenv("BMRS_API_BASE_URL", partial.url)
        materialize_range(d[2], d[2], ["FREQ"], instance=instance)  # stored; its complete_partition check fails
    finally:
        partial.stop()
        monkeypatch.setenv("BMRS_API_BASE_URL", simulator.url)
    monkeypatch.setenv(WEBHOOK_ENV, receiver.url)
    defs = build_definitions()
    others = [c for c in REGISTRY if c not in ("COSTS", "FREQ") and not is_snapshot(c)]
    snapshots = [c for c in REGISTRY if is_snapshot(c)]
    assert snapshots == ["BM_UNITS"]

    # first tick: every problem once. 14 never-materialized datasets: stale + a 5-day hole each;
    # COSTS: the d3 hole; FREQ: the partial d2 (one message: its failed check is the same problem);
    # BM_UNITS: the hole, and stale by the clock (yesterday's snapshot decides, see snapshot_staleness)
    capfd.readouterr()
    stale_snapshots = {c: snapshot_staleness(c, datetime.now(UTC)) for c in snapshots}
    first = tick(defs, instance, None)
    total = 2 * len(others) + 2 + sum(1 + len(v) for v in stale_snapshots.values())
    logged = capfd.readouterr().err  # the sensor's context.log
    posts = receiver.take()
    assert len(posts) == total
    assert all(p["content_type"] == "application/json" and set(p["json"]) == {"text"} for p in posts)
    sent = texts(posts)
    costs = [t for t in sent if " COSTS " in t]
    freq = [t for t in sent if " FREQ " in t]
    assert costs == [f":red_circle: [BMRS FAIL] COSTS has 1 day not complete, {d[3]}...{d[3]} (1 missing; {d[3]}: never "
                     f"materialized). Backfill: python -m bmrs_assets backfill --dataset COSTS --from {d[3]} --to {d[3]}"]
    assert len(freq) == 1 and f"FREQ has 1 day not complete, {d[2]}...{d[2]} (1 partial;" in freq[0]
    assert "50 of 5760 rows" in freq[0]
    for code in others:
        mine = [t for t in sent if f" {code} " in t]
        assert sorted(mine) == sorted([f":red_circle: [BMRS FAIL] {code} is stale: never materialized",
                                       f":red_circle: [BMRS FAIL] {code} has 5 days not complete, {d[5]}...{d[1]} "
                                       f"(5 missing; {d[5]}: never materialized). Backfill: python -m bmrs_assets "
                                       f"backfill --dataset {code} --from {d[5]} --to {d[1]}"])
    for code, stale in stale_snapshots.items():
        mine = [t for t in sent if f" {code} " in t]
        assert sorted(mine) == sorted([*stale, f":red_circle: [BMRS FAIL] {code} has 5 days not complete, "
                                       f"{d[5]}...{d[1]} (5 missing; {d[5]}: never materialized). Backfill: "
                                       f"python -m bmrs_assets backfill --dataset {code} --from {d[5]} --to {d[1]}"])
    assert len(load_cursor(first.cursor)) == len(posts)
    assert f"{total} new, 0 escalated, 0 resolved, 0 still open; 0 not delivered" in first.skip_message
    for t in sent:  # every message was logged as well
        assert t in logged

    # nothing changed: nothing is repeated
    second = tick(defs, instance, first.cursor)
    assert receiver.take() == []
    assert f"0 new, 0 escalated, 0 resolved, {total} still open" in second.skip_message

    # a smaller lookback does not make the COSTS hole "resolved": a reported gap stays open until filled
    monkeypatch.setenv("BMRS_ALERT_LOOKBACK_DAYS", "1")
    assert f"0 resolved, {total} still open" in tick(defs, instance, second.cursor).skip_message
    assert receiver.take() == []
    monkeypatch.setenv("BMRS_ALERT_LOOKBACK_DAYS", "5")

    # refill the COSTS hole through the simulator: exactly one "resolved"
    assert materialize_range(d[3], d[3], ["COSTS"], instance=instance)[0].success
    third = tick(defs, instance, second.cursor)
    since = {r.ident: r.since for r in load_cursor(first.cursor)}[f"COSTS/gap/{d[3]}"]
    assert texts(receiver.take()) == [
        f":white_check_mark: [BMRS RESOLVED] COSTS gap {d[3]}...{d[3]} is complete again (first reported {since})"]
    assert len(load_cursor(third.cursor)) == total - 1 and f"COSTS/gap/{d[3]}" not in third.cursor

    # refill FREQ d2 while the receiver answers 500: the "resolved" is not lost, it is sent on the next tick
    assert materialize_range(d[2], d[2], ["FREQ"], instance=instance)[0].success
    receiver.status = 500
    fourth = tick(defs, instance, third.cursor)
    logged += capfd.readouterr().err
    assert [p["status"] for p in receiver.take()] == [500]
    assert "1 not delivered" in fourth.skip_message, logged[-3000:] and f"FREQ/gap/{d[2]}" in fourth.cursor
    assert "alert not delivered, will retry next tick: webhook answered HTTP 500" in logged
    receiver.status = 200
    fifth = tick(defs, instance, fourth.cursor)
    assert [t.startswith(f":white_check_mark: [BMRS RESOLVED] FREQ gap {d[2]}...{d[2]} is complete again")
            for t in texts(receiver.take())] == [True]
    assert len(load_cursor(fifth.cursor)) == total - 2

    # new problems while the receiver fails: one attempt this tick, none recorded, all sent next tick
    receiver.status = 500
    failing = tick(defs, instance, None)
    assert len(receiver.take()) == 1 and load_cursor(failing.cursor) == []
    receiver.status = 200
    retried = tick(defs, instance, failing.cursor)
    assert len(receiver.take()) == total - 2 and len(load_cursor(retried.cursor)) == total - 2

    # the webhook URL is a secret: in no message, log line or cursor
    logged += capfd.readouterr().err
    for where in (logged, first.cursor, fourth.cursor, fourth.skip_message, *sent):
        assert SECRET not in where and str(receiver.server_address[1]) not in where
    assert SECRET not in caplog.text


def test_without_webhook_it_only_logs(platform_env, instance, receiver, monkeypatch, capfd):
    monkeypatch.delenv(WEBHOOK_ENV, raising=False)
    monkeypatch.setenv("BMRS_ALERT_LOOKBACK_DAYS", "3")
    today = london_today()
    assert materialize_range(today - timedelta(days=3), today - timedelta(days=1), ["COSTS"], instance=instance)[0].success
    defs = build_definitions()
    capfd.readouterr()
    stale_snapshots = sum(len(snapshot_staleness(c, datetime.now(UTC))) for c in REGISTRY if is_snapshot(c))
    first = tick(defs, instance, None)
    assert receiver.take() == []
    others = [c for c in REGISTRY if c != "COSTS" and not is_snapshot(c)]
    snapshots = [c for c in REGISTRY if is_snapshot(c)]  # each: its hole, stale by the clock
    assert len(load_cursor(first.cursor)) == 2 * len(others) + len(snapshots) + stale_snapshots
    assert f"{WEBHOOK_ENV} not set: logged only" in first.skip_message
    assert ":red_circle: [BMRS FAIL] BOALF is stale: never materialized" in capfd.readouterr().err
    assert "COSTS" not in first.cursor  # complete and fresh
    second = tick(defs, instance, first.cursor)
    assert "[BMRS" not in capfd.readouterr().err and "0 new" in second.skip_message


def test_a_short_day_older_than_the_lookback_is_reported_from_its_check(platform_env, simulator, instance, receiver,
                                                                       monkeypatch):
    monkeypatch.setenv("BMRS_ALERT_LOOKBACK_DAYS", "2")
    old = london_today() - timedelta(days=20)  # e.g. a settlement-run re-pull that came back short
    partial = ScriptedServer(lambda p, n: Reply(body=json.dumps(freq_rows(old, 50)).encode()))
    try:
        monkeypatch.setenv("BMRS_API_BASE_URL", partial.url)
        materialize_range(old, old, ["FREQ"], instance=instance)
    finally:
        partial.stop()
        monkeypatch.setenv("BMRS_API_BASE_URL", simulator.url)
    monkeypatch.setenv(WEBHOOK_ENV, receiver.url)
    defs = build_definitions()
    first = tick(defs, instance, None)
    checks = [t for t in texts(receiver.take()) if "complete_partition" in t]
    assert checks == [f":red_circle: [BMRS FAIL] FREQ: the complete_partition check failed for {old}...{old} "
                      f"({old}: 50 of 5760 rows)"]
    assert materialize_range(old, old, ["FREQ"], instance=instance)[0].success  # re-pulled: complete, check passes
    tick(defs, instance, first.cursor)
    since = {r.ident: r.since for r in load_cursor(first.cursor)}[f"FREQ/check:complete_partition/{old}"]
    assert [t for t in texts(receiver.take()) if "RESOLVED" in t] == [
        f":white_check_mark: [BMRS RESOLVED] FREQ check complete_partition {old}...{old} passes again (first reported {since})"]


# --- the diff, on chosen states ---------------------------------------------------------------

D = [date(2025, 12, 1) + timedelta(days=i) for i in range(10)]


def gap(first: date, last: date, code: str = "BOALF") -> Problem:
    return Problem(code, "gap", "fail", f"{code} hole {first}...{last}", first, last)


def reported(p: Problem) -> Reported:
    return Reported.of(p, datetime(2025, 12, 11, tzinfo=UTC))


def test_a_growing_or_shrinking_gap_is_the_same_problem():
    was = reported(gap(D[0], D[2]))
    grown = diff([was], [gap(D[0], D[6])])
    assert grown.new == [] and grown.resolved == [] and [(r.ident, r.first, r.last) for r in grown.ongoing] == [
        (was.ident, D[0], D[6])]
    # the start of the (grown) hole is refilled: still the same problem, not resolved + new
    shrunk = diff(grown.ongoing, [gap(D[4], D[6])])
    assert shrunk.new == [] and shrunk.resolved == [] and shrunk.ongoing[0].ident == was.ident
    # a separate hole is a new problem; the old one filled is resolved
    later = diff(shrunk.ongoing, [gap(D[8], D[9])])
    assert [p.first for p in later.new] == [D[8]] and [r.ident for r in later.resolved] == [was.ident]


def test_escalation_and_errors_are_not_recoveries():
    warn = Problem("FREQ", "freshness", "warn", "FREQ is 40 min old")
    fail = Problem("FREQ", "freshness", "fail", "FREQ is 2 h old")
    d = diff([reported(warn)], [fail])
    assert d.new == [] and [(a.severity, b.severity) for a, b in d.escalated] == [("warn", "fail")]
    assert diff([reported(fail)], [warn]).escalated == []  # de-escalation is not news
    # the gap source could not be evaluated (e.g. warehouse unreadable): the reported hole stays open
    hole = reported(gap(D[0], D[1]))
    assert diff([hole], [], {("BOALF", "gap")}).resolved == []
    assert [r.ident for r in diff([hole], []).resolved] == [hole.ident]


def test_post_errors_never_name_the_url():
    url = f"http://127.0.0.1:9/{SECRET}"  # discard port: nothing listens
    error = post_webhook(url, {"text": "x"}, timeout_s=2)
    assert error is not None and SECRET not in error and "127.0.0.1:9" not in error
