"""Dagster resources: the Elexon API client and the warehouse backend.

The client (httpx) and the backends (DuckDB, BigQuery; pandas and pyarrow with them) are imported
when a run first asks for one, not when the code location loads."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg

from bmrs_assets.settings import SETTINGS
from bmrs_assets.warehouse.contract import Warehouse

if TYPE_CHECKING:
    from dagster_gcp import BigQueryResource

    from bmrs_assets.elexon.client import ElexonClient


class ElexonApiResource(dg.ConfigurableResource):
    """Where the Elexon Insights API is and how politely to call it."""

    # field defaults (for a resource built by hand) are the settings' defaults; definitions.py passes the values in force
    base_url: str = SETTINGS["BMRS_API_BASE_URL"].default_value()
    rate_limit_per_s: float = SETTINGS["BMRS_RATE_LIMIT_PER_S"].default_value()
    max_retries: int = SETTINGS["BMRS_API_MAX_RETRIES"].default_value()
    backoff_s: float = SETTINGS["BMRS_API_BACKOFF_S"].default_value()
    timeout_s: float = SETTINGS["BMRS_API_TIMEOUT_S"].default_value()
    deadline_s: float = SETTINGS["BMRS_API_DEADLINE_S"].default_value()
    retry_after_max_s: float = SETTINGS["BMRS_API_RETRY_AFTER_MAX_S"].default_value()
    rate_limit_file: str = ""  # empty: no lock file (definitions.py passes BMRS_RATE_LIMIT_FILE)
    in_flight: int = SETTINGS["BMRS_API_IN_FLIGHT"].default_value()  # days fetched ahead while one is typed (rate-limited)
    typing_workers: int = SETTINGS["BMRS_TYPING_WORKERS"].default_value()  # processes typing large writes' bodies

    def client(self) -> ElexonClient:
        from bmrs_assets.elexon.client import ElexonClient

        return ElexonClient(base_url=self.base_url, rate_limit_per_s=self.rate_limit_per_s,
                            max_retries=self.max_retries, backoff_s=self.backoff_s,
                            timeout_s=self.timeout_s, deadline_s=self.deadline_s,
                            retry_after_max_s=self.retry_after_max_s, rate_limit_file=self.rate_limit_file or None)


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse backend selected by ``BMRS_WAREHOUSE``.

    BigQuery: ``bq_project`` empty means the project of the credentials; ``bq_location`` empty means
    the dataset's own location (and BigQuery's default when the platform has to create the dataset);
    ``bq_credentials`` empty means Google's application-default credentials, else a base64-encoded
    service-account key. Each client is opened by dagster-gcp's ``BigQueryResource``, which handles
    that key; the fields stay flat so that one ``BMRS_BQ_*`` variable sets each of them."""

    backend: str = SETTINGS["BMRS_WAREHOUSE"].default_value()
    duckdb_path: str = SETTINGS["BMRS_DUCKDB_PATH"].default_text()
    bq_project: str = SETTINGS["BMRS_BQ_PROJECT"].default_value()
    bq_dataset: str = SETTINGS["BMRS_BQ_DATASET"].default_value()
    bq_location: str = SETTINGS["BMRS_BQ_LOCATION"].default_value()
    bq_credentials: str = ""  # secret: from BMRS_BQ_CREDENTIALS only, never a literal

    def bigquery_resource(self) -> BigQueryResource:
        """dagster-gcp's resource for the configured project, location and credentials."""
        from dagster_gcp import BigQueryResource  # google-cloud-bigquery only when used

        return BigQueryResource(project=self.bq_project or None, location=self.bq_location or None,
                                gcp_credentials=self.bq_credentials or None)

    def get(self) -> Warehouse:
        if self.backend == "duckdb":
            from bmrs_assets.warehouse.duckdb_backend import DuckDBWarehouse

            return DuckDBWarehouse(self.duckdb_path)
        if self.backend == "bigquery":
            from bmrs_assets.warehouse.bigquery_backend import BigQueryWarehouse  # google-cloud-bigquery only when used

            return BigQueryWarehouse(project=self.bq_project or None, dataset=self.bq_dataset,
                                     location=self.bq_location or None, client_context=self.bigquery_resource().get_client)
        raise ValueError(f"BMRS_WAREHOUSE={self.backend!r} is not a supported backend (use 'duckdb' or 'bigquery')")
