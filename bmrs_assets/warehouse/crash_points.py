"""Named points of the write path where a process can be made to die, to prove a crash never leaves a
half-written table (``bmrs_assets_tests/system/test_reliability.py``).

Off unless ``BMRS_CRASH_AT`` names a point: then the process kills itself with SIGKILL there (no
cleanup, no ``finally``), as an OOM kill or a lost machine would.
"""

from __future__ import annotations

import os
import signal

from bmrs_assets.settings import setting

CRASH_ENV = "BMRS_CRASH_AT"
POINTS = ("duckdb:staged", "duckdb:merged-uncommitted", "bigquery:staged", "bigquery:merged")


def crash_point(name: str) -> None:
    """Die at once if ``BMRS_CRASH_AT`` names this point (one of :data:`POINTS`)."""
    if name not in POINTS:
        raise ValueError(f"unknown crash point {name!r}")
    if setting(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
