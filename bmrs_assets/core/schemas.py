"""Pandera schemas, generated from the registry (the metadata columns every table carries are declared
in ``core/tables.py``).

Every frame is validated before anything is written; a failure names dataset, partition, column
and the offending values, and the run writes nothing. Pandera is imported when a schema is first
built, not with this module: the declarations (``core/tables.py``) hold checks as data, so loading
the code location does not pay for Pandera.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import TYPE_CHECKING

import pandas as pd

from bmrs_assets.core.column_checks import ColumnCheck
from bmrs_assets.core.tables import Kind, table_columns
from bmrs_assets.elexon.datasets import Dataset

if TYPE_CHECKING:
    import pandera.pandas as pa

UTC_NS = pd.DatetimeTZDtype("ns", "UTC")


@cache
def pandas_dtypes() -> dict[Kind, object]:
    """The Pandera dtype of each logical kind."""
    from pandera.engines import pandas_engine

    return {Kind.DATE: pandas_engine.Date, Kind.TIMESTAMP: UTC_NS, Kind.INT: "Int64", Kind.FLOAT: "float64",
            Kind.BOOL: "boolean", Kind.STRING: str, Kind.JSON: str}


def pandera_check(check: ColumnCheck) -> pa.Check:
    """The Pandera built-in check a declared :class:`ColumnCheck` stands for."""
    import pandera.pandas as pa

    s = check.statistics
    if check.name == "isin":
        return pa.Check.isin(s["allowed_values"])
    if check.name == "in_range":
        return pa.Check.in_range(s["min_value"], s["max_value"], s["include_min"], s["include_max"])
    if check.name == "not_equal_to":
        return pa.Check.ne(s["value"])
    raise ValueError(f"unknown column check {check.name!r}")


def hashed_columns(ds: Dataset) -> list[str]:
    """The content that defines 'changed': every API field, known or not (``_extra``)."""
    return [*ds.column_names, "_extra"]


@cache
def schema_for(ds: Dataset) -> pa.DataFrameSchema:
    """The Pandera schema of a typed frame of ``ds``: exact columns, dtypes, nulls and checks."""
    import pandera.pandas as pa

    dtypes = pandas_dtypes()
    columns = {
        c.name: pa.Column(dtypes[c.kind], nullable=c.nullable, checks=[pandera_check(k) for k in c.checks])
        for c in table_columns(ds)
    }
    columns["_dataset"] = pa.Column(str, checks=pa.Check.isin([ds.code]))
    return pa.DataFrameSchema(columns, strict=True, ordered=True, name=ds.code)


class ValidationFailure(ValueError):
    """A frame that failed its schema; the message is what a user needs to find the bad data."""


def validate(ds: Dataset, day: date | str, frame: pd.DataFrame) -> pd.DataFrame:
    """Validate ``frame`` or raise :class:`ValidationFailure` naming every problem found."""
    import pandera.pandas as pa

    try:
        return schema_for(ds).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        lines = []
        for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=True):
            values = group["failure_case"].astype(str).unique()[:5].tolist()
            lines.append(f"column {column}: {check} failed for {len(group)} row(s), e.g. {values}")
        raise ValidationFailure(
            f"{ds.code} partition {day}: schema validation failed, nothing of this day written:\n  "
            + "\n  ".join(lines)
        ) from None
