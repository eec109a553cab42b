"""Declarations of the derived (computed, not fetched) warehouse tables: the revenue tables.

A :class:`DerivedTable` declares a table exactly as a registry ``Dataset`` does - columns with
logical ``Kind``s, the natural key the MERGE matches on, the partition column, an optional
revision column - but has no endpoint: its rows are computed from other tables by the revenue
assets (``method.py`` specifies the method, ``defs/revenue/assets.py`` is the Dagster wiring). Both are a
``registry.TableDeclaration`` (``code``, ``columns``, ``key``, ``table``, ``column()`` ...), so
schemas, the warehouse backends, the IO manager and the unique-key check work on it unchanged.

:func:`get_table_spec` is the lookup the IO manager uses to read any table back: registry datasets
and derived tables alike, by asset name.

Each table's ``reads`` (:class:`Read`: an asset and which of its days) is the revenue lineage, declared
here once: ``lineage.py`` derives from it what re-runs when a source day changes and the docs'
lineage section, ``defs/revenue`` the assets' inputs, partition mappings and the sensor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bmrs_assets.core.column_checks import isin
from bmrs_assets.core.tables import PERIOD_CHECK, TS, B, Col, D, F, I, J, Kind, S, TableDeclaration, WriteSemantics
from bmrs_assets.elexon.datasets import REGISTRY, Dataset


@dataclass(frozen=True)
class Read:
    """One input of a derived table: an asset and which of its days, relative to the table's own day.

    ``days`` is the first and last day read, inclusive: ``(0, 0)`` (the default) the same settlement
    day, ``(-1, 0)`` the day before and the same day. ``required=False``: the table is computed
    without it when it is missing (the sensor does not wait for it), and its materialization still
    re-runs the table's day.
    """

    asset: str  # asset name (bmrs/<asset>): a registry dataset or a derived table declared before
    days: tuple[int, int] = (0, 0)
    why: str = ""  # for the docs: why days other than the table's own are read
    required: bool = True

    def __post_init__(self) -> None:
        first, last = self.days
        if first > last:
            raise ValueError(f"read of {self.asset}: first day {first} after last day {last}")

    @property
    def offsets(self) -> range:
        """The day offsets read, e.g. ``range(-1, 1)`` for ``days=(-1, 0)``."""
        return range(self.days[0], self.days[1] + 1)


@dataclass(frozen=True, eq=False)
class DerivedTable(TableDeclaration):
    """A computed table: same declaration as a registry dataset, plus the assets it is computed from."""

    code: str  # upper-case snake case; the asset is bmrs/<code lower>, the table bmrs_<code lower>
    description: str
    columns: tuple[Col, ...]
    key: tuple[str, ...]
    partition_column: str
    reads: tuple[Read, ...]  # what the rows are computed from: the lineage (see Read)
    revision_column: str | None = None
    # derived days are recomputed whole from their inputs: the current state (rows whose inputs left, leave)
    semantics: WriteSemantics | None = WriteSemantics.CURRENT_STATE
    semantics_why: str = ("computed whole for the day from its inputs: a row whose inputs were withdrawn or "
                          "changed key is no longer computed and leaves, so revenue is never counted twice")

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Z][A-Z0-9_]{1,40}", self.code):
            raise ValueError(f"derived table code {self.code!r} must be upper-case letters, digits and _")
        self.validate_columns()
        if self.partition_kind is not Kind.DATE:
            raise ValueError(f"{self.code}: the partition column must be a DATE")
        if not self.reads or len({r.asset for r in self.reads}) != len(self.reads):
            raise ValueError(f"{self.code}: reads must name each input asset once")

    @property
    def inputs(self) -> tuple[str, ...]:
        """The asset names read, in declaration order (also the rows' ``_source_api``: ``derived:<inputs>``)."""
        return tuple(r.asset for r in self.reads)


def _unit_period() -> tuple[Col, ...]:
    """Settlement period and unit; bmUnit is null for interconnectors (keys compare null-safely)."""
    return (
        Col("settlementDate", D, nullable=False),
        Col("settlementPeriod", I, nullable=False, checks=(PERIOD_CHECK,)),
        Col("bmUnit", S),
        Col("nationalGridBmUnit", S),
    )


MATCH_STATUSES = ("matched", "partial", "unmatched", "no_volume")
UNMATCHED_REASONS = ("no_bod", "beyond_bod_bands", "sentinel_price", "no_pn")
HYBRID_SOURCES = ("EBOCF", "BOALF_BOD_estimate", "mixed")  # mixed: one side from each
SIDE_SOURCES = ("EBOCF", "BOALF_BOD_estimate", "none")  # none: neither has anything on that side

BOALF_WITH_PRICES = DerivedTable(
    code="BOALF_WITH_PRICES",
    description=("Accepted BOALF energy per unit, acceptance and settlement period (BSC Section T acceptance "
                 "volume against the previous acceptance or PN), split into offer/bid and priced from the "
                 "BOD pair bands it falls in."),
    reads=(Read("boalf", days=(-1, 0), why="acceptances running past midnight count in the next day"),
           Read("bod"), Read("pn")),
    columns=(
        *_unit_period(),
        Col("acceptanceNumber", I, nullable=False),
        Col("acceptanceTime", TS, nullable=False),
        Col("timeFrom", TS, nullable=False),  # the acceptance's first instant inside this period
        Col("timeTo", TS, nullable=False),  # its last instant inside this period
        Col("soFlag", B),
        Col("storFlag", B),
        Col("rrFlag", B),
        Col("deemedBoFlag", B),
        Col("baseline", S, checks=(isin(["PN", "previous_acceptance", "PN+previous_acceptance"]),)),
        Col("direction", S, nullable=False, checks=(isin(["offer", "bid", "both", "none"]),)),
        Col("offer_volume_mwh", F),  # >= 0: accepted increase
        Col("bid_volume_mwh", F),  # <= 0: accepted decrease
        Col("net_volume_mwh", F),
        Col("unpriced_volume_mwh", F),  # >= 0: energy no BOD band price could be applied to
        Col("offer_price_gbp_per_mwh", F),  # volume-weighted over the priced offer energy
        Col("bid_price_gbp_per_mwh", F),  # volume-weighted over the priced bid energy
        Col("offer_cashflow_gbp", F),  # offer price x offer volume (paid to the unit)
        Col("bid_cashflow_gbp", F),  # bid price x (negative) bid volume
        Col("cashflow_gbp", F),  # offer + bid cashflow, of the priced energy only
        Col("pricing_source", S, checks=(isin(["BOD"]),)),
        Col("match_status", S, nullable=False, checks=(isin(list(MATCH_STATUSES)),)),
        Col("unmatched_reason", S),  # comma-separated UNMATCHED_REASONS, null when matched
        Col("priced_pairs", J),  # [{pairId, side, volume_mwh, price_gbp_per_mwh, cashflow_gbp}, ...]
    ),
    key=("bmUnit", "nationalGridBmUnit", "acceptanceNumber", "settlementDate", "settlementPeriod"),
    partition_column="settlementDate",
)

BM_CASHFLOW_HYBRID = DerivedTable(
    code="BM_CASHFLOW_HYBRID",
    description=("Balancing Mechanism cashflow per unit (by nationalGridBmUnit) and settlement period, each side "
                 "(offer, bid) from Elexon's EBOCF where it publishes that side, else from the BOALF x BOD "
                 "estimate - never both for one side."),
    reads=(Read("boalf_with_prices"), Read("ebocf")),
    columns=(
        *_unit_period(),
        Col("source", S, nullable=False, checks=(isin(list(HYBRID_SOURCES)),)),  # the two sides together
        Col("offer_source", S, nullable=False, checks=(isin(list(SIDE_SOURCES)),)),
        Col("bid_source", S, nullable=False, checks=(isin(list(SIDE_SOURCES)),)),
        Col("cashflow_gbp", F, nullable=False),  # the one figure to sum: offer + bid side
        Col("offer_cashflow_gbp", F, nullable=False),  # from offer_source (0 where it is none)
        Col("bid_cashflow_gbp", F, nullable=False),  # from bid_source (0 where it is none)
        Col("ebocf_cashflow_gbp", F),  # EBOCF's published sides, null where it has none (reconciliation)
        Col("estimate_cashflow_gbp", F),  # BOALF x BOD estimate, null without acceptances (reconciliation)
        Col("estimate_status", S, checks=(isin(list(MATCH_STATUSES)),)),
        Col("acceptances", I, nullable=False),
        Col("offer_volume_mwh", F),
        Col("bid_volume_mwh", F),
        Col("unpriced_volume_mwh", F),
    ),
    key=("bmUnit", "nationalGridBmUnit", "settlementDate", "settlementPeriod"),
    partition_column="settlementDate",
)

CLASSIFICATION_SOURCES = ("csv", "reference", "prefix")


def _unit_day() -> tuple[Col, ...]:
    return (
        Col("settlementDate", D, nullable=False),
        Col("bmUnit", S),
        Col("nationalGridBmUnit", S),
        Col("classification", S, nullable=False),
        Col("classification_source", S, nullable=False, checks=(isin(list(CLASSIFICATION_SOURCES)),)),
    )


_FLAGS = ("so", "stor", "deemed")  # BOALF's soFlag, storFlag, deemedBoFlag (see revenue/units.py)

BM_UNIT_REVENUE = DerivedTable(
    code="BM_UNIT_REVENUE",
    description=("Daily Balancing Mechanism revenue of every BM unit (all classes): volumes, cashflows by side and "
                 "source, the SO/STOR/deemed split, the value of its accepted energy at the system prices, and "
                 "GBP per MW of registered capacity (per day and annualised)."),
    reads=(Read("bm_cashflow_hybrid"),
           Read("boalf_with_prices", why="acceptance counts and the SO/STOR/deemed flags, per acceptance"),
           Read("costs", required=False,
                why="optional: the day's system prices value the accepted energy; without them that value is null"),
           Read("bm_units", required=False,
                why="optional: the day's BM unit reference snapshot classifies the units and gives their "
                    "capacity; without one, the prefix rule and no capacity")),
    columns=(
        *_unit_day(),
        Col("leadPartyName", S),  # from the reference, null where it does not list the unit
        Col("fuelType", S),
        Col("periods", I, nullable=False),
        Col("periods_ebocf", I, nullable=False),  # periods with at least one side from EBOCF
        Col("periods_estimate", I, nullable=False),  # periods with at least one side from the estimate
        Col("acceptances", I, nullable=False),
        Col("offer_volume_mwh", F, nullable=False),  # >= 0, the estimate's accepted offer energy
        Col("bid_volume_mwh", F, nullable=False),  # <= 0
        Col("unpriced_volume_mwh", F, nullable=False),
        Col("offer_cashflow_gbp", F, nullable=False),
        Col("bid_cashflow_gbp", F, nullable=False),
        Col("bm_revenue_gbp", F, nullable=False),  # offer + bid cashflow: the hybrid's sum for the day
        Col("ebocf_revenue_gbp", F, nullable=False),  # ... of the sides taken from EBOCF
        Col("estimate_revenue_gbp", F, nullable=False),  # ... of the sides taken from the estimate
        *(Col(f"{flag}_{c}", F, nullable=False) for flag in _FLAGS
          for c in ("offer_volume_mwh", "bid_volume_mwh", "estimate_cashflow_gbp")),
        Col("system_price_value_gbp", F),  # offer MWh x SSP + bid MWh x SBP; null where a period lacks prices
        Col("system_priced_periods", I, nullable=False),
        Col("bm_premium_gbp", F),  # bm_revenue_gbp - system_price_value_gbp
        Col("capacity_mw", F),  # max(generationCapacity, |demandCapacity|) from the reference; null: unknown
        Col("gbp_per_mw_day", F),
        Col("gbp_per_mw_year", F),  # x 365
    ),
    key=("bmUnit", "nationalGridBmUnit", "settlementDate"),
    partition_column="settlementDate",
)

VLP_REVENUE = DerivedTable(
    code="VLP_REVENUE",
    description="Daily Balancing Mechanism revenue per Virtual Lead Party unit, less configured cost components.",
    reads=(Read("bm_unit_revenue"),),
    columns=(
        *_unit_day(),
        Col("periods", I, nullable=False),
        Col("periods_ebocf", I, nullable=False),
        Col("periods_estimate", I, nullable=False),
        Col("gross_revenue_gbp", F, nullable=False),
        Col("ebocf_revenue_gbp", F, nullable=False),
        Col("estimate_revenue_gbp", F, nullable=False),
        Col("offer_volume_mwh", F, nullable=False),
        Col("bid_volume_mwh", F, nullable=False),
        Col("costs_gbp", F, nullable=False),
        Col("net_revenue_gbp", F, nullable=False),
        Col("cost_breakdown", J),  # {component name: £}
    ),
    key=("bmUnit", "nationalGridBmUnit", "settlementDate"),
    partition_column="settlementDate",
)


def _in_lineage_order(tables: tuple[DerivedTable, ...]) -> dict[str, DerivedTable]:
    """The tables by code, checking each reads only registry datasets and tables declared before it (no cycle)."""
    known = {ds.asset_name for ds in REGISTRY.values()}
    for t in tables:
        for r in t.reads:
            if r.asset not in known:
                raise ValueError(f"{t.code} reads {r.asset!r}: neither a registry dataset nor a derived table "
                                 "declared before it")
        known.add(t.asset_name)
    return {t.code: t for t in tables}


DERIVED: dict[str, DerivedTable] = _in_lineage_order((BOALF_WITH_PRICES, BM_CASHFLOW_HYBRID, BM_UNIT_REVENUE, VLP_REVENUE))

TableSpec = Dataset | DerivedTable


def get_table_spec(name: str) -> TableSpec:
    """A registry dataset or a derived table, by code or asset name (case-insensitive)."""
    code = str(name).upper()
    spec = REGISTRY.get(code) or DERIVED.get(code)
    if spec is None:
        raise KeyError(f"unknown table {name!r}; datasets: {', '.join(sorted(REGISTRY))}; "
                       f"derived: {', '.join(sorted(DERIVED))}")
    return spec
