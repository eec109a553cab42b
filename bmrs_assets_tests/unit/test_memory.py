"""Loading the code location freezes what it leaves, so later full GC passes do not walk it."""

from __future__ import annotations

import subprocess
import sys


def test_loading_the_code_location_freezes_its_objects_out_of_later_collections():
    code = ("import gc; assert gc.get_freeze_count() == 0; import bmrs_assets.definitions; "
            "print(gc.get_freeze_count(), len(gc.get_objects(generation=2)))")
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, timeout=120, check=True)
    frozen, gen2 = map(int, out.stdout.split())
    assert frozen > 100_000, f"only {frozen} objects frozen"  # Dagster and the definitions: hundreds of thousands
    assert gen2 < frozen / 10, f"{gen2} objects left for full collections beside {frozen} frozen ones"
