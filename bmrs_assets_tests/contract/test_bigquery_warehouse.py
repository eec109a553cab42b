"""BigQuery specifics, against the real local emulator: DDL, partitioning, clustering, staging, the MERGE's
partition filter, job statistics, the Dagster resource and a Dagster run end to end."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

import google.auth
import pytest
import sqlglot
from google.api_core.exceptions import GoogleAPICallError
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery
from sqlglot import exp

import bmrs_assets.warehouse.bigquery_backend as bigquery_warehouse
from bmrs_assets.cli.runs import materialize_range
from bmrs_assets.core.tables import Col, Kind, table_columns
from bmrs_assets.defs.resources import WarehouseResource
from bmrs_assets.elexon.datasets import BOALF, COSTS, FREQ, REGISTRY
from bmrs_assets.warehouse.bigquery_backend import (
    STAGE_PREFIX,
    BigQueryWarehouse,
    classify_sql,
    clustering_fields,
    merge_sql,
)
from bmrs_assets_tests.contract.test_warehouse_contract import D1, D2, D3, batch, cost, counts, freq

API_TYPES = {Kind.DATE: "DATE", Kind.TIMESTAMP: "TIMESTAMP", Kind.INT: "INT64", Kind.FLOAT: "FLOAT64",
             Kind.BOOL: "BOOL", Kind.STRING: "STRING", Kind.JSON: "JSON"}
LEGACY = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}


@dataclass
class Wire:
    """What the warehouse sent: SQL statements, load jobs, and the REST calls' bodies."""

    queries: list[str] = field(default_factory=list)
    loads: list[tuple[str, bigquery.LoadJobConfig]] = field(default_factory=list)
    requests: list[tuple[str, str, dict | None]] = field(default_factory=list)

    def merges(self) -> list[str]:
        return [q for q in self.queries if q.lstrip().upper().startswith("MERGE")]


class RecordingClient(bigquery.Client):
    """The official client, recording what goes over the wire."""

    def __init__(self, wire: Wire, **kwargs) -> None:
        super().__init__(**kwargs)
        self.wire = wire
        inner = self._connection.api_request

        def api_request(method, path, *args, data=None, **kw):
            wire.requests.append((method, path, data))
            return inner(method, path, *args, data=data, **kw)

        self._connection.api_request = api_request

    def query(self, query, *args, **kwargs):
        self.wire.queries.append(query)
        return super().query(query, *args, **kwargs)

    def load_table_from_file(self, file_obj, destination, *args, job_config=None, **kwargs):
        self.wire.loads.append((str(destination), job_config))
        return super().load_table_from_file(file_obj, destination, *args, job_config=job_config, **kwargs)


@pytest.fixture
def wire() -> Wire:
    return Wire()


@pytest.fixture
def wh(bq_emulator, wire) -> BigQueryWarehouse:
    def factory() -> RecordingClient:
        base = bq_emulator.client()
        return RecordingClient(wire, project=bq_emulator.project, credentials=base._credentials,
                               client_options={"api_endpoint": bq_emulator.url})

    return BigQueryWarehouse(project=bq_emulator.project, dataset=f"t_{uuid.uuid4().hex[:10]}", client_factory=factory)


@pytest.fixture
def client(bq_emulator):
    c = bq_emulator.client()
    yield c
    c.close()


def table_id(wh: BigQueryWarehouse, name: str) -> str:
    return f"{wh.project}.{wh.dataset}.{name}"


def target_conjuncts(sql: str, partition_column: str) -> list[exp.Expression]:
    """The conjuncts of the MERGE's ON clause that constrain only the target's partition column."""
    tree = sqlglot.parse_one(sql, dialect="bigquery")
    assert isinstance(tree, exp.Merge)
    on = tree.args["on"]
    parts = on.flatten() if isinstance(on, exp.And) else [on]
    out = []
    for part in parts:
        cols = list(part.find_all(exp.Column))
        if cols and all(c.table == "T" and c.name == partition_column for c in cols):
            out.append(part)
    return out


def literals(node: exp.Expression) -> list[str]:
    return [lit.this for lit in node.find_all(exp.Literal)]


