"""A soak: the platform left alone with a real webserver and daemon, as it runs for months, compressed.

Time is compressed by configuration, not faked: automation ticks every minute
(``BMRS_AUTOMATION_CRON``) instead of every 15, a failed day is retried after one minute
(``BMRS_RETRY_INTERVALS``) at most once (``BMRS_RETRY_MAX_ATTEMPTS``). Everything else is the
product as shipped: the daemon's declarative automation heals the days since ``BMRS_START_DATE``,
the revenue sensor follows, the IRIS sensor merges a message stream landed by a consumer running
beside it, and the alert and run-failure sensors post to a webhook, against a simulator that
injects faults into 1 request in 12 and never serves one COSTS day.

When the outage day has been given up and every failed run was alerted, the daemon is stopped
(automation would go on refreshing today for ever). Then: every other day is complete, no table
holds a duplicate key, the failing day was tried exactly 1 + retries times (not once per tick),
and each expected alert was posted once.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from collections import Counter
from datetime import timedelta

import dagster as dg
import pytest

from bmrs_assets.core.processes import free_port, stop_process_group
from bmrs_assets.core.settlement import london_today
from bmrs_assets.definitions import warehouse_resource
from bmrs_assets.defs.elexon.assets import daily_partitions
from bmrs_assets.defs.iris.landed_runs import SOURCE_TAG
from bmrs_assets.defs.quality import asset_key, classify, partition_status
from bmrs_assets.elexon.datasets import COSTS, REGISTRY
from bmrs_assets.iris.consumer import Consumer
from bmrs_assets.iris.landing import LandingStore
from bmrs_assets.simulator.faults import FaultPlan
from bmrs_assets.simulator.server import SimulatorConfig, start_in_thread
from bmrs_assets_tests.conftest import REPO
from bmrs_assets_tests.integration.test_alerts import Receiver
from bmrs_assets_tests.support.dagster_ui import start_daemon, start_webserver, tail
from bmrs_assets_tests.support.iris_fake import FakeQueue, iris_files

DAYS_BACK = 2                      # partitions: today and the 2 days before
RETRIES = 1                        # BMRS_RETRY_MAX_ATTEMPTS in the soak
SOAK_LIMIT_S = 720                 # the soak ends when done (about 5-6 min), or fails after this
FAULT_RATE = 1 / 12
IRIS_CODE = "BOALF"
TERMINAL = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
RUN_FAILURE = re.compile(r"\[BMRS FAIL\] run failure: .*, run ([0-9a-f]{8})\)$")
GAVE_UP = "automation stopped retrying"


def _partitions_planned(instance: dg.DagsterInstance, run: dg.DagsterRun) -> list[tuple[dg.AssetKey, str]]:
    records = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED).records
    out = []
    for record in records:
        event = record.event_log_entry.dagster_event
        data = event.event_specific_data
        subset = getattr(data, "partitions_subset", None)
        keys = subset.get_partition_keys() if subset is not None else [data.partition]
        out += [(event.asset_key, key) for key in keys if key]
    return out


@pytest.mark.slow
def test_a_compressed_stretch_of_unattended_operation(tmp_path, monkeypatch, capsys):
    today = london_today()
    first = today - timedelta(days=DAYS_BACK)
    outage_day = today - timedelta(days=2)
    outage = (COSTS.code, outage_day.isoformat())
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "instance" / "dagster.yaml", home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)):
        pass  # storage created once, before the webserver and the daemon would race to migrate it

    faults = FaultPlan(rate=FAULT_RATE, kinds=("429", "429-retry-after", "500", "503", "reset", "truncate", "slow"),
                       seed=7, slow_s=6.0, outage={outage})
    simulator = start_in_thread(SimulatorConfig(faults=faults))
    receiver = Receiver()
    landing_path = tmp_path / "iris_landing.sqlite"
    env = {
        "DAGSTER_HOME": str(home), "PYTHONUNBUFFERED": "1",
        "BMRS_API_BASE_URL": simulator.url, "BMRS_DUCKDB_PATH": str(tmp_path / "bmrs.duckdb"),
        "BMRS_START_DATE": first.isoformat(), "BMRS_RATE_LIMIT_PER_S": "50",
        "BMRS_RATE_LIMIT_FILE": str(tmp_path / "rate_limit"), "BMRS_API_TIMEOUT_S": "5", "BMRS_API_BACKOFF_S": "0.1",
        "BMRS_AUTOMATION_CRON": "* * * * *", "BMRS_RETRY_INTERVALS": "1m", "BMRS_RETRY_MAX_ATTEMPTS": str(RETRIES),
        "BMRS_ALERT_WEBHOOK_URL": receiver.url, "BMRS_IRIS_LANDING_PATH": str(landing_path),
        "BMRS_DASHBOARD_PATH": str(tmp_path / "dashboard" / "index.html"),
    }
    for name, val in env.items():
        monkeypatch.setenv(name, val)
    full_env = {**os.environ, **env}

    # the IRIS stream: today's acceptances, a message every half second, landed by a consumer beside the daemon
    queue, stop = FakeQueue(), threading.Event()
    consumer = Consumer(queue.receiver(), LandingStore(landing_path), max_messages=20, max_wait_s=0.2)
    files = iris_files(IRIS_CODE, today, 40)
    threads = [threading.Thread(target=consumer.run, args=(stop,), daemon=True),
               threading.Thread(target=lambda: [queue.send(f.message_id, f.subject, f.body) or stop.wait(0.5)
                                                for f in files], daemon=True)]
    procs: list[subprocess.Popen] = []
    started = time.monotonic()
    try:
        procs.append(start_webserver(free_port(), full_env, tmp_path / "webserver.log"))
        procs.append(start_daemon(full_env, tmp_path / "daemon.log"))
        for t in threads:
            t.start()
        pdef = daily_partitions()
        days = [(first + timedelta(days=i)).isoformat() for i in range(DAYS_BACK)]  # today is still being published
        done, status, runs_by_status = False, {}, Counter()
        while time.monotonic() - started < SOAK_LIMIT_S and not done:
            time.sleep(10)  # the warehouse is left to the platform while it runs: only the instance is read
            assert procs[1].poll() is None, tail(tmp_path / "daemon.log")
            with dg.DagsterInstance.get() as instance:
                status = {ds.code: partition_status(instance, ds, days, pdef) for ds in REGISTRY.values()}
                healed = all(status[code].get(day) == ("FAILED" if (code, day) == outage else "MATERIALIZED")
                             for code in status for day in days)
                sent = texts(receiver)
                gave_up = any(GAVE_UP in t for t in sent)
                runs = instance.get_runs()
                reported = {m[1] for t in sent if (m := RUN_FAILURE.search(t))}
                heard = all(r.run_id[:8] in reported for r in runs if r.status == dg.DagsterRunStatus.FAILURE)
                done = healed and gave_up and heard and not landing_pending(landing_path)
                runs_by_status = Counter(r.status.value for r in runs)
        elapsed = time.monotonic() - started
        assert done, (f"not settled after {elapsed:.0f} s", runs_by_status, status, texts(receiver)[-20:],
                      tail(tmp_path / "daemon.log"))
        wh = warehouse_resource(resolved=True).get()
        # read while automation goes on refreshing today and yesterday: a refresh that fails (a fault, a
        # timeout under load) makes its day failed until its retry a minute later, so this is polled
        settle_by, incomplete = time.monotonic() + 180, ["not read yet"]
        while incomplete and time.monotonic() < settle_by:
            with dg.DagsterInstance.get() as instance:
                incomplete = [(ds.code, s.day.isoformat(), s.status.value, s.detail)
                              for ds in REGISTRY.values()
                              for s in classify(ds, first, today - timedelta(days=1), instance, wh, pdef)
                              if (ds.code, s.day) != (COSTS.code, outage_day) and s.status != "complete"]
            if incomplete:
                time.sleep(10)
        assert not incomplete, incomplete  # every other day of every dataset complete
        for ds in REGISTRY.values():  # no duplicate key anywhere, API and IRIS rows alike
            assert wh.key_counts(ds, first, today).duplicate_keys == 0, ds.code
        stop.set()
        # automation would refresh today for as long as it runs: stopped here, with any run in flight
        for proc in reversed(procs):
            stop_process_group(proc)

        with dg.DagsterInstance.get() as instance:
            runs = instance.get_runs()
            planned = {r.run_id: _partitions_planned(instance, r) for r in runs}
            outage_runs = [r for r in runs if (asset_key(COSTS), outage_day.isoformat()) in planned[r.run_id]]
            iris_runs = [r for r in runs if r.tags.get(SOURCE_TAG) == "iris" and r.status in TERMINAL]
            failed = [r for r in runs if r.status == dg.DagsterRunStatus.FAILURE]
            per_partition = Counter(p for r in runs if r.tags.get(SOURCE_TAG) != "iris" for p in planned[r.run_id])
        # bounded: the failing day was tried once and retried RETRIES times, not at every tick
        assert len(outage_runs) == 1 + RETRIES and all(r.status == dg.DagsterRunStatus.FAILURE for r in outage_runs)
        ticks = int(elapsed // 60) + 1
        assert max(per_partition.values()) <= ticks + 1, per_partition.most_common(3)
        assert iris_runs and all(r.status == dg.DagsterRunStatus.SUCCESS for r in iris_runs)

        sent = texts(receiver)
        assert len(sent) == len(set(sent)), [t for t, n in Counter(sent).items() if n > 1]   # nothing repeated
        retries_alerts = [t for t in sent if GAVE_UP in t]
        assert len(retries_alerts) == 1 and outage_day.isoformat() in retries_alerts[0], retries_alerts
        reported = Counter(m[1] for t in sent if (m := RUN_FAILURE.search(t)))
        assert {r.run_id[:8] for r in outage_runs} <= set(reported) and max(reported.values()) == 1, (reported, sent)
        with capsys.disabled():
            print(f"\nsoak: {elapsed:.0f} s, {len(runs)} runs ({len(failed)} failed, {len(iris_runs)} IRIS), "
                  f"{sum(faults.injected.values())} faults injected {dict(faults.injected)}, "
                  f"{len(sent)} alert messages, most runs of one partition {per_partition.most_common(1)}")
    finally:
        stop.set()
        for proc in reversed(procs):
            stop_process_group(proc)
        for t in threads:
            t.join(timeout=10)
        simulator.shutdown()
        simulator.server_close()
        receiver.shutdown()
        receiver.server_close()


def texts(receiver: Receiver) -> list[str]:
    with receiver.lock:
        return [p["json"]["text"] for p in receiver.posts]


def landing_pending(path) -> bool:
    return bool(LandingStore(path).pending_partitions())
