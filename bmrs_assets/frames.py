"""From API rows to a typed, validated frame ready for the warehouse.

Types are applied column by column with vectorised parsers. A value that does not fit its type is
an error naming dataset, partition, column and value - never a silent NULL (the old system's
``errors='coerce'``). Fields the registry does not know are kept in ``_extra`` and reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import orjson
import pandas as pd

from bmrs_assets.registry import Dataset, Kind
from bmrs_assets.schemas import METADATA_NAMES, hashed_columns, validate
from bmrs_assets.settlement import UtcWindow, day_window

ZONED_ISO = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$"
ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"


class FrameError(ValueError):
    """Rows that cannot be typed; nothing of the partition is written."""


@dataclass
class FrameReport:
    """What typing a batch found, for materialization metadata."""

    rows_received: int = 0
    rows_outside_partition: int = 0
    unknown_fields: list[str] = field(default_factory=list)


def _bad(ds: Dataset, day: date, column: str, problem: str, values: pd.Series) -> str:
    sample = [repr(v) for v in values.head(5).tolist()]
    return f"column {column}: {len(values)} value(s) {problem}, e.g. {', '.join(sample)}"


def _is_type(values: pd.Series, types: tuple[type, ...]) -> pd.Series:
    return values.map(lambda v: isinstance(v, types))


def _cast(ds: Dataset, day: date, name: str, kind: Kind, raw: pd.Series) -> tuple[pd.Series, str | None]:
    """Cast one column; returns (typed series, error message or None)."""
    present = raw.notna()
    if kind is Kind.DATE:
        ok_shape = _is_type(raw, (str,)) & raw.astype(str).str.match(ISO_DATE)
        parsed = pd.to_datetime(raw.where(ok_shape), format="%Y-%m-%d", errors="coerce")
        bad = present & parsed.isna()
        typed = pd.Series(parsed.dt.date.where(parsed.notna(), None), index=raw.index, dtype=object)
        return typed, _bad(ds, day, name, "are not dates (YYYY-MM-DD)", raw[bad]) if bad.any() else None
    if kind is Kind.TIMESTAMP:
        ok_shape = _is_type(raw, (str,)) & raw.astype(str).str.match(ZONED_ISO)
        parsed = pd.to_datetime(raw.where(ok_shape), format="ISO8601", utc=True, errors="coerce")
        bad = present & parsed.isna()
        msg = "are not ISO-8601 timestamps with a time zone"
        return parsed.astype("datetime64[ns, UTC]"), _bad(ds, day, name, msg, raw[bad]) if bad.any() else None
    if kind in (Kind.INT, Kind.FLOAT):
        numeric_type = _is_type(raw, (int, float)) & ~_is_type(raw, (bool,))
        numbers = pd.to_numeric(raw.where(numeric_type), errors="coerce").astype("float64")
        bad = present & ~np.isfinite(numbers.fillna(np.inf).where(present, 0.0))
        if kind is Kind.INT:
            bad |= present & numbers.notna() & (numbers != np.floor(numbers))
            typed = numbers.where(~bad).round().astype("Int64")
            what = "are not integers"
        else:
            typed, what = numbers, "are not finite numbers"
        return typed, _bad(ds, day, name, what, raw[bad]) if bad.any() else None
    if kind is Kind.BOOL:
        bad = present & ~_is_type(raw, (bool, np.bool_))
        typed = raw.where(~bad).astype("boolean")
        return typed, _bad(ds, day, name, "are not booleans", raw[bad]) if bad.any() else None
    if kind is Kind.STRING:
        bad = present & ~_is_type(raw, (str,))
        typed = raw.astype(object).where(present, None)
        return typed, _bad(ds, day, name, "are not strings", raw[bad]) if bad.any() else None
    dumped = raw.map(lambda v: None if v is None else orjson.dumps(v, option=orjson.OPT_SORT_KEYS).decode())
    return dumped.astype(object), None


def content_hash(frame: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """A stable 64-bit hash (hex) of each row's content, for skipping no-op updates."""
    hashed = pd.util.hash_pandas_object(frame[list(columns)], index=False, categorize=False)
    return pd.Series([f"{h:016x}" for h in hashed.to_numpy()], index=frame.index, dtype=object)


