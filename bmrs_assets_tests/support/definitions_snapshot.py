"""The code location's shape as plain JSON: what a refactor must not change by accident.

``python -m bmrs_assets_tests.support.definitions_snapshot --update`` rewrites the committed snapshot;
do that only for a deliberate change, and say which in the commit.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path

import dagster as dg

SNAPSHOT = Path(__file__).resolve().parent / "snapshots" / "definitions.json"


def _condition(cond: dg.AutomationCondition | None) -> object:
    """The automation condition tree: each node's operator name and label, leaves with their parameters."""
    if cond is None:
        return None
    node: dict[str, object] = {"name": cond.name}
    if cond.get_label():
        node["label"] = cond.get_label()
    if cond.children:
        node["children"] = [_condition(c) for c in cond.children]
    else:
        node["repr"] = repr(cond)
    return node


def _text(value: object) -> str | None:
    return None if value is None else str(getattr(value, "value", value))


def _marked_key(schema: dg.TableSchema | None) -> list[str] | None:
    """The columns ``dagster/column_schema`` marks as the natural key, in order."""
    if schema is None:
        return None
    return [c.name for c in schema.columns if c.tags.get("bmrs/natural_key") == "true"]


def snapshot(defs: dg.Definitions) -> dict[str, object]:
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "partitions": str(node.partitions_def) if node.partitions_def else None,
            "backfill_policy": str(node.backfill_policy) if node.backfill_policy else None,
            "automation_condition": _condition(node.automation_condition),
            "freshness_policy": repr(node.freshness_policy) if node.freshness_policy else None,
            "pools": sorted(node.pools or ()),
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "code_version": node.code_version,
            "owners": list(node.owners),
            "tags": {k: v for k, v in sorted(node.tags.items()) if not k.startswith("dagster/kind/")},
            "table_name": _text(node.metadata.get("dagster/table_name")),
            "marked_key": _marked_key(node.metadata.get("dagster/column_schema")),
        }
    checks = {}
    for key in sorted(graph.asset_check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name)):
        spec = graph.get_check_spec(key)
        checks[f"{key.asset_key.to_user_string()}:{key.name}"] = {
            "blocking": spec.blocking,
            "partitioned": spec.partitions_def is not None,
            "automation_condition": _condition(spec.automation_condition),
        }
    sensors = {s.name: {"type": type(s).__name__, "default_status": s.default_status.value,
                        "minimum_interval_seconds": s.minimum_interval_seconds}
               for s in sorted(defs.sensors or [], key=lambda s: s.name)}
    return {"assets": assets, "checks": checks, "sensors": sensors, "resources": sorted(defs.resources or {})}


def current() -> dict[str, object]:
    """The snapshot of ``bmrs_assets.definitions`` built in a clean environment (no BMRS_* set)."""
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("BMRS_")}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from bmrs_assets.definitions import build_all_definitions

            return json.loads(json.dumps(snapshot(build_all_definitions())))
    finally:
        os.environ.update(saved)


if __name__ == "__main__":
    if "--update" not in sys.argv:
        sys.exit("usage: python -m bmrs_assets_tests.support.definitions_snapshot --update")
    SNAPSHOT.write_text(json.dumps(current(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {SNAPSHOT}")
