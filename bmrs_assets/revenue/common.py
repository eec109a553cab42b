"""Helpers every step of the revenue method shares: the unit key and rounding (see ``method.py``)."""

from __future__ import annotations

import pandas as pd

VOLUME_TOLERANCE_MWH = 1e-3  # 1 kWh: less energy than this counts as none for labels and statuses


def unit_key(frame: pd.DataFrame) -> pd.Series:
    """Join key of a unit: the Elexon ``bmUnit``, or ``NG:<nationalGridBmUnit>`` where it is null."""
    bm = frame["bmUnit"].astype(object)
    ng = "NG:" + frame["nationalGridBmUnit"].astype(object).fillna("")
    return bm.where(bm.notna(), ng).astype(object)



def rounded(x: float) -> float:
    return round(float(x), 6) + 0.0  # + 0.0 turns -0.0 into 0.0
