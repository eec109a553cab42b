"""A registry entry's shape: :class:`Dataset` (what an Elexon dataset is, declaratively) and :class:`IrisMode`.

The entries themselves are in ``datasets.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from bmrs_assets.core.tables import Col, Kind, PeriodLabel, TableDeclaration, WriteSemantics
from bmrs_assets.elexon.requests import Endpoint, RequestStrategy
from bmrs_assets.quality.rules import Completeness, Freshness

# A history backfill's run moves about this many rows (see ``Dataset.days_per_run``).
ROWS_PER_RUN = 2_000_000
MAX_DAYS_PER_RUN = 92


class IrisMode(StrEnum):
    """What the IRIS consumer does with a dataset's real-time messages."""

    MERGE = "merge"  # merge them into the table like API rows
    LAND = "land"  # validate and keep them in the landing store; the table stays the API's
    RAW = "raw"  # keep them as sent


@dataclass(frozen=True, eq=False)
class Dataset(TableDeclaration):
    """A registry entry. See the module docstring."""

    code: str
    description: str
    path: str
    request: RequestStrategy  # how a partition day is asked for (and how the simulator reads it back)
    columns: tuple[Col, ...]
    key: tuple[str, ...]
    partition_column: str
    spec_schema: str
    revision_column: str | None = None
    also_at: tuple[Endpoint, ...] = ()  # other paths answering the same request form (simulator, spec subset)
    allow_empty: bool = False
    flatten: tuple[str, ...] = ()  # nested objects whose members become columns named <field>_<member>
    completeness: Completeness = Completeness(median_fraction=0.5)  # noqa: RUF009 (frozen: safe to share)
    freshness: Freshness = Freshness()  # noqa: RUF009 (frozen: safe to share)
    iris: IrisMode = IrisMode.MERGE  # what IRIS (the real-time push) does with its messages
    iris_subject: str | None = None  # the IRIS message subject, when it is not ``code``
    # typical rows per settlement day on the live API: sizes backfill runs and the history plan
    rows_per_day: int = TableDeclaration.rows_per_day
    # each settlement-period column, its settlement day and the time that fixes it (``core/periods.py``)
    period_labels: tuple[PeriodLabel, ...] = ()
    # keep every version, or the day is the source's current state (deletes what it withdrew); and why
    semantics: WriteSemantics | None = None
    semantics_why: str = ""

    def __post_init__(self) -> None:
        # the code names the asset (``bmrs/<code lower>``) and the table (``bmrs_<code lower>``)
        if not re.fullmatch(r"[A-Z][A-Z0-9_]{1,11}", self.code):
            raise ValueError(f"dataset code {self.code!r} must be 2-12 upper-case letters, digits or '_'")
        self.validate_columns()
        if self.partition_kind not in (Kind.DATE, Kind.TIMESTAMP):
            raise ValueError(f"{self.code}: partition column must be a DATE or TIMESTAMP")
        for endpoint in self.endpoints:
            try:
                self.request.validate(endpoint.path, self.column_names)
            except ValueError as exc:
                raise ValueError(f"{self.code}: {exc}") from None
        if self.rows_per_day < 1:
            raise ValueError(f"{self.code}: rows_per_day must be at least 1")
        self._validate_period_labels()
        if not isinstance(self.iris, IrisMode):
            raise ValueError(f"{self.code}: iris must be an IrisMode ({', '.join(IrisMode)}), not {self.iris!r}")

    def _validate_period_labels(self) -> None:
        """Each label names declared columns of the right kinds; a ``settlementPeriod`` column is labelled."""
        kinds = {c.name: c.kind for c in self.columns}
        for label in self.period_labels:
            wanted = {label.period: Kind.INT, label.date: Kind.DATE, **({label.time: Kind.TIMESTAMP} if label.time else {})}
            for name, kind in wanted.items():
                if kinds.get(name) is not kind:
                    raise ValueError(f"{self.code}: period label {label.period}: {name!r} is not a declared "
                                     f"{kind.value} column")
        if self.period_column and self.period_column not in {label.period for label in self.period_labels}:
            raise ValueError(f"{self.code}: {self.period_column} needs a PeriodLabel in period_labels")

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        """Every path serving this dataset: ``also_at``, then the path the platform asks."""
        return (*self.also_at, Endpoint(self.path, self.request.max_window))

    @property
    def days_per_run(self) -> int:
        """Partition days per run of a backfill (``BackfillPolicy.multi_run``): about ``ROWS_PER_RUN``
        rows, 1 to ``MAX_DAYS_PER_RUN`` days, so a history backfill is a bounded number of runs of a
        bounded length whatever the dataset's volume."""
        return max(1, min(MAX_DAYS_PER_RUN, ROWS_PER_RUN // self.rows_per_day))

    @property
    def elexon_code(self) -> str:
        """Elexon's own code for the dataset (IRIS subjects and the API's ``metadata`` name it so)."""
        return self.iris_subject or self.code
