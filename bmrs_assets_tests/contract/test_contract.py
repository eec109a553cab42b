"""The registry, the client and the simulator all agree with the official OpenAPI spec."""

from __future__ import annotations

import json
from datetime import date
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from bmrs_assets.core.tables import Kind
from bmrs_assets.elexon.client import build_request, initial_slices
from bmrs_assets.elexon.datasets import REGISTRY
from bmrs_assets.simulator.server import ROUTES, spec, spec_parameters
from bmrs_assets_tests.support.openapi_check import errors

KIND_OF = {("string", "date"): Kind.DATE, ("string", "date-time"): Kind.TIMESTAMP, ("integer", "int32"): Kind.INT,
           ("integer", "int64"): Kind.INT, ("number", "double"): Kind.FLOAT, ("boolean", None): Kind.BOOL,
           ("string", None): Kind.STRING, ("array", None): Kind.JSON, ("object", None): Kind.JSON}
DAYS = [date(2025, 3, 30), date(2025, 10, 26), date(2025, 12, 17)]


def template_of(path: str) -> str:
    for t in ROUTES:
        if t.split("{")[0] == path.split("{")[0]:
            return t
    raise AssertionError(path)


def test_the_shipped_spec_subset_is_a_verbatim_copy(reference):
    official = json.loads((reference / "elexon-insights-openapi.json").read_text())
    subset = spec()
    for path, item in subset["paths"].items():
        assert item == official["paths"][path], path
    for name, schema in subset["components"]["schemas"].items():
        assert schema == official["components"]["schemas"][name], name


def expected_columns(ds) -> dict[str, dict]:
    """The spec's row properties, nested objects flattened as <field>_<member>, in spec order."""
    components = spec()["components"]["schemas"]
    out = {}
    for name, prop in components[ds.spec_schema]["properties"].items():
        if "$ref" in prop:
            assert name in ds.flatten, f"{name} is a nested object the registry must flatten"
            member_schema = components[prop["$ref"].rsplit("/", 1)[-1]]
            out.update({f"{name}_{m}": p for m, p in member_schema["properties"].items()})
        else:
            out[name] = prop
    return out


@pytest.mark.parametrize("code", sorted(REGISTRY))
def test_registry_columns_match_the_spec_row_schema(code):
    ds = REGISTRY[code]
    props = expected_columns(ds)
    api_columns = [c for c in ds.columns if c.origin == "api"]
    assert [c.name for c in api_columns] == list(props), "same fields, same order as the spec"
    # not in the rows: filled from the path's variant, or the day asked for (a snapshot's day, Snapshot.stamp)
    assert all((c.origin == "path" and "{" + c.name + "}" in ds.path)
               or (c.origin == "request" and getattr(ds.request, "stamp", None) == c.name)
               for c in ds.columns if c.origin != "api")
    required_by_us = {*ds.key, ds.partition_column, ds.revision_column}
    for col in api_columns:
        p = props[col.name]
        assert KIND_OF[(p["type"], p.get("format"))] is col.kind, col.name
        if p.get("nullable") and not col.nullable:
            # stricter than the spec only where a null would make the row unplaceable or unmatchable
            assert col.name in required_by_us, f"{col.name} is nullable in the spec"


@pytest.mark.parametrize("code", sorted(REGISTRY))
def test_client_requests_use_only_declared_parameters(code):
    ds = REGISTRY[code]
    for day in DAYS:
        for sl in initial_slices(ds, day):
            path, params = build_request(ds, sl)
            declared = spec_parameters(ds.path)
            assert set(params) <= {n for n, p in declared.items() if p["in"] == "query"}
            assert all(n in params for n, p in declared.items() if p.get("required") and p["in"] == "query")
            path_params = {n for n, p in declared.items() if p["in"] == "path"}
            assert all("{" + n + "}" in ds.path for n in path_params)
            assert "{" not in path


@pytest.mark.parametrize("code", sorted(REGISTRY))
def test_simulator_responses_validate_against_the_spec(simulator, code):
    ds = REGISTRY[code]
    (sl,) = initial_slices(ds, date(2025, 10, 26))[:1]
    path, params = build_request(ds, sl)
    response = httpx.get(simulator.url + path, params=params, timeout=30)
    assert response.status_code == 200
    schema = spec()["paths"][ds.path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    body = response.json()
    assert errors(spec(), schema, body) == []
    rows = body if isinstance(body, list) else body["data"]
    assert rows and all(str(v).endswith("Z") for r in rows[:50] for k, v in r.items() if k in
                        {c.name for c in ds.columns if c.kind is Kind.TIMESTAMP})


def test_non_stream_endpoint_has_the_data_envelope(simulator):
    r = httpx.get(simulator.url + "/datasets/FREQ", params={
        "measurementDateTimeFrom": "2025-12-17T00:00:00Z", "measurementDateTimeTo": "2025-12-17T01:00:00Z"})
    body = r.json()
    assert set(body) == {"data"} and len(body["data"]) == 241  # inclusive both ends
    schema = spec()["paths"]["/datasets/FREQ"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert errors(spec(), schema, body) == []


@pytest.mark.parametrize(("path", "query", "needle"), [
    ("/datasets/BOALF/stream", "from=2025-12-17&to=2025-12-17&settlementDate=2025-12-17", "Unknown query parameter"),
    ("/datasets/FREQ/stream", "publishDateTimeFrom=2025-12-17T00:00Z&publishDateTimeTo=2025-12-18T00:00Z",
     "Unknown query parameter"),
    ("/datasets/BOALF/stream", "to=2025-12-17", "from field is required"),
    ("/datasets/FREQ", "measurementDateTimeFrom=2025-12-15T00:00Z&measurementDateTimeTo=2025-12-17T00:00Z", "exceeds"),
    ("/datasets/BOALF/stream", "from=2025-12-17&to=2025-12-17&settlementPeriodFrom=0", "between 1 and 50"),
    ("/datasets/FREQ/stream", "measurementDateTimeFrom=yesterday&measurementDateTimeTo=2025-12-17T00:00Z", "not valid"),
])
def test_simulator_is_strict_about_parameters(simulator, path, query, needle):
    r = httpx.get(f"{simulator.url}{path}?{query}")
    assert r.status_code == 400
    assert needle in r.text


def test_simulator_volumes_are_realistic(simulator):
    counts = {}
    for day in DAYS:
        for code in REGISTRY:
            ds = REGISTRY[code]
            path, params = build_request(ds, initial_slices(ds, day)[0])
            body = httpx.get(simulator.url + path, params=params, timeout=30).json()
            counts[(code, day)] = len(body if isinstance(body, list) else body["data"])
    assert [counts[("COSTS", d)] for d in DAYS] == [46, 50, 48]
    assert [counts[("FREQ", d)] for d in DAYS] == [5521, 6001, 5761]  # 15 s spots; inclusive 'to' adds one
    assert all(17_000 <= counts[("BOALF", d)] <= 21_000 for d in DAYS)
    # deterministic per (dataset, day)
    path, params = build_request(REGISTRY["BOALF"], initial_slices(REGISTRY["BOALF"], DAYS[2])[0])
    assert httpx.get(simulator.url + path, params=params).content == httpx.get(simulator.url + path, params=params).content
    assert parse_qs(urlsplit(f"?{simulator.requests[-1][1]}").query)["from"] == ["2025-12-17"]
