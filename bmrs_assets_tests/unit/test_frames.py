"""Typing and validating API rows: real samples pass; bad input fails loudly, naming what is wrong."""

from __future__ import annotations

import copy
import csv
import dataclasses
import json
from datetime import UTC, date, datetime

import pandas as pd
import pytest

from bmrs_assets.core.conform import FrameError, to_frame, to_table
from bmrs_assets.core.fingerprint import typing_fingerprint
from bmrs_assets.core.periods import PeriodLabelError
from bmrs_assets.core.schemas import ValidationFailure
from bmrs_assets.core.settlement import period_start
from bmrs_assets.core.tables import Col, Kind
from bmrs_assets.elexon.datasets import BOALF, COSTS, FREQ, REGISTRY
from bmrs_assets.simulator.data import GENERATORS, SimState
from bmrs_assets.warehouse.arrow import arrow_schema, to_arrow

NOW = datetime(2026, 11, 28, tzinfo=UTC)
# Real captured responses, by registered dataset (COSTS is Elexon's DISEBSP).
SAMPLE_FILES = {"BOALF": "BOALF.json", "FREQ": "FREQ.json", "COSTS": "DISEBSP.json", "BOD": "BOD.json",
                "DISBSAD": "DISBSAD.json", "FUELHH": "FUELHH.json", "FUELINST": "FUELINST.json", "INDDEM": "INDDEM.json",
                "INDGEN": "INDGEN.json", "MID": "MID.json", "NETBSAD": "NETBSAD.json", "PN": "PN.json",
                "REMIT": "REMIT.json"}
# The spec's own synthetic examples, for datasets with no real capture.
SPEC_EXAMPLES = {"BOD": "BOD.spec-example.json", "EBOCF": "EBOCF.spec-example.json", "QPN": "QPN.spec-example.json",
                 "MELS": "MELS.spec-example.json", "MILS": "MILS.spec-example.json"}


def sample_rows(reference, name):
    payload = json.loads((reference / "samples" / name).read_text())
    rows = payload["data"] if isinstance(payload, dict) else payload
    # REMIT.json ends with the source author's "... (truncated)" marker string: not a row
    return [r for r in rows if isinstance(r, dict)]


def partition_of(code, row):
    ds = REGISTRY[code]
    value = row[ds.partition_column]
    if ds.partition_kind.value == "timestamp":
        return pd.Timestamp(value).tz_convert("Europe/London").date()
    return date.fromisoformat(value)


@pytest.mark.parametrize("code", sorted(SAMPLE_FILES))
def test_real_samples_parse_and_pass_their_schema(reference, code):
    rows = sample_rows(reference, SAMPLE_FILES[code])
    ds = REGISTRY[code]
    day = partition_of(code, rows[0])
    frame, report = to_frame(ds, day, copy.deepcopy(rows), ingested_utc=NOW)
    assert len(frame) == len(rows) and report.unknown_fields == []
    assert list(frame.columns[: len(ds.columns)]) == ds.column_names
    assert frame["_hash_key"].str.fullmatch(r"[0-9a-f]{16}").all()
    first = frame.iloc[0]
    if code == "BOALF":
        assert first["timeFrom"] == pd.Timestamp("2026-05-06T03:00:00Z")
        assert first["settlementDate"] == date(2026, 5, 6) and first["levelFrom"] == 480
        assert bool(first["soFlag"]) is True
    if code == "COSTS":
        assert first["startTime"] == pd.Timestamp("2026-05-05T23:00:00Z")  # SP1 in BST
        assert pd.isna(first["replacementPrice"])  # a real null stays null
    if code == "FREQ":
        assert set(frame["frequency"]) == {49.97, 50.017}
    if code == "REMIT":
        profile = json.loads(first["outageProfile"])
        assert profile[0] == {"capacity": 0.0, "endTime": "2025-12-09T05:00:00Z", "startTime": "2025-12-09T05:00:00Z"}
        assert pd.isna(first["affectedArea"])  # omitted by the API, null here
    if code == "MID":
        assert set(frame["dataProvider"]) == {"APXMIDP", "N2EXMIDP"}


