"""IRIS: decoding, persist-before-ack under crashes, poison messages, unknown datasets, the MERGE
shared with API rows, outage healing by the gap automation, and 1,000 messages end to end.

The queue is ``iris_fake.FakeQueue`` (peek-lock semantics, in process); messages are simulator
data in IRIS format (one JSON array per file, usually double-encoded, subject = dataset code).
"""

from __future__ import annotations

import json
import logging
import statistics
import threading
import time
import zlib
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import duckdb
import pytest

from bmrs_assets.cli.runs import materialize_range
from bmrs_assets.definitions import build_definitions, warehouse_resource
from bmrs_assets.defs.elexon.assets import daily_partitions
from bmrs_assets.defs.iris.landed_runs import DAY_TAG, IN_PROCESS, SOURCE_TAG, evaluate_tick, iris_sensor, plan_runs
from bmrs_assets.defs.quality import classify
from bmrs_assets.elexon.datasets import BOALF, FREQ, INDGEN, MID, REMIT
from bmrs_assets.iris.consumer import (
    IRIS_NAMESPACE,
    IRIS_TENANT_ID,
    BatchStats,
    ConfigError,
    Consumer,
    IrisConfig,
    Poison,
    Secret,
    build_client,
    decode_rows,
    open_receiver,
    run_forever,
)
from bmrs_assets.iris.landing import LandingStore, PendingPartition
from bmrs_assets.quality.gaps import gaps_of
from bmrs_assets.simulator.data import GENERATORS, SimState
from bmrs_assets_tests.support.iris_fake import FakeQueue, IrisFile, SimulatedCrash, encode, iris_files

DAY = date(2025, 12, 17)


@pytest.fixture
def landing(platform_env, tmp_path, monkeypatch) -> LandingStore:
    path = tmp_path / "iris_landing.sqlite"
    monkeypatch.setenv("BMRS_IRIS_LANDING_PATH", str(path))
    return LandingStore(path)


def send_all(queue: FakeQueue, files: list[IrisFile]) -> None:
    for f in files:
        queue.send(f.message_id, f.subject, f.body)


def drain(queue: FakeQueue, store: LandingStore, **kw) -> BatchStats:
    consumer = Consumer(queue.receiver(), store, max_wait_s=0, **kw)
    total = BatchStats()
    while True:
        stats = consumer.process_batch()
        total.add(stats)
        if not stats.received:
            return total


def execute(defs: dg.Definitions, instance: dg.DagsterInstance, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
    """What the daemon does with a sensor's run request, in process."""
    job = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection=set(request.asset_selection), asset_check_selection=set(request.asset_check_keys))
    return job.execute_in_process(instance=instance, partition_key=request.partition_key, tags=request.tags,
                                  raise_on_error=False)


def merge_landed(defs, instance, store, now: datetime | None = None) -> list[dg.ExecuteInProcessResult]:
    """Sensor ticks and their runs until nothing landed is left unmerged."""
    cursor, results = None, []
    for _ in range(20):
        plan, _summary = evaluate_tick(instance, cursor, store, now)
        cursor = json.dumps(plan.cursor)
        if not plan.requests:
            return results
        results.extend(execute(defs, instance, r) for r in plan.requests)
    raise AssertionError("IRIS runs did not converge")


def table(db, sql: str):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def landed_rows(store: LandingStore) -> int:
    with store._connect() as con:
        return con.execute("SELECT coalesce(sum(row_count), 0) FROM message_days").fetchone()[0]


# --- decoding --------------------------------------------------------------------------------
def test_bodies_are_decoded_robustly():
    rows = [{"a": 1}, {"b": "x"}]
    assert decode_rows(encode(rows, double=True)) == rows                      # a JSON string holding the array
    assert decode_rows(encode(rows, double=False)) == rows                     # a plain array
    assert decode_rows(b"\xef\xbb\xbf" + encode(rows)) == rows                 # with a UTF-8 BOM
    assert decode_rows(json.dumps({"data": rows}).encode()) == rows            # the API's envelope
    assert decode_rows(json.dumps(json.dumps(json.dumps(rows))).encode()) == rows  # encoded once more
    assert decode_rows(b"[]") == []
    for bad in (b"", b"not json", b'{"x": 1}', b"[1, 2]", b'"[{\\"a\\": 1}"', b"\xff\xfe", b"42"):
        with pytest.raises(Poison) as exc:
            decode_rows(bad)
        assert exc.value.reason == "undecodable"