# --- DDL --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("code", sorted(REGISTRY))
def test_tables_have_registry_types_day_partitioning_and_key_clustering(wh, client, code):
    ds = REGISTRY[code]
    wh.ensure_table(ds)
    table = client.get_table(table_id(wh, ds.table))
    assert [(f.name, LEGACY.get(f.field_type, f.field_type), f.mode) for f in table.schema] == [
        (c.name, API_TYPES[c.kind], "NULLABLE") for c in table_columns(ds)]
    assert {LEGACY.get(f.field_type, f.field_type) for f in table.schema} <= set(API_TYPES.values())
    assert table.time_partitioning.type_ == "DAY" and table.time_partitioning.field == ds.partition_column
    assert table.clustering_fields == clustering_fields(ds)
    assert code in table.description


def test_clustering_takes_the_leading_key_columns_bigquery_can_cluster_on():
    assert clustering_fields(BOALF) == ["bmUnit", "nationalGridBmUnit", "acceptanceNumber", "timeFrom"]
    assert clustering_fields(COSTS) == ["settlementPeriod"]  # a DATE partition column is one value per partition
    assert clustering_fields(FREQ) == ["measurementTime"]  # a timestamp still varies within its day


def test_all_seven_logical_types_map_to_explicit_bigquery_types(wh, client):
    every = replace(FREQ, columns=(*FREQ.columns, Col("d", Kind.DATE), Col("i", Kind.INT), Col("b", Kind.BOOL),
                                   Col("j", Kind.JSON)))
    wh.ensure_table(every)
    types = {f.name: LEGACY.get(f.field_type, f.field_type) for f in client.get_table(table_id(wh, every.table)).schema}
    assert {types[n] for n in ("measurementTime", "frequency", "dataset", "d", "i", "b", "j")} == {
        "TIMESTAMP", "FLOAT64", "STRING", "DATE", "INT64", "BOOL", "JSON"}


def test_a_new_registry_column_is_added_by_alter_table_not_by_recreating(wh, client, wire):
    wh.merge(batch(FREQ, {D1: [freq("2025-12-17T10:00:00Z")]}))
    created = client.get_table(table_id(wh, FREQ.table)).created
    wider = replace(FREQ, columns=(*FREQ.columns, Col("quality", Kind.STRING), Col("detail", Kind.JSON)))
    wh.merge(batch(wider, {D1: [freq("2025-12-17T10:00:15Z", quality="good", detail={"a": 1})]}))
    alters = [q for q in wire.queries if q.startswith("ALTER TABLE")]
    assert alters[:2] == [f"ALTER TABLE `{table_id(wh, FREQ.table)}` ADD COLUMN IF NOT EXISTS `quality` STRING",
                          f"ALTER TABLE `{table_id(wh, FREQ.table)}` ADD COLUMN IF NOT EXISTS `detail` JSON"]
    assert not [q for q in wire.queries if "CREATE OR REPLACE" in q.upper() or q.upper().startswith("DROP")]
    assert not [r for r in wire.requests if r[0] == "DELETE" and r[1].endswith(f"/tables/{FREQ.table}")]
    assert client.get_table(table_id(wh, FREQ.table)).created == created
    result = client.query(f"SELECT quality, TO_JSON_STRING(detail) AS detail FROM `{table_id(wh, FREQ.table)}` "
                          "ORDER BY measurementTime").result()
    assert [(r["quality"], r["detail"]) for r in result] == [(None, None), ("good", '{"a":1}')]
    modes = {f.name: f.mode for f in result.schema}
    assert modes["quality"] == "NULLABLE"


def test_a_column_whose_type_changed_in_the_registry_is_refused(wh):
    wh.ensure_table(FREQ)
    retyped = replace(FREQ, columns=(FREQ.columns[0], FREQ.columns[1], Col("frequency", Kind.STRING, nullable=False)))
    with pytest.raises(ValueError, match="frequency is FLOAT64, registry says STRING"):
        wh.ensure_table(retyped)


# --- staging ----------------------------------------------------------------------------------------

