"""``docs/guarantees.md`` is the page the declarations generate, with every table's semantics and why."""

from __future__ import annotations

from bmrs_assets.elexon.datasets import REGISTRY
from bmrs_assets.revenue.tables import DERIVED
from bmrs_assets.warehouse.guarantees import DOC_PATH, REGENERATE, render


def test_the_committed_page_is_the_generated_one():
    assert DOC_PATH.read_text(encoding="utf-8") == render(), (
        f"{DOC_PATH} is not what the declarations generate; regenerate it with `{REGENERATE}` and commit it")


def test_every_table_says_its_semantics_and_why():
    text = DOC_PATH.read_text(encoding="utf-8").splitlines()
    for t in [*REGISTRY.values(), *DERIVED.values()]:
        rows = [line for line in text if line.startswith(f"| `{t.table}` |")]
        assert len(rows) == 1, t.code
        assert f"| {t.semantics.value} |" in rows[0] and t.semantics_why.split(":")[0] in rows[0]
