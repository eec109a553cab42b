"""Helpers every step of the revenue method shares: a day's rows, the unit key and rounding (see ``method.py``)."""

from __future__ import annotations

from datetime import date

import pandas as pd

VOLUME_TOLERANCE_MWH = 1e-3  # 1 kWh: less energy than this counts as none for labels and statuses


def rows_of_day(frame: pd.DataFrame | None, day: date) -> pd.DataFrame | None:
    """The rows of ``frame`` whose ``settlementDate`` is ``day``; None when there are none (or no frame)."""
    if frame is None or not len(frame):
        return None
    rows = frame[pd.to_datetime(frame["settlementDate"]).dt.date == day]
    return rows if len(rows) else None


def unit_key(frame: pd.DataFrame) -> pd.Series:
    """Join key of a unit: the Elexon ``bmUnit``, or ``NG:<nationalGridBmUnit>`` where it is null."""
    bm = frame["bmUnit"].astype(object)
    ng = "NG:" + frame["nationalGridBmUnit"].astype(object).fillna("")
    return bm.where(bm.notna(), ng).astype(object)


def rounded(x: float) -> float:
    return round(float(x), 6) + 0.0  # + 0.0 turns -0.0 into 0.0