def test_staging_is_a_parquet_load_with_explicit_schema_and_an_expiration_then_dropped(wh, client, wire):
    before = datetime.now(UTC)
    wh.merge(batch(COSTS, {D1: [cost(D1, p, 1.0) for p in range(1, 49)]}))
    created = [(path, body) for method, path, body in wire.requests
               if method == "POST" and path.endswith("/tables") and body["tableReference"]["tableId"].startswith(STAGE_PREFIX)]
    assert len(created) == 1
    body = created[0][1]
    stage_name = body["tableReference"]["tableId"]
    expires = datetime.fromtimestamp(int(body["expirationTime"]) / 1000, UTC)
    assert before + timedelta(hours=23, minutes=59) < expires < datetime.now(UTC) + timedelta(hours=24, minutes=1)
    assert body["schema"]["fields"][-1] == {"name": "_ordinal", "type": "INT64", "mode": "NULLABLE"}
    [(dest, config)] = wire.loads
    assert dest.endswith(stage_name) and config.source_format == "PARQUET"
    assert config.write_disposition == "WRITE_APPEND" and config.create_disposition == "CREATE_NEVER"
    assert [f.name for f in config.schema] == [*(c.name for c in table_columns(COSTS)), "_ordinal"]
    assert [(m, p) for m, p, _ in wire.requests if m == "DELETE"] == [
        ("DELETE", f"/projects/{wh.project}/datasets/{wh.dataset}/tables/{stage_name}")]
    assert wh.staging_tables() == []
    assert [t.table_id for t in client.list_tables(f"{wh.project}.{wh.dataset}")] == ["bmrs_costs"]


def test_staging_is_dropped_after_a_failure_between_load_and_merge(wh, client, monkeypatch):
    wh.merge(batch(COSTS, {D1: [cost(D1, p, 1.0) for p in range(1, 49)]}))
    seen = {}

    def crash(self, bq, sql):
        # The staging table is loaded at this point: prove it, then fail before the MERGE runs.
        [stage] = self.staging_tables()
        seen["stage"] = stage
        seen["rows"] = next(iter(bq.query(f"SELECT COUNT(*) AS n FROM `{table_id(self, stage)}`").result()))["n"]
        raise RuntimeError("crash between load and MERGE")

    monkeypatch.setattr(BigQueryWarehouse, "_run_merge", crash)
    with pytest.raises(RuntimeError, match="crash between load and MERGE"):
        wh.merge(batch(COSTS, {D1: [cost(D1, p, 7.0) for p in range(1, 49)]}))
    assert seen["rows"] == 48 and seen["stage"].startswith(STAGE_PREFIX)
    assert wh.staging_tables() == []
    assert [r["p"] for r in client.query(f"SELECT DISTINCT systemSellPrice AS p FROM `{table_id(wh, 'bmrs_costs')}`")
            .result()] == [1.0]


def test_staging_is_dropped_when_bigquery_rejects_the_merge(wh, client, monkeypatch):
    wh.merge(batch(COSTS, {D1: [cost(D1, 1, 1.0)]}))
    real = bigquery_warehouse.merge_sql
    monkeypatch.setattr(bigquery_warehouse, "merge_sql",
                        lambda *a: real(*a).replace("S.`systemSellPrice`", "S.`noSuchColumn`"))
    with pytest.raises(GoogleAPICallError):
        wh.merge(batch(COSTS, {D1: [cost(D1, 1, 5.0)]}))
    assert wh.staging_tables() == []
    assert [r["p"] for r in client.query(f"SELECT systemSellPrice AS p FROM `{table_id(wh, 'bmrs_costs')}`").result()] == [1.0]


def test_a_failed_staging_drop_neither_fails_a_committed_write_nor_stays_silent(wh, client, monkeypatch, caplog):
    real_delete = bigquery.Client.delete_table

    def unavailable(self, table, *args, **kwargs):
        if STAGE_PREFIX in str(table):
            raise ConnectionError("network down")
        return real_delete(self, table, *args, **kwargs)

    monkeypatch.setattr(bigquery.Client, "delete_table", unavailable)
    with caplog.at_level(logging.WARNING, logger="bmrs_assets.warehouse.bigquery_backend"):
        result = wh.merge(batch(COSTS, {D1: [cost(D1, 1, 1.0)]}))
    assert counts(result) == (1, 0, 0)
    assert "could not drop staging table" in caplog.text and "network down" in caplog.text
    [left] = wh.staging_tables()  # left for its expiration to remove
    monkeypatch.setattr(bigquery.Client, "delete_table", real_delete)
    client.delete_table(table_id(wh, left))


