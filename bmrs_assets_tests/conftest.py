"""Shared fixtures: a real simulator on loopback, a real BigQuery emulator, the shared reference folder."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from bmrs_assets.simulator.server import SimulatorConfig, SimulatorServer, start_in_thread
from bmrs_assets_tests.support.bq_emulator import BigQueryEmulator

warnings.filterwarnings("ignore", module="dagster")
REPO = Path(__file__).resolve().parents[1]
SHARED_REFERENCE = REPO.parent / "shared" / "reference"


@pytest.fixture
def reference() -> Path:
    """../shared/reference beside the repository (CI lays a copy there)."""
    assert SHARED_REFERENCE.is_dir(), f"shared reference folder missing at {SHARED_REFERENCE}"
    return SHARED_REFERENCE


@pytest.fixture
def sim_config() -> SimulatorConfig:
    return SimulatorConfig()


@pytest.fixture
def simulator(sim_config: SimulatorConfig) -> Iterator[SimulatorServer]:
    server = start_in_thread(sim_config)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def platform_env(simulator: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Environment pointing the platform at the simulator and a fresh DuckDB file."""
    db = tmp_path / "bmrs.duckdb"
    monkeypatch.setenv("BMRS_API_BASE_URL", simulator.url)
    monkeypatch.setenv("BMRS_DUCKDB_PATH", str(db))
    monkeypatch.setenv("BMRS_START_DATE", "2024-01-01")
    monkeypatch.setenv("BMRS_RATE_LIMIT_PER_S", "50")
    monkeypatch.setenv("BMRS_RATE_LIMIT_FILE", str(tmp_path / "rate_limit"))
    return db


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.ephemeral() as inst:
        yield inst


@pytest.fixture
def persistent_instance(tmp_path: Path) -> Iterator[tuple[dg.DagsterInstance, Path]]:
    """A Dagster instance on disk (its DAGSTER_HOME returned too), for tests that re-open it."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.DagsterInstance.local_temp(str(home)) as instance:
        yield instance, home


@pytest.fixture(scope="session")
def bq_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BigQueryEmulator]:
    """One BigQuery emulator process for the session (each test uses its own dataset in it)."""
    emulator = BigQueryEmulator(tmp_path_factory.mktemp("bqemu") / "bqemulator.log").start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(params=["duckdb", "bigquery"])
def warehouse(request: pytest.FixtureRequest, platform_env: Path, monkeypatch: pytest.MonkeyPatch):
    """The warehouse a platform run (``platform_env``) writes to, both backends, configured from the
    environment as a user would: its DuckDB file, or a fresh dataset of the BigQuery emulator with
    BMRS_WAREHOUSE=bigquery, whose client the platform opens the production way
    (application-default credentials: anonymous here)."""
    import uuid

    import google.auth
    from google.auth.credentials import AnonymousCredentials

    from bmrs_assets.warehouse.bigquery_backend import BigQueryWarehouse
    from bmrs_assets.warehouse.duckdb_backend import DuckDBWarehouse

    if request.param == "duckdb":
        return DuckDBWarehouse(str(platform_env))
    emulator = request.getfixturevalue("bq_emulator")
    dataset = f"wh_{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(google.auth, "default", lambda *a, **k: (AnonymousCredentials(), emulator.project))
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", emulator.url)
    monkeypatch.setenv("BMRS_WAREHOUSE", "bigquery")
    monkeypatch.setenv("BMRS_BQ_PROJECT", emulator.project)
    monkeypatch.setenv("BMRS_BQ_DATASET", dataset)
    return BigQueryWarehouse(project=emulator.project, dataset=dataset, client_factory=emulator.client)
