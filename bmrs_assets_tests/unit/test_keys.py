"""Keys that cannot collapse real rows: every natural key is checked against the real samples, the
spec's examples and the shape of the data (a vertical step is two points at one instant).

Where rows can share a key and differ elsewhere, the key holds what tells them apart (``timeTo`` of
every level profile); what is left (a REMIT message without an ``mrid``) is counted and reported,
never silently merged (``duplicate_keys_in_batch`` and a run warning, see ``defs/io_manager.py``).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bmrs_assets.core.conform import to_frame
from bmrs_assets.elexon.datasets import PN, REGISTRY
from bmrs_assets.warehouse.contract import PartitionBatch
from bmrs_assets.warehouse.duckdb_backend import DuckDBWarehouse

NOW = datetime(2026, 11, 28, tzinfo=UTC)
SAMPLE_ALIASES = {"DISEBSP": "COSTS"}  # the system prices sample is saved under Elexon's dataset name


def samples(reference: Path) -> list[tuple[str, Path]]:
    out = []
    for path in sorted((reference / "samples").glob("*.json")):
        code = SAMPLE_ALIASES.get(path.name.split(".")[0], path.name.split(".")[0])
        if code in REGISTRY:
            out.append((code, path))
    return out


def rows_of(path: Path) -> list[dict]:
    body = json.loads(path.read_text(encoding="utf-8"))
    rows = body["data"] if isinstance(body, dict) else body
    return [r for r in rows if isinstance(r, dict)]  # a saved sample may end in a "... (truncated)" marker


def test_every_level_profile_keys_on_both_ends_of_its_segments():
    """A vertical step (timeTo == timeFrom, then the next segment from that instant) is two rows."""
    profiles = [ds for ds in REGISTRY.values() if {"timeFrom", "timeTo"} <= set(ds.column_names)]
    assert {ds.code for ds in profiles} == {"BOALF", "BOD", "PN", "QPN", "MELS", "MILS"}
    for ds in profiles:
        assert {"timeFrom", "timeTo"} <= set(ds.key), f"{ds.code}: a vertical step would collapse into one row"


def test_the_spec_examples_hold_vertical_steps(reference):
    """Why timeTo is in the key: the spec's own examples of these datasets are points at one instant."""
    steps = {code for code, path in samples(reference) if "spec-example" in path.name
             for r in rows_of(path) if r.get("timeFrom") and r.get("timeFrom") == r.get("timeTo")}
    assert {"BOD", "MELS", "MILS", "QPN"} <= steps


def test_no_real_sample_has_two_rows_with_one_key(reference):
    checked = 0
    for code, path in samples(reference):
        ds = REGISTRY[code]
        rows = rows_of(path)
        if not rows or any(k not in rows[0] for k in ds.key if ds.column(k).origin.value == "api"):
            continue
        keys = [tuple(str(r.get(k)) for k in ds.key) for r in rows]
        assert len(set(keys)) == len(keys), f"{path.name}: rows share a {code} key"
        checked += 1
    assert checked >= 15, f"only {checked} samples checked"


def test_a_vertical_step_is_stored_as_two_rows(tmp_path):
    day = date(2025, 12, 17)
    step = {"dataset": "PN", "settlementDate": "2025-12-17", "settlementPeriod": 20, "nationalGridBmUnit": "SIM-1",
            "bmUnit": "T_SIM-1", "timeFrom": "2025-12-17T09:30:00Z", "timeTo": "2025-12-17T09:30:00Z",
            "levelFrom": 0, "levelTo": 100}
    flat = {**step, "timeTo": "2025-12-17T10:00:00Z", "levelFrom": 100, "levelTo": 100}
    frame, _ = to_frame(PN, day, [step, flat], ingested_utc=NOW)
    wh = DuckDBWarehouse(str(tmp_path / "w.duckdb"))
    result = wh.merge(PartitionBatch(PN, [day], [(day, frame)]))
    assert result.total("inserted") == 2 and result.duplicates_in_batch == 0
    stored = wh.read(PN, day, day)
    assert sorted(zip(stored["levelFrom"], stored["levelTo"], strict=True)) == [(0, 100), (100, 100)]


@pytest.mark.parametrize("code", ["REMIT"])
def test_a_key_that_can_still_repeat_is_counted_not_hidden(tmp_path, code):
    """REMIT's mrid is optional in the spec: two messages without one share (null, revisionNumber)."""
    ds = REGISTRY[code]
    assert ds.column("mrid").nullable
    day = date(2025, 12, 17)
    base = {"dataset": "REMIT", "revisionNumber": 1, "publishTime": "2025-12-17T10:00:00Z"}
    frame, _ = to_frame(ds, day, [{**base, "assetId": "A"}, {**base, "assetId": "B"}], ingested_utc=NOW)
    result = DuckDBWarehouse(str(tmp_path / "w.duckdb")).merge(PartitionBatch(ds, [day], [(day, frame)]))
    assert result.duplicates_in_batch == 1, "the collapsed row is counted (and the IO manager warns of it)"