def test_an_empty_batch_runs_no_load_and_no_merge(wh, wire):
    wh.merge(batch(COSTS, {D1: [cost(D1, 1, 1.0)]}))
    wire.queries.clear()
    wire.loads.clear()
    result = wh.merge(batch(COSTS, {D1: [], D2: []}))
    assert counts(result) == (0, 0, 0) and set(result.days) == {D1, D2}
    assert wire.merges() == [] and wire.loads == []
    assert wh.count_by_day(COSTS, D1, D2) == {D1: 1}


# --- the MERGE --------------------------------------------------------------------------------------

def test_the_merge_restricts_the_target_to_the_partition_range_with_constants():
    sql = merge_sql(COSTS, "`p.d.bmrs_costs`", "`p.d.stage`", D1, D3)
    [between] = target_conjuncts(sql, "settlementDate")
    assert isinstance(between, exp.Between) and literals(between) == ["2025-12-17", "2025-12-19"]
    assert "ON T.`settlementDate` BETWEEN DATE '2025-12-17' AND DATE '2025-12-19'" in sql
    # updated only if changed and not older than the stored revision (COSTS: createdDateTime)
    assert ("WHEN MATCHED AND T.`_hash_key` != S.`_hash_key` AND (T.`createdDateTime` IS NULL OR "
            "S.`createdDateTime` >= T.`createdDateTime`) THEN UPDATE SET") in sql
    assert "WHEN NOT MATCHED THEN INSERT" in sql and "DELETE" not in sql.upper()
    assert sql.count("MERGE ") == 1

    winter, summer = merge_sql(FREQ, "`p.d.f`", "`p.d.s`", D1, D1), merge_sql(FREQ, "`p.d.f`", "`p.d.s`", date(2025, 7, 1),
                                                                                date(2025, 7, 2))
    lo, hi = target_conjuncts(winter, "measurementTime")
    assert isinstance(lo, exp.GTE) and isinstance(hi, exp.LT)
    assert literals(lo) == ["2025-12-17 00:00:00+00"] and literals(hi) == ["2025-12-18 00:00:00+00"]
    lo, hi = target_conjuncts(summer, "measurementTime")
    assert literals(lo) == ["2025-06-30 23:00:00+00"] and literals(hi) == ["2025-07-02 23:00:00+00"]


def test_nullable_key_columns_compare_null_safely_with_equi_joins():
    sql = merge_sql(BOALF, "`p.d.t`", "`p.d.s`", D1, D1)
    assert "IFNULL(T.`bmUnit`, '') = IFNULL(S.`bmUnit`, '') AND (T.`bmUnit` IS NULL) = (S.`bmUnit` IS NULL)" in sql
    assert "T.`acceptanceNumber` = S.`acceptanceNumber`" in sql  # not nullable: plain equality
    assert " OR " not in sql.split("WHEN")[0]


def test_the_classification_reads_the_same_partition_range():
    sql = classify_sql(COSTS, "`p.d.bmrs_costs`", "`p.d.stage`", D1, D3)
    assert "WHERE T.`settlementDate` BETWEEN DATE '2025-12-17' AND DATE '2025-12-19'" in sql
    assert "DATE(S.`measurementTime`, 'Europe/London')" in classify_sql(FREQ, "`p.d.f`", "`p.d.s`", D1, D1)


def test_a_range_run_is_one_load_and_one_merge_whose_filter_spans_the_range(wh, wire):
    result = wh.merge(batch(COSTS, {d: [cost(d, p, 1.0) for p in range(1, 49)] for d in (D1, D2, D3)}))
    assert {d: c.inserted for d, c in result.days.items()} == {D1: 48, D2: 48, D3: 48}
    [merge] = wire.merges()
    assert len(wire.loads) == 1
    [between] = target_conjuncts(merge, "settlementDate")
    assert literals(between) == ["2025-12-17", "2025-12-19"]
    assert result.merge_sql == merge


def test_counts_come_from_the_merge_job_and_agree_with_the_per_day_classification(wh):
    wh.merge(batch(COSTS, {D1: [cost(D1, p, 1.0) for p in range(1, 49)]}))
    result = wh.merge(batch(COSTS, {D1: [cost(D1, p, 2.0 if p < 4 else 1.0) for p in range(1, 49)],
                                    D2: [cost(D2, p, 1.0) for p in range(1, 11)]}))
    assert {d: (c.fetched, c.inserted, c.updated, c.unchanged) for d, c in result.days.items()} == {
        D1: (48, 0, 3, 45), D2: (10, 10, 0, 0)}
    assert result.job_affected == 13 and result.per_day_exact


