"""How the source publishes, as the registry entries declare it: cadences and write semantics.

Freshness cadences (``quality/rules.Freshness``), and why each entry has the write semantics it has
(``core/tables.WriteSemantics``), decided from the API's documented behaviour for each dataset;
the entries in ``datasets.py`` name these, and ``docs/datasets.md`` lists them per dataset.
"""

from __future__ import annotations

from datetime import timedelta

from bmrs_assets.quality.rules import Freshness

# --- publication cadences -------------------------------------------------------------------
# Real-time feeds: late within the hour (FREQ, FUELINST) or within a few hours of the period.
REALTIME_FAST = Freshness(fail_after=timedelta(hours=1), warn_after=timedelta(minutes=30), realtime=True)
REALTIME_BM = Freshness(fail_after=timedelta(hours=3), warn_after=timedelta(hours=1), realtime=True)
# Settlement-derived feeds: yesterday's day must be in by 08:00 London; later settlement runs
# (approximately SF, R1, R2, R3, RF of the BSC timetable, in calendar days) revise past days.
SETTLEMENT_RUN_AGES = (1, 7, 22, 55, 117, 216, 410)
# Reference lists: today's snapshot is taken once a day; late after a day and a half.
DAILY_SNAPSHOT = Freshness(fail_after=timedelta(hours=36), warn_after=timedelta(hours=26))
SETTLEMENT_RUNS = Freshness(fail_after=timedelta(hours=32), cron="0 8 * * *", cron_lower_bound=timedelta(hours=24),
                            resettlement_days=SETTLEMENT_RUN_AGES)


BOALF = ("the stream serves the acceptances of the settlement day as they now stand: an acceptance "
             "corrected by the SO has new points (its key holds timeFrom), and the superseded points are gone")
GATE_CLOSURE = ("a unit-period's submission is final at gate closure and the API serves it whole; a "
                    "resubmission before then can restate segments (new timeFrom) or drop pairs, and the old ones "
                    "are no longer served")
RESOLVED_POSITION = ("the API serves the resolved position: a redeclaration truncates the earlier records "
                         "(new notification, moved timeFrom), so superseded limits must leave or two limits "
                         "stand at one instant")
DISBSAD = "an action the SO retracts or renumbers is no longer served for its period"
SETTLEMENT_RUN = ("each settlement run restates the whole day (createdDateTime is the run): a row a later "
                      "run no longer holds is withdrawn; an older run never replaces a newer one")
MEASURED_ONCE = ("an outturn published once per key and never withdrawn: deleting could only ever lose rows "
                 "to a response that came back short")
ONE_ROW_PER_PERIOD = ("one net adjustment per period, revised in place (same key): nothing to withdraw, "
                          "so nothing is ever deleted")
VINTAGES = "every published forecast vintage is kept (publishTime is in the key): rows are only added"
REMIT = "every revision of a message is kept (revisionNumber is in the key): rows are only added"
SNAPSHOTS = ("the endpoint serves only the current list: each day's snapshot is kept under its own day "
             "(snapshotDate is in the key), so the history of changes is the sequence of snapshots; rows are only "
             "added or revised, so a response that came back short never erases a unit from a stored snapshot")
