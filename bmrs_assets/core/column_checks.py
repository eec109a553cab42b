"""Column checks as data: what a declared column must satisfy, without importing Pandera.

Each :class:`ColumnCheck` is the Pandera built-in check of the same name and statistics;
``core/schemas.py`` builds the Pandera check when a frame is validated and ``core/conform.py``'s fast
path evaluates it natively on Arrow. Loading the registry (every code-location start) therefore does
not pay for Pandera.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ColumnCheck:
    """A column check as data: the Pandera built-in check of the same ``name`` and ``statistics``.

    Declared as data so that loading the registry (every code-location start) does not import
    Pandera: ``core/schemas.py`` makes the Pandera check when a frame is validated, and the fast
    typing path (``core/conform.py``) evaluates it natively. Nulls are ignored, as Pandera does.
    """

    name: str  # Pandera's: "isin", "in_range", "not_equal_to"
    args: tuple[tuple[str, Any], ...]  # the statistics, as sorted-by-declaration (key, value) pairs
    ignore_na: bool = True

    @property
    def statistics(self) -> dict[str, Any]:
        """As Pandera reports them (lists, not tuples), so a check's fingerprint is Pandera's."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.args}


def isin(values: Any) -> ColumnCheck:
    """Each value one of ``values`` (Pandera's ``Check.isin``)."""
    return ColumnCheck("isin", (("allowed_values", tuple(values)),))


def in_range(low: float, high: float) -> ColumnCheck:
    """``low <= value <= high`` (Pandera's ``Check.in_range`` / ``Check.between``)."""
    return ColumnCheck("in_range", (("min_value", low), ("max_value", high), ("include_min", True),
                                    ("include_max", True)))


def not_equal_to(value: float) -> ColumnCheck:
    """``value`` never occurs (Pandera's ``Check.ne``)."""
    return ColumnCheck("not_equal_to", (("value", value),))