def test_a_concurrent_writer_between_classification_and_merge_is_reported_not_hidden(wh, monkeypatch, caplog):
    wh.merge(batch(COSTS, {D1: [cost(D1, p, 1.0) for p in range(1, 49)]}))
    other = BigQueryWarehouse(project=wh.project, dataset=wh.dataset, client_factory=wh.client_factory)
    real = BigQueryWarehouse._run_merge

    def interleaved(self, bq, sql):
        monkeypatch.setattr(BigQueryWarehouse, "_run_merge", real)
        other.merge(batch(COSTS, {D1: [cost(D1, 1, 5.0)]}))  # another run writes period 1 in between
        return real(self, bq, sql)

    monkeypatch.setattr(BigQueryWarehouse, "_run_merge", interleaved)
    with caplog.at_level(logging.WARNING, logger="bmrs_assets.warehouse.bigquery_backend"):
        result = wh.merge(batch(COSTS, {D1: [cost(D1, p, 1.0) for p in range(1, 49)]}))
    assert (result.total("inserted"), result.total("updated"), result.total("unchanged")) == (0, 0, 48)  # planned
    assert result.job_affected == 1 and not result.per_day_exact  # what the MERGE did: period 1 put back
    assert "per-day counts are approximate" in caplog.text


def test_dml_stats_are_preferred_when_the_server_returns_them():
    """The emulator returns numDmlAffectedRows but no dmlStats; BigQuery returns both. This parses a
    BigQuery-shaped job resource with the real client class and feeds it to the accounting."""
    resource = {"jobReference": {"projectId": "p", "jobId": "j"}, "configuration": {"query": {"query": "MERGE"}},
                "statistics": {"query": {"numDmlAffectedRows": "13", "totalBytesProcessed": "4096",
                                         "dmlStats": {"insertedRowCount": "10", "updatedRowCount": "3"}}}}
    offline = bigquery.Client(project="p", credentials=AnonymousCredentials())
    job = bigquery.QueryJob.from_api_repr(resource, client=offline)
    from bmrs_assets.warehouse.bigquery_backend import BigQueryMergeResult
    from bmrs_assets.warehouse.contract import DayCounts

    ok = BigQueryMergeResult("COSTS", {})
    BigQueryWarehouse._account(ok, {D1: DayCounts(48, 0, 3), D2: DayCounts(10, 10, 0)}, job, 60, [D1, D2])
    assert (ok.job_inserted, ok.job_updated, ok.bytes_processed, ok.per_day_exact) == (10, 3, 4096, True)
    assert ok.duplicates_in_batch == 2 and ok.days[D1].unchanged == 45
    off = BigQueryMergeResult("COSTS", {})
    BigQueryWarehouse._account(off, {D1: DayCounts(58, 11, 3)}, job, 58, [D1])
    assert not off.per_day_exact and off.days[D1].inserted == 11  # the classification, flagged
    assert (off.total("inserted"), off.total("updated"), off.total("unchanged")) == (10, 3, 45)  # the job's


# --- Dagster -----------------------------------------------------------------------------------------

def test_the_resource_returns_the_bigquery_backend_with_its_settings():
    wh = WarehouseResource(backend="bigquery", bq_project="my-proj", bq_dataset="elexon", bq_location="EU").get()
    assert isinstance(wh, BigQueryWarehouse)
    assert (wh.project, wh.dataset, wh.location) == ("my-proj", "elexon", "EU")
    default = WarehouseResource(backend="bigquery").get()
    assert (default.project, default.dataset, default.location) == (None, "bmrs", None)
    with pytest.raises(ValueError, match="not a supported backend"):
        WarehouseResource(backend="snowflake").get()


def test_clients_are_opened_by_dagster_gcps_resource_with_the_credentials_setting():
    """dagster-gcp's BigQueryResource opens each client: project, location and its gcp_credentials come
    from the warehouse resource (BMRS_BQ_CREDENTIALS), and the backend uses that resource's get_client."""
    from dagster_gcp import BigQueryResource

    res = WarehouseResource(backend="bigquery", bq_project="my-proj", bq_location="EU", bq_credentials="a2V5")
    bq = res.bigquery_resource()
    assert isinstance(bq, BigQueryResource)
    assert (bq.project, bq.location, bq.gcp_credentials) == ("my-proj", "EU", "a2V5")
    assert WarehouseResource(backend="bigquery").bigquery_resource().gcp_credentials is None
    wh = res.get()
    opener = wh.client_context  # the backend opens its clients with that resource's get_client
    assert isinstance(opener.__self__, BigQueryResource) and opener.__name__ == "get_client"
    assert opener.__self__.gcp_credentials == "a2V5"