# --- persist before ack -----------------------------------------------------------------------
class CrashingStore(LandingStore):
    """The consumer process dies inside the landing step: before it, before the commit, or after it."""

    def __init__(self, path, where: str) -> None:
        super().__init__(path)
        self.where = where

    def land(self, messages):
        messages = list(messages)
        if self.where == "before_land":
            raise SimulatedCrash("before landing")
        outcomes = super().land(messages)
        if self.where == "after_commit":
            raise SimulatedCrash("landed and committed, not completed")
        return outcomes

    def _commit(self, con):
        if self.where == "before_commit":
            raise SimulatedCrash("inside the landing transaction")
        super()._commit(con)


def crash_once(action: str, after: bool = False):
    state = {"done": False}

    def fault(msg):
        if not state["done"]:
            state["done"] = True
            raise SimulatedCrash(f"{action} of {msg.message_id}")
    return fault


@pytest.mark.parametrize("where", ["receive", "before_land", "before_commit", "after_commit", "complete",
                                   "after_complete", "dead_letter"])
def test_persist_before_ack_survives_a_crash_at_each_step(landing, where):
    files = iris_files("MID", DAY, 8)                                   # 12 messages of 8 rows
    poison = IrisFile("MID_20251217_bad.json", "MID", b"{not json", [])
    queue = FakeQueue()
    send_all(queue, files[:5])
    queue.send(poison.message_id, poison.subject, poison.body)
    send_all(queue, files[5:])
    store: LandingStore = landing
    if where in ("before_land", "before_commit", "after_commit"):
        store = CrashingStore(landing.path, where)
    elif where == "after_complete":
        queue.faults["after_complete"] = crash_once(where)
    else:
        queue.faults[where] = crash_once(where)

    with pytest.raises(SimulatedCrash):
        drain(queue, store, max_messages=4)
    queue.crash()                                                        # locks lapse: redelivery
    queue.faults.clear()
    restarted = LandingStore(landing.path)                              # a new process
    again = drain(queue, restarted, max_messages=4)

    good = {f.message_id for f in files}
    assert queue.pending == 0
    assert set(queue.completed) == good                                  # every good message acknowledged...
    assert sorted(restarted.message_ids()) == sorted(good)               # ...after being landed exactly once
    assert landed_rows(restarted) == sum(len(f.rows) for f in files) == 96
    assert [d[0] for d in queue.dead_letters] == [poison.message_id]     # the poison once, never landed
    assert restarted.summary()["dead_letters"] == 1
    if where in ("after_commit", "complete"):                            # landed, not completed: recognised
        assert again.duplicates >= 1 and "duplicate" in again.outcomes.values()
    if where in ("receive", "before_land", "before_commit"):
        assert again.duplicates == 0


def test_a_lost_lock_on_complete_means_redelivery_not_loss(landing):
    files = iris_files("MID", DAY, 48)
    queue = FakeQueue()
    send_all(queue, files)

    def lose_lock(msg):  # the lock lapsed while the batch was landing (a big message, a slow disk)
        queue.faults.pop("complete")
        queue.crash()
    queue.faults["complete"] = lose_lock
    first = drain(queue, landing)
    assert first.landed == 2 and first.duplicates == 2                   # both came back, both recognised
    assert set(queue.completed) == {f.message_id for f in files}
    assert landing.message_ids() == [f.message_id for f in files]


def test_landing_failure_abandons_and_the_message_comes_back(landing):
    files = iris_files("MID", DAY, 24)
    queue = FakeQueue()
    send_all(queue, files)

    class BrokenDisk(LandingStore):
        calls = 0

        def land(self, messages):
            BrokenDisk.calls += 1
            if BrokenDisk.calls == 1:
                raise OSError("disk full")
            return super().land(messages)

    stats = drain(queue, BrokenDisk(landing.path), max_messages=10)
    assert stats.abandoned == 4 and queue.abandoned
    assert set(queue.completed) == {f.message_id for f in files}
    assert landed_rows(landing) == 96


