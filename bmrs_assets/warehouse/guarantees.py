"""``docs/guarantees.md``, generated: what the warehouse promises of every table, and each table's
write semantics with why, read from the registry and the derived-table declarations.

    python -m bmrs_assets.warehouse.guarantees            # print the page
    python -m bmrs_assets.warehouse.guarantees --write    # rewrite docs/guarantees.md

``bmrs_assets_tests/unit/test_guarantees_doc.py`` fails when the committed page is not the generated one.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bmrs_assets.core.tables import TableDeclaration, WriteSemantics
from bmrs_assets.elexon.datasets import REGISTRY
from bmrs_assets.revenue.tables import DERIVED

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "guarantees.md"
REGENERATE = "python -m bmrs_assets.warehouse.guarantees --write"

PROMISES = """\
## What every table promises

1. **Once per key.** Rows are MERGEd on the table's natural key (null-safe), so a re-run, an
   overlapping window or an IRIS message never adds a second copy; the blocking `unique_natural_key`
   check proves it after each write. Keys hold what tells real rows apart: every level profile keys
   on both ends of its segments (`timeFrom`, `timeTo`), since a vertical step is two points at one
   instant (`bmrs_assets_tests/unit/test_keys.py` checks every key against the real samples and the
   spec's examples). Rows of one batch that still share a key are counted
   (`duplicate_keys_in_batch`) and warned of in the run log: the latest revision, then the row the
   API sent last, is kept.
2. **Revisions never go backwards.** Where a table has a revision column, a stored row is replaced
   only by one of the same or a newer revision; an older one (a late settlement run, an IRIS
   backlog, a replay) is skipped and counted (`rows_stale_skipped`, and a warning in the run log),
   on the API and the IRIS path alike.
3. **Withdrawn rows leave, and only they.** A *current state* table (below) takes the complete
   response for a partition day as the truth for that day: the stored rows of the day that it no
   longer holds are deleted in the same transaction as the upsert, counted (`rows_deleted`, per day
   in `per_day`, in the CLI's day table and the run log). Nothing is deleted for a day that failed,
   came back empty, failed its completeness rule, has not ended yet, or whose response is older
   than what is stored (any row of it stale), and never by an IRIS message (a message is not the
   whole day). A finished day of a current-state dataset that arrives incomplete is refused before
   anything of it is written: the stored day stays exactly as it was and the partition fails,
   naming the day and what was missing. A *keep versions* table never deletes.
4. **Labels are checked before the write.** A settlement period must exist on its day (46, 48 or
   50 periods) and agree with the row's time (`docs/datasets.md` lists each rule); a violation
   fails the partition, naming dataset, day, period, time and the expected period, before anything
   of that partition is written.
5. **The table is the truth, not the memory of it.** A day is skipped as unchanged only if its
   response is byte-for-byte the one last merged *and* the stored day still is what that MERGE
   left (its row count and a checksum of every row); a day deleted, damaged or edited since is
   reloaded and repaired column by column by the next run. `--full-refresh` (`run`, `demo`) or the
   run tag `bmrs/full_refresh=true` parses and MERGEs every selected day.
6. **All or nothing per chunk.** A write is one transaction (DuckDB) or one MERGE (BigQuery) per
   chunk of whole days; a crash leaves whole chunks only, and a failed day costs that day only
   ([backfills](backfills.md), [reliability](reliability.md)).

The tests: `contract/test_warehouse_contract.py` and `contract/test_withdrawals.py` (both backends,
synthetic batches), `integration/test_revisions.py`, `integration/test_withdrawals.py`,
`integration/test_period_labels.py`, `integration/test_repair.py` (both backends, real Dagster runs
against the simulator).
"""


def _row(t: TableDeclaration, kind: str) -> str:
    rev = f"`{t.revision_column}`" if t.revision_column else "-"
    why = t.semantics_why.replace("|", "\\|")
    return f"| `{t.table}` | {kind} | {t.semantics.value} | {rev} | `{', '.join(t.key)}` | {why} |"


def render() -> str:
    current = sum(1 for t in [*REGISTRY.values(), *DERIVED.values()] if t.semantics is WriteSemantics.CURRENT_STATE)
    lines = [
        "# Guarantees",
        "",
        f"<!-- Generated from the registry and the derived tables; regenerate with `{REGENERATE}`. -->",
        "",
        PROMISES,
        "## Each table's write semantics, and why",
        "",
        f"*keep versions*: rows are only added or revised, never deleted. *current state*: the whole response "
        f"of a partition day is that day's truth; what it no longer holds is deleted ({current} tables). "
        "Decided from the API's documented behaviour for each dataset (`bmrs_assets/elexon/publication.py`); "
        "the revenue tables are recomputed whole per day from their inputs.",
        "",
        "| table | kind | semantics | revision column | natural key | why |",
        "|---|---|---|---|---|---|",
        *(_row(ds, "Elexon dataset") for ds in REGISTRY.values()),
        *(_row(t, "derived (revenue)") for t in DERIVED.values()),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bmrs_assets.warehouse.guarantees",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help=f"rewrite {DOC_PATH.name} instead of printing it")
    args = parser.parse_args(argv)
    if args.write:
        DOC_PATH.write_text(render(), encoding="utf-8")
        print(f"wrote {DOC_PATH}")
    else:
        print(render(), end="")


if __name__ == "__main__":
    main()
