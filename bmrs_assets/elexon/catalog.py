"""``docs/datasets.md``, generated from the registry: one table row per dataset, then the reasons.

    python -m bmrs_assets.elexon.catalog            # print the page
    python -m bmrs_assets.elexon.catalog --write    # rewrite docs/datasets.md

Everything on the page is read from the entries (and their request strategies), so the page cannot
drift from the code; ``bmrs_assets_tests/unit/test_datasets_doc.py`` fails when the committed page
is not the generated one.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from pathlib import Path

from bmrs_assets.core.tables import Kind, Origin, PeriodRule
from bmrs_assets.elexon.datasets import REGISTRY, Dataset, IrisMode
from bmrs_assets.elexon.requests import SettlementDay

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "datasets.md"
REGENERATE = "python -m bmrs_assets.elexon.catalog --write"
PERIOD_RULES = {PeriodRule.START: "starts at", PeriodRule.WITHIN: "contains", PeriodRule.EXISTS: "exists on"}
IRIS_NOTES = {IrisMode.LAND: "IRIS messages are validated and landed, not merged.",
              IrisMode.RAW: "IRIS messages are kept as sent, not merged."}


def _code(text: str) -> str:
    return f"`{text}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _names(items: Iterable[str]) -> str:
    items = list(items)
    return ", ".join(items[:-1]) + f" and {items[-1]}" if len(items) > 1 else "".join(items)


def _limit(max_window: timedelta | None) -> str:
    return f" (at most {max_window.total_seconds() / 3600:g} h per request)" if max_window else ""


def endpoint_cell(ds: Dataset) -> str:
    """The path the platform asks, then the other paths serving the same rows and their limits."""
    others = [f"{_code(e.path)}{_limit(e.max_window)}" for e in ds.also_at]
    return _code(ds.path) + (f"; also {', '.join(others)}" if others else "")


def request_cell(ds: Dataset) -> str:
    """The strategy's own description, and the columns the request path fills."""
    text = ds.request.describe()
    path_cols = [c.name for c in ds.columns if c.origin is Origin.PATH]
    return text + (f"; column {', '.join(map(_code, path_cols))} filled from the path" if path_cols else "")


def partition_cell(ds: Dataset) -> str:
    if ds.partition_kind is Kind.TIMESTAMP:
        return f"{_code(ds.partition_column)} (its London day, half-open)"
    return _code(ds.partition_column)


def revision_cell(ds: Dataset) -> str:
    return f"{_code(ds.revision_column)} (the latest wins)" if ds.revision_column else "none"


def period_cell(ds: Dataset) -> str:
    """How each settlement-period column is checked against its day and time (``period_labels``)."""
    return "; ".join(f"{_code(lab.period)} {PERIOD_RULES[lab.rule]} {_code(lab.time or lab.date)}"
                     for lab in ds.period_labels) or "none"


def description_cell(ds: Dataset) -> str:
    parts = [ds.description]
    parts.extend(f"Nested {_code(n)} flattened to {_code(n + '_<member>')} columns." for n in ds.flatten)
    if ds.iris in IRIS_NOTES:
        parts.append(IRIS_NOTES[ds.iris])
    return " ".join(parts)


def table(registry: Mapping[str, Dataset]) -> list[str]:
    lines = ["| asset | table | endpoint | request per partition day D | natural key | partition column "
             "| revision column | settlement period checked | rows per day (typical) | days per backfill run | description |",
             "|---|---|---|---|---|---|---|---|---:|---:|---|"]
    for ds in registry.values():
        cells = [_code(f"bmrs/{ds.asset_name}"), _code(ds.table), endpoint_cell(ds), request_cell(ds),
                 ", ".join(ds.key), partition_cell(ds), revision_cell(ds), period_cell(ds),
                 f"{ds.rows_per_day:,}", str(ds.days_per_run), description_cell(ds)]
        lines.append("| " + " | ".join(map(_cell, cells)) + " |")
    return lines


