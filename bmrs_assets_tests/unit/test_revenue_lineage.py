"""The revenue lineage is declared once (the ``reads`` in revenue/tables.py) and everything agrees with it:
the docs section, the sensor's downstream map and the assets' inputs and partition mappings."""

from __future__ import annotations

import ast
import os
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest

from bmrs_assets.defs.revenue import sensor
from bmrs_assets.defs.revenue.lineage import DERIVED_KEYS, asset_key
from bmrs_assets.revenue import lineage
from bmrs_assets.revenue.lineage import Rerun
from bmrs_assets.revenue.tables import DERIVED, DerivedTable, Read, _in_lineage_order

PRICED, HYBRID, UNITS, VLP = "boalf_with_prices", "bm_cashflow_hybrid", "bm_unit_revenue", "vlp_revenue"
ALL = (PRICED, HYBRID, UNITS, VLP)
DEFS_REVENUE = Path(__file__).resolve().parents[2] / "bmrs_assets" / "defs" / "revenue"


def test_the_declared_reads() -> None:
    """boalf_with_prices reads BOALF of the day before and the day, BOD and PN of the day; the hybrid reads
    boalf_with_prices and EBOCF; every unit's revenue the hybrid, the priced acceptances, COSTS and the
    reference; VLP revenue every unit's."""
    reads = {t.asset_name: {r.asset: r.days for r in t.reads} for t in DERIVED.values()}
    assert reads == {
        PRICED: {"boalf": (-1, 0), "bod": (0, 0), "pn": (0, 0)},
        HYBRID: {PRICED: (0, 0), "ebocf": (0, 0)},
        UNITS: {HYBRID: (0, 0), PRICED: (0, 0), "costs": (0, 0), "bm_units": (0, 0)},
        VLP: {UNITS: (0, 0)},
    }
    assert lineage.sources() == ("boalf", "bod", "pn", "ebocf", "costs", "bm_units")
    assert tuple(t.asset_name for t in lineage.derived_tables()) == ALL
    # the rows' provenance (_source_api = derived:<inputs>) is unchanged by the declaration
    assert {t.asset_name: t.inputs for t in DERIVED.values()} == {
        PRICED: ("boalf", "bod", "pn"), HYBRID: (PRICED, "ebocf"), UNITS: (HYBRID, PRICED, "costs", "bm_units"),
        VLP: (UNITS,)}


def test_what_a_source_day_re_runs() -> None:
    """All four for BOALF/BOD/PN, all but the priced acceptances for EBOCF, the two revenue tables for COSTS
    and the reference; a BOALF day also the next day's four, if that day's boalf_with_prices was already
    computed."""
    same_day = tuple(Rerun(t, 0) for t in ALL)
    next_day = tuple(Rerun(t, 1, ((PRICED, 1),)) for t in ALL)
    assert {s: lineage.reruns(s) for s in lineage.sources()} == {
        "boalf": same_day + next_day, "bod": same_day, "pn": same_day, "ebocf": same_day[1:],
        "costs": same_day[2:],  # new system prices revalue the day's units
        "bm_units": same_day[2:]}  # a new snapshot of the BM unit reference reclassifies the day's units
    # a derived table changing re-runs what reads it, the same day
    assert lineage.reruns(PRICED) == (Rerun(HYBRID, 0), Rerun(UNITS, 0), Rerun(VLP, 0))
    assert lineage.reruns(UNITS) == (Rerun(VLP, 0),)
    assert lineage.reruns(VLP) == ()


def test_the_sensor_downstream_map_is_what_the_lineage_implies() -> None:
    expected = {
        asset_key(s): tuple(sensor.Target(r.shift, asset_key(r.table)) for r in lineage.reruns(s))
        for s in lineage.sources()}
    assert sensor.DOWNSTREAM == expected
    assert list(sensor.DOWNSTREAM) == [dg.AssetKey(["bmrs", n])
                                       for n in ("boalf", "bod", "pn", "ebocf", "costs", "bm_units")]
    assert DERIVED_KEYS == tuple(dg.AssetKey(["bmrs", n]) for n in ALL)
    boalf = sensor.DOWNSTREAM[asset_key("boalf")]
    assert [(t.shift, t.asset.path[-1]) for t in boalf if t.shift] == [(1, n) for n in ALL]
    assert {t.asset for t in sensor.DOWNSTREAM[asset_key("ebocf")]} == {asset_key(n) for n in (HYBRID, UNITS, VLP)}


