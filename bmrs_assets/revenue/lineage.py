"""The revenue lineage, derived from the ``reads`` each derived table declares in ``tables.py``.

What a derived table reads - which source datasets and derived tables, and which of their days
relative to its own day - is declared once, as data (:class:`tables.Read`). Everything else about
the lineage is computed from it here, without Dagster:

* :func:`sources`: the registry datasets the revenue reads (the sensor watches them);
* :func:`reruns`: what is recomputed when a day of one of them changes;
* :func:`inputs`: the partitions a run of derived tables reads (the sensor waits for them);
* :func:`markdown`: the lineage section of ``docs/revenue.md``
  (``python -m bmrs_assets.revenue.lineage --write`` rewrites it between its markers).

``defs/revenue`` turns the same declarations into the assets' inputs and partition mappings and the
sensor's downstream map; ``bmrs_assets_tests/unit/test_revenue_lineage.py`` checks all four agree.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from bmrs_assets.revenue.tables import DERIVED, DerivedTable, Read

DOCS_PAGE = Path(__file__).resolve().parents[2] / "docs" / "revenue.md"
START, END = "<!-- lineage:start -->", "<!-- lineage:end -->"


@dataclass(frozen=True)
class Rerun:
    """A derived table's day to recompute after day ``D`` of one of its inputs (direct or not) changed."""

    table: str  # the derived table's asset name
    shift: int  # its day is D + shift: 0 the same day, 1 the next day (which reads D as its day before)
    # only when each (derived table, shift) already has that day computed; () = always
    requires: tuple[tuple[str, int], ...] = ()


def derived_tables() -> tuple[DerivedTable, ...]:
    """The derived tables in declaration order, which is a lineage order (a table after what it reads)."""
    return tuple(DERIVED.values())


def is_derived(asset: str) -> bool:
    return any(t.asset_name == asset for t in DERIVED.values())


def sources() -> tuple[str, ...]:
    """The registry datasets (asset names) any derived table reads, in the order first declared."""
    out: list[str] = []
    for t in DERIVED.values():
        out += [r.asset for r in t.reads if not is_derived(r.asset) and r.asset not in out]
    return tuple(out)


def readers(asset: str) -> tuple[tuple[DerivedTable, Read], ...]:
    """The derived tables reading ``asset`` directly, each with its read."""
    return tuple((t, r) for t in DERIVED.values() for r in t.reads if r.asset == asset)


def reruns(asset: str) -> tuple[Rerun, ...]:
    """What to recompute when day ``D`` of ``asset`` is materialized (first time or again).

    A table reading ``D`` as its own day recomputes ``D``; one reading it as an earlier day (e.g. the
    day before) recomputes the later day ``D + shift`` only if it has already computed that day:
    otherwise that day has not been asked for yet and is left to its own sources. Tables reading a
    recomputed table follow it, on the same condition. Sorted by shift, then declaration order.
    """
    found: dict[tuple[str, int], Rerun] = {}

    def visit(name: str, shift: int, requires: tuple[tuple[str, int], ...]) -> None:
        for table, read in readers(name):
            for offset in read.offsets:
                day = shift - offset
                needs = requires if offset == 0 else (*requires, (table.asset_name, day))
                known = found.get((table.asset_name, day))
                if known is not None and len(known.requires) <= len(needs):
                    continue  # already reached on a path with no more conditions
                found[(table.asset_name, day)] = Rerun(table.asset_name, day, needs)
                visit(table.asset_name, day, needs)

    visit(asset, 0, ())
    order = {t.asset_name: i for i, t in enumerate(DERIVED.values())}
    return tuple(sorted(found.values(), key=lambda r: (r.shift, order[r.table])))


def inputs(tables: Iterable[str], day: date) -> tuple[tuple[str, date], ...]:
    """The (asset, day) partitions the derived ``tables`` read to compute ``day``, except those tables
    themselves (computed in the same run, where Dagster's blocking checks guard them) and optional
    reads (``Read.required``: computed without them)."""
    chosen = set(tables)
    out: list[tuple[str, date]] = []
    for t in DERIVED.values():
        if t.asset_name not in chosen:
            continue
        for read in (r for r in t.reads if r.required):  # an optional read is not waited for
            for offset in read.offsets:
                item = (read.asset, day + timedelta(days=offset))
                if read.asset not in chosen and item not in out:
                    out.append(item)
    return tuple(out)


# --- the docs section -----------------------------------------------------------------------------
def _day(offset: int) -> str:
    return "D" if offset == 0 else f"D{offset:+d}"


def _days(read: Read) -> str:
    offsets = list(read.offsets)
    return ", ".join(map(_day, offsets)) if len(offsets) <= 3 else f"{_day(offsets[0])} to {_day(offsets[-1])}"


def _names(names: list[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def markdown() -> str:
    """The generated lineage section (what goes between the markers in ``docs/revenue.md``)."""
    lines = [
        "<!-- Generated from the `reads` of each table in bmrs_assets/revenue/tables.py: edit them there, then run",
        "     .venv/bin/python -m bmrs_assets.revenue.lineage --write -->",
        "",
        "What each derived table is computed from, `D` being the settlement day computed. The assets' inputs",
        "and partition mappings, the sensor `revenue_on_source_materialization` and this section all derive",
        "from these declarations.",
        "",
        "| asset | reads | days read |",
        "|---|---|---|",
    ]
    for t in DERIVED.values():
        for i, r in enumerate(t.reads):
            kind = "derived" if is_derived(r.asset) else "dataset"
            why = f" ({r.why})" if r.why else ""
            lines.append(f"| {f'`{t.asset_name}`' if i == 0 else ''} | `{r.asset}` ({kind}) | {_days(r)}{why} |")
    lines += ["", "```mermaid", "flowchart LR"]
    for t in DERIVED.values():
        for r in t.reads:
            lines.append(f'    {r.asset} -- "{_days(r)}" --> {t.asset_name}')
    lines += [
        "```",
        "",
        "When day `D` of a source dataset is materialized (first time or again), the sensor requests,",
        "in one run per settlement day, the derived partitions it changes (any already materialized",
        "after that source event are left alone), each only once every input partition it reads exists",
        "and passed its blocking checks (an optional read is not waited for):",
        "",
        "| materialized | re-run |",
        "|---|---|",
    ]
    for source in sources():
        groups: dict[tuple[int, tuple[tuple[str, int], ...]], list[str]] = {}
        for r in reruns(source):
            groups.setdefault((r.shift, r.requires), []).append(r.table)
        parts = []
        for (shift, requires), tables in groups.items():
            condition = ", once the rest of that day's inputs are there" if requires else ""
            parts.append(f"{_day(shift)}{condition}: {_names(tables)}")
        lines.append(f"| `{source}` | {'; '.join(parts)} |")
    return "\n".join(lines) + "\n"


def with_section(page: str) -> str:
    """``page`` with the text between the lineage markers replaced by :func:`markdown`."""
    head, start, rest = page.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise ValueError(f"the page has no {START} ... {END} markers")
    return f"{head}{START}\n{markdown()}{END}{tail}"


def section(page: str) -> str:
    """The text between the lineage markers of ``page``."""
    return page.split(START, 1)[1].split(END, 1)[0].removeprefix("\n")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m bmrs_assets.revenue.lineage --write  (rewrites the lineage section of docs/revenue.md)")
    DOCS_PAGE.write_text(with_section(DOCS_PAGE.read_text()))
    print(f"wrote the lineage section of {DOCS_PAGE}")
