"""Which process a run belongs to, and whether that process is still alive on this host.

A run's worker is written down as ``host:pid:start`` (:class:`Worker`), ``start`` being the
process's start time in clock ticks since boot (``/proc/<pid>/stat``, field 22). The start time
makes the answer safe against PID reuse: a new process that was given a dead worker's PID has a
different start time, so it does not keep the dead run "alive". Where ``/proc`` is missing
``start`` is 0 and only the PID is checked.

:meth:`Worker.alive` answers only for this host: a worker on another host is ``None`` (unknown),
never dead, so nothing acts on a run it cannot see.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path


def process_start(pid: int) -> int | None:
    """The start time of ``pid`` in clock ticks since boot; 0 without ``/proc``; None if no such process."""
    stat = Path(f"/proc/{pid}/stat")
    if not Path("/proc/self/stat").exists():
        return 0 if pid_exists(pid) else None
    try:
        text = stat.read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # the command name (field 2) is in parentheses and may hold spaces: split after its last ')'
    fields = text.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # a zombie has exited; only its parent has not reaped it yet
        return None
    return int(fields[19])  # field 22 overall: fields[0] is field 3 (the state)


def pid_exists(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host (signal 0: checked, nothing sent)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


@dataclass(frozen=True)
class Worker:
    """A process that runs something: host name, PID and start time (see the module docstring)."""

    host: str
    pid: int
    start: int

    @classmethod
    def current(cls) -> Worker:
        pid = os.getpid()
        return cls(socket.gethostname(), pid, process_start(pid) or 0)

    @classmethod
    def parse(cls, text: str) -> Worker | None:
        """The worker written by :meth:`__str__`; None for anything else (never raises)."""
        host, _, rest = text.rpartition(":")
        host, _, pid = host.rpartition(":")
        if not host or not pid.isdigit() or not rest.isdigit():
            return None
        return cls(host, int(pid), int(rest))

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}:{self.start}"

    def alive(self) -> bool | None:
        """True/False for a worker on this host; None (unknown) for one on another host."""
        if self.host != socket.gethostname():
            return None
        start = process_start(self.pid)
        if start is None:
            return False
        return self.start == 0 or start == 0 or start == self.start