# --- poison, unknown datasets, bounded batches ------------------------------------------------
def test_a_poison_message_never_blocks_other_messages_or_datasets(landing, caplog):
    remit = GENERATORS["REMIT"].make(DAY, SimState())
    bad_remit = dict(remit[0], revisionNumber=1.5, mrid="BAD-1")        # a decimal where an integer belongs
    freq = iris_files("FREQ", DAY, 240)[:3]
    good_remit = iris_files("REMIT", DAY, 5, rows=remit[1:21])
    queue = FakeQueue()
    send_all(queue, freq[:1])
    queue.send("REMIT_bad_types.json", "REMIT", encode([remit[21], bad_remit]))
    send_all(queue, good_remit)
    queue.send("BOALF_no_day.json", "BOALF", encode([{"dataset": "BOALF", "bmUnit": "T_X"}]))
    queue.send("FREQ_garbage.json", "FREQ", b"\x00\x01 not json at all")
    queue.send("no_subject.json", None, encode(remit[:1]))
    queue.send("FREQ_wrong_label.json", "FREQ", encode([{"dataset": "FUELINST", "measurementTime": "2025-12-17T10:00:00Z",
                                                         "frequency": 50.0}]))
    send_all(queue, freq[1:])
    with caplog.at_level(logging.INFO, logger="bmrs_assets.iris.consumer"):
        stats = drain(queue, landing, max_messages=50)

    assert queue.receives == [12, 0]                                      # one batch held good and bad together
    good = {f.message_id for f in freq + good_remit}
    assert set(queue.completed) == good and stats.landed == len(good)
    reasons = {mid: (reason, desc) for mid, reason, desc in queue.dead_letters}
    assert set(reasons) == {"REMIT_bad_types.json", "BOALF_no_day.json", "FREQ_garbage.json", "no_subject.json",
                            "FREQ_wrong_label.json"}
    assert reasons["REMIT_bad_types.json"][0] == "schema_validation"
    assert "revisionNumber" in reasons["REMIT_bad_types.json"][1] and "not integers" in reasons["REMIT_bad_types.json"][1]
    assert reasons["FREQ_wrong_label.json"][0] == "schema_validation" and "dataset" in reasons["FREQ_wrong_label.json"][1]
    assert reasons["BOALF_no_day.json"][0] == "invalid_rows" and "settlementDate" in reasons["BOALF_no_day.json"][1]
    assert reasons["FREQ_garbage.json"][0] == "undecodable"
    assert reasons["no_subject.json"][0] == "no_subject"
    assert all(len(d) <= 1024 for _, d in reasons.values())
    # the landing store keeps every dead letter's body and reason, so nothing is lost with the queue's copy
    with landing._connect() as con:
        kept = dict(con.execute("SELECT message_id, raw FROM dead_letters").fetchall())
    assert zlib.decompress(kept["REMIT_bad_types.json"]) == encode([remit[21], bad_remit])
    assert "dead-lettered" in caplog.text
    assert landed_rows(landing) == 3 * 240 + 20                          # the good REMIT rows beside the bad


def test_unknown_and_held_datasets_are_kept_reported_and_not_merged(landing, instance):
    queue = FakeQueue()
    queue.send("XYZNEW_20251217_1.json", "XYZNEW", encode([{"dataset": "XYZNEW", "value": 1}]))
    send_all(queue, iris_files("MELS", DAY, 5000)[:1])                   # raw re-declarations: landed, held
    send_all(queue, iris_files("EBOCF/bid", DAY, 500)[:1])               # no bid/offer side: kept as sent
    send_all(queue, iris_files("MID", DAY, 96))
    stats = drain(queue, landing)
    assert stats.unknown == 1 and stats.held == 2 and stats.landed == 1
    assert len(queue.completed) == 4 and not queue.dead_letters
    summary = landing.summary()
    assert summary["unknown_datasets"] == {"XYZNEW": 1}
    assert summary["held"] == {"EBOCF": 1, "MELS": 1}
    with landing._connect() as con:
        raw = con.execute("SELECT raw FROM messages WHERE subject = 'XYZNEW'").fetchone()[0]
    assert json.loads(json.loads(zlib.decompress(raw))) == [{"dataset": "XYZNEW", "value": 1}]
    # the sensor asks for MID only, and says what it keeps aside
    plan, _ = evaluate_tick(instance, None, landing)
    assert [(r.partition_key, [k.path[-1] for k in r.asset_selection]) for r in plan.requests] == [("2025-12-17", ["mid"])]
    sensor = iris_sensor()
    result = sensor(dg.build_sensor_context(instance=instance))
    assert [r.partition_key for r in result.run_requests] == ["2025-12-17"]
    assert result.run_requests[0].tags == {SOURCE_TAG: "iris", DAY_TAG: "2025-12-17"}
    assert dg.validate_run_config(build_definitions().resolve_implicit_global_asset_job_def(), IN_PROCESS)