def test_the_assets_inputs_and_partition_mappings_match_the_lineage(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [k for k in os.environ if k.startswith("BMRS_")]:
        monkeypatch.delenv(name)
    from bmrs_assets.definitions import build_all_definitions
    from bmrs_assets.defs.revenue.assets import build_revenue_assets

    partitions = dg.DailyPartitionsDefinition(start_date="2025-12-01", timezone="Europe/London", end_offset=1)
    assets = {a.key: a for a in build_revenue_assets(partitions)}
    assert tuple(assets) == DERIVED_KEYS
    for table in DERIVED.values():
        asset = assets[asset_key(table.asset_name)]
        assert asset.keys_by_input_name == {r.asset: asset_key(r.asset) for r in table.reads}
        for r in table.reads:
            mapping = asset.get_partition_mapping(asset_key(r.asset))
            if r.days == (0, 0):
                assert mapping is None  # Dagster's default: the same day
            else:
                assert mapping == dg.TimeWindowPartitionMapping(
                    start_offset=r.days[0], end_offset=r.days[1], allow_nonexistent_upstream_partitions=True)

    # and in the code location: each read maps day D to the days the declaration names
    graph = build_all_definitions().resolve_asset_graph()
    child_def = graph.get(asset_key(PRICED)).partitions_def
    first = date.fromisoformat(child_def.get_first_partition_key())
    day = first + timedelta(days=5)
    for table in DERIVED.values():
        child = asset_key(table.asset_name)
        assert set(graph.get(child).parent_keys) == {asset_key(r.asset) for r in table.reads}
        for r in table.reads:
            parent = asset_key(r.asset)
            upstream = graph.get_partition_mapping(child, parent).get_upstream_mapped_partitions_result_for_partitions(
                child_def.subset_with_partition_keys([day.isoformat()]), child_def,
                graph.get(parent).partitions_def).partitions_subset
            assert set(upstream.get_partition_keys()) == {(day + timedelta(days=o)).isoformat() for o in r.offsets}
    # the first day has no day before: boalf_with_prices reads what there is
    mapping = graph.get_partition_mapping(asset_key(PRICED), asset_key("boalf"))
    first_read = mapping.get_upstream_mapped_partitions_result_for_partitions(
        child_def.subset_with_partition_keys([first.isoformat()]), child_def, graph.get(asset_key("boalf")).partitions_def)
    assert set(first_read.partitions_subset.get_partition_keys()) == {first.isoformat()}


def test_the_docs_lineage_section_is_the_generated_text() -> None:
    page = lineage.DOCS_PAGE.read_text()
    assert lineage.START in page and lineage.END in page, f"{lineage.DOCS_PAGE}: lineage markers missing"
    assert "## Lineage" in page.split(lineage.START, 1)[0], "the section sits under a 'Lineage' heading"
    assert lineage.section(page) == lineage.markdown(), (
        "docs/revenue.md is out of date: run .venv/bin/python -m bmrs_assets.revenue.lineage --write")
    assert lineage.with_section(page) == page
    text = lineage.markdown()
    for t in DERIVED.values():
        for r in t.reads:
            assert f"{r.asset} -- " in text and f"`{r.asset}`" in text
    assert "| `boalf_with_prices` | `boalf` (dataset) | D-1, D" in text
    assert "D+1, once the rest of that day's inputs are there" in text


def test_assets_and_sensor_do_not_import_each_other() -> None:
    def imported(path: Path) -> set[str]:
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
            elif isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
        return names

    assert "bmrs_assets.defs.revenue.sensor" not in imported(DEFS_REVENUE / "assets.py")
    assert "bmrs_assets.defs.revenue.assets" not in imported(DEFS_REVENUE / "sensor.py")


def test_a_read_must_name_a_dataset_or_an_earlier_derived_table() -> None:
    def table(code: str, *reads: Read) -> DerivedTable:
        return DerivedTable(code=code, description="", columns=DERIVED["VLP_REVENUE"].columns,
                            key=DERIVED["VLP_REVENUE"].key, partition_column="settlementDate", reads=reads)

    a, b = table("A_TABLE", Read("bod")), table("B_TABLE", Read("a_table"))
    assert list(_in_lineage_order((a, b))) == ["A_TABLE", "B_TABLE"]
    with pytest.raises(ValueError, match="declared before it"):
        _in_lineage_order((b, a))  # a cycle or a forward reference
    with pytest.raises(ValueError, match="neither a registry dataset"):
        _in_lineage_order((table("C_TABLE", Read("nope")),))
    with pytest.raises(ValueError, match="first day"):
        Read("boalf", days=(0, -1))
    with pytest.raises(ValueError, match="each input asset once"):
        table("D_TABLE", Read("bod"), Read("bod"))


def test_the_sensor_waits_for_required_reads_only() -> None:
    """The BM unit reference and COSTS are optional reads: every unit's revenue is computed without them
    (prefix rule, no capacity, no system price value)."""
    day = date(2025, 12, 17)
    assert lineage.inputs([VLP], day) == ((UNITS, day),)
    assert lineage.inputs([UNITS], day) == ((HYBRID, day), (PRICED, day))
    assert ("bm_units", day) not in lineage.inputs(ALL, day) and ("costs", day) not in lineage.inputs(ALL, day)
    assert lineage.inputs([HYBRID, UNITS, VLP], day) == ((PRICED, day), ("ebocf", day))
