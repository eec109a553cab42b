"""A cost set against VLP revenue, as configured (no pandas: the code location's resource builds them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CostComponent:
    """A configured cost: ``per_mwh_gbp`` x accepted MWh (offer + |bid|) plus ``share_of_revenue`` x
    max(gross revenue, 0) (e.g. an aggregator's share). No value is built in."""

    name: str
    per_mwh_gbp: float = 0.0
    share_of_revenue: float = 0.0