def test_batches_are_bounded_in_count_and_bytes(landing):
    files = iris_files("FREQ", DAY, 60)                                  # 96 messages of ~3 kB
    queue = FakeQueue()
    send_all(queue, files)
    transactions = []

    class Counting(LandingStore):
        def land(self, messages):
            messages = list(messages)
            transactions.append(sum(len(m.body) for m in messages))
            return super().land(messages)

    drain(queue, Counting(landing.path), max_messages=25, max_batch_bytes=20_000)
    assert max(queue.receives) == 25
    assert max(transactions) <= 20_000 and sum(transactions) == sum(len(f.body) for f in files)
    assert landed_rows(landing) == 5760


# --- the same tables, the same MERGE ----------------------------------------------------------
def test_iris_and_api_rows_merge_into_one_table_without_duplicates(landing, instance):
    db = landing.path.parent / "bmrs.duckdb"
    defs = build_definitions()
    # day 1: the API first, then IRIS sends the same rows; day 2: IRIS first, then the API
    d1, d2 = DAY, DAY + timedelta(days=1)
    assert materialize_range(d1, d1, ["BOALF", "MID"], instance=instance)[0].success
    api_count = table(db, f"SELECT count(*) FROM bmrs_boalf WHERE settlementDate = '{d1}'")[0][0]
    queue = FakeQueue()
    send_all(queue, iris_files("BOALF", d1, 400) + iris_files("MID", d1, 10))
    mid2 = GENERATORS["MID"].make(d2, SimState())
    mid2[0] = dict(mid2[0], price=999.5)                                 # IRIS carries a value the API later corrects
    send_all(queue, iris_files("MID", d2, 10, rows=mid2))
    # a message spanning midnight lands in two partition days (INDGEN: by publish day)
    def by_publish(d):
        return sorted(GENERATORS["INDGEN"].make(d, SimState()), key=lambda r: r["publishTime"])
    late = by_publish(d1)[-4:] + by_publish(d2)[:4]
    queue.send("INDGEN_202512172359_1.json", "INDGEN", encode(late))
    drain(queue, landing)
    assert {(p.dataset, p.day) for p in landing.pending_partitions()} == {
        ("BOALF", d1), ("MID", d1), ("MID", d2), ("INDGEN", d1), ("INDGEN", d2)}

    results = merge_landed(defs, instance, landing, now=datetime(2025, 12, 19, 12, tzinfo=UTC))
    assert [r.dagster_run.tags[DAY_TAG] for r in results] == [d1.isoformat(), d2.isoformat()]
    by_day = {r.dagster_run.tags[DAY_TAG]: r for r in results}
    first = by_day[d1.isoformat()]
    assert all(r.success for r in results)
    mats = {e.asset_key.path[-1]: e.step_materialization_data.materialization.metadata
            for e in first.get_asset_materialization_events()}
    assert sorted(mats) == ["boalf", "indgen", "mid"]
    checks = {(e.event_specific_data.asset_key.path[-1], e.event_specific_data.check_name): e.event_specific_data.passed
              for e in first.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    assert checks == {(a, c): True for a in ("boalf", "indgen", "mid") for c in ("unique_natural_key", "complete_partition")}
    assert mats["boalf"]["source"].value == "IRIS" and mats["boalf"]["rows_inserted"].value == 0
    assert mats["boalf"]["rows_unchanged"].value == api_count and mats["boalf"]["iris_messages"].value > 40
    assert not landing.pending_partitions()

    assert table(db, f"SELECT count(*) FROM bmrs_boalf WHERE settlementDate = '{d1}'")[0][0] == api_count
    # rows the API stored and IRIS repeated are unchanged, so they still say API
    assert table(db, "SELECT DISTINCT _source_api FROM bmrs_boalf") == [("API",)]
    assert table(db, "SELECT _source_api, count(*) FROM bmrs_mid GROUP BY 1 ORDER BY 1") == [("API", 96), ("IRIS", 96)]
    assert table(db, "SELECT count(*), min(_source_api) FROM bmrs_indgen") == [(8, "IRIS")]
    # day 2 from the API: same keys, no second row; the corrected price wins and says API
    assert materialize_range(d2, d2, ["MID"], instance=instance)[0].success
    assert table(db, f"SELECT count(*) FROM bmrs_mid WHERE settlementDate = '{d2}'") == [(96,)]
    assert table(db, "SELECT _source_api, count(*) FROM bmrs_mid GROUP BY 1 ORDER BY 1") == [("API", 97), ("IRIS", 95)]
    assert table(db, f"SELECT price FROM bmrs_mid WHERE settlementDate = '{d2}' AND price = 999.5") == []
    wh = warehouse_resource(resolved=True).get()
    for ds in (BOALF, MID, INDGEN):
        assert wh.key_counts(ds, d1, d2).duplicate_keys == 0


def test_sensor_plan_waits_retries_and_bounds_runs():
    def pending(code, day, seq):
        return PendingPartition(code, day, 1, 10, seq, datetime(2025, 12, 17, tzinfo=UTC))

    today = date(2025, 12, 17)
    args = dict(first_day=date(2025, 1, 1), today=today, max_runs=2)
    ps = [pending("BOALF", today, 5), pending("MID", today, 7), pending("PN", today + timedelta(days=1), 8),
          pending("BOALF", date(2024, 6, 1), 1), pending("MELS", today, 9), pending("FREQ", today - timedelta(days=1), 3),
          pending("REMIT", today - timedelta(days=2), 2)]
    plan = plan_runs(ps, set(), {}, 1000.0, **args)
    assert [(r.partition_key, [k.path[-1] for k in r.asset_selection]) for r in plan.requests] == [
        ("2025-12-15", ["remit"]), ("2025-12-16", ["freq"])]                  # oldest first, at most 2 a tick
    assert any("next tick" in w for w in plan.waiting)
    assert any("2025-12-18: partition does not exist yet" in w for w in plan.waiting)
    assert any("before BMRS_START_DATE" in w for w in plan.waiting)
    # a run is in flight for the 15th; the 16th stays unmerged (its run failed): backoff, then retry
    cursor = plan.cursor
    plan2 = plan_runs(ps, {"2025-12-15"}, cursor, 1010.0, **args)
    assert [r.partition_key for r in plan2.requests] == ["2025-12-17"]
    plan3 = plan_runs(ps, set(), plan2.cursor, 1000.0 + 61, **{**args, "max_runs": 5})
    assert sorted(r.partition_key for r in plan3.requests) == ["2025-12-15", "2025-12-16"]
    # new messages landed for a day: asked for again at once
    ps[0] = pending("BOALF", today, 50)
    plan4 = plan_runs(ps, set(), plan3.cursor, 1062.0, **args)
    assert [r.partition_key for r in plan4.requests] == ["2025-12-17"]


def test_merged_messages_are_pruned_after_retention_unmerged_never(landing, instance):
    queue = FakeQueue()
    send_all(queue, iris_files("MID", DAY, 48) + iris_files("MID", DAY + timedelta(days=1), 48))
    drain(queue, landing)
    results = [execute(build_definitions(), instance, r) for r in evaluate_tick(instance, None, landing)[0].requests]
    assert all(r.success for r in results)
    assert landing.prune(timedelta(days=30)) == 0
    assert landing.prune(timedelta(0)) == 4
    assert landing.message_ids() == []


# --- outage longer than the queue's retention -------------------------------------------------
def test_an_outage_longer_than_retention_is_healed_from_the_api(landing, instance, monkeypatch):
    now = datetime(2025, 12, 17, 9, 1, tzinfo=UTC)
    days = [date(2025, 12, 3) + timedelta(days=i) for i in range(15)]          # the 14-day heal window + today
    api, iris_before, outage, iris_after = days[:7], days[7:9], days[9:13], days[13:]
    assert len(outage) == 4                                                    # longer than the 3-day TTL
    defs = build_definitions()
    assert materialize_range(api[0], api[-1], ["FREQ"], instance=instance)[0].success
    queue = FakeQueue()
    for d in iris_before + iris_after:                                         # IRIS stopped during the outage
        send_all(queue, iris_files("FREQ", d, 120))  # whole days: the runs' completeness checks use the real clock
    drain(queue, landing)
    results = merge_landed(defs, instance, landing, now=now)
    assert [r.success for r in results] == [True] * 4

    wh = warehouse_resource(resolved=True).get()
    before = classify(FREQ, days[0], days[-1], instance, wh, daily_partitions(), now=now)
    assert [s.day for s in before if s.status == "missing"] == outage
    assert [(g.status, g.first, g.last) for g in gaps_of(before)] == [("missing", outage[0], outage[-1])]

    first = dg.evaluate_automation_conditions(defs, instance, evaluation_time=now - timedelta(minutes=20))
    result = dg.evaluate_automation_conditions(defs, instance, evaluation_time=now, cursor=first.cursor)
    requested = sorted(result.get_requested_partitions(dg.AssetKey(["bmrs", "freq"])))
    # the heal rule asks for exactly the outage; the real-time rule refreshes today and yesterday as always
    assert requested == [d.isoformat() for d in outage] + ["2025-12-16", "2025-12-17"]
    assert materialize_range(outage[0], outage[-1], ["FREQ"], instance=instance)[0].success
    after = classify(FREQ, days[0], days[-1], instance, wh, daily_partitions(), now=now)
    assert [s.status for s in after] == ["complete"] * 15
    assert wh.count_by_day(FREQ, outage[0], outage[-1]) == {d: 5760 for d in outage}


# --- 1,000 messages end to end ----------------------------------------------------------------
def test_a_thousand_messages_land_and_merge_with_no_loss_or_duplicate(landing, instance, capsys):
    defs = build_definitions()
    db = landing.path.parent / "bmrs.duckdb"
    files = (iris_files("BOALF", DAY, 29) + iris_files("REMIT", DAY, 1) + iris_files("INDGEN", DAY, 180))
    assert len(files) >= 1000
    files.sort(key=lambda f: f.message_id[-10:])                         # interleave the datasets as IRIS does
    sent_rows = {code: sum(len(f.rows) for f in files if f.subject == code) for code in ("BOALF", "REMIT", "INDGEN")}
    queue = FakeQueue()
    stop = threading.Event()
    consumer = Consumer(queue.receiver(), landing, max_messages=100, max_wait_s=0.2)
    totals: list[BatchStats] = []
    worker = threading.Thread(target=lambda: totals.append(consumer.run(stop)), daemon=True)
    worker.start()

    def produce():  # about 130 messages a second, for 8 seconds
        for i, f in enumerate(files):
            queue.send(f.message_id, f.subject, f.body)
            if i % 13 == 12:
                time.sleep(0.1)
    producer = threading.Thread(target=produce, daemon=True)
    started = time.perf_counter()
    producer.start()
    cursor, runs = None, []
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:                               # the sensor, ticking every second
            tick = time.monotonic()
            plan, _ = evaluate_tick(instance, cursor, landing)
            cursor = json.dumps(plan.cursor)
            runs.extend(execute(defs, instance, r) for r in plan.requests)
            if not producer.is_alive() and queue.pending == 0 and not landing.pending_partitions():
                break
            time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
    finally:
        stop.set()
        worker.join(timeout=30)
        producer.join(timeout=30)
    elapsed = time.perf_counter() - started
    assert all(r.success for r in runs)
    total = totals[0]
    assert total.received == len(files) and total.landed == len(files) and total.duplicates == 0
    assert sorted(queue.completed) == sorted(f.message_id for f in files) and not queue.dead_letters

    wh = warehouse_resource(resolved=True).get()
    for ds in (BOALF, REMIT, INDGEN):
        stored = table(db, f"SELECT count(*) FROM {ds.table}")[0][0]
        assert stored == sent_rows[ds.code], ds.code                     # no loss...
        assert wh.key_counts(ds, DAY, DAY).duplicate_keys == 0                       # ...and no duplicate
        assert table(db, f"SELECT DISTINCT _source_api FROM {ds.table}") == [("IRIS",)]

    lat = landing.latencies()
    assert len(lat) == len(files) and all(m is not None for _, _, _, m in lat)
    to_land = sorted((ld - e).total_seconds() for _, e, ld, _ in lat)
    to_merge = sorted((m - e).total_seconds() for _, e, _, m in lat)
    p95 = to_merge[int(0.95 * len(to_merge)) - 1]
    rows = sum(sent_rows.values())
    with capsys.disabled():
        print(f"\nIRIS 1,000-message run: {len(files)} messages, {rows} rows, {len(runs)} IRIS runs, {elapsed:.1f} s; "
              f"consumer busy {total.seconds:.1f} s = {len(files) / total.seconds:.0f} messages/s, "
              f"{rows / total.seconds:.0f} rows/s; enqueue->landed median {statistics.median(to_land):.2f} s, "
              f"p95 {to_land[int(0.95 * len(to_land)) - 1]:.2f} s; enqueue->warehouse row (sensor ticking every 1 s) "
              f"median {statistics.median(to_merge):.2f} s, p95 {p95:.2f} s, max {to_merge[-1]:.2f} s")
    assert p95 < 60


# --- the real client, and the secret ----------------------------------------------------------
SECRET = "s3cr3t-PLANTED-7f1d9a"


def test_the_real_client_uses_the_client_secret_credential(monkeypatch):
    from azure.identity import ClientSecretCredential
    from azure.servicebus import ServiceBusClient, ServiceBusReceiveMode

    monkeypatch.setenv("BMRS_IRIS_CLIENT_ID", "client-123")
    monkeypatch.setenv("BMRS_IRIS_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("BMRS_IRIS_QUEUE", "queue-abc")
    config = IrisConfig.from_env()
    assert (config.namespace, config.tenant_id) == (IRIS_NAMESPACE, IRIS_TENANT_ID)
    assert SECRET not in repr(config) and SECRET not in config.describe() and SECRET not in str(config.client_secret)
    client = build_client(config)                                        # constructing does not connect
    assert isinstance(client, ServiceBusClient)
    assert client.fully_qualified_namespace == "elexon-insights-iris.servicebus.windows.net"
    cred = client._credential
    assert isinstance(cred, ClientSecretCredential)
    assert (cred._tenant_id, cred._client_id) == (IRIS_TENANT_ID, "client-123")
    receiver = open_receiver(client, config, max_wait_s=5)
    assert receiver.entity_path == "queue-abc" and receiver._receive_mode == ServiceBusReceiveMode.PEEK_LOCK
    # namespace and tenant can be overridden; a bare namespace name gets the Service Bus domain
    monkeypatch.setenv("BMRS_IRIS_NAMESPACE", "my-iris")
    monkeypatch.setenv("BMRS_IRIS_TENANT_ID", "tenant-x")
    other = IrisConfig.from_env()
    assert (other.namespace, other.tenant_id) == ("my-iris.servicebus.windows.net", "tenant-x")
    monkeypatch.delenv("BMRS_IRIS_QUEUE")
    with pytest.raises(ConfigError, match="BMRS_IRIS_QUEUE"):
        IrisConfig.from_env()


def test_the_secret_never_appears_in_logs_or_output(landing, monkeypatch, caplog, capsys):
    from bmrs_assets.cli.main import main

    monkeypatch.setenv("BMRS_IRIS_CLIENT_ID", "client-123")
    monkeypatch.setenv("BMRS_IRIS_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("BMRS_IRIS_QUEUE", "queue-abc")
    queue = FakeQueue()
    send_all(queue, iris_files("MID", DAY, 24))
    queue.send("bad.json", "MID", b"nope")
    queue.send("unknown.json", "NEWTHING", encode([{"x": 1}]))
    stop = threading.Event()
    attempts = []

    class FakeClient:  # the real client is built (with the secret) and then stands aside for the fake queue
        def __init__(self, config):
            self.real = build_client(config)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

        def get_queue_receiver(self, queue_name, **kw):
            attempts.append(queue_name)
            if len(attempts) == 1:
                raise ConnectionError("simulated connection failure")     # logged, then reconnect
            return queue.receiver()

    def stop_when_done():
        while queue.pending and not stop.is_set():
            time.sleep(0.05)
        stop.set()

    caplog.set_level(logging.DEBUG)
    threading.Thread(target=stop_when_done, daemon=True).start()
    run_forever(IrisConfig.from_env(), stop, max_messages=10, max_batch_bytes=1 << 20, max_wait_s=0.1,
                retention=timedelta(days=30), client_factory=FakeClient)
    assert len(attempts) >= 2 and queue.pending == 0 and len(landing.message_ids()) == 5
    assert main(["iris", "--status"]) == 0
    monkeypatch.delenv("BMRS_IRIS_QUEUE")
    assert main(["iris"]) == 2
    out = capsys.readouterr()
    text = caplog.text + "".join(str(r.args) + str(r.exc_info) for r in caplog.records) + out.out + out.err
    assert "client-123" in caplog.text and "reconnecting" in caplog.text and "BMRS_IRIS_QUEUE" in out.err
    assert json.loads(out.out)["unknown_datasets"] == {"NEWTHING": 1}
    assert SECRET not in text
    assert Secret(SECRET).reveal() == SECRET
