"""The bundled simulator as a child process: ``with SimulatorProcess() as sim: ... sim.url``.

Used by ``python -m bmrs_assets demo``, the benchmark and the tests. The child is started with
this interpreter (``python -m bmrs_assets.simulator``) on a free loopback port, waited for until it
accepts connections, and stopped by its PID on exit.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

from bmrs_assets.core.processes import free_port


class SimulatorProcess:
    """The bundled simulator as a child process on loopback, stopped by its PID on exit."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.args = args
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bmrs/api/v1"

    def __enter__(self) -> SimulatorProcess:
        self.proc = subprocess.Popen([sys.executable, "-m", "bmrs_assets.simulator", "--port", str(self.port), *self.args],
                                     stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"simulator exited with code {self.proc.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.1)
        self.__exit__()
        raise RuntimeError("simulator did not start listening within 30 s")

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, 9)
                self.proc.wait()
