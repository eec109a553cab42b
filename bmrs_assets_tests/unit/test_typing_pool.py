"""Typing workers: a worker's table is the serial path's; a body it cannot type is typed (and fails) here."""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import UTC, date, datetime

import orjson
import pytest

from bmrs_assets.core.conform import FrameError
from bmrs_assets.elexon.client import Body, ElexonApiError
from bmrs_assets.elexon.datasets import BOALF, BOD
from bmrs_assets.elexon.requests import Slice
from bmrs_assets.elexon.typing_pool import TypingPool, _pid, pooled, result_of, type_body
from bmrs_assets.quality.completeness import arriving_stats
from bmrs_assets.simulator.data import GENERATORS, SimState

DAY = date(2025, 12, 17)
NOW = datetime(2025, 12, 18, 6, 0, tzinfo=UTC)


def body_of(rows: list[dict], day: date = DAY) -> Body:
    return Body(Slice(day), "http://127.0.0.1/test", [orjson.dumps(rows)])


@pytest.fixture(scope="module")
def pool():
    p = TypingPool(2)
    yield p
    p.close()


def test_workers_are_other_processes_and_ready_at_once(pool):
    assert pool.ready
    pids = {pool._executor.submit(_pid).result() for _ in range(8)}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2


@pytest.mark.parametrize("code", ["BOALF", "BOD"])
def test_a_workers_table_is_the_serial_paths(pool, code):
    ds = {"BOALF": BOALF, "BOD": BOD}[code]
    rows = json.loads(json.dumps(GENERATORS[code].make(DAY, SimState())[:5000]))
    body = body_of(rows)
    typed = result_of(pool.submit(ds, body, NOW))
    serial = type_body(ds, body, NOW)
    assert typed is not None and typed.table.num_rows > 0
    assert typed.table.equals(serial.table)
    assert typed.received == serial.received == len(rows)
    assert typed.report == serial.report


@pytest.mark.parametrize(("content", "error", "needle"), [
    (b"<html>busy</html>", ElexonApiError, "response is not JSON"),
    (orjson.dumps([{"levelFrom": "ten"}]), FrameError, "cannot type the API response"),
])
def test_a_body_a_worker_cannot_type_is_declined_and_fails_here_as_serially(pool, content, error, needle):
    body = Body(Slice(DAY), "http://127.0.0.1/test", [content])
    future = pool.submit(BOALF, body, NOW)
    assert future is not None and result_of(future) is None  # declined: the worker raised
    with pytest.raises(error, match=needle) as err:
        type_body(BOALF, body, NOW)
    assert "BOALF" in str(err.value) and "2025-12-17" in str(err.value)


def test_only_registry_entries_go_to_workers():
    assert pooled(BOALF)
    assert not pooled(dataclasses.replace(BOALF, allow_empty=True))  # a worker would look up another entry


def test_a_closed_pool_types_nothing_and_says_so():
    p = TypingPool(1)
    p.close()
    assert p.submit(BOALF, body_of([]), NOW) is None
    assert result_of(None) is None


def test_a_worker_measures_its_body_as_the_run_would(pool):
    rows = json.loads(json.dumps(GENERATORS["BOALF"].make(DAY, SimState())[:3000]))
    typed = result_of(pool.submit(BOALF, body_of(rows), NOW))
    assert typed.stats == arriving_stats(BOALF, typed.table) and typed.stats.rows == typed.table.num_rows
    assert typed.unique_key is True
    doubled = result_of(pool.submit(BOALF, body_of(rows + rows[:1]), NOW))
    assert doubled.unique_key is False and doubled.table.num_rows == len(rows) + 1
    assert type_body(BOALF, body_of(rows), NOW).unique_key is None  # the serial path measures nothing
