"""The guard for refactors: the code location's assets, checks, sensors and resources as committed."""

from __future__ import annotations

import json

from bmrs_assets_tests.support.definitions_snapshot import SNAPSHOT, current


def test_definitions_match_the_committed_snapshot() -> None:
    expected = json.loads(SNAPSHOT.read_text())
    actual = current()
    for section in ("assets", "checks", "sensors"):
        missing = sorted(set(expected[section]) - set(actual[section]))
        added = sorted(set(actual[section]) - set(expected[section]))
        assert not missing and not added, f"{section}: missing {missing}, added {added}"
        changed = [k for k in expected[section] if expected[section][k] != actual[section][k]]
        assert not changed, f"{section} changed: " + "; ".join(
            f"{k}: {json.dumps(expected[section][k])} -> {json.dumps(actual[section][k])}" for k in changed[:3])
    assert actual["resources"] == expected["resources"]


def test_snapshot_covers_every_dataset_asset_with_its_blocking_checks() -> None:
    """The snapshot is not vacuous: every dataset asset has blocking key and completeness checks in it."""
    from bmrs_assets.elexon.datasets import REGISTRY

    snap = json.loads(SNAPSHOT.read_text())
    for ds in REGISTRY.values():
        key = f"bmrs/{ds.asset_name}"
        assert snap["assets"][key]["pools"] == ["elexon_api"]
        assert snap["assets"][key]["backfill_policy"] is not None
        assert snap["checks"][f"{key}:unique_natural_key"]["blocking"] is True
        assert snap["checks"][f"{key}:complete_partition"]["blocking"] is True
