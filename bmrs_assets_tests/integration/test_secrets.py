"""No credential or webhook URL ever reaches a log line, an event or materialization metadata."""

from __future__ import annotations

import logging
from datetime import date

from bmrs_assets.cli.runs import materialize_range
from bmrs_assets.definitions import build_all_definitions
from bmrs_assets_tests.integration.test_alerts import Receiver, tick

WEBHOOK_SECRET = "T0KEN-a8f3e1c9-webhook"
IRIS_SECRET = "s3cr3t-c1ient-iris-5e9d"


def test_planted_secrets_never_appear_in_logs_events_or_metadata(platform_env, instance, monkeypatch, caplog, capfd):
    receiver = Receiver()
    try:
        monkeypatch.setenv("BMRS_ALERT_WEBHOOK_URL", f"{receiver.url}/hooks/{WEBHOOK_SECRET}")
        monkeypatch.setenv("BMRS_IRIS_CLIENT_ID", "client-id")
        monkeypatch.setenv("BMRS_IRIS_CLIENT_SECRET", IRIS_SECRET)
        monkeypatch.setenv("BMRS_IRIS_QUEUE", "queue")
        caplog.set_level(logging.DEBUG)
        result, _ = materialize_range(date(2025, 12, 17), date(2025, 12, 17), ["COSTS"], instance=instance,
                                      log_level="DEBUG")
        assert result.success
        defs = build_all_definitions()
        evaluation = tick(defs, instance, None)  # posts alerts (gaps in the last 14 days) to the webhook
        assert receiver.take(), "the alert sensor did post, so the URL was really used"
    finally:
        receiver.shutdown()
        receiver.server_close()
    texts = [r.getMessage() for r in caplog.records]
    texts += [str(e) for e in instance.all_logs(result.run_id)]
    for event in result.get_asset_materialization_events():
        texts += [str(v.value) for v in event.step_materialization_data.materialization.metadata.values()]
    texts += [str(evaluation.cursor), str(evaluation.log_key), *(str(r) for r in evaluation.run_requests or [])]
    out, err = capfd.readouterr()
    texts += [out, err]
    assert len(texts) > 50
    for secret in (WEBHOOK_SECRET, IRIS_SECRET):
        assert not [t for t in texts if secret in t], secret
