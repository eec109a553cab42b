"""A run's worker: written and read back, alive while its process runs, dead after, unknown elsewhere."""

from __future__ import annotations

import socket
import subprocess
import sys
from dataclasses import replace

from bmrs_assets.core.liveness import Worker, process_start


def test_the_current_process_is_alive_and_round_trips():
    me = Worker.current()
    assert Worker.parse(str(me)) == me and me.alive() is True


def test_a_process_that_exited_is_dead_and_a_reused_pid_does_not_revive_it():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        worker = Worker(socket.gethostname(), child.pid, 0)
        assert worker.alive() is True
        started = replace(worker, start=process_start(child.pid))
        assert started.alive() is True
        assert replace(started, start=started.start + 1).alive() is False  # same PID, another process
    finally:
        child.kill()
        child.wait()
    assert started.alive() is False


def test_a_worker_on_another_host_is_unknown_and_junk_is_no_worker():
    assert Worker("elsewhere.example", 1, 1).alive() is None
    assert Worker.parse("") is None and Worker.parse("host:12") is None and Worker.parse("h:x:1") is None
    assert Worker.parse("my:host:12:34") == Worker("my:host", 12, 34)
