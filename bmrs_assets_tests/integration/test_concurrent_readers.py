"""Analysts read the embedded warehouse while runs write it: nobody waits, nobody fails.

Readers connect as docs/duckdb.md tells them to: ``duckdb.connect("<stem>.read.duckdb",
read_only=True)`` in a process of their own. One holds its connection across three runs; another
opens a fresh connection again and again while the runs MERGE.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from datetime import date, timedelta
from pathlib import Path

from bmrs_assets.cli.runs import materialize_range
from bmrs_assets.warehouse.duckdb_snapshot import snapshot_path

DAY = date(2025, 12, 17)
SHAPE = "SELECT count(*), count(DISTINCT \"settlementDate\"), bit_xor(hash(T)) FROM bmrs_costs AS T"

HOLDER = textwrap.dedent(f"""
    import json, sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)  # held until told to stop
    for line in sys.stdin:
        if line.strip() == "reconnect":
            con.close()
            con = duckdb.connect(sys.argv[1], read_only=True)
        print(json.dumps(con.execute('''{SHAPE}''').fetchone()), flush=True)
""")

POLLER = textwrap.dedent(f"""
    import json, os, sys, duckdb
    seen, errors = set(), []
    while not os.path.exists(sys.argv[2]):
        try:
            con = duckdb.connect(sys.argv[1], read_only=True)
            n, days, _ = con.execute('''{SHAPE}''').fetchone()
            con.close()
            seen.add((n, days))
        except Exception as exc:
            errors.append(str(exc))
    print(json.dumps({{"seen": sorted(seen), "errors": errors[:3], "failures": len(errors)}}))
""")


def ask(holder: subprocess.Popen, command: str = "shape") -> list:
    holder.stdin.write(command + "\n")
    holder.stdin.flush()
    return json.loads(holder.stdout.readline())


def timed_run(day: date, instance) -> float:
    started = time.monotonic()
    result, _ = materialize_range(day, day, ["COSTS", "FREQ"], instance=instance)
    assert result.success
    return time.monotonic() - started


def test_a_reader_held_open_across_three_runs_neither_waits_nor_changes(platform_env: Path, instance, tmp_path):
    baseline = timed_run(DAY, instance)  # the first run creates the warehouse and its readers' copy
    snapshot = str(snapshot_path(platform_env))
    stop = tmp_path / "stop-polling"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, snapshot], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    poller = subprocess.Popen([sys.executable, "-c", POLLER, snapshot, str(stop)], stdout=subprocess.PIPE, text=True)
    try:
        first_view = ask(holder)
        assert first_view[:2] == [48, 1]
        for n in range(1, 4):
            seconds = timed_run(DAY + timedelta(days=n), instance)
            assert seconds < baseline + 5, f"run {n} took {seconds:.1f} s against {baseline:.1f} s without a reader"
            assert ask(holder) == first_view  # the held connection: the snapshot it opened, unchanged
        assert ask(holder, "reconnect")[:2] == [4 * 48, 4]  # a fresh connection: the newest write
    finally:
        stop.touch()
        polled = json.loads(poller.communicate(timeout=60)[0])
        holder.stdin.close()
        holder.wait(timeout=60)
    assert polled["failures"] == 0, polled["errors"]
    assert {tuple(s) for s in polled["seen"]} <= {(48 * d, d) for d in range(1, 5)}  # whole runs only
    assert [4 * 48, 4] in polled["seen"]
