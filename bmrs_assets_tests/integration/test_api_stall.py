"""The API cannot stall the platform: a huge ``Retry-After``, a trickling server and a 2 GB body each
end the day quickly, with an error naming dataset, partition and the limit, in bounded memory.

All over real loopback HTTP (the scripted server); a child process measures its own peak RSS.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
import time
from datetime import date
from email.utils import formatdate
from pathlib import Path

import pytest

from bmrs_assets.elexon.client import BODY_CAP_FLOOR, ElexonApiError, ElexonClient
from bmrs_assets.elexon.datasets import BOD, COSTS, FREQ
from bmrs_assets_tests.support.scripted_server import Reply, ScriptedServer

DAY = date(2025, 12, 17)
ROWS = json.dumps([{"dataset": "FREQ", "measurementTime": "2025-12-17T00:00:00Z", "frequency": 50.01}]).encode()
TWO_GB = 2 * 1024**3
MiB = 1024 * 1024


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def scripted():
    servers = []

    def make(script):
        servers.append(ScriptedServer(script))
        return servers[-1]

    yield make
    for s in servers:
        s.stop()


def two_gb() -> itertools.chain:
    """A 2 GiB JSON-ish body, generated as it is sent (64 KiB at a time), never stored."""
    return itertools.chain([b"["], itertools.repeat(b" " * 65536, TWO_GB // 65536))


# --- Retry-After ----------------------------------------------------------------------------
@pytest.mark.parametrize("form", ["seconds", "http-date"])  # the date is made in the test: ids stay fixed for xdist
def test_a_retry_after_over_the_cap_fails_the_day_at_once(scripted, form):
    retry_after = "3600" if form == "seconds" else formatdate(time.time() + 3600, usegmt=True)
    server = scripted(lambda p, n: Reply(429, b'{"title":"Too many requests"}', {"Retry-After": retry_after}))
    started = time.monotonic()
    with ElexonClient(base_url=server.url, rate_limit_per_s=1000) as client, pytest.raises(ElexonApiError) as err:
        client.fetch_day(COSTS, DAY)  # the default cap (300 s) and the real sleep
    elapsed = time.monotonic() - started
    message = str(err.value)
    print(f"\nRetry-After {retry_after!r}: failed after {elapsed:.3f} s: {message[:200]}")
    assert message.startswith("COSTS partition 2025-12-17: HTTP 429 with Retry-After 3"), message
    assert "more than the 300 s cap (BMRS_API_RETRY_AFTER_MAX_S): not waiting" in message
    assert "Too many requests" in message
    assert len(server.seen) == 1 and elapsed < 5.0


def test_a_retry_after_within_the_cap_is_honoured(scripted):
    replies = {1: Reply(429, b"slow down", {"Retry-After": "10"})}
    server = scripted(lambda p, n: replies.get(n, Reply(body=ROWS)))
    sleeps = Sleeps()
    with ElexonClient(base_url=server.url, rate_limit_per_s=1000, sleep=sleeps, retry_after_max_s=10) as client:
        rows, stats = client.fetch_day(FREQ, DAY)
    assert len(rows) == 1 and stats.retries == 1 and 10.0 in sleeps  # equal to the cap: slept


# --- the request deadline -----------------------------------------------------------------------
def test_a_trickling_body_is_cut_at_the_request_deadline(scripted):
    # headers at once, then a byte every 0.5 s: far inside the 10 s per-read timeout, for ~80 minutes
    server = scripted(lambda p, n: Reply(chunks=lambda: itertools.repeat(b" ", 10_000), chunk_delay_s=0.5))
    started = time.monotonic()
    with ElexonClient(base_url=server.url, rate_limit_per_s=1000, timeout_s=10, deadline_s=2,
                      sleep=Sleeps()) as client, pytest.raises(ElexonApiError) as err:
        client.fetch_day(COSTS, DAY)
    elapsed = time.monotonic() - started
    message = str(err.value)
    print(f"\ntrickle: cut after {elapsed:.3f} s (deadline 2 s): {message[:160]}")
    assert message.startswith("COSTS partition 2025-12-17: no complete response within the request deadline of 2 s")
    assert "not retried" in message and len(server.seen) == 1
    assert 1.9 <= elapsed < 4.5


def test_slow_headers_are_cut_at_the_request_deadline(scripted):
    server = scripted(lambda p, n: Reply(body=ROWS, delay_s=6))
    started = time.monotonic()
    with ElexonClient(base_url=server.url, rate_limit_per_s=1000, timeout_s=10, deadline_s=1) as client, \
            pytest.raises(ElexonApiError, match=r"FREQ partition 2025-12-17: .*request deadline of 1 s"):
        client.fetch_day(FREQ, DAY)
    elapsed = time.monotonic() - started
    print(f"\nslow headers: cut after {elapsed:.3f} s (deadline 1 s)")
    assert 0.9 <= elapsed < 3.5 and len(server.seen) == 1


def test_a_request_within_its_deadline_is_unaffected_and_a_short_timeout_still_retries(scripted):
    replies = {1: Reply(body=ROWS, delay_s=1.0)}  # over the 0.3 s read timeout, within the 5 s deadline
    server = scripted(lambda p, n: replies.get(n, Reply(chunks=lambda: iter([ROWS[:10], ROWS[10:]]),
                                                        chunk_delay_s=0.1)))
    with ElexonClient(base_url=server.url, rate_limit_per_s=1000, timeout_s=0.3, deadline_s=5,
                      sleep=Sleeps()) as client:
        rows, stats = client.fetch_day(FREQ, DAY)
    assert len(rows) == 1 and stats.retries == 1


# --- body caps -----------------------------------------------------------------------------------
def test_each_dataset_has_a_body_cap_under_the_global_ceiling():
    client = ElexonClient()
    try:
        assert client.body_cap(COSTS) == BODY_CAP_FLOOR == 128 * MiB  # 48 rows a day: the floor
        assert client.body_cap(FREQ) == 5760 * 64 * 1024  # 360 MiB
        assert client.body_cap(BOD) == client.max_body_bytes == 512 * MiB  # 270,000 rows a day: the ceiling
    finally:
        client.close()


CHILD = """
import json, sys, time
from datetime import date
from bmrs_assets.elexon.client import ElexonApiError, ElexonClient
from bmrs_assets.elexon.datasets import COSTS

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024

