"""The history scenario's server: the simulator's bodies, generated ahead in parallel, then served from memory.

    python -m bench.replay --dataset BOALF --first 2025-11-01 --days 365 --upstream URL [--upstream URL ...]

Generating a day takes the simulator about as long as the platform takes to load it (BOALF: ~1.5 s
a day), and one simulator process generates one body at a time, so a 365-day warm-up through the
simulator's own body cache would take longer than everything else in the bench. A replay is a
loopback HTTP server in its own process in front of several uncached simulator processes: it
first asks itself for every request the platform makes for the days (a first load), one day per
simulator at a time (a simulator generates a whole day once for all of that day's requests),
keeps each 200 body, prints ``REPLAY-READY {...}``, and then serves those bytes as the simulator
serves its cached ones (HTTP/1.0, ``Content-Type`` and ``Content-Length``). A request it has not
seen still goes to the least busy simulator and is counted (``GET /__replay/stats``: ``misses``).

It is a separate process, not threads of the bench: a child's ``ru_maxrss`` includes the RSS of
the process that spawned it (the copy of its address space that ``exec`` replaces), so the bench's
parent must stay small; the bodies (2-3 GB) live here.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

BASE_PATH = "/bmrs/api/v1"  # the simulator's
UPSTREAM_HEADER = "X-Bench-Upstream"  # the fill's choice of simulator for a miss
STATS_PATH = "/__replay/stats"
ROOT = Path(__file__).resolve().parents[1]


class _Handler(BaseHTTPRequestHandler):
    server: Replay

    def do_GET(self) -> None:
        if self.path == STATS_PATH:
            status, body = 200, json.dumps(self.server.stats()).encode()
        else:
            upstream = self.headers.get(UPSTREAM_HEADER)
            status, body = self.server.answer(self.path, None if upstream is None else int(upstream))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


class Replay(ThreadingHTTPServer):
    """Bodies by request path and query, each fetched once from one of ``upstreams`` (simulator URLs)."""

    daemon_threads = True

    def __init__(self, upstreams: list[str]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstreams = [urlsplit(u) for u in upstreams]
        self.busy = [0] * len(self.upstreams)
        self.bodies: dict[str, bytes] = {}
        self.hits = self.misses = self.size = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{BASE_PATH}"

    def stats(self) -> dict:
        with self.lock:
            return {"bodies": len(self.bodies), "mib": round(self.size / 2**20, 1), "hits": self.hits,
                    "misses": self.misses}

    def answer(self, path: str, upstream: int | None = None) -> tuple[int, bytes]:
        body = self.bodies.get(path)
        if body is not None:
            with self.lock:
                self.hits += 1
            return 200, body
        with self.lock:
            i = min(range(len(self.busy)), key=self.busy.__getitem__) if upstream is None else upstream
            self.busy[i] += 1
            self.misses += 1
        up = self.upstreams[i]
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=900)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            status, body = response.status, response.read()
        finally:
            conn.close()
            with self.lock:
                self.busy[i] -= 1
        if status == 200:
            with self.lock:
                if path not in self.bodies:
                    self.bodies[path] = body
                    self.size += len(body)
        return status, body


def fill(replay: Replay, dataset: str, days: list[date]) -> dict:
    """Ask ``replay`` for every request the platform makes for ``days`` of ``dataset`` (a first load).

    Through HTTP with httpx, as the platform's client asks (the same path and query bytes).
    Simulator ``k`` answers days ``k, k + n, ...``, all of a day's requests in turn.
    """
    import httpx

    from bmrs_assets.elexon.client import build_request, initial_slices
    from bmrs_assets.elexon.datasets import get_dataset

    ds = get_dataset(dataset)
    n = len(replay.upstreams)
    started = time.perf_counter()
    with httpx.Client(timeout=900, limits=httpx.Limits(max_connections=n)) as http:
        def get(k: int) -> int:
            requests = [build_request(ds, sl) for d in days[k::n] for sl in initial_slices(ds, d)]
            for path, params in requests:
                http.get(replay.url + path, params=params, headers={UPSTREAM_HEADER: str(k)}).raise_for_status()
            return len(requests)

        with ThreadPoolExecutor(max_workers=n) as pool:
            count = sum(pool.map(get, range(n)))
    replay.misses = 0  # from here on a miss is a request the fill did not foresee
    return {"dataset": dataset, "days": len(days), "requests": count, **replay.stats(),
            "seconds": round(time.perf_counter() - started, 1)}


class ReplayProcess:
    """``python -m bench.replay`` as a child of the bench: started, filled, then stopped by its PID."""

    def __init__(self, dataset: str, first: date, days: int, upstreams: list[str]) -> None:
        self.args = ["--dataset", dataset, "--first", first.isoformat(), "--days", str(days)]
        for u in upstreams:
            self.args += ["--upstream", u]
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.filled: dict = {}

    def __enter__(self) -> ReplayProcess:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.replay", *self.args], stdout=subprocess.PIPE,
                                     env=env, cwd=ROOT, text=True)
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("REPLAY-READY "):
                self.filled = json.loads(line[len("REPLAY-READY "):])
                self.url = self.filled.pop("url")
                return self
        self.__exit__()
        raise RuntimeError(f"replay exited before it was ready (code {self.proc.returncode})")

    def stats(self) -> dict:
        with urllib.request.urlopen(self.url.removesuffix(BASE_PATH) + STATS_PATH, timeout=30) as r:
            return json.loads(r.read())

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.replay", description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--first", required=True, type=date.fromisoformat)
    parser.add_argument("--days", required=True, type=int)
    parser.add_argument("--upstream", action="append", required=True, help="an uncached simulator's URL")
    args = parser.parse_args(argv)
    replay = Replay(args.upstream)
    threading.Thread(target=replay.serve_forever, name="replay", daemon=True).start()
    filled = fill(replay, args.dataset, [args.first + timedelta(days=i) for i in range(args.days)])
    print("REPLAY-READY " + json.dumps({"url": replay.url, **filled}), flush=True)
    threading.Event().wait()  # until SIGTERM (its default action ends the process)


if __name__ == "__main__":
    main()
