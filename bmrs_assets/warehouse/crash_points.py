"""Named points of the write path where a process can be made to die, to prove a crash never leaves a
half-written table (``bmrs_assets_tests/system/test_reliability.py``, ``test_history_ranges.py``).

Off unless ``BMRS_CRASH_AT`` names a point: then the process kills itself with SIGKILL there (no
cleanup, no ``finally``), as an OOM kill or a lost machine would. ``<point>@<n>`` dies at the n-th
time the process reaches the point (a range is written in chunks: ``@3`` is inside the third).
"""

from __future__ import annotations

import os
import signal
from collections import Counter

from bmrs_assets.settings import setting

CRASH_ENV = "BMRS_CRASH_AT"
POINTS = ("duckdb:staged", "duckdb:merged-uncommitted", "bigquery:staged", "bigquery:merged")
_reached: Counter = Counter()


def crash_point(name: str) -> None:
    """Die at once if ``BMRS_CRASH_AT`` names this point (one of :data:`POINTS`), at its n-th hit if given."""
    if name not in POINTS:
        raise ValueError(f"unknown crash point {name!r}")
    wanted = setting(CRASH_ENV)
    if not wanted:
        return
    point, _, nth = wanted.partition("@")
    if point != name:
        return
    _reached[name] += 1
    if _reached[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
