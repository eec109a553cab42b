"""Request strategies: what the client sends reads back as the slice it meant, and what the API refuses is refused."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from bmrs_assets.elexon.client import build_request, initial_slices
from bmrs_assets.elexon.datasets import REGISTRY
from bmrs_assets.elexon.requests import PathDate, RequestError, SettlementDates, SettlementDay, TimeWindow
from bmrs_assets.simulator.server import ROUTES

DAYS = [date(2025, 3, 30), date(2025, 10, 26), date(2025, 12, 17)]
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def path_params(template: str, path: str) -> dict[str, str]:
    pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
    m = re.match(pattern, path)
    assert m, (template, path)
    return m.groupdict()


@pytest.mark.parametrize("code", sorted(REGISTRY))
def test_every_slice_reads_back_as_itself(code):
    ds = REGISTRY[code]
    for day in DAYS:
        for sl in initial_slices(ds, day):
            path, params = build_request(ds, sl)
            scope = ds.request.read(params, path_params(ds.path, path), NOW)
            if sl.window is not None:
                assert (scope.start, scope.end) == (sl.window.start, sl.window.end)
            elif scope.current:  # a snapshot: the request names no day; the slice stamps it into its rows
                assert not params and sl.variant == ((ds.request.stamp, day.isoformat()),)
            else:
                assert scope.first == scope.last == day
                assert scope.periods == sl.periods and scope.variant == sl.variant
            assert (ds.request.split(sl) is not None) == ds.request.splittable


def test_every_registry_endpoint_is_a_route_of_its_dataset():
    assert {e.path: ds.code for ds in REGISTRY.values() for e in ds.endpoints} == {
        t: r.dataset for t, r in ROUTES.items()}
    assert all(r.request is REGISTRY[r.dataset].request for r in ROUTES.values())


def test_strategies_describe_the_requests_of_a_day():
    assert SettlementDay(periods_per_request=6).describe() == (
        "`from=D&to=D&settlementPeriodFrom=1&settlementPeriodTo=50` in 9 requests of 6 periods (1-6, 7-12, ..., 49-50)")
    assert SettlementDates().describe() == "`settlementDateFrom=D&settlementDateTo=D`, one request"
    assert "in requests of at most 24 h" in TimeWindow("a", "b", "t", max_window=timedelta(days=1)).describe()
    assert "(`bidOffer=bid`, `bidOffer=offer`)" in PathDate(({"bidOffer": "bid"}, {"bidOffer": "offer"})).describe()


def test_a_strategy_must_fit_its_path_and_columns():
    cols = ["settlementDate", "settlementPeriod"]
    with pytest.raises(ValueError, match="placeholders"):
        PathDate().validate("/x/{settlementDate}/{side}", cols)
    with pytest.raises(ValueError, match="placeholders"):
        SettlementDay().validate("/x/{settlementDate}", cols)
    with pytest.raises(ValueError, match="'timeFrom', which is not a declared column"):
        SettlementDay(time_field="timeFrom").validate("/x", cols)
    with pytest.raises(ValueError, match="periods_per_request is 1-50"):
        SettlementDay(periods_per_request=51).validate("/x", cols)


@pytest.mark.parametrize(("strategy", "query", "path", "needle"), [
    (SettlementDay(), {"from": "2025-12-17", "to": "2025-12-16", "settlementPeriodFrom": "1"}, {}, "before the to date"),
    (SettlementDay(), {"from": "2025-12-17", "to": "2025-12-17", "settlementPeriodTo": "x"}, {}, "not valid"),
    (SettlementDay(), {"from": "2025-12-17T00:00Z", "to": "2025-12-18T00:00Z"}, {}, "settlement date only"),
    (TimeWindow("a", "b", "t"), {"a": "2025-12-17T01:00Z", "b": "2025-12-17T00:00Z"}, {}, "before the to date"),
    (SettlementDates(), {}, {}, "settlementDateFrom field is required"),
    (PathDate(({"side": "bid"},)), {}, {"settlementDate": "2025-12-17", "side": "ask"}, "not valid for side"),
])
def test_what_the_api_refuses_is_refused(strategy, query, path, needle):
    with pytest.raises(RequestError, match=needle):
        strategy.read(query, path, NOW)


def test_an_open_time_window_is_the_last_hour():
    scope = TimeWindow("a", "b", "t").read({}, {}, NOW)
    assert (scope.start, scope.end, scope.size) == (NOW - timedelta(hours=1), NOW, timedelta(hours=1))


@pytest.mark.parametrize(("path", "query", "status", "needle"), [
    ("/datasets/FUELINST/stream", "publishDateTimeFrom=2025-12-17T00:00Z&publishDateTimeTo=2025-12-17T01:00Z", 400,
     "this simulator serves /datasets/FUELINST/stream by settlementDateFrom, settlementDateTo only"),
    ("/balancing/settlement/indicative/cashflows/all/ask/2025-12-17", "", 400, "not valid for bidOffer"),
    ("/datasets/BOALF/stream", "from=2025-12-17T00:00Z&to=2025-12-17T01:00Z", 200, ""),
])
def test_the_simulator_reads_requests_through_the_strategy(simulator, path, query, status, needle):
    r = httpx.get(f"{simulator.url}{path}?{query}", timeout=60)
    assert r.status_code == status and needle in r.text
    if status == 200:  # BOALF from/to as instants: filtered on timeFrom
        assert r.json() and all("2025-12-17T00:00:00Z" <= row["timeFrom"] <= "2025-12-17T01:00:00Z" for row in r.json())
