"""``docs/datasets.md`` is the page the registry generates, and names every registered dataset."""

from __future__ import annotations

import pytest

from bmrs_assets.elexon.catalog import DOC_PATH, REGENERATE, render
from bmrs_assets.elexon.datasets import REGISTRY


def test_the_committed_page_is_the_generated_one():
    assert DOC_PATH.read_text(encoding="utf-8") == render(), (
        f"{DOC_PATH} is not what the registry generates; regenerate it with `{REGENERATE}` and commit it")


@pytest.mark.parametrize("code", sorted(REGISTRY))
def test_every_registry_entry_has_its_row(code):
    ds = REGISTRY[code]
    rows = [line for line in DOC_PATH.read_text(encoding="utf-8").splitlines()
            if line.startswith(f"| `bmrs/{ds.asset_name}` | `{ds.table}` |")]
    assert len(rows) == 1, f"{code} has no row of its own in {DOC_PATH.name}; regenerate it with `{REGENERATE}`"
    assert f"`{ds.path}`" in rows[0] and ds.request.describe() in rows[0] and ", ".join(ds.key) in rows[0]
