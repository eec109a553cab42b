"""Dagster's asset conventions, from the table declarations and the settings, for every asset.

* ``dagster/table_name``: where the rows are: ``<duckdb file stem>.main.bmrs_<code>`` with
  ``BMRS_WAREHOUSE=duckdb``, ``<project>.<dataset>.bmrs_<code>`` with ``bigquery`` (the project
  left out when ``BMRS_BQ_PROJECT`` is empty: the credentials' project).
* ``dagster/column_schema``: a ``TableSchema`` of the stored table: the declared columns in
  order, each with its logical type (``core/tables.py``'s ``Kind``) and nullability, then the
  platform's metadata columns (``core/schemas.py``, tagged ``bmrs/origin=platform``). The natural
  key's columns say so in their description and tag (``bmrs/natural_key``), as do the partition
  and revision columns; the table's constraints name the key (a one-column key is also ``unique``).
* ``kinds``: ``python`` and the configured warehouse (``duckdb`` or ``bigquery``).
* ``code_version``: a dataset's is a digest of ``typing_fingerprint`` (everything that decides what
  rows a body becomes), so a registry change shows as a changed definition; a derived table's
  digests its declaration (columns, key, partition and revision columns, semantics, reads) and
  ``revenue.METHOD_VERSION``.
* ``owners`` and ``tags``: ``BMRS_ASSET_OWNERS`` and ``BMRS_ASSET_TAGS``, on every asset.

Read when the definitions are built (load time), like every other setting of the code location.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import dagster as dg

from bmrs_assets.core.fingerprint import typing_fingerprint
from bmrs_assets.core.tables import METADATA_COLUMNS, Col, TableDeclaration
from bmrs_assets.elexon.dataset import Dataset
from bmrs_assets.revenue.tables import DerivedTable
from bmrs_assets.revenue.version import METHOD_VERSION
from bmrs_assets.settings import setting, value

TABLE_NAME = "dagster/table_name"
COLUMN_SCHEMA = "dagster/column_schema"
ROW_COUNT = "dagster/row_count"
WAREHOUSES = ("duckdb", "bigquery")
NATURAL_KEY_TAG, ORIGIN_TAG = "bmrs/natural_key", "bmrs/origin"
_OWNER = re.compile(r"^(team:[A-Za-z0-9_.-]+|[^@\s,]+@[^@\s,]+\.[^@\s,]+)$")


def warehouse_kind() -> str:
    """``BMRS_WAREHOUSE``, checked: the backend the assets are written to."""
    backend = value("BMRS_WAREHOUSE")
    if backend not in WAREHOUSES:
        raise ValueError(f"BMRS_WAREHOUSE={backend!r} is not a supported backend (use 'duckdb' or 'bigquery')")
    return backend


def kinds() -> set[str]:
    return {"python", warehouse_kind()}


def table_name(decl: TableDeclaration) -> str:
    """The table's fully qualified name in the configured warehouse."""
    if warehouse_kind() == "bigquery":
        return ".".join(p for p in (value("BMRS_BQ_PROJECT"), value("BMRS_BQ_DATASET"), decl.table) if p)
    return f"{Path(setting('BMRS_DUCKDB_PATH')).stem}.main.{decl.table}"


def _column(decl: TableDeclaration, col: Col, platform: bool = False) -> dg.TableColumn:
    roles = []
    if col.name in decl.key:
        roles.append("natural key")
    if col.name == decl.partition_column:
        roles.append("partition column")
    if col.name == decl.revision_column:
        roles.append("revision column")
    tags = {ORIGIN_TAG: "platform" if platform else "declared"}
    if col.name in decl.key:
        tags[NATURAL_KEY_TAG] = "true"
    return dg.TableColumn(name=col.name, type=col.kind.value, description="; ".join(roles) or None,
                          constraints=dg.TableColumnConstraints(nullable=col.nullable, unique=decl.key == (col.name,)),
                          tags=tags)


def column_schema(decl: TableDeclaration) -> dg.TableSchema:
    """The stored table's columns (declared, then the platform's) and its natural key."""
    columns = [*(_column(decl, c) for c in decl.columns), *(_column(decl, c, platform=True) for c in METADATA_COLUMNS)]
    return dg.TableSchema(columns=columns, constraints=dg.TableConstraints(
        other=[f"natural key (unique): {', '.join(decl.key)}", f"partitioned by {decl.partition_column}"]))


def definition_metadata(decl: TableDeclaration) -> dict[str, object]:
    return {TABLE_NAME: table_name(decl), COLUMN_SCHEMA: column_schema(decl)}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def dataset_code_version(ds: Dataset) -> str:
    """Changes exactly when the typing of the dataset's rows does (``typing_fingerprint``)."""
    return _digest(typing_fingerprint(ds))


def derived_code_version(table: DerivedTable) -> str:
    """Changes with the declaration of the derived table or the method's version."""
    cols = [(c.name, c.kind.value, c.nullable, [(k.name, repr(k.statistics)) for k in c.checks]) for c in table.columns]
    reads = [(r.asset, r.days) for r in table.reads]
    return _digest(repr((METHOD_VERSION, table.code, cols, table.key, table.partition_column, table.revision_column,
                         table.semantics.value if table.semantics else None, reads)))


def owners() -> list[str]:
    """``BMRS_ASSET_OWNERS``: comma-separated emails or ``team:<name>``; unset: none."""
    text = setting("BMRS_ASSET_OWNERS") or ""
    found = [o.strip() for o in text.split(",") if o.strip()]
    bad = [o for o in found if not _OWNER.match(o)]
    if bad:
        raise ValueError(f"BMRS_ASSET_OWNERS: {', '.join(map(repr, bad))} is not an email or team:<name>")
    return found


def tags() -> dict[str, str]:
    """``BMRS_ASSET_TAGS``: a JSON object of tag keys and string values; unset: none."""
    found = value("BMRS_ASSET_TAGS") or {}
    if not isinstance(found, dict) or not all(isinstance(v, str) for v in found.values()):
        raise ValueError('BMRS_ASSET_TAGS: expected a JSON object of strings, e.g. {"domain": "energy"}')
    return found


def asset_conventions(code_version: str | None = None) -> dict[str, object]:
    """The ``@asset`` arguments every asset shares: owners and tags (and a code version when given)."""
    out: dict[str, object] = {"owners": owners(), "tags": tags()}
    if code_version is not None:
        out["code_version"] = code_version
    return out
