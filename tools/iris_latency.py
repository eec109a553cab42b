"""Measure IRIS end-to-end latency through a real ``dagster dev`` (webserver + daemon + sensor ticks).

Starts ``dagster dev`` on loopback in a temporary DAGSTER_HOME (its own process group, stopped by
PID at the end), runs the IRIS consumer in this process against the in-process fake queue, sends
simulator messages of today's BOALF at a steady rate, and reports enqueue -> landed and
enqueue -> merged (row in the warehouse) from the landing store. Not part of the test suite (it
takes minutes); the README's figures come from it.

    .venv/bin/python tools/iris_latency.py --minutes 3 --rate 2
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=3.0, help="how long messages are sent")
    parser.add_argument("--rate", type=float, default=2.0, help="messages per second")
    parser.add_argument("--rows", type=int, default=30, help="rows per message")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="iris_latency_"))
    home = work / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "instance" / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home), "BMRS_DUCKDB_PATH": str(work / "bmrs.duckdb"),
           "BMRS_IRIS_LANDING_PATH": str(work / "iris_landing.sqlite"), "BMRS_START_DATE": "2024-01-01",
           "BMRS_AUTOMATION": "off", "BMRS_API_BASE_URL": "http://127.0.0.1:9/unused"}
    os.environ.update(env)

    from bmrs_assets.core.processes import free_port, start_process_group, stop_process_group
    from bmrs_assets.core.settlement import london_today
    from bmrs_assets.iris.consumer import Consumer
    from bmrs_assets.iris.landing import LandingStore
    from bmrs_assets_tests.support.iris_fake import FakeQueue, iris_files

    port = free_port()
    proc = start_process_group([str(Path(sys.executable).parent / "dagster"), "dev", "-w", "workspace.yaml",
                                "-h", "127.0.0.1", "-p", str(port)], env, work / "dagster.log", cwd=REPO)
    print(f"dagster dev pid {proc.pid} on 127.0.0.1:{port}; work dir {work}")
    stop = threading.Event()
    store = LandingStore(work / "iris_landing.sqlite")
    queue = FakeQueue()
    consumer = Consumer(queue.receiver(), store, max_messages=100, max_wait_s=1.0)
    worker = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    try:
        time.sleep(20)  # webserver and daemon up
        worker.start()
        files = iris_files("BOALF", london_today(), args.rows)
        n = min(len(files), int(args.minutes * 60 * args.rate))
        t0 = time.monotonic()
        for i, f in enumerate(files[:n]):
            while time.monotonic() < t0 + i / args.rate:
                time.sleep(0.01)
            queue.send(f.message_id, f.subject, f.body)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            lat = store.latencies()
            if len(lat) == n and all(m is not None for *_, m in lat):
                break
            time.sleep(2)
        lat = store.latencies()
        merged = sorted((m - e).total_seconds() for _, e, _, m in lat if m is not None)
        landed = sorted((ld - e).total_seconds() for _, e, ld, _ in lat)
        print(f"{n} messages sent at {args.rate}/s over {n / args.rate:.0f} s; {len(merged)} merged")
        if merged:
            print(f"enqueue -> landed: median {statistics.median(landed):.2f} s, p95 {landed[int(0.95 * len(landed)) - 1]:.2f} s")
            print(f"enqueue -> warehouse row: median {statistics.median(merged):.1f} s, "
                  f"p95 {merged[int(0.95 * len(merged)) - 1]:.1f} s, max {merged[-1]:.1f} s")
        return 0 if len(merged) == n else 1
    finally:
        stop.set()
        worker.join(timeout=10)
        stop_process_group(proc, timeout=60)


if __name__ == "__main__":
    sys.exit(main())
