"""Child processes on loopback: a free port, and a process group started and stopped as one.

Used by the simulator's :class:`~bmrs_assets.simulator.process.SimulatorProcess`, the benchmark,
the tools and the tests that run ``dagster dev``, the webserver or the daemon as children. A group
is stopped by its leader's PID (never by a name), so a run worker or code server the child started
goes with it and nothing else is touched.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picked it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_process_group(args: list[str], env: dict[str, str], log: Path, cwd: Path | None = None) -> subprocess.Popen:
    """A child leading its own process group (``dagster dev``, webserver, daemon), output to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def stop_process_group(proc: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM to the group the child leads (its code server and run workers with it), SIGKILL if it lingers."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
