"""The Elexon client over real loopback HTTP: envelopes, splitting, retries, rate limit, errors."""

from __future__ import annotations

import itertools
import json
from datetime import date, timedelta

import pytest

from bmrs_assets.core.settlement import day_window
from bmrs_assets.elexon.client import ElexonApiError, ElexonClient, RateLimiter, build_request, initial_slices
from bmrs_assets.elexon.datasets import BOALF, COSTS, FREQ
from bmrs_assets.simulator.server import SimulatorConfig
from bmrs_assets_tests.support.scripted_server import Reply, ScriptedServer

DAY = date(2025, 12, 17)
ROW = {"dataset": "FREQ", "measurementTime": "2025-12-17T00:00:00Z", "frequency": 50.01}


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def scripted(request):
    servers = []

    def make(script):
        s = ScriptedServer(script)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.stop()


def test_requests_use_the_spec_parameter_names():
    (sl,) = initial_slices(BOALF, DAY)
    assert build_request(BOALF, sl) == ("/datasets/BOALF/stream", {
        "from": "2025-12-17", "to": "2025-12-17", "settlementPeriodFrom": "1", "settlementPeriodTo": "50"})
    (sl,) = initial_slices(FREQ, date(2025, 10, 26))
    assert build_request(FREQ, sl) == ("/datasets/FREQ/stream", {
        "measurementDateTimeFrom": "2025-10-25T23:00:00Z", "measurementDateTimeTo": "2025-10-27T00:00:00Z"})
    (sl,) = initial_slices(COSTS, DAY)
    assert build_request(COSTS, sl) == ("/balancing/settlement/system-prices/2025-12-17", {})


def test_fetches_a_day_from_the_simulator(simulator):
    with ElexonClient(base_url=simulator.url, rate_limit_per_s=100) as client:
        rows, stats = client.fetch_day(BOALF, DAY)
        prices, _ = client.fetch_day(COSTS, DAY)
    assert 17_000 <= len(rows) <= 21_000
    assert {r["settlementDate"] for r in rows} == {"2025-12-17"}
    assert stats.requests == 1 and stats.retries == 0 and stats.bytes > 5_000_000
    assert [p["settlementPeriod"] for p in prices] == list(range(1, 49))  # the {"data":..,"metadata":..} envelope


@pytest.mark.parametrize("sim_config", [SimulatorConfig(max_window={"FREQ": timedelta(hours=6), "BOALF": timedelta(hours=6)})])
def test_too_large_windows_are_halved_until_accepted(simulator):
    with ElexonClient(base_url=simulator.url, rate_limit_per_s=100) as client:
        freq, fstats = client.fetch_day(FREQ, DAY)
        boalf, bstats = client.fetch_day(BOALF, DAY)
    # 24 h -> 12 h -> 6 h pieces: 2 + 4 refused, 4 accepted; the inclusive 'to' repeats boundary rows
    assert fstats.splits == 3 and fstats.requests == 7
    assert len({r["measurementTime"] for r in freq}) == 5761
    refused = [q for p, q, s in simulator.requests if s == 400 and p.endswith("FREQ/stream")]
    assert "measurementDateTimeFrom=2025-12-17T00%3A00%3A00Z&measurementDateTimeTo=2025-12-18T00%3A00%3A00Z" in refused
    # BOALF: periods 1-50 (25 h) -> 1-25 (12.5 h) -> 1-13 (6.5 h) -> 1-7 ... all rows of the day still arrive
    assert bstats.splits >= 5 and bstats.requests == 2 * bstats.splits + 1
    with ElexonClient(base_url=simulator.url, rate_limit_per_s=100) as client:
        simulator.config.max_window.clear()
        whole, _ = client.fetch_day(BOALF, DAY)
    key = lambda r: (r["nationalGridBmUnit"], r["acceptanceNumber"], r["timeFrom"])  # noqa: E731  (bmUnit is null for interconnectors)
    assert sorted(map(key, boalf)) == sorted(map(key, whole))


def test_both_envelopes_are_accepted(scripted):
    bare = scripted(lambda p, n: Reply(body=json.dumps([ROW]).encode()))
    wrapped = scripted(lambda p, n: Reply(body=json.dumps({"data": [ROW], "metadata": {}}).encode()))
    for server in (bare, wrapped):
        with ElexonClient(base_url=server.url, rate_limit_per_s=100) as client:
            rows, _ = client.fetch_day(FREQ, DAY)
        assert rows == [ROW]


