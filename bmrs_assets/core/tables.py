"""Warehouse table declarations: logical column types, columns, and what a table needs declared.

A table is declared once - columns with logical :class:`Kind`s, the natural key the MERGE matches
on, the partition column, an optional revision column - and schemas, both warehouse backends, the
IO manager and the checks work from that declaration alone, whether the table is fetched (an Elexon
dataset) or derived (the revenue tables). Nothing here knows Dagster or any dataset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from bmrs_assets.core.column_checks import ColumnCheck, in_range


class Kind(StrEnum):
    """Logical column types; each backend maps them to its own SQL types."""

    DATE = "date"
    TIMESTAMP = "timestamp"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    STRING = "string"
    JSON = "json"


D, TS, I, F, B, S, J = Kind.DATE, Kind.TIMESTAMP, Kind.INT, Kind.FLOAT, Kind.BOOL, Kind.STRING, Kind.JSON

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

# The settlement-period column, where a table has one (completeness counts its distinct values).
PERIOD_COLUMN = "settlementPeriod"
# The coarse bound any day allows (46 or 50 periods on clock-change days, 48 otherwise); the row's own
# day's count and the agreement with its time are checked per :class:`PeriodLabel` (``core/periods.py``).
PERIOD_CHECK = in_range(1, 50)


class PeriodRule(StrEnum):
    """How a period label must agree with its settlement day and, if it has one, its time column."""

    EXISTS = "exists"  # no time column: the period must exist on its settlement day (1..46/48/50)
    START = "start"  # the time is the labelled period's start, exactly
    WITHIN = "within"  # the time lies in [start, end) of the labelled period


@dataclass(frozen=True)
class PeriodLabel:
    """A settlement-period column, the settlement-date column it counts in, and the time that fixes it.

    Every row's ``period`` must exist on its ``date`` (a London day: 46, 48 or 50 periods); with a
    ``time`` column, the time must be the period's start (``START``) or lie inside it (``WITHIN``).
    """

    period: str
    time: str | None = None
    rule: PeriodRule = PeriodRule.EXISTS
    date: str = "settlementDate"

    def __post_init__(self) -> None:
        if (self.time is None) != (self.rule is PeriodRule.EXISTS):
            raise ValueError(f"period label {self.period}: a time column needs rule START or WITHIN, "
                             f"rule EXISTS needs none")


class WriteSemantics(StrEnum):
    """What a write may do to a partition day already stored (declared by every table, with why).

    ``KEEP_VERSIONS``: rows are only added or revised, never deleted: every version or vintage the
    source published stays (REMIT revisions, forecast vintages), and a stream whose rows the source
    never withdraws is not put at risk by a response that comes back short.
    ``CURRENT_STATE``: the complete response for a partition day is the truth for that day: a row
    of the stored day that the complete response no longer holds was withdrawn by the source and
    is deleted in the same transaction as the upsert - only for a day that arrived whole (see
    ``warehouse/contract.py``'s ``PartitionBatch.whole_days``), never for a failed, empty,
    incomplete, still running or older-than-stored day, and never from an IRIS delta.
    """

    KEEP_VERSIONS = "keep versions"
    CURRENT_STATE = "current state"


class Origin(StrEnum):
    """Where a column's values come from."""

    API = "api"  # a field of the response rows
    PATH = "path"  # filled from the request path's variant (e.g. EBOCF's bid/offer)
    REQUEST = "request"  # the partition day the request was made for (a reference snapshot's day)


@dataclass(frozen=True)
class Col:
    """One column: name as the API spells it, logical type, nullability, extra checks."""

    name: str
    kind: Kind
    nullable: bool = True
    checks: tuple[ColumnCheck, ...] = ()
    origin: Origin = Origin.API

    def __post_init__(self) -> None:
        if not IDENTIFIER.match(self.name):
            raise ValueError(f"column name {self.name!r} is not a safe SQL identifier")


class TableDeclaration:
    """What a warehouse table needs from its declaration, fetched or derived.

    Schemas, both warehouse backends, the IO manager and the unique-key check use only this.
    """

    code: str
    columns: tuple[Col, ...]
    key: tuple[str, ...]
    partition_column: str
    revision_column: str | None
    semantics: WriteSemantics | None  # every table declares it (validate_columns refuses None)
    semantics_why: str  # why, from the source's documented behaviour (docs/guarantees.md lists it)
    # typical rows per partition day; registry entries declare theirs (it sizes runs and reads)
    rows_per_day = 10_000

    def validate_columns(self) -> None:
        """Column names unique; key, partition and revision columns declared; partition non-nullable."""
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.code}: duplicate column names")
        for col in (*self.key, self.partition_column, *filter(None, [self.revision_column])):
            if col not in names:
                raise ValueError(f"{self.code}: {col!r} is not a declared column")
        if not isinstance(self.semantics, WriteSemantics):
            raise ValueError(f"{self.code}: declare semantics (a WriteSemantics: "
                             f"{', '.join(m.value for m in WriteSemantics)}) and why, not {self.semantics!r}")
        if not self.semantics_why.strip():
            raise ValueError(f"{self.code}: semantics_why must say why the table is {self.semantics.value}")
        if self.column(self.partition_column).nullable:
            raise ValueError(f"{self.code}: partition column {self.partition_column} must be non-nullable")

    @property
    def asset_name(self) -> str:
        return self.code.lower()

    @property
    def table(self) -> str:
        return f"bmrs_{self.code.lower()}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def partition_kind(self) -> Kind:
        return self.column(self.partition_column).kind

    @property
    def period_column(self) -> str | None:
        """The settlement-period column, or None if the table has none."""
        return PERIOD_COLUMN if PERIOD_COLUMN in self.column_names else None

    def column(self, name: str) -> Col:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.code} has no column {name!r}")


# Columns the platform adds to every row of every table (issue: provenance and change detection).
METADATA_COLUMNS: tuple[Col, ...] = (
    Col("_dataset", Kind.STRING, nullable=False),
    Col("_window_from_utc", Kind.TIMESTAMP, nullable=False),
    Col("_window_to_utc", Kind.TIMESTAMP, nullable=False),
    Col("_ingested_utc", Kind.TIMESTAMP, nullable=False),
    Col("_source_api", Kind.STRING, nullable=False),
    Col("_extra", Kind.JSON),
    Col("_hash_key", Kind.STRING, nullable=False),
)
METADATA_NAMES = tuple(c.name for c in METADATA_COLUMNS)


def table_columns(decl: TableDeclaration) -> tuple[Col, ...]:
    """All columns of the warehouse table: the declared (API's) fields, then the metadata columns."""
    return (*decl.columns, *METADATA_COLUMNS)
