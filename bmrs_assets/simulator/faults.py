"""Fault injection, for proving the platform survives its worst day.

:class:`FaultPlan`, off unless switched on explicitly, is what the bundled simulator does to a
fraction of requests: 429 (with and without ``Retry-After``), 500, 503, a connection reset, a body
cut off mid-way, a response slower than the client's timeout, and a 400 "window too large". Draws
come from a seeded RNG, so a run is reproducible. ``outage`` makes chosen (dataset, day) pairs fail
every time. (Crash points of the write path are ``warehouse/crash_points.py``.)
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass, field

KINDS = ("429", "429-retry-after", "500", "503", "reset", "truncate", "slow", "400-too-large")


@dataclass
class FaultPlan:
    rate: float = 0.0
    kinds: tuple[str, ...] = KINDS
    seed: int = 0
    slow_s: float = 3.0
    retry_after_s: int = 1
    outage: set[tuple[str, str]] = field(default_factory=set)  # (dataset, YYYY-MM-DD) that always fail
    injected: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()

    def draw(self, splittable: bool = True) -> str | None:
        """The fault for the next request, or None. "Window too large" only where a window could be
        smaller (a request for one path date cannot be split, and the real API never refuses it so)."""
        with self._lock:
            if self.rate <= 0 or self._rng.random() >= self.rate:
                return None
            kinds = self.kinds if splittable else tuple(k for k in self.kinds if k != "400-too-large") or ("500",)
            kind = self._rng.choice(kinds)
            self.injected[kind] += 1
            return kind
