"""The run-failure sensor against a real instance (genuinely failed runs) and a real loopback receiver."""

from __future__ import annotations

import logging
from datetime import date

import dagster as dg

from bmrs_assets.cli.runs import materialize_range
from bmrs_assets.definitions import build_definitions
from bmrs_assets.monitoring.alerts import WEBHOOK_ENV
from bmrs_assets.monitoring.run_failures import load_cursor
from bmrs_assets_tests.integration.test_alerts import SECRET, texts

DAY = date(2025, 12, 9)


def leaky_job(url: str) -> dg.JobDefinition:
    """A job without assets whose error names the webhook URL (a secret) unless told to pass."""

    @dg.op(config_schema={"fail": bool})
    def call_out(context) -> None:  # unannotated: Dagster refuses a string annotation
        if context.op_config["fail"]:
            raise RuntimeError(f"could not reach {url} (token rejected)\nsecond line")

    @dg.job(name="leaky")
    def leaky() -> None:
        call_out()

    return leaky


def run_leaky(job: dg.JobDefinition, instance: dg.DagsterInstance, fail: bool) -> bool:
    return job.execute_in_process(instance=instance, raise_on_error=False, tags={"dagster/partition": "2025-12-09"},
                                  run_config={"ops": {"call_out": {"config": {"fail": fail}}}}).success


def tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None):
    sensor = defs.get_repository_def().get_sensor_def("bmrs_run_failures")
    return sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs))


def test_each_failed_run_alerts_once_and_resolves_once(platform_env, simulator, instance, receiver, monkeypatch,
                                                      caplog, capfd):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("BMRS_API_MAX_RETRIES", "0")
    monkeypatch.setenv(WEBHOOK_ENV, receiver.url)
    leaky = leaky_job(receiver.url)
    defs = dg.Definitions.merge(build_definitions(), dg.Definitions(jobs=[leaky]))

    simulator.config.faults.outage = {("COSTS", DAY.isoformat())}
    costs, _ = materialize_range(DAY, DAY, ["COSTS"], instance=instance)
    revenue, _ = materialize_range(DAY, DAY, ["BOALF_WITH_PRICES"], instance=instance)  # BOALF not loaded
    assert not costs.success and not revenue.success
    assert not run_leaky(leaky, instance, fail=True)

    capfd.readouterr()
    first = tick(defs, instance, None)
    logged = capfd.readouterr().err
    sent = texts(receiver.take())
    c, r = costs.run_id[:8], revenue.run_id[:8]
    assert sent[:2] == [
        f":red_circle: [BMRS FAIL] run failure: bmrs/costs 2025-12-09 failed in step bmrs__costs: Failure: COSTS: 1 of 1 "
        f"day(s) not committed; the other 0 were committed and are materialized. (job __ASSET_JOB, run {c})",
        f":red_circle: [BMRS FAIL] run failure: bmrs/boalf_with_prices 2025-12-09 failed in step "
        f"bmrs__boalf_with_prices: MissingSourceDay: BOALF has no rows for 2025-12-09 in the warehouse: materialize "
        f"bmrs/boalf for 2025-12-09 first (acceptances are never priced against a missing day) "
        f"(job __ASSET_JOB, run {r})"]
    assert len(sent) == 3 and sent[2].startswith(":red_circle: [BMRS FAIL] run failure: job leaky 2025-12-09 failed "
                                                 "in step call_out: RuntimeError: could not reach ")
    assert SECRET not in sent[2] and "<webhook>" in sent[2] and "second line" not in sent[2]
    assert "3 failed runs reported, 0 resolved, 3 still open; 0 not delivered" in first.skip_message
    assert all(t in logged for t in sent)

    # nothing new: nothing repeated
    second = tick(defs, instance, first.cursor)
    assert receiver.take() == [] and "0 failed runs reported, 0 resolved, 3 still open" in second.skip_message

    # another day succeeding resolves nothing; the failed day succeeding resolves COSTS, once
    simulator.config.faults.outage = set()
    assert materialize_range(date(2025, 12, 8), date(2025, 12, 8), ["COSTS"], instance=instance)[0].success
    assert receiver.take() == []
    third = tick(defs, instance, second.cursor)
    assert receiver.take() == []
    fixed, _ = materialize_range(DAY, DAY, ["COSTS"], instance=instance)
    assert fixed.success
    fourth = tick(defs, instance, third.cursor)
    since = next(f.since for f in load_cursor(first.cursor).open if f.run_id == costs.run_id)
    assert texts(receiver.take()) == [
        f":white_check_mark: [BMRS RESOLVED] run failure resolved: bmrs/costs 2025-12-09 succeeded in run "
        f"{fixed.run_id[:8]} (failed run {c}, first reported {since})"]
    assert "0 failed runs reported, 1 resolved, 2 still open" in fourth.skip_message
    assert tick(defs, instance, fourth.cursor).skip_message.startswith("0 failed runs reported, 0 resolved, 2 still")
    assert receiver.take() == []

    # the job without assets resolves when the same job succeeds for that partition; delivery is retried
    assert run_leaky(leaky, instance, fail=False)
    receiver.status = 500
    fifth = tick(defs, instance, fourth.cursor)
    assert [p["status"] for p in receiver.take()] == [500] and "1 not delivered" in fifth.skip_message
    receiver.status = 200
    sixth = tick(defs, instance, fifth.cursor)
    assert [t.startswith(":white_check_mark: [BMRS RESOLVED] run failure resolved: job leaky 2025-12-09")
            for t in texts(receiver.take())] == [True]
    assert [f.run_id for f in load_cursor(sixth.cursor).open] == [revenue.run_id]

    # a failure already resolved before the sensor's first tick is history: not reported
    fresh = tick(defs, instance, None)
    assert [t.split(" (job")[0] for t in texts(receiver.take())] == [sent[1].split(" (job")[0]]
    assert "1 failed runs reported" in fresh.skip_message

    # the webhook URL is a secret: in no message, log line or cursor
    logged += capfd.readouterr().err
    for where in (logged, first.cursor, fifth.cursor, sixth.cursor, *sent):
        assert SECRET not in where and str(receiver.server_address[1]) not in where
    assert SECRET not in caplog.text


def test_runs_of_jobs_outside_the_code_location_are_ignored(platform_env, instance, receiver, monkeypatch):
    monkeypatch.setenv(WEBHOOK_ENV, receiver.url)
    assert not run_leaky(leaky_job("x"), instance, fail=True)  # a job these definitions do not have
    result = tick(build_definitions(), instance, None)
    assert receiver.take() == [] and "0 failed runs reported, 0 resolved, 0 still open" in result.skip_message
