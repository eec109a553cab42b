"""Durations written as people write them in settings and flags (``30s``, ``15m``, ``4h``, ``1d``), and shown to them."""

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


def format_duration(seconds: float) -> str:
    """``42 s``, ``3 m 05 s``, ``2 h 07 m``, ``3 d 04 h``."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} m {s % 60:02d} s"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60:02d} m"
    return f"{s // 86400} d {s % 86400 // 3600:02d} h"