def test_definitions_read_the_bigquery_settings_from_the_environment(monkeypatch):
    from bmrs_assets.definitions import build_definitions

    monkeypatch.setenv("BMRS_WAREHOUSE", "bigquery")
    monkeypatch.setenv("BMRS_BQ_PROJECT", "my-proj")
    monkeypatch.setenv("BMRS_BQ_DATASET", "elexon")
    monkeypatch.setenv("BMRS_BQ_LOCATION", "europe-west2")
    resource = build_definitions().resources["warehouse"].process_config_and_initialize()  # resolves EnvVars
    wh = resource.get()
    assert isinstance(wh, BigQueryWarehouse)
    assert (wh.project, wh.dataset, wh.location) == ("my-proj", "elexon", "europe-west2")
    monkeypatch.delenv("BMRS_BQ_DATASET")
    monkeypatch.delenv("BMRS_BQ_LOCATION")
    wh = build_definitions().resources["warehouse"].process_config_and_initialize().get()
    assert (wh.dataset, wh.location) == ("bmrs", None)
    monkeypatch.setenv("BMRS_BQ_CREDENTIALS", "c2VjcmV0")
    resource = build_definitions().resources["warehouse"].process_config_and_initialize()
    assert resource.bigquery_resource().gcp_credentials == "c2VjcmV0"


def test_dagster_materializes_every_dataset_into_bigquery_idempotently(platform_env, instance, bq_emulator, monkeypatch):
    """BMRS_WAREHOUSE=bigquery end to end: the platform builds its client the production way
    (dagster-gcp's construction, application-default credentials), pointed at the emulator."""
    dataset = f"e2e_{uuid.uuid4().hex[:8]}"
    adc_calls = []

    def fake_adc(*args, **kwargs):
        adc_calls.append(kwargs.get("scopes"))
        return AnonymousCredentials(), bq_emulator.project

    monkeypatch.setattr(google.auth, "default", fake_adc)
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", bq_emulator.url)
    monkeypatch.setenv("BMRS_WAREHOUSE", "bigquery")
    monkeypatch.setenv("BMRS_BQ_PROJECT", bq_emulator.project)
    monkeypatch.setenv("BMRS_BQ_DATASET", dataset)
    day = date(2025, 12, 17)
    # a cross-section of the registry: settlement-day, time-window (FREQ) and publish-day (REMIT, JSON column)
    # partitions, path dates with variants and flattened columns (EBOCF), two providers (MID)
    codes = ["BOALF", "COSTS", "EBOCF", "FREQ", "MID", "REMIT"]
    result, lines = materialize_range(day, day, codes, instance=instance)
    assert result.success and adc_calls
    client = bq_emulator.client()
    try:
        stored = {code: next(iter(client.query(f"SELECT COUNT(*) AS n FROM `{bq_emulator.project}.{dataset}."
                                                f"{REGISTRY[code].table}`").result()))["n"] for code in codes}
        tables = sorted(t.table_id for t in client.list_tables(f"{bq_emulator.project}.{dataset}"))
    finally:
        client.close()
    assert {ln.dataset: ln.inserted for ln in lines} == stored and stored["COSTS"] == 48 and stored["FREQ"] == 5760
    assert stored["BOALF"] > 17_000
    assert tables == sorted([*(REGISTRY[c].table for c in codes), "_bmrs_response_digests"])
    checks = [e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    by_name = {}
    for c in checks:
        by_name.setdefault(c.check_name, []).append(c.passed)
    # uniqueness and completeness hold in BigQuery too; only one day is stored, so the recent-days gap check fails
    assert by_name["unique_natural_key"] == [True] * len(codes)
    assert by_name["complete_partition"] == [True] * len(codes)
    assert by_name["no_gaps_recent_days"] == [False] * len(codes)
    again, lines = materialize_range(day, day, codes, instance=instance)
    assert again.success
    assert all(ln.inserted == ln.updated == 0 and ln.unchanged == ln.rows == stored[ln.dataset] for ln in lines)