@pytest.mark.parametrize("code", sorted(SPEC_EXAMPLES))
def test_spec_examples_parse_once_their_known_mislabels_are_corrected(reference, code):
    """The spec's examples say dataset "PN" for QPN and "MILS" for MELS: our label check catches that."""
    rows = sample_rows(reference, SPEC_EXAMPLES[code])
    ds = REGISTRY[code]
    if code == "EBOCF":
        rows = [{**r, "bidOffer": "offer"} for r in rows]  # the side comes from the request path
    mislabelled = [r for r in rows if "dataset" in r and r["dataset"] != code]
    if mislabelled:
        with pytest.raises(ValidationFailure, match=f"(?s){code} partition .*column dataset: isin"):
            to_frame(ds, partition_of(code, rows[0]), copy.deepcopy(rows), ingested_utc=NOW)
        rows = [{**r, "dataset": code} for r in rows]
    assert bool(mislabelled) == (code in ("QPN", "MELS"))
    # their times are placeholders that fit no period (BOD's are even on another day): the period check
    # rejects them as they are; with each time moved to its period's start, in the spec's own format, they parse
    with pytest.raises(PeriodLabelError, match=f"{code} partition .* expected period"):
        to_frame(ds, partition_of(code, rows[0]), copy.deepcopy(rows), ingested_utc=NOW)
    for label in ds.period_labels:
        start = period_start(date.fromisoformat(rows[0][label.date]), rows[0][label.period])
        rows = [{**r, label.time: start.strftime("%Y-%m-%dT%H:%M:%S.0000000+00:00")} for r in rows]
    frame, _ = to_frame(ds, partition_of(code, rows[0]), list(rows), ingested_utc=NOW)
    assert len(frame) == len(rows) == 1
    if code == "EBOCF":
        assert frame.loc[0, "bidOfferPairCashflows_positive1"] == 23062.377
        assert pd.isna(frame.loc[0, "bidOfferPairCashflows_negative1"])
        assert frame.loc[0, "startTime"] == pd.Timestamp("2023-03-01T00:00:00Z")  # 7-digit fraction, +00:00


@pytest.mark.parametrize("report_file", ["api_schema_report.csv", "api_schema_report_2022.csv"])
def test_origin_sample_values_fit_the_registry(reference, report_file):
    """One real value per field per dataset, from the system we replace: each must type cleanly."""
    by_dataset: dict[str, dict[str, str]] = {}
    with open(reference / "origin-samples" / report_file, newline="") as fh:
        for rec in csv.DictReader(fh):
            if rec["dataset"] in REGISTRY and not rec["column_name"].startswith("_"):
                by_dataset.setdefault(rec["dataset"], {})[rec["column_name"]] = rec["sample_value"]
    # every registered dataset the old system loaded is in the report (EBOCF, BOAV, DISPTAV, REMIT and BM_UNITS never were)
    assert set(by_dataset) == set(REGISTRY) - {"EBOCF", "BOAV", "DISPTAV", "REMIT", "BM_UNITS"}
    for code, fields in by_dataset.items():
        ds = REGISTRY[code]
        assert set(fields) == set(ds.column_names), code
        row = {}
        for col in ds.columns:
            text = fields[col.name]
            convert = {"int": int, "float": float, "bool": lambda t: t == "True"}.get(col.kind.value, str)
            row[col.name] = None if text == "" else convert(text)  # the report writes a null as ''

        day = partition_of(code, row)
        frame, _ = to_frame(ds, day, [row], ingested_utc=NOW)
        assert len(frame) == 1, code


def boalf_row(**changes):
    row = {"dataset": "BOALF", "settlementDate": "2025-12-17", "settlementPeriodFrom": 20, "settlementPeriodTo": 20,
           "timeFrom": "2025-12-17T09:30:00Z", "timeTo": "2025-12-17T09:40:00Z", "levelFrom": 10, "levelTo": 20,
           "acceptanceNumber": 7, "acceptanceTime": "2025-12-17T09:25:00Z", "deemedBoFlag": False, "soFlag": True,
           "amendmentFlag": "ORI", "storFlag": False, "rrFlag": None, "nationalGridBmUnit": "X-1", "bmUnit": "T_X-1"}
    row.update(changes)
    return row


DAY = date(2025, 12, 17)


@pytest.mark.parametrize(("bad", "needle"), [
    ({"levelFrom": "ten"}, "column levelFrom: 1 value(s) are not integers, e.g. 'ten'"),
    ({"levelFrom": 1.5}, "column levelFrom: 1 value(s) are not integers"),
    ({"timeFrom": "2025-12-17T09:30:00"}, "column timeFrom: 1 value(s) are not ISO-8601 timestamps with a time zone"),
    ({"timeFrom": "2025-12-17 09:30"}, "column timeFrom"),
    ({"settlementDate": "17/12/2025"}, "column settlementDate: 1 value(s) are not dates"),
    ({"soFlag": "true"}, "column soFlag: 1 value(s) are not booleans"),
    ({"bmUnit": 12}, "column bmUnit: 1 value(s) are not strings"),
])
def test_untypable_values_fail_naming_dataset_partition_column_and_value(bad, needle):
    with pytest.raises(FrameError) as err:
        to_frame(BOALF, DAY, [boalf_row(), boalf_row(**bad)], ingested_utc=NOW)
    assert "BOALF partition 2025-12-17" in str(err.value) and needle in str(err.value)


