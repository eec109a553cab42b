"""Loading the code location imports only what the definitions need (issue 18: a cheap start).

Every process that loads ``bmrs_assets.definitions`` (``dagster dev``, the daemon, each run worker,
every 15-minute automation run) pays for what it imports. The data stack (pandas, numpy, pyarrow,
DuckDB, pandera), the HTTP client (httpx) and BigQuery are imported by the runs and checks that use
them, not at load. Checked in a fresh interpreter, since this test process has them all loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys

DEFERRED = ("pandas", "numpy", "pyarrow", "duckdb", "pandera", "httpx", "google.cloud.bigquery", "dagster_gcp",
            "bmrs_assets.elexon.api_source", "bmrs_assets.warehouse.duckdb_backend", "bmrs_assets.revenue.method")


def loaded_after(statement: str) -> set[str]:
    """The modules of ``DEFERRED`` in ``sys.modules`` of a new interpreter after ``statement``."""
    probe = f"import json, sys\n{statement}\nprint(json.dumps([m for m in {list(DEFERRED)!r} if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_loading_the_definitions_imports_none_of_the_data_stack() -> None:
    loaded = loaded_after("from bmrs_assets.definitions import defs\n"
                          "assert len(defs.get_repository_def().assets_defs_by_key) > 20")
    assert loaded == set(), f"the code location's load imports {sorted(loaded)}"


def test_the_probe_sees_a_deferred_import_when_one_happens() -> None:
    """Not vacuous: the same probe reports the data stack once a run's modules are imported."""
    loaded = loaded_after("import bmrs_assets.definitions, bmrs_assets.elexon.api_source, bmrs_assets.warehouse.duckdb_backend")
    assert {"pandas", "pyarrow", "duckdb", "httpx", "bmrs_assets.elexon.api_source"} <= loaded