def test_no_rows_is_an_empty_list_not_an_error(scripted):
    server = scripted(lambda p, n: Reply(body=b"[]"))
    with ElexonClient(base_url=server.url) as client:
        rows, stats = client.fetch_day(FREQ, DAY)
    assert rows == [] and stats.requests == 1


def test_429_and_5xx_are_retried_with_backoff_honouring_retry_after(scripted):
    replies = {1: Reply(429, b'{"title":"Too many requests"}', {"Retry-After": "7"}),
               2: Reply(503, b"busy"), 3: Reply(500, b"oops")}
    server = scripted(lambda p, n: replies.get(n, Reply(body=json.dumps([ROW]).encode())))
    sleeps = Sleeps()
    with ElexonClient(base_url=server.url, sleep=sleeps, backoff_s=1.0, rate_limit_per_s=1000) as client:
        rows, stats = client.fetch_day(FREQ, DAY)
    assert rows == [ROW]
    assert stats.retries == 3 and stats.requests == 4
    waits = [s for s in sleeps if s >= 0.5]
    assert waits == [7.0, 2.0, 4.0]  # Retry-After beats the 1 s backoff; then 2 s, 4 s


def test_timeouts_and_truncated_bodies_are_retried(scripted):
    body = json.dumps([ROW]).encode()
    replies = {1: Reply(delay_s=1.0, body=body), 2: Reply(body=body, cut_after=5)}
    server = scripted(lambda p, n: replies.get(n, Reply(body=body)))
    sleeps = Sleeps()
    with ElexonClient(base_url=server.url, sleep=sleeps, timeout_s=0.3, rate_limit_per_s=1000) as client:
        rows, stats = client.fetch_day(FREQ, DAY)
    assert rows == [ROW] and stats.retries == 2


def test_other_4xx_fail_at_once_with_the_body(scripted):
    server = scripted(lambda p, n: Reply(404, b'{"detail":"No data for that unit"}'))
    sleeps = Sleeps()
    with ElexonClient(base_url=server.url, sleep=sleeps, rate_limit_per_s=1000) as client, \
            pytest.raises(ElexonApiError) as err:
        client.fetch_day(FREQ, DAY)
    assert len(server.seen) == 1
    message = str(err.value)
    assert "FREQ partition 2025-12-17" in message and "HTTP 404" in message and "No data for that unit" in message


def test_retry_budget_exhausted_fails_with_last_body(scripted):
    server = scripted(lambda p, n: Reply(503, f"overloaded #{n}".encode()))
    with ElexonClient(base_url=server.url, sleep=Sleeps(), max_retries=2, rate_limit_per_s=1000) as client, \
            pytest.raises(ElexonApiError, match=r"gave up after 3 attempts.*overloaded #3"):
        client.fetch_day(COSTS, DAY)
    assert len(server.seen) == 3


@pytest.mark.parametrize("body", [b"<html><body>Service Unavailable</body></html>", b"", b'{"error": "x"}',
                                  b'[1, 2, 3]'])
def test_non_row_payloads_are_errors(scripted, body):
    server = scripted(lambda p, n: Reply(body=body))
    with ElexonClient(base_url=server.url, rate_limit_per_s=1000) as client, \
            pytest.raises(ElexonApiError, match="FREQ partition 2025-12-17"):
        client.fetch_day(FREQ, DAY)


def test_rate_limit_spaces_requests(scripted):
    server = scripted(lambda p, n: Reply(body=b"[]"))
    with ElexonClient(base_url=server.url, rate_limit_per_s=10) as client:
        for _ in range(6):
            client.fetch_day(FREQ, DAY)
    times = [t for t, _ in server.seen]
    assert times[-1] - times[0] >= 0.45  # 5 gaps of >= 0.1 s
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.08


def test_rate_limiter_is_exact_with_a_fake_clock():
    now = [0.0]
    sleeps = Sleeps()

    def sleep(s):
        sleeps.append(s)
        now[0] += s

    limiter = RateLimiter(4, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        limiter.acquire()
    assert sleeps == [0.25, 0.25, 0.25, 0.25]
    assert now[0] == pytest.approx(1.0)


def test_window_chunks_respect_max_window():
    from dataclasses import replace
    capped = replace(FREQ, request=replace(FREQ.request, max_window=timedelta(hours=24)))
    slices = initial_slices(capped, date(2025, 10, 26))
    assert [s.window.duration for s in slices] == [timedelta(hours=24), timedelta(hours=1)]
    assert slices[0].window.start == day_window(date(2025, 10, 26)).start
