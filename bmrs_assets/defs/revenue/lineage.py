"""The revenue lineage in Dagster terms: asset keys, asset inputs and partition mappings.

Everything here is derived from the ``reads`` declared on the derived tables
(``bmrs_assets/revenue/tables.py``, see ``bmrs_assets/revenue/lineage.py``); both ``assets.py`` and
``sensor.py`` take their keys from here, so neither imports the other.
"""

from __future__ import annotations

import dagster as dg

from bmrs_assets.revenue import lineage
from bmrs_assets.revenue.tables import DerivedTable, Read


def asset_key(name: str) -> dg.AssetKey:
    """``bmrs/<asset name>``, the key of every dataset and derived table."""
    return dg.AssetKey(["bmrs", name])


DERIVED_KEYS: tuple[dg.AssetKey, ...] = tuple(asset_key(t.asset_name) for t in lineage.derived_tables())


def partition_mapping(read: Read) -> dg.PartitionMapping | None:
    """The same day: Dagster's default (identity) mapping; other days: the window of day offsets read.

    Days before the first partition do not exist; the asset then reads what there is.
    """
    if read.days == (0, 0):
        return None
    return dg.TimeWindowPartitionMapping(start_offset=read.days[0], end_offset=read.days[1],
                                         allow_nonexistent_upstream_partitions=True)


def ins(table: DerivedTable) -> dict[str, dg.AssetIn]:
    """The asset's inputs, one per read, named by the asset read (the compute function's parameter names)."""
    return {r.asset: dg.AssetIn(key=asset_key(r.asset), partition_mapping=partition_mapping(r)) for r in table.reads}