def test_missing_key_values_and_out_of_range_checks_fail_validation():
    with pytest.raises(ValidationFailure) as err:
        to_frame(BOALF, DAY, [boalf_row(acceptanceNumber=None), boalf_row(settlementPeriodTo=51)], ingested_utc=NOW)
    text = str(err.value)
    assert "BOALF partition 2025-12-17" in text and "acceptanceNumber" in text and "settlementPeriodTo" in text
    assert "in_range" in text and "51" in text


def test_a_nan_price_is_refused():
    row = {"dataset": "FREQ", "measurementTime": "2025-12-17T00:00:15Z", "frequency": "NaN"}
    with pytest.raises(FrameError, match="frequency: 1 value"):
        to_frame(FREQ, DAY, [row], ingested_utc=NOW)


def test_unknown_fields_are_kept_in_extra_and_reported():
    rows = [boalf_row(newField="abc", anotherOne=3), boalf_row(acceptanceNumber=8)]
    frame, report = to_frame(BOALF, DAY, rows, ingested_utc=NOW)
    assert report.unknown_fields == ["anotherOne", "newField"]
    assert json.loads(frame.loc[0, "_extra"]) == {"anotherOne": 3, "newField": "abc"}
    assert json.loads(frame.loc[1, "_extra"]) == {}
    # the extra content takes part in the change hash
    plain, _ = to_frame(BOALF, DAY, [boalf_row()], ingested_utc=NOW)
    assert plain.loc[0, "_hash_key"] != frame.loc[0, "_hash_key"]


def test_rows_of_other_days_are_dropped_and_counted():
    rows = [{"dataset": "FREQ", "measurementTime": t, "frequency": 50.0}
            for t in ("2025-12-16T23:59:45Z", "2025-12-17T00:00:00Z", "2025-12-17T23:59:45Z", "2025-12-18T00:00:00Z")]
    frame, report = to_frame(FREQ, DAY, rows, ingested_utc=NOW)
    assert report.rows_outside_partition == 2
    assert list(frame["measurementTime"].dt.strftime("%H:%M:%S")) == ["00:00:00", "23:59:45"]


def test_hash_is_stable_and_content_sensitive():
    a, _ = to_frame(COSTS, DAY, [], ingested_utc=NOW)
    assert a.empty and list(a.columns)[-1] == "_hash_key"
    one, _ = to_frame(BOALF, DAY, [boalf_row()], ingested_utc=NOW)
    again, _ = to_frame(BOALF, DAY, [boalf_row()], ingested_utc=datetime(2030, 1, 1, tzinfo=UTC))
    changed, _ = to_frame(BOALF, DAY, [boalf_row(levelTo=21)], ingested_utc=NOW)
    assert one.loc[0, "_hash_key"] == again.loc[0, "_hash_key"] != changed.loc[0, "_hash_key"]


# --- the fast path (to_table) is the reference path (to_frame), only faster ---------------------------
def reference_table(ds, day, rows):
    return to_arrow(ds, to_frame(ds, day, copy.deepcopy(rows), ingested_utc=NOW)[0])


@pytest.mark.parametrize("generator", sorted(GENERATORS))
def test_to_table_equals_to_frame_on_simulator_data(generator):
    code, _, side = generator.partition("/")
    ds = REGISTRY[code]
    for day in (date(2025, 10, 26), DAY):  # a 50-period clock-change day and an ordinary one
        rows = GENERATORS[generator].make(day, SimState())[:3000]
        if side:
            rows = [{**r, "bidOffer": side} for r in rows]
        rows = json.loads(json.dumps(rows))  # as the API sends them
        table, report = to_table(ds, day, copy.deepcopy(rows), ingested_utc=NOW)
        assert table.equals(reference_table(ds, day, rows)), (generator, day)
        assert report.rows_received == len(rows)


@pytest.mark.parametrize("code", sorted(SAMPLE_FILES))
def test_to_table_equals_to_frame_on_real_samples(reference, code):
    rows = sample_rows(reference, SAMPLE_FILES[code])
    ds = REGISTRY[code]
    day = partition_of(code, rows[0])
    table, _ = to_table(ds, day, copy.deepcopy(rows), ingested_utc=NOW)
    assert table.equals(reference_table(ds, day, rows))


@pytest.mark.parametrize("changes", [
    {"timeFrom": "2025-12-17T10:30:00+01:00"}, {"timeFrom": "2025-12-17T09:30:00.1234560Z"},
    {"timeFrom": "2025-12-17T09:30Z"}, {"timeFrom": "2025-12-17T10:30:00+0100"}, {"rrFlag": True},
    {"amendmentFlag": None, "rrFlag": None}, {"bmUnit": None}, {"settlementDate": "2025-12-18"},
    {"levelFrom": -2**62}, {"levelFrom": 12.0}, {"acceptanceNumber": 2**53 + 1},
])
def test_to_table_equals_to_frame_on_edge_values(changes):
    rows = [boalf_row(), boalf_row(**{"acceptanceNumber": 8, **changes})]
    table, report = to_table(BOALF, DAY, copy.deepcopy(rows), ingested_utc=NOW)
    assert table.equals(reference_table(BOALF, DAY, rows))
    assert report.rows_outside_partition == (1 if "settlementDate" in changes else 0)


