"""The registry's logical kinds as Arrow types, a frame as the table's exact Arrow schema, and memory handed back."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from bmrs_assets.core.tables import Kind, TableDeclaration, table_columns

ARROW_TYPES: dict[Kind, pa.DataType] = {
    Kind.DATE: pa.date32(),
    Kind.TIMESTAMP: pa.timestamp("us", tz="UTC"),
    Kind.INT: pa.int64(),
    Kind.FLOAT: pa.float64(),
    Kind.BOOL: pa.bool_(),
    Kind.STRING: pa.string(),
    Kind.JSON: pa.string(),
}


def release_memory() -> None:
    """Hand memory freed since the last call back to the operating system.

    Parsing a range leaves freed Python objects and Arrow buffers that glibc's malloc and Arrow's
    allocator keep for reuse; called once before the write, so that the write's own memory comes
    from them rather than on top. Nothing changes but the process's footprint.
    """
    pa.default_memory_pool().release_unused()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _glibc() -> object | None:
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


_LIBC = _glibc()


def arrow_schema(ds: TableDeclaration) -> pa.Schema:
    return pa.schema([pa.field(c.name, ARROW_TYPES[c.kind], nullable=c.nullable) for c in table_columns(ds)])


def to_arrow(ds: TableDeclaration, frame: pd.DataFrame | pa.Table) -> pa.Table:
    """The frame as an Arrow table with the registry's exact types (no inference).

    A table that ``core/conform.to_table`` built already has them and is passed through as it is."""
    schema = arrow_schema(ds)
    if isinstance(frame, pa.Table):
        return frame if frame.schema.equals(schema) else frame.cast(schema, safe=True)
    return pa.Table.from_pandas(frame, schema=schema, preserve_index=False, safe=True)
