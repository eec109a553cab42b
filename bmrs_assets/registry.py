"""The declarative dataset registry: one entry per Elexon dataset drives everything.

An entry says where the data comes from (endpoint and request style), how big one request may be,
which columns it has and of what type, which columns identify a row (the natural key used by the
MERGE), which column places a row in a daily partition, and which column orders revisions of the
same key. Assets, Pandera schemas, checks and warehouse tables are all generated from it; adding a
dataset is adding an entry here (and its checks), nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

import pandera.pandas as pa


class Style(StrEnum):
    """How a settlement day is asked for."""

    SETTLEMENT_DAY = "settlement_day"  # from=D&to=D&settlementPeriodFrom=1&settlementPeriodTo=50
    TIME_WINDOW = "time_window"  # <from_param>=start&<to_param>=end over the London day in UTC
    PATH_DATE = "path_date"  # the date is a path segment: /.../{settlementDate}


class Kind(StrEnum):
    """Logical column types; each backend maps them to its own SQL types."""

    DATE = "date"
    TIMESTAMP = "timestamp"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    STRING = "string"
    JSON = "json"


IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


@dataclass(frozen=True)
class Col:
    """One API field: name as the API spells it, logical type, nullability, extra checks."""

    name: str
    kind: Kind
    nullable: bool = True
    checks: tuple[pa.Check, ...] = ()

    def __post_init__(self) -> None:
        if not IDENTIFIER.match(self.name):
            raise ValueError(f"column name {self.name!r} is not a safe SQL identifier")


@dataclass(frozen=True, eq=False)
class Dataset:
    """A registry entry. See the module docstring."""

    code: str
    description: str
    path: str
    style: Style
    columns: tuple[Col, ...]
    key: tuple[str, ...]
    partition_column: str
    spec_schema: str
    from_param: str = "from"
    to_param: str = "to"
    max_window: timedelta | None = None
    revision_column: str | None = None
    path_variants: tuple[dict[str, str], ...] = ({},)
    allow_empty: bool = False
    row_checks: tuple[pa.Check, ...] = field(default=())

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Z0-9]{2,12}", self.code):
            raise ValueError(f"dataset code {self.code!r} must be 2-12 upper-case letters/digits")
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.code}: duplicate column names")
        for col in (*self.key, self.partition_column, *filter(None, [self.revision_column])):
            if col not in names:
                raise ValueError(f"{self.code}: {col!r} is not a declared column")
        if self.partition_kind not in (Kind.DATE, Kind.TIMESTAMP):
            raise ValueError(f"{self.code}: partition column must be a DATE or TIMESTAMP")
        part = self.column(self.partition_column)
        if part.nullable:
            raise ValueError(f"{self.code}: partition column {part.name} must be non-nullable")

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

    def column(self, name: str) -> Col:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.code} has no column {name!r}")


# --- shared column groups -----------------------------------------------------------------
D, TS, I, F, B, S, J = Kind.DATE, Kind.TIMESTAMP, Kind.INT, Kind.FLOAT, Kind.BOOL, Kind.STRING, Kind.JSON
PERIOD_CHECK = pa.Check.in_range(1, 50)


def _dataset_label(code: str) -> Col:
    return Col("dataset", S, checks=(pa.Check.isin([code]),))


# --- the registry -------------------------------------------------------------------------
BOALF = Dataset(
    code="BOALF",
    description="Bid-offer acceptance levels (flagged): one row per acceptance level segment.",
    path="/datasets/BOALF/stream",
    style=Style.SETTLEMENT_DAY,
    spec_schema="Insights.Api.Models.Responses.Balancing.DatasetRows.BidOfferAcceptanceLevelDatasetResponse",
    columns=(
        _dataset_label("BOALF"),
        Col("settlementDate", D, nullable=False),
        Col("settlementPeriodFrom", I, nullable=False, checks=(PERIOD_CHECK,)),
        Col("settlementPeriodTo", I, nullable=False, checks=(PERIOD_CHECK,)),
        Col("timeFrom", TS, nullable=False),
        Col("timeTo", TS, nullable=False),
        Col("levelFrom", I, nullable=False),
        Col("levelTo", I, nullable=False),
        Col("acceptanceNumber", I, nullable=False),
        Col("acceptanceTime", TS, nullable=False),
        Col("deemedBoFlag", B, nullable=False),
        Col("soFlag", B, nullable=False),
        Col("amendmentFlag", S),
        Col("storFlag", B, nullable=False),
        Col("rrFlag", B),
        Col("nationalGridBmUnit", S),
        Col("bmUnit", S),
    ),
    key=("bmUnit", "nationalGridBmUnit", "acceptanceNumber", "settlementDate", "timeFrom"),
    partition_column="settlementDate",
    revision_column="acceptanceTime",
)

FREQ = Dataset(
    code="FREQ",
    description="System frequency, one spot value every 15 seconds.",
    path="/datasets/FREQ/stream",
    style=Style.TIME_WINDOW,
    from_param="measurementDateTimeFrom",
    to_param="measurementDateTimeTo",
    spec_schema="Insights.Api.Models.Responses.Misc.DatasetRows.SystemFrequency",
    columns=(
        _dataset_label("FREQ"),
        Col("measurementTime", TS, nullable=False),
        Col("frequency", F, nullable=False, checks=(pa.Check.in_range(45.0, 55.0),)),
    ),
    key=("measurementTime",),
    partition_column="measurementTime",
)

COSTS = Dataset(
    code="COSTS",
    description="System prices (Elexon DISEBSP): SSP/SBP per settlement period, latest run.",
    path="/balancing/settlement/system-prices/{settlementDate}",
    style=Style.PATH_DATE,
    spec_schema="Insights.Api.Models.Responses.Balancing.Settlement.SystemPriceResponse",
    columns=(
        Col("settlementDate", D, nullable=False),
        Col("settlementPeriod", I, nullable=False, checks=(PERIOD_CHECK,)),
        Col("startTime", TS, nullable=False),
        Col("createdDateTime", TS, nullable=False),
        Col("systemSellPrice", F, nullable=False),
        Col("systemBuyPrice", F, nullable=False),
        Col("bsadDefaulted", B, nullable=False),
        Col("priceDerivationCode", S),
        Col("reserveScarcityPrice", F),
        Col("netImbalanceVolume", F, nullable=False),
        Col("sellPriceAdjustment", F),
        Col("buyPriceAdjustment", F),
        Col("replacementPrice", F),
        Col("replacementPriceReferenceVolume", F),
        Col("totalAcceptedOfferVolume", F),
        Col("totalAcceptedBidVolume", F),
        Col("totalAdjustmentSellVolume", F),
        Col("totalAdjustmentBuyVolume", F),
        Col("totalSystemTaggedAcceptedOfferVolume", F),
        Col("totalSystemTaggedAcceptedBidVolume", F),
        Col("totalSystemTaggedAdjustmentSellVolume", F),
        Col("totalSystemTaggedAdjustmentBuyVolume", F),
    ),
    key=("settlementDate", "settlementPeriod"),
    partition_column="settlementDate",
    revision_column="createdDateTime",
)

REGISTRY: dict[str, Dataset] = {ds.code: ds for ds in (BOALF, FREQ, COSTS)}


def get_dataset(code: str) -> Dataset:
    """Look a dataset up by code (case-insensitive); unknown names are refused loudly."""
    ds = REGISTRY.get(str(code).upper())
    if ds is None:
        raise KeyError(f"unknown dataset {code!r}; registered: {', '.join(sorted(REGISTRY))}")
    return ds
