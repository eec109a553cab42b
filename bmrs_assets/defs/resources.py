"""Dagster resources: the Elexon API client and the warehouse backend."""

from __future__ import annotations

import dagster as dg

from bmrs_assets.elexon.client import LIVE_BASE_URL, ElexonClient
from bmrs_assets.warehouse.contract import Warehouse
from bmrs_assets.warehouse.duckdb_backend import DuckDBWarehouse


class ElexonApiResource(dg.ConfigurableResource):
    """Where the Elexon Insights API is and how politely to call it."""

    base_url: str = LIVE_BASE_URL
    rate_limit_per_s: float = 4.0
    max_retries: int = 5
    backoff_s: float = 1.0
    timeout_s: float = 60.0
    rate_limit_file: str = ""
    in_flight: int = 1  # requests in flight: days fetched ahead while the current one is typed (within the rate limit)

    def client(self) -> ElexonClient:
        return ElexonClient(base_url=self.base_url, rate_limit_per_s=self.rate_limit_per_s,
                            max_retries=self.max_retries, backoff_s=self.backoff_s,
                            timeout_s=self.timeout_s, rate_limit_file=self.rate_limit_file or None)


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse backend selected by ``BMRS_WAREHOUSE``.

    BigQuery: ``bq_project`` empty means the project of the application-default credentials;
    ``bq_location`` empty means the dataset's own location (and BigQuery's default when the
    platform has to create the dataset)."""

    backend: str = "duckdb"
    duckdb_path: str = "data/bmrs.duckdb"
    bq_project: str = ""
    bq_dataset: str = "bmrs"
    bq_location: str = ""

    def get(self) -> Warehouse:
        if self.backend == "duckdb":
            return DuckDBWarehouse(self.duckdb_path)
        if self.backend == "bigquery":
            from bmrs_assets.warehouse.bigquery_backend import BigQueryWarehouse  # google-cloud-bigquery only when used

            return BigQueryWarehouse(project=self.bq_project or None, dataset=self.bq_dataset,
                                     location=self.bq_location or None)
        raise ValueError(f"BMRS_WAREHOUSE={self.backend!r} is not a supported backend (use 'duckdb' or 'bigquery')")
