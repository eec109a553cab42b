"""Dagster's conventions on the built definitions: table name, column schema, kinds, code versions, owners, tags."""

from __future__ import annotations

import dataclasses

import dagster as dg
import pytest

from bmrs_assets.core.tables import METADATA_NAMES, Col, Kind
from bmrs_assets.defs.conventions import COLUMN_SCHEMA, TABLE_NAME, dataset_code_version, derived_code_version
from bmrs_assets.elexon.datasets import REGISTRY
from bmrs_assets.revenue.tables import BOALF_WITH_PRICES


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("BMRS_WAREHOUSE", "BMRS_DUCKDB_PATH", "BMRS_BQ_PROJECT", "BMRS_BQ_DATASET", "BMRS_ASSET_OWNERS",
                 "BMRS_ASSET_TAGS"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _node(key: str) -> object:
    from bmrs_assets.definitions import build_all_definitions

    return build_all_definitions().resolve_asset_graph().get(dg.AssetKey.from_user_string(key))


def test_dataset_asset_has_table_name_and_column_schema_from_the_registry(clean_env: pytest.MonkeyPatch) -> None:
    ds = REGISTRY["BOALF"]
    node = _node("bmrs/boalf")
    assert node.metadata[TABLE_NAME] == "bmrs.main.bmrs_boalf"
    schema = node.metadata[COLUMN_SCHEMA]
    names = [c.name for c in schema.columns]
    assert names[:len(ds.columns)] == ds.column_names
    assert tuple(names[len(ds.columns):]) == METADATA_NAMES
    by_name = {c.name: c for c in schema.columns}
    for col in ds.columns:
        column = by_name[col.name]
        assert column.type == col.kind.value
        assert column.constraints.nullable is col.nullable
        assert (column.tags.get("bmrs/natural_key") == "true") is (col.name in ds.key)
        assert ("natural key" in (column.description or "")) is (col.name in ds.key)
    assert by_name["acceptanceTime"].description == "revision column"
    assert by_name["_hash_key"].tags["bmrs/origin"] == "platform"
    assert f"natural key (unique): {', '.join(ds.key)}" in schema.constraints.other
    # a one-column key is unique on its own
    freq = _node("bmrs/freq").metadata[COLUMN_SCHEMA]
    assert {c.name: c.constraints.unique for c in freq.columns}["measurementTime"] is True


def test_derived_asset_has_table_name_column_schema_and_code_version(clean_env: pytest.MonkeyPatch) -> None:
    table = BOALF_WITH_PRICES
    node = _node("bmrs/boalf_with_prices")
    assert node.metadata[TABLE_NAME] == "bmrs.main.bmrs_boalf_with_prices"
    schema = node.metadata[COLUMN_SCHEMA]
    assert [c.name for c in schema.columns][:len(table.columns)] == table.column_names
    assert [c.name for c in schema.columns if c.tags.get("bmrs/natural_key") == "true"] == [
        c for c in table.column_names if c in table.key]
    assert node.code_version == derived_code_version(table)
    assert node.kinds == {"python", "duckdb"}


def test_kinds_and_table_name_follow_the_configured_warehouse(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("BMRS_WAREHOUSE", "bigquery")
    clean_env.setenv("BMRS_BQ_PROJECT", "my-project")
    clean_env.setenv("BMRS_BQ_DATASET", "elexon")
    for key in ("bmrs/freq", "bmrs/vlp_revenue"):
        node = _node(key)
        assert node.kinds == {"python", "bigquery"}
        assert node.metadata[TABLE_NAME] == f"my-project.elexon.bmrs_{key.split('/')[1]}"
    clean_env.setenv("BMRS_WAREHOUSE", "duckdb")
    clean_env.setenv("BMRS_DUCKDB_PATH", "/somewhere/elexon.duckdb")
    node = _node("bmrs/freq")
    assert node.kinds == {"python", "duckdb"}
    assert node.metadata[TABLE_NAME] == "elexon.main.bmrs_freq"


def test_code_version_is_the_typing_fingerprint_and_changes_with_a_column(clean_env: pytest.MonkeyPatch) -> None:
    ds = REGISTRY["FREQ"]
    assert _node("bmrs/freq").code_version == dataset_code_version(ds)
    wider = dataclasses.replace(ds, columns=(*ds.columns, Col("quality", Kind.STRING)))
    assert dataset_code_version(wider) != dataset_code_version(ds)
    assert dataset_code_version(dataclasses.replace(ds)) == dataset_code_version(ds)  # deterministic
    assert len({dataset_code_version(d) for d in REGISTRY.values()}) == len(REGISTRY)


def test_derived_code_version_changes_with_the_declaration_and_the_method(clean_env: pytest.MonkeyPatch,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import bmrs_assets.defs.conventions as conventions

    base = derived_code_version(BOALF_WITH_PRICES)
    wider = dataclasses.replace(BOALF_WITH_PRICES, columns=(*BOALF_WITH_PRICES.columns, Col("note", Kind.STRING)))
    assert derived_code_version(wider) != base
    monkeypatch.setattr(conventions, "METHOD_VERSION", "next")
    assert derived_code_version(BOALF_WITH_PRICES) != base


def test_owners_and_tags_from_the_settings_on_every_asset(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("BMRS_ASSET_OWNERS", "team:markets, ops@example.com")
    clean_env.setenv("BMRS_ASSET_TAGS", '{"domain": "energy", "tier": "gold"}')
    from bmrs_assets.definitions import build_all_definitions

    graph = build_all_definitions().resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert list(node.owners) == ["team:markets", "ops@example.com"], key
        assert node.tags["domain"] == "energy" and node.tags["tier"] == "gold", key


@pytest.mark.parametrize(("name", "text", "problem"), [
    ("BMRS_ASSET_OWNERS", "not an owner", "BMRS_ASSET_OWNERS: 'not an owner' is not an email or team:<name>"),
    ("BMRS_ASSET_TAGS", '["a"]', "BMRS_ASSET_TAGS: expected a JSON object of strings"),
    ("BMRS_ASSET_TAGS", '{"n": 1}', "BMRS_ASSET_TAGS: expected a JSON object of strings"),
])
def test_bad_owners_or_tags_name_the_setting(clean_env: pytest.MonkeyPatch, name: str, text: str, problem: str) -> None:
    from bmrs_assets.defs import conventions

    clean_env.setenv(name, text)
    with pytest.raises(ValueError, match="^" + problem.replace("(", r"\(")):
        conventions.asset_conventions()


def test_dagster_notices_are_filtered_and_other_warnings_are_not() -> None:
    import warnings

    from bmrs_assets.defs.env import ignore_dagster_notices

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ignore_dagster_notices()
        warnings.warn("beta", dg.BetaWarning, stacklevel=1)
        warnings.warn("preview", dg.PreviewWarning, stacklevel=1)
        warnings.warn("ours", UserWarning, stacklevel=1)
        warnings.warn("our deprecation", DeprecationWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["ours", "our deprecation"]


def test_loading_the_code_location_prints_no_dagster_notices() -> None:
    import subprocess
    import sys

    from bmrs_assets.settings import PROJECT_ROOT

    done = subprocess.run([sys.executable, "-W", "always", "-c", "import bmrs_assets.definitions"], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "BetaWarning" not in done.stderr and "PreviewWarning" not in done.stderr, done.stderr
