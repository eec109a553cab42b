"""The simulator's later positions of the source (``SimState.position``): what a redeclaration does.

A unit that redeclares its limits is served, from then on, under a later notification with a lower
level; in the first redeclared period the earlier record is truncated and the new one's timeFrom
moves, as Elexon's resolved MELS/MILS position does. The superseded records are no longer served.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bmrs_assets.core.settlement import utc_iso

Row = dict[str, object]


def redeclared(index: int, position: int) -> bool:
    """Whether the unit at ``index`` redeclared its limits in ``position`` (every fifth unit, from position 1)."""
    return position > 0 and index % 5 == 0


def redeclare(rows: list[Row], sp: int, start: datetime, position: int) -> None:
    """The period's rows as the resolved position after a redeclaration: a later notification, a
    lower level; in the first redeclared period the earlier record is truncated at +5 minutes and
    the new one starts there (its timeFrom moves)."""
    for row in list(rows):
        if row["settlementPeriod"] != sp:
            continue
        row["notificationTime"] = utc_iso(datetime.fromisoformat(str(row["notificationTime"]).replace("Z", "+00:00"))
                                          + timedelta(hours=position))
        row["notificationSequence"] = int(row["notificationSequence"]) + 1_000_000 * position
        row["levelFrom"], row["levelTo"] = max(0, int(row["levelFrom"]) - 40), max(0, int(row["levelTo"]) - 40)
