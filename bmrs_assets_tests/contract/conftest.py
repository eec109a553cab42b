"""The contract tests' two-backend fixture: each case runs on DuckDB and on the BigQuery emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bmrs_assets_tests.contract.test_warehouse_contract import Backend, bigquery_backend, duckdb_backend


@pytest.fixture(params=["duckdb", "bigquery"])
def backend(request: pytest.FixtureRequest, tmp_path) -> Iterator[Backend]:
    if request.param == "duckdb":
        yield duckdb_backend(tmp_path)
    else:
        yield bigquery_backend(request.getfixturevalue("bq_emulator"))