def _partition_mask(ds: Dataset, day: date, frame: pd.DataFrame, window: UtcWindow) -> pd.Series:
    values = frame[ds.partition_column]
    if ds.partition_kind is Kind.DATE:
        return values == day
    return (values >= pd.Timestamp(window.start)) & (values < pd.Timestamp(window.end))


def _flatten(ds: Dataset, raw: pd.DataFrame) -> list[str]:
    """Expand nested objects (``ds.flatten``) into ``<field>_<member>`` columns, in place.

    Members the registry does not declare become ``<field>.<member>`` columns, which end up in
    ``_extra`` like any other unknown field.
    """
    problems = []
    for name in ds.flatten:
        if name not in raw.columns:
            continue
        nested = raw.pop(name)
        bad = nested.notna() & ~_is_type(nested, (dict,))
        if bad.any():
            problems.append(f"column {name}: {int(bad.sum())} value(s) are not objects, e.g. {nested[bad].head(3).tolist()}")
        members = nested.map(lambda d: d if isinstance(d, dict) else {})
        declared = {c.name[len(name) + 1:] for c in ds.columns if c.name.startswith(name + "_")}
        seen = set().union(*members.tolist()) if len(members) else set()
        for member in sorted(declared | seen):
            target = f"{name}_{member}" if member in declared else f"{name}.{member}"
            raw[target] = members.map(lambda d, m=member: d.get(m))
    return problems


def to_frame(ds: Dataset, day: date, rows: list[dict], *, ingested_utc: datetime,
             source: str = "API") -> tuple[pd.DataFrame, FrameReport]:
    """Type, annotate, filter and validate the rows fetched for one partition day.

    Consumes ``rows`` (the list is emptied once it is a frame) so a big day is not held twice.
    """
    window = day_window(day)
    report = FrameReport(rows_received=len(rows))
    raw = pd.DataFrame.from_records(rows) if rows else pd.DataFrame()
    rows.clear()
    flatten_problems = _flatten(ds, raw)
    known = set(ds.column_names)
    report.unknown_fields = sorted(c for c in raw.columns if c not in known)
    clashing = [c for c in report.unknown_fields if c in METADATA_NAMES]
    if clashing:
        raise FrameError(f"{ds.code} partition {day}: API fields clash with metadata columns {clashing}")

    typed: dict[str, pd.Series] = {}
    problems: list[str] = list(flatten_problems)
    for col in ds.columns:
        source_values = raw.pop(col.name) if col.name in raw.columns else pd.Series([None] * len(raw), dtype=object)
        source_values = source_values.astype(object).where(source_values.notna(), None)
        series, problem = _cast(ds, day, col.name, col.kind, source_values.reset_index(drop=True))
        typed[col.name] = series
        if problem:
            problems.append(problem)
    if problems:
        raise FrameError(f"{ds.code} partition {day}: cannot type the API response, nothing written:\n  "
                         + "\n  ".join(problems))
    frame = pd.DataFrame(typed, index=pd.RangeIndex(len(raw)))
    del typed

    if report.unknown_fields:
        extras = raw[report.unknown_fields].astype(object)
        frame["_extra"] = [
            orjson.dumps({k: v for k, v in rec.items() if v is not None and v == v},
                         option=orjson.OPT_SORT_KEYS).decode()
            for rec in extras.to_dict("records")
        ]
    else:
        frame["_extra"] = pd.Series([None] * len(frame), dtype=object)

    inside = _partition_mask(ds, day, frame, window)
    report.rows_outside_partition = int((~inside).sum())
    frame = frame[inside.to_numpy()].reset_index(drop=True)

    extra = frame.pop("_extra")
    frame["_dataset"] = ds.code
    frame["_window_from_utc"] = pd.Timestamp(window.start).tz_convert("UTC")
    frame["_window_to_utc"] = pd.Timestamp(window.end).tz_convert("UTC")
    frame["_ingested_utc"] = pd.Timestamp(ingested_utc).tz_convert("UTC")
    frame["_source_api"] = source
    frame["_extra"] = extra
    frame["_hash_key"] = content_hash(frame, hashed_columns(ds)) if len(frame) else pd.Series(dtype=object)
    for c in ("_window_from_utc", "_window_to_utc", "_ingested_utc"):
        frame[c] = frame[c].astype("datetime64[ns, UTC]")
    for c in ("_dataset", "_source_api", "_extra", "_hash_key"):
        frame[c] = frame[c].astype(object)
    return validate(ds, day, frame), report
