"""From API rows to a typed, validated frame ready for the warehouse.

Types are applied column by column with vectorised parsers. A value that does not fit its type is
an error naming dataset, partition, column and value - never a silent NULL (the old system's
``errors='coerce'``). Fields the registry does not know are kept in ``_extra`` and reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import chain

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.core.util.hashing import combine_hash_arrays, hash_array

from bmrs_assets.core.periods import check_labels, label_problems
from bmrs_assets.core.schemas import hashed_columns, validate
from bmrs_assets.core.settlement import UtcWindow, day_window
from bmrs_assets.core.tables import METADATA_NAMES, Kind
from bmrs_assets.elexon.datasets import Dataset
from bmrs_assets.warehouse.arrow import ARROW_TYPES, arrow_schema, to_arrow

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

    add_provenance(ds, frame, window, ingested_utc=ingested_utc, source=source, extra=frame.pop("_extra"))
    frame = validate(ds, day, frame)
    if len(frame):  # each settlement period exists on its day and agrees with its time (core/periods.py)
        check_labels(ds.code, day, ds.period_labels, lambda name: pa.Array.from_pandas(frame[name]))
    return frame, report


def add_provenance(ds: Dataset, frame: pd.DataFrame, window: UtcWindow, *, ingested_utc: datetime, source: str,
                   extra: pd.Series | None = None) -> pd.DataFrame:
    """Append the metadata columns and ``_hash_key`` to ``frame`` (in place, and returned).

    The one place they are built for every table, fetched or derived (the fast path, ``to_table``,
    writes the same values as Arrow and is checked against this). ``frame`` holds exactly the
    declared columns; ``extra`` is the ``_extra`` JSON per row (None: no unknown fields)."""
    if extra is None:
        extra = pd.Series([None] * len(frame), index=frame.index, dtype=object)
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
    return frame


def _declared(kind: Kind, raw: pd.Series) -> pd.Series:
    """Computed values in the pandas dtype of their declared kind (they are ours, so cast, not checked)."""
    if kind is Kind.DATE:
        return pd.Series([None if pd.isna(v) else pd.Timestamp(v).date() for v in raw], dtype=object)
    if kind is Kind.TIMESTAMP:
        return pd.to_datetime(raw, utc=True).astype("datetime64[ns, UTC]")
    if kind is Kind.INT:
        return pd.to_numeric(raw).astype("Int64")
    if kind is Kind.FLOAT:
        return pd.to_numeric(raw).astype("float64")
    if kind is Kind.BOOL:
        return raw.astype(object).where(raw.notna(), None).astype("boolean")
    return raw.astype(object).where(raw.notna(), None)


def computed_frame(ds: Dataset, day: date, rows: pd.DataFrame, *, ingested_utc: datetime, source: str) -> pd.DataFrame:
    """Rows computed by the platform (a derived table's) as a validated warehouse frame: the declared
    columns in their types (a missing one is all null), then the same metadata columns and hash as
    fetched rows get."""
    n = len(rows)
    typed = {c.name: _declared(c.kind, rows[c.name].reset_index(drop=True) if c.name in rows.columns
                               else pd.Series([None] * n, dtype=object)) for c in ds.columns}
    frame = pd.DataFrame(typed, index=pd.RangeIndex(n))
    add_provenance(ds, frame, day_window(day), ingested_utc=ingested_utc, source=source)
    return validate(ds, day, frame)


# --- the fast path: rows -> typed Arrow table, no per-value Python ---------------------------------
# ``to_table`` produces exactly what ``to_arrow(ds, to_frame(...)[0])`` would - same values, same
# ``_hash_key`` - but types each column with one Arrow conversion and vectorised checks. Whenever a
# batch is not plainly clean (a value of the wrong type, a failed check, unknown fields, nested
# objects to flatten), it hands the rows to ``to_frame``, the reference path, which produces the
# frame or the exact error; so every error and edge case behaves as ``to_frame`` does.

class _Fallback(Exception):
    """The fast path declines this batch; the reference path decides."""


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_EXACT = 2**53  # integers a float64 holds exactly
_NS_MIN, _NS_MAX = date(1678, 1, 1), date(2262, 4, 11)  # pandas' datetime64[ns] range, as to_frame parses


def _inferred(values: list) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
        raise _Fallback from None


def _all_true(mask: pa.Array | pa.ChunkedArray) -> bool:
    """Every non-null entry is true."""
    return pc.all(mask).as_py() is not False


def _fast_column(kind: Kind, values: list) -> tuple[pa.Array, pa.Array | None]:
    """(column typed as the warehouse stores it, or the hash input for timestamps/dates), or _Fallback."""
    arr = _inferred(values)
    t = arr.type
    if pa.types.is_null(t):
        source = {Kind.DATE: pa.string(), Kind.TIMESTAMP: pa.timestamp("ns", tz="UTC")}.get(kind)
        return pa.nulls(len(arr), ARROW_TYPES[kind]), None if source is None else pa.nulls(len(arr), source)
    if kind in (Kind.INT, Kind.FLOAT) and t == pa.int64():
        lo, hi = pc.min_max(arr).values()
        if lo.is_valid and (lo.as_py() < -_EXACT or hi.as_py() > _EXACT):
            raise _Fallback  # to_frame goes through float64: beyond 2**53 only it knows what it makes of them
    if kind is Kind.INT:
        if t != pa.int64():
            raise _Fallback
        return arr, None
    if kind is Kind.FLOAT:
        if t == pa.int64():
            return pc.cast(arr, pa.float64()), None
        if t != pa.float64() or not _all_true(pc.is_finite(arr)):
            raise _Fallback
        return arr, None
    if kind is Kind.BOOL:
        if t != pa.bool_():
            raise _Fallback
        return arr, None
    if kind in (Kind.STRING, Kind.JSON):
        if t != pa.string() or kind is Kind.JSON:
            raise _Fallback
        return arr, None
    if t != pa.string():
        raise _Fallback
    try:
        if kind is Kind.DATE:
            if not _all_true(pc.match_substring_regex(arr, ISO_DATE)):
                raise _Fallback
            days = pc.cast(arr, pa.date32())
            lo, hi = pc.min_max(days).values()
            if lo.is_valid and (lo.as_py() < _NS_MIN or hi.as_py() >= _NS_MAX):
                raise _Fallback
            return days, arr
        if not _all_true(pc.match_substring_regex(arr, ZONED_ISO)):
            raise _Fallback
        ns = pc.cast(arr, pa.timestamp("ns", tz="UTC"))
        return pc.cast(ns, ARROW_TYPES[Kind.TIMESTAMP]), ns  # safe cast: refuses to drop nanoseconds
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise _Fallback from None


def _hash_input(kind: Kind, arr: pa.Array, source: pa.Array | None) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """The column as the reference frame holds it, for ``pd.util.hash_array`` (same hash, no frame)."""
    n = len(arr)
    mask = arr.is_null().to_numpy(zero_copy_only=False) if arr.null_count else np.zeros(n, dtype=bool)
    if kind is Kind.INT:
        return pd.arrays.IntegerArray(arr.fill_null(0).to_numpy(zero_copy_only=False).astype("int64", copy=False), mask)
    if kind is Kind.BOOL:
        return pd.arrays.BooleanArray(arr.fill_null(False).to_numpy(zero_copy_only=False), mask)
    if kind is Kind.FLOAT:
        values = arr.fill_null(0.0).to_numpy(zero_copy_only=False)
        return np.where(mask, np.nan, values) if arr.null_count else values
    if kind is Kind.TIMESTAMP:
        assert source is not None
        return pc.cast(source, pa.int64()).fill_null(np.iinfo(np.int64).min).to_numpy().view("datetime64[ns]")
    if kind is Kind.DATE:
        # to_frame holds datetime.date objects, which pandas hashes as str(date) (or 'None' for a null):
        # the validated ISO text itself, with no per-value object.
        assert source is not None
        if arr.null_count == n:
            return np.full(n, None, dtype=object)
        return source.fill_null("None").to_numpy(zero_copy_only=False)
    return arr.to_numpy(zero_copy_only=False)


def _hash_hex(hashes: np.ndarray) -> pa.Array:
    """uint64 hashes as 16-character lower-case hex strings, built without a Python string per row."""
    n = len(hashes)
    octets = hashes.astype(">u8").view(np.uint8).reshape(n, 8)
    nibbles = np.empty((n, 16), dtype=np.uint8)
    nibbles[:, 0::2] = octets >> 4
    nibbles[:, 1::2] = octets & 15
    data = _HEX[nibbles].tobytes()
    offsets = np.arange(0, 16 * (n + 1), 16, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _row_hashes(inputs: list) -> np.ndarray:
    """``pd.util.hash_pandas_object(frame, index=False, categorize=False)`` over these columns."""
    return combine_hash_arrays((hash_array(v, categorize=False) for v in inputs), len(inputs))


def _check_ok(check: object, arr: pa.Array) -> bool:
    """Evaluate a registry check natively (nulls ignored, as Pandera does); unknown checks decline."""
    name, stats = getattr(check, "name", None), getattr(check, "statistics", None) or {}
    if not getattr(check, "ignore_na", False):
        raise _Fallback
    if name == "isin":
        return _all_true(pc.is_in(arr, value_set=pa.array(list(stats["allowed_values"]), arr.type)))
    if name == "in_range":
        lo = (pc.greater_equal if stats["include_min"] else pc.greater)(arr, stats["min_value"])
        hi = (pc.less_equal if stats["include_max"] else pc.less)(arr, stats["max_value"])
        return _all_true(pc.and_(lo, hi))
    if name == "not_equal_to":
        return _all_true(pc.not_equal(arr, stats["value"]))
    raise _Fallback


def _columns(names: list[str], rows: list[dict]) -> list[list]:
    """The rows' values column by column, in ``names`` order; _Fallback unless every row has exactly them."""
    width = len(names)
    if rows and set(map(len, rows)) != {width}:
        raise _Fallback  # unknown or missing fields: the reference path (``_extra``, nulls) decides
    if not rows:
        return [[] for _ in names]
    order = list(rows[0])
    if set(order) != set(names):
        raise _Fallback
    keys = list(chain.from_iterable(rows))
    same_order = keys == order * len(rows)
    del keys
    if same_order:  # the usual case: one C-level pass over all values, then a slice per column
        flat = list(chain.from_iterable(map(dict.values, rows)))
        return [flat[order.index(n)::width] for n in names]
    try:
        return [[r[n] for r in rows] for n in names]  # equal widths and no KeyError: the same fields
    except KeyError:
        raise _Fallback from None


def _fast_table(ds: Dataset, day: date, rows: list[dict], ingested_utc: datetime, source: str) -> tuple[pa.Table, FrameReport]:
    if ds.flatten:
        raise _Fallback
    window = day_window(day)
    names = ds.column_names
    typed: list[pa.Array] = []
    sources: list[pa.Array | None] = []
    for col, values in zip(ds.columns, _columns(names, rows), strict=True):
        arr, src = _fast_column(col.kind, values)
        del values
        typed.append(arr)
        sources.append(src)
    part = names.index(ds.partition_column)
    if ds.partition_kind is Kind.DATE:
        inside = pc.equal(typed[part], pa.scalar(day, pa.date32()))
    else:
        ts = ARROW_TYPES[Kind.TIMESTAMP]
        inside = pc.and_(pc.greater_equal(typed[part], pa.scalar(window.start, ts)),
                         pc.less(typed[part], pa.scalar(window.end, ts)))
    inside = pc.fill_null(inside, False)
    n_inside = pc.sum(inside).as_py() or 0
    report = FrameReport(rows_received=len(rows), rows_outside_partition=len(rows) - n_inside)
    if n_inside < len(rows):
        typed = [pc.filter(a, inside) for a in typed]
        sources = [None if s is None else pc.filter(s, inside) for s in sources]
    for col, arr in zip(ds.columns, typed, strict=True):
        if not col.nullable and arr.null_count:
            raise _Fallback
        for check in col.checks:
            if not _check_ok(check, arr):
                raise _Fallback
    if n_inside and label_problems(ds.period_labels, lambda name: typed[names.index(name)]):
        raise _Fallback  # the reference path raises the error naming each problem
    n = n_inside
    extra = pa.nulls(n, pa.string())
    inputs = [_hash_input(c.kind, a, s) for c, a, s in zip(ds.columns, typed, sources, strict=True)]
    inputs.append(np.full(n, None, dtype=object))  # _extra: no unknown fields on this path
    hashes = _hash_hex(_row_hashes(inputs)) if n else pa.array([], pa.string())
    del inputs, sources
    ts = ARROW_TYPES[Kind.TIMESTAMP]
    meta = [
        pa.repeat(pa.scalar(ds.code, pa.string()), n),
        pa.repeat(pa.scalar(window.start, ts), n),
        pa.repeat(pa.scalar(window.end, ts), n),
        pa.repeat(pa.scalar(pd.Timestamp(ingested_utc).tz_convert("UTC").to_pydatetime(), ts), n),
        pa.repeat(pa.scalar(source, pa.string()), n),
        extra,
        hashes,
    ]
    return pa.Table.from_arrays([*typed, *meta], schema=arrow_schema(ds)), report


def to_table(ds: Dataset, day: date, rows: list[dict], *, ingested_utc: datetime,
             source: str = "API") -> tuple[pa.Table, FrameReport]:
    """What ``to_arrow(ds, to_frame(...)[0])`` returns, the fast way when the batch is clean.

    Consumes ``rows`` like ``to_frame``.
    """
    try:
        table, report = _fast_table(ds, day, rows, ingested_utc, source)
    except _Fallback:
        frame, report = to_frame(ds, day, rows, ingested_utc=ingested_utc, source=source)
        return to_arrow(ds, frame), report
    rows.clear()
    return table, report
