"""Hostile and broken input: correct rows or a clear failure naming dataset, partition and problem,
never a silent NULL, never a partial write; and property-based tests of the invariants."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bmrs_assets.cli.runs import materialize_range
from bmrs_assets.core.conform import to_frame
from bmrs_assets.core.settlement import day_window, period_start, periods_in_day, settlement_period_of
from bmrs_assets.core.tables import IDENTIFIER, Col, Kind
from bmrs_assets.elexon.datasets import COSTS, REGISTRY, get_dataset
from bmrs_assets.warehouse.contract import PartitionBatch, quote
from bmrs_assets.warehouse.duckdb_backend import DuckDBWarehouse
from bmrs_assets_tests.support.helpers import failure_text, materialize_against
from bmrs_assets_tests.support.scripted_server import Reply, ScriptedServer

DAY = date(2025, 12, 17)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def price(period: int, value: object = 50.0, **changes) -> dict:
    start = period_start(DAY, period)
    row = {"settlementDate": "2025-12-17", "settlementPeriod": period, "startTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
           "createdDateTime": "2025-12-18T10:00:00Z", "systemSellPrice": value, "systemBuyPrice": value,
           "bsadDefaulted": False, "priceDerivationCode": "N", "reserveScarcityPrice": 0.0, "netImbalanceVolume": 1.0,
           "sellPriceAdjustment": 0.0, "buyPriceAdjustment": 0.0, "replacementPrice": None,
           "replacementPriceReferenceVolume": None, "totalAcceptedOfferVolume": 1.0, "totalAcceptedBidVolume": -1.0,
           "totalAdjustmentSellVolume": 0.0, "totalAdjustmentBuyVolume": 0.0, "totalSystemTaggedAcceptedOfferVolume": 1.0,
           "totalSystemTaggedAcceptedBidVolume": -1.0, "totalSystemTaggedAdjustmentSellVolume": None,
           "totalSystemTaggedAdjustmentBuyVolume": None}
    row.update(changes)
    return row


def day_of(rows):
    return json.dumps({"data": rows}).encode()


def full_day(**override):
    rows = [price(p) for p in range(1, 49)]
    rows[10].update(override)
    return rows


HOSTILE = {
    "wrong type": (day_of(full_day(systemSellPrice="fifty")), "systemSellPrice: 1 value(s) are not finite numbers"),
    "missing key column": (day_of([{k: v for k, v in r.items() if k != "settlementPeriod"} for r in full_day()]),
                           "settlementPeriod"),
    "NaN price": (day_of(full_day(systemSellPrice="NaN")), "systemSellPrice: 1 value(s) are not finite numbers"),
    "NaN token": (day_of(full_day()).replace(b'"systemSellPrice": 50.0', b'"systemSellPrice": NaN', 1), "not JSON"),
    "timestamp without zone": (day_of(full_day(startTime="2025-12-17T05:00:00")), "startTime: 1 value(s) are not ISO-8601"),
    "empty body": (b"", "not JSON"),
    "HTML instead of JSON": (b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>", "not JSON"),
    "object without data": (b'{"message": "maintenance"}', "neither a JSON array"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_responses_fail_clearly_and_write_nothing(platform_env, instance, monkeypatch, case):
    body, needle = HOSTILE[case]
    assert materialize_range(DAY, DAY, ["COSTS"], instance=instance)[0].success  # a good day already stored
    con = duckdb.connect(str(platform_env), read_only=True)
    before = con.execute("SELECT * FROM bmrs_costs ORDER BY ALL").fetchall()
    con.close()
    result, _ = materialize_against(body, ["COSTS"], DAY, instance, monkeypatch)
    assert not result.success
    text = failure_text(result)
    assert "COSTS partition 2025-12-17" in text and needle in text, text[:800]
    con = duckdb.connect(str(platform_env), read_only=True)
    assert con.execute("SELECT * FROM bmrs_costs ORDER BY ALL").fetchall() == before
    con.close()


def test_duplicate_keys_with_different_values_resolve_to_the_latest_revision(platform_env, instance, monkeypatch):
    rows = [*full_day(), price(11, 99.0, createdDateTime="2025-12-19T10:00:00Z"),
            price(11, 12.0, createdDateTime="2025-12-18T09:00:00Z")]
    result, lines = materialize_against(day_of(rows), ["COSTS"], DAY, instance, monkeypatch)
    assert result.success and lines[0].inserted == 48
    con = duckdb.connect(str(platform_env), read_only=True)
    assert con.execute('SELECT "systemSellPrice" FROM bmrs_costs WHERE "settlementPeriod" = 11').fetchall() == [(99.0,)]
    con.close()


def test_an_unknown_field_is_kept_not_dropped(platform_env, instance, monkeypatch):
    rows = [{**r, "settlementRunType": "SF"} for r in full_day()]
    assert materialize_against(day_of(rows), ["COSTS"], DAY, instance, monkeypatch)[0].success
    con = duckdb.connect(str(platform_env), read_only=True)
    assert con.execute("SELECT DISTINCT _extra->>'settlementRunType' FROM bmrs_costs").fetchall() == [("SF",)]
    con.close()


def test_a_50_mb_body_is_either_processed_or_refused_by_the_size_guard(platform_env, instance, monkeypatch):
    padding = "x" * 1000
    rows = [price(1 + i % 48, createdDateTime=f"2025-12-18T{10 + i // 48 % 10:02d}:00:00Z", note=padding)
            for i in range(48_000)]
    body = day_of(rows)
    assert len(body) > 50_000_000
    result, lines = materialize_against(body, ["COSTS"], DAY, instance, monkeypatch)
    assert result.success and lines[0].rows == 48  # 48,000 rows of 1 kB resolve to one row per period


def test_an_oversized_body_is_refused_without_buffering_it():
    from bmrs_assets.elexon.client import ElexonApiError, ElexonClient
    server = ScriptedServer(lambda p, n: Reply(body=b"[" + b" " * 3_000_000 + b"]"))
    try:
        with ElexonClient(base_url=server.url, max_body_bytes=1_000_000) as client, \
                pytest.raises(ElexonApiError, match="COSTS partition 2025-12-17: response larger than 1000000 bytes"):
            client.fetch_day(COSTS, DAY)
    finally:
        server.stop()


# --- security: names from the outside never reach SQL or HTTP -----------------------------
@pytest.mark.parametrize("name", ["BOALF; DROP TABLE bmrs_boalf", "../etc", "bmrs_boalf", "", "X" * 40])
def test_unknown_dataset_names_are_refused(name):
    with pytest.raises(KeyError, match="unknown dataset"):
        get_dataset(name)


def test_identifiers_are_validated_before_quoting():
    assert quote("settlementDate") == '"settlementDate"'
    for bad in ('x"; DROP TABLE t; --', "a b", "1abc", ""):
        with pytest.raises(ValueError):
            quote(bad)
        with pytest.raises(ValueError):
            Col(bad, Kind.STRING)
    assert all(IDENTIFIER.match(c.name) for ds in REGISTRY.values() for c in ds.columns)


@pytest.mark.parametrize("args", [["gaps", "--dataset", "BOALF;DROP"], ["gaps", "--since", "2025-13-01"],
                                  ["demo", "--from", "yesterday"], ["run", "--dataset", "NOPE"]])
def test_the_command_line_refuses_bad_names_and_dates_before_any_work(args, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "BMRS_API_BASE_URL": "http://127.0.0.1:9/never", "DAGSTER_HOME": str(tmp_path),
           "BMRS_DUCKDB_PATH": str(tmp_path / "never.duckdb")}
    out = subprocess.run([sys.executable, "-m", "bmrs_assets", *args], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert "unknown dataset" in out.stderr or "not a valid settlement date" in out.stderr
    assert not (tmp_path / "never.duckdb").exists()


def test_an_invalid_partition_key_is_refused_by_dagster_before_any_request(platform_env, tmp_path, simulator):
    env = {**__import__("os").environ, "DAGSTER_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "dagster", "asset", "materialize", "-m", "bmrs_assets.definitions",
                          "--select", "bmrs/costs", "--partition", "2025-12-17' OR 1=1"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "2025-12-17' OR 1=1" in out.stderr
    assert simulator.requests == []


# --- properties -------------------------------------------------------------------------
@given(st.dates(min_value=date(1996, 1, 1), max_value=date(2100, 12, 31)))
def test_every_day_has_46_48_or_50_periods_that_tile_it(day):
    n = periods_in_day(day)
    assert n in (46, 48, 50)
    window = day_window(day)
    assert period_start(day, 1) == window.start
    assert period_start(day, n) + timedelta(minutes=30) == window.end
    assert window.duration == timedelta(minutes=30 * n)


@given(st.datetimes(min_value=datetime(1996, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)))
def test_every_instant_is_in_exactly_one_period(instant):
    day, period = settlement_period_of(instant)
    start = period_start(day, period)
    assert start <= instant < start + timedelta(minutes=30)


@given(st.integers(min_value=1996, max_value=2100))
def test_a_year_has_48_periods_a_day_on_average(year):
    days = [date(year, 1, 1) + timedelta(days=i) for i in range((date(year + 1, 1, 1) - date(year, 1, 1)).days)]
    assert sum(periods_in_day(d) for d in days) == 48 * len(days)
    assert sorted({periods_in_day(d) for d in days}) == [46, 48, 50]


batches = st.lists(
    st.lists(st.tuples(st.integers(1, 48), st.sampled_from([10.0, 20.0, 30.0]), st.integers(0, 3)), max_size=12),
    min_size=1, max_size=4)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches)
def test_applying_any_sequence_of_batches_twice_equals_applying_it_once(tmp_path_factory, sequence):
    def apply(path):
        wh = DuckDBWarehouse(str(path))
        for batch in sequence:
            rows = [price(p, v, createdDateTime=f"2025-12-18T1{r}:00:00Z") for p, v, r in batch]
            frame, _ = to_frame(COSTS, DAY, rows, ingested_utc=NOW)
            wh.merge(PartitionBatch(COSTS, [DAY], [(DAY, frame)]))
        con = duckdb.connect(str(path), read_only=True)
        try:
            return con.execute('SELECT "settlementPeriod", "systemSellPrice", "createdDateTime", _hash_key '
                               "FROM bmrs_costs ORDER BY 1").fetchall()
        except duckdb.CatalogException:
            return []
        finally:
            con.close()

    base = tmp_path_factory.mktemp("merge")
    once = apply(base / "once.duckdb")
    twice_path = base / "twice.duckdb"
    apply(twice_path)
    assert apply(twice_path) == once
    keys = [r[0] for r in once]
    assert len(keys) == len(set(keys))


def test_the_ui_binds_loopback_by_default():
    from bmrs_assets_tests.conftest import REPO
    recipe = (REPO / "Makefile").read_text().split("\nui:", 1)[1].split("\n\n", 1)[0]
    assert "dagster dev" in recipe and "-h 127.0.0.1" in recipe