def notes(registry: Mapping[str, Dataset]) -> list[str]:
    """The reasons behind the choices, each naming the entries it applies to."""
    ds_all = list(registry.values())
    unit = [ds.code for ds in ds_all if {"bmUnit", "nationalGridBmUnit"} <= set(ds.key)]
    revised = [ds for ds in ds_all if ds.freshness.resettlement_days and ds.revision_column]
    by_time = [ds for ds in ds_all if ds.partition_kind is Kind.TIMESTAMP]
    optional = [ds for ds in ds_all if all(c.nullable for c in ds.columns if c.name != ds.partition_column)]
    chunked = [ds for ds in ds_all if isinstance(ds.request, SettlementDay) and ds.request.periods_per_request]
    out = [
        "Notes on the choices:",
        "",
        f"* `bmUnit` is null for interconnector units, so `nationalGridBmUnit` is part of every unit key "
        f"({_names(unit)}): two interconnectors with a null `bmUnit` in the same period never merge into one row.",
    ]
    if revised:
        out.append(f"* Settlement-run revisions ({_names(ds.code for ds in revised)}) update the row in place: "
                   f"same key, new values and a newer revision column "
                   f"({_names(sorted({_code(str(ds.revision_column)) for ds in revised}))}); no second row.")
    if by_time:
        out.append(f"* {_names(f'{ds.code} ({_code(ds.partition_column)})' for ds in by_time)} are partitioned by "
                   f"the London day of a timestamp, not by settlement date (forecasts and messages: the day they "
                   f"were **published**); query them by `settlementDate` or event time as usual.")
    for ds in optional:
        out.append(f"* Every {ds.code} field except {_code(ds.partition_column)} (its partition column) is "
                   f"nullable: messages omit fields.")
    out.append("* The spec's own examples mislabel QPN (`\"dataset\": \"PN\"`) and MELS (`\"dataset\": \"MILS\"`); "
               "the schema's label check rejects them as they are, and the tests check that, then parse them "
               "with the label corrected.")
    out.append("* Settlement periods are checked before a day is written (column *settlement period "
               "checked*): each must exist on its row's `settlementDate` (46 periods on the spring clock-change "
               "day, 50 on the autumn one, 48 otherwise), and where a time fixes it, the time must be the "
               "period's start (*starts at*: a `startTime`) or lie in [start, end) of the period (*contains*: a "
               "`timeFrom` or 5-minute `startTime`, a point anywhere in the period). A mismatch fails the day, "
               "naming the period, the time and the period the time belongs to. BOALF's `settlementPeriodTo` "
               "(the period `timeTo` falls in, possibly past the day's end) keeps the coarse 1-50 bound.")
    out.append("* Time windows are closed at both ends on the API, so a row exactly at midnight comes back "
               "for two days: rows outside the partition's half-open London-day window are dropped and counted.")
    out.append("* A request the API refuses with a 400 saying the window is too large is halved (a "
               "settlement-period range or a UTC window) and retried, until it is accepted or cannot be "
               "made smaller.")
    for ds in chunked:
        assert isinstance(ds.request, SettlementDay)
        n = len(ds.request.slices(date(2000, 1, 1)))
        out += ["", f"**Big days.** {ds.code} asks for a day in {n} requests of {ds.request.periods_per_request} "
                    f"settlement periods (`periods_per_request`; periods beyond the day's last return nothing). "
                    f"Each response is parsed, typed into an Arrow table and freed as soon as it arrives, "
                    f"while the next one downloads."]
    return out


def render(registry: Mapping[str, Dataset] = REGISTRY) -> str:
    """The whole page, as committed in ``docs/datasets.md``."""
    lines = [
        "# Datasets",
        "",
        f"<!-- Generated from bmrs_assets/elexon/datasets.py; regenerate with `{REGENERATE}`. -->",
        "",
        "Every dataset is one entry in `bmrs_assets/elexon/datasets.py` (plus its generator in "
        "`bmrs_assets/simulator/data.py`); its asset, schema, checks, table, the simulator's routes and this "
        "page all come from it. D is the partition day, a London settlement day; paths are relative to "
        "`https://data.elexon.co.uk/bmrs/api/v1`. Keys compare null-safely (`IS NOT DISTINCT FROM`).",
        "",
        f"Regenerate this page with `{REGENERATE}`.",
        "",
        *table(registry),
        "",
        *notes(registry),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bmrs_assets.elexon.catalog", description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help=f"rewrite {DOC_PATH.name} instead of printing it")
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        DOC_PATH.write_text(text, encoding="utf-8")
        print(f"wrote {DOC_PATH}")
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
