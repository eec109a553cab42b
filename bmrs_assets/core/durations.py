"""Durations written as people write them in settings and flags: ``30s``, ``15m``, ``4h``, ``1d``."""

from __future__ import annotations

import re
from datetime import timedelta

UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    """``"15m"`` -> 15 minutes; a ``ValueError`` saying what is expected otherwise."""
    m = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", text)
    if not m or int(m[1]) == 0:
        raise ValueError(f"bad duration {text!r} (a positive whole number and s, m, h or d: e.g. 30s, 15m, 6h, 1d)")
    return timedelta(**{UNITS[m[2]]: int(m[1])})


def parse_durations(text: str) -> tuple[timedelta, ...]:
    """``"15m,1h,4h,1d"`` -> four durations (at least one)."""
    parts = [p for p in text.split(",") if p.strip()]
    if not parts:
        raise ValueError(f"expected a comma-separated list of durations (e.g. 15m,1h,4h,1d), got {text!r}")
    return tuple(parse_duration(p) for p in parts)
