"""A range run in a child process of its own, for tests that kill it (``BMRS_CRASH_AT``) or run it
beside others: ``python -c SCRIPT FIRST LAST DATASET`` through ``materialize_range`` on an ephemeral
instance, exit 0 on success. :func:`run_range` runs it; ``bigquery`` points it at the emulator."""

from __future__ import annotations

import subprocess
import sys

from bmrs_assets_tests.conftest import REPO

_HEAD = """
import sys, warnings
warnings.filterwarnings("ignore")
from datetime import date
import dagster as dg
"""
# the emulator needs no credentials; the client library is prepared for it as in the tests' own process
_BIGQUERY = """
import google.auth
from google.auth.credentials import AnonymousCredentials
sys.path.insert(0, sys.argv[4])
from bmrs_assets_tests.support.bq_emulator import prepare_client_library
prepare_client_library()
google.auth.default = lambda *a, **k: (AnonymousCredentials(), sys.argv[5])
"""
_RUN = """
from bmrs_assets.cli.runs import materialize_range
with dg.DagsterInstance.ephemeral() as instance:
    first, last = date.fromisoformat(sys.argv[1]), date.fromisoformat(sys.argv[2])
    result, _ = materialize_range(first, last, [sys.argv[3]], instance=instance)
sys.exit(0 if result.success else 1)
"""
SCRIPT = _HEAD + _RUN
BIGQUERY_SCRIPT = _HEAD + _BIGQUERY + _RUN


def run_range(env: dict, first: str, last: str, dataset: str, *, bigquery_project: str | None = None,
              crash: str | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """The child over first..last of ``dataset`` with ``env`` (plus ``BMRS_CRASH_AT=crash``)."""
    env = {**env, **({"BMRS_CRASH_AT": crash} if crash else {})}
    if bigquery_project is None:
        args = [SCRIPT, first, last, dataset]
    else:
        args = [BIGQUERY_SCRIPT, first, last, dataset, str(REPO), bigquery_project]
    return subprocess.run([sys.executable, "-c", *args], env=env, capture_output=True, text=True, timeout=timeout)