with ElexonClient(base_url=sys.argv[1], rate_limit_per_s=1000, max_retries=0) as client:
    rss_before = status("VmRSS")
    started = time.monotonic()
    try:
        client.fetch_day(COSTS, date(2025, 12, 17))
        error = None
    except ElexonApiError as exc:
        error = str(exc)
    print(json.dumps({"error": error, "elapsed": time.monotonic() - started, "rss_before": rss_before,
                      "peak": status("VmHWM")}))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmRSS/VmHWM from /proc")
@pytest.mark.parametrize("announced", [False, True], ids=["streamed-without-length", "content-length-2GiB"])
def test_a_2_gb_body_is_refused_in_bounded_memory(scripted, announced):
    server = scripted(lambda p, n: Reply(chunks=two_gb, length=TWO_GB + 1 if announced else None))
    out = subprocess.run([sys.executable, "-c", CHILD, server.url], capture_output=True, text=True, timeout=120,
                         check=True, cwd=Path(__file__).resolve().parents[2])
    result = json.loads(out.stdout)
    growth = result["peak"] - result["rss_before"]
    print(f"\n2 GiB body ({'announced' if announced else 'streamed'}): refused after {result['elapsed']:.2f} s, "
          f"peak RSS growth {growth / MiB:.0f} MiB: {result['error'][:200]}")
    assert result["error"].startswith("COSTS partition 2025-12-17: response larger than 134217728 bytes")
    assert "the body cap of COSTS; refused" in result["error"]
    if announced:
        assert "announced 2147483649 bytes" in result["error"] and growth < 50 * MiB
    else:
        received = int(re.search(r"refused at (\d+) bytes received", result["error"])[1])
        assert 128 * MiB < received <= 128 * MiB + 65536  # read no further than the cap plus one chunk
        assert growth < 300 * MiB
    assert result["elapsed"] < 60
