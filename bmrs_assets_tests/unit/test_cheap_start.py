"""Loading the code location imports only what the definitions need (issue 18): Pandera, SQLAlchemy and
the charting library load where they are used, and the declared column checks are Pandera's own."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pandera.pandas as pa
import pytest

from bmrs_assets.core.column_checks import in_range, isin, not_equal_to
from bmrs_assets.core.schemas import pandera_check

LAZY = ("pandera", "sqlalchemy", "plotly", "google.cloud.bigquery", "azure.servicebus")


def test_loading_the_code_location_leaves_the_heavy_libraries_unloaded():
    code = ("import sys, json, bmrs_assets.definitions as d; assert d.defs is not None; "
            f"print(json.dumps({{m: m in sys.modules for m in {list(LAZY)!r}}}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded == dict.fromkeys(LAZY, False), f"imported at code-location load: {[m for m, v in loaded.items() if v]}"


@pytest.mark.parametrize(("declared", "pandera"), [
    (isin(["bid", "offer"]), pa.Check.isin(["bid", "offer"])),
    (in_range(1, 50), pa.Check.in_range(1, 50)),
    (in_range(-6, 6), pa.Check.between(-6, 6)),
    (not_equal_to(0), pa.Check.ne(0)),
])
def test_a_declared_check_is_the_pandera_check_of_the_same_name(declared, pandera):
    # the same name and statistics: stored body digests and code versions (which hash them) are unchanged
    assert (declared.name, declared.statistics) == (pandera.name, pandera.statistics)
    built = pandera_check(declared)
    assert (built.name, built.statistics) == (pandera.name, pandera.statistics)
    values = pd.Series([0, 1, 7, 50, 51, None], dtype="Int64")
    assert built(values).check_output.tolist() == pandera(values).check_output.tolist()
