"""The analysts' read-only copy of the DuckDB warehouse: ``<file stem>.read.duckdb`` beside the file.

DuckDB locks its file for one writing process or for any number of reading ones, never both: a
reader holding the warehouse file open would make every run wait for the lock, then fail. So after
each write that changed rows the backend publishes a copy of the file, taken while it still holds the
write lock (so no other writer is half way through), and renames it over the previous copy. Nobody
ever opens the copy for writing, so a reader never blocks a run; a reader holding the previous copy
keeps reading it, unchanged, because the rename leaves the file it has open alive until it closes
(a consistent snapshot of whole writes for as long as it likes); a reader that opens the copy again
sees the newest write.

The copy is made by a ``cp`` child process, not by this one: DuckDB's lock is a POSIX record lock,
which the process loses as soon as any of its own file descriptors on the file is closed (measured:
one ``open``/``close`` in the writing process let a second process open the file at once).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import duckdb

SUFFIX = ".read.duckdb"


def snapshot_path(warehouse: str | Path) -> Path:
    """Where readers connect for the warehouse file ``warehouse``: ``data/bmrs.duckdb`` -> ``data/bmrs.read.duckdb``."""
    path = Path(warehouse)
    return path.with_name(path.stem + SUFFIX)


def publish(con: duckdb.DuckDBPyConnection, alias: str, warehouse: str) -> Path:
    """Copy the warehouse attached as ``alias`` (committed, its write lock held by ``con``) to its
    snapshot path, atomically; return that path.

    The checkpoint first moves the write-ahead log into the file, so the file alone is the whole
    warehouse. A write-ahead log left beside the snapshot (someone opened a copy for writing) is
    removed: DuckDB would replay it into the new copy. So are partial copies of a publisher killed
    half way: only the lock holder publishes, so none is being written."""
    target = snapshot_path(warehouse)
    for stale in target.parent.glob(f"{target.name}.*.partial"):
        stale.unlink(missing_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    con.execute(f"CHECKPOINT {alias}")
    try:
        subprocess.run(["cp", warehouse, str(partial)], check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as exc:
        partial.unlink(missing_ok=True)
        raise RuntimeError(f"could not copy the warehouse {warehouse} to its readers' snapshot {partial}: "
                           f"{exc.stderr.strip()}") from None
    Path(f"{target}.wal").unlink(missing_ok=True)
    os.replace(partial, target)
    return target