def test_to_table_keeps_unknown_fields_and_prices_as_to_frame_does():
    rows = [boalf_row(newField="abc", anotherOne=3), boalf_row(acceptanceNumber=8)]
    table, report = to_table(BOALF, DAY, copy.deepcopy(rows), ingested_utc=NOW)
    assert report.unknown_fields == ["anotherOne", "newField"]
    assert table.equals(reference_table(BOALF, DAY, rows))
    freq = [{"dataset": "FREQ", "measurementTime": "2025-12-17T00:00:15Z", "frequency": 50}]
    assert to_table(FREQ, DAY, copy.deepcopy(freq), ingested_utc=NOW)[0].equals(reference_table(FREQ, DAY, freq))


@pytest.mark.parametrize(("bad", "needle"), [
    ({"levelFrom": "ten"}, "column levelFrom: 1 value(s) are not integers, e.g. 'ten'"),
    ({"levelFrom": 1.5}, "column levelFrom: 1 value(s) are not integers"),
    ({"levelFrom": True}, "column levelFrom: 1 value(s) are not integers"),
    ({"timeFrom": "2025-12-17T09:30:00"}, "column timeFrom: 1 value(s) are not ISO-8601 timestamps with a time zone"),
    ({"settlementDate": "2025-02-30"}, "column settlementDate: 1 value(s) are not dates"),
    ({"settlementDate": "0001-01-01"}, "column settlementDate: 1 value(s) are not dates"),
    ({"soFlag": "true"}, "column soFlag: 1 value(s) are not booleans"),
    ({"soFlag": 1}, "column soFlag: 1 value(s) are not booleans"),
    ({"bmUnit": 12}, "column bmUnit: 1 value(s) are not strings"),
    ({"bmUnit": {"a": 1}}, "column bmUnit: 1 value(s) are not strings"),
])
def test_to_table_fails_exactly_as_to_frame(bad, needle):
    with pytest.raises(FrameError) as err:
        to_table(BOALF, DAY, [boalf_row(), boalf_row(**bad)], ingested_utc=NOW)
    assert "BOALF partition 2025-12-17" in str(err.value) and needle in str(err.value)
    with pytest.raises(FrameError) as ref:
        to_frame(BOALF, DAY, [boalf_row(), boalf_row(**bad)], ingested_utc=NOW)
    assert str(err.value) == str(ref.value)


def test_to_table_validation_failures_are_pandera_s():
    rows = [boalf_row(acceptanceNumber=None), boalf_row(settlementPeriodTo=51)]
    with pytest.raises(ValidationFailure) as err:
        to_table(BOALF, DAY, copy.deepcopy(rows), ingested_utc=NOW)
    with pytest.raises(ValidationFailure) as ref:
        to_frame(BOALF, DAY, copy.deepcopy(rows), ingested_utc=NOW)
    assert str(err.value) == str(ref.value) and "in_range" in str(err.value)
    bod = {"dataset": "BOD", "settlementDate": "2025-12-17", "settlementPeriod": 1, "timeFrom": "2025-12-17T00:00:00Z",
           "levelFrom": 1, "timeTo": "2025-12-17T00:30:00Z", "levelTo": 1, "pairId": 0, "offer": 1.0, "bid": 1.0,
           "nationalGridBmUnit": "X", "bmUnit": "T_X"}
    with pytest.raises(ValidationFailure, match="pairId"):
        to_table(REGISTRY["BOD"], DAY, [bod], ingested_utc=NOW)
    with pytest.raises(ValidationFailure, match="isin"):
        to_table(BOALF, DAY, [boalf_row(dataset="BOD")], ingested_utc=NOW)


def test_to_table_of_nothing_is_an_empty_table_of_the_schema():
    table, report = to_table(COSTS, DAY, [], ingested_utc=NOW)
    assert table.num_rows == 0 and table.schema.equals(arrow_schema(COSTS)) and report.rows_received == 0


def test_the_typing_fingerprint_follows_the_registry():
    assert typing_fingerprint(BOALF) == typing_fingerprint(BOALF) != typing_fingerprint(COSTS)
    widened = dataclasses.replace(BOALF, columns=(*BOALF.columns, Col("newFlag", Kind.BOOL)))
    assert typing_fingerprint(widened) != typing_fingerprint(BOALF)
