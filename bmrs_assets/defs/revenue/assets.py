"""Dagster wiring of the Balancing Mechanism revenue assets; the method itself is ``revenue/method.py``.

Four daily-partitioned assets, declared in ``revenue/tables.py`` and written through the same
warehouse IO manager as the datasets (an idempotent MERGE on the natural key). Their inputs and
partition mappings come from the tables' ``reads`` (``lineage.ins``):

* ``bmrs/boalf_with_prices`` <- BOALF (the day and the day before: acceptances running past
  midnight), BOD, PN of the day;
* ``bmrs/bm_cashflow_hybrid`` <- ``boalf_with_prices``, EBOCF;
* ``bmrs/bm_unit_revenue`` <- ``bm_cashflow_hybrid``, ``boalf_with_prices`` (acceptances, flags), COSTS
  (system prices, optional), the BM unit reference snapshot of the day (``bm_units``, optional) and the
  ``vlp`` resource's CSV override: every unit, every class;
* ``bmrs/vlp_revenue`` <- ``bm_unit_revenue`` filtered to VLP units, less the ``vlp`` resource's costs.

Inputs arrive as frames read by the IO manager for the mapped upstream partitions. Each asset
reports its figures as materialization metadata; checks re-read the written table: unique natural
key (blocking), match rate (warns below ``MATCH_RATE_WARN_BELOW``) and the EBOCF reconciliation
(warns when the median relative error exceeds ``RECONCILIATION_WARN_ABOVE``). ``sensor.py``
requests the derived days when a source day is materialized; ``definitions.py`` puts them together.
pandas and the method are imported by the asset and check bodies (inputs are typed ``defs/frames.Frame``),
so loading the code location does not pay for them.
"""


import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import dagster as dg
from pydantic import Field

from bmrs_assets.core.settlement import parse_day
from bmrs_assets.defs.conventions import asset_conventions, definition_metadata, derived_code_version, kinds
from bmrs_assets.defs.elexon.checks import build_unique_key_check
from bmrs_assets.defs.frames import Frame
from bmrs_assets.defs.partition_checks import CheckEvent, evaluations
from bmrs_assets.defs.resources import WarehouseResource
from bmrs_assets.defs.revenue.lineage import DERIVED_KEYS, asset_key, ins  # noqa: F401 (DERIVED_KEYS re-exported)
from bmrs_assets.revenue.costs import CostComponent
from bmrs_assets.revenue.tables import (
    BM_CASHFLOW_HYBRID,
    BM_UNIT_REVENUE,
    BOALF_WITH_PRICES,
    DERIVED,
    VLP_REVENUE,
    DerivedTable,
)
from bmrs_assets.settings import setting, value
from bmrs_assets.warehouse.contract import LoadStats, PartitionBatch

GROUP = "revenue"
PRICED_KEY, HYBRID_KEY, UNITS_KEY, VLP_KEY = (asset_key(t.asset_name)
                                              for t in (BOALF_WITH_PRICES, BM_CASHFLOW_HYBRID, BM_UNIT_REVENUE, VLP_REVENUE))
MATCH_RATE_WARN_BELOW = 0.95  # the match_rate check warns for a day under this share of matched rows
RECONCILIATION_WARN_ABOVE = 0.10  # ... and the reconciliation check when median |est - EBOCF| / |EBOCF| is over this
VLP_REFERENCE_ENV = "BMRS_VLP_REFERENCE_CSV"
VLP_COSTS_ENV = "BMRS_VLP_COST_COMPONENTS"


# --- configuration ---------------------------------------------------------------------------
class CostComponentConfig(dg.Config):
    """One cost set against VLP revenue; see ``revenue.CostComponent``."""

    name: str
    per_mwh_gbp: float = 0.0
    share_of_revenue: float = 0.0


class VlpRevenueResource(dg.ConfigurableResource):
    """VLP classification and costs: an optional reference table and optional cost components.

    ``reference_csv``: a CSV with columns ``bmUnit`` and ``classification`` (``vlp`` marks a Virtual
    Lead Party unit; interconnectors may be listed by ``nationalGridBmUnit``); it overrides the
    BM unit id rule. ``cost_components``: no costs unless configured.
    """

    reference_csv: str | None = None
    cost_components: list[CostComponentConfig] = Field(default_factory=list)

    def reference(self) -> Frame | None:
        import pandas as pd

        if not self.reference_csv:
            return None
        table = pd.read_csv(self.reference_csv, dtype=str, keep_default_na=False)
        missing = {"bmUnit", "classification"} - set(table.columns)
        if missing:
            raise ValueError(f"VLP reference table {self.reference_csv}: missing column(s) {sorted(missing)}")
        return table

    def costs(self) -> list[CostComponent]:
        return [CostComponent(c.name, c.per_mwh_gbp, c.share_of_revenue) for c in self.cost_components]


def vlp_resource_from_env() -> VlpRevenueResource:
    """``BMRS_VLP_REFERENCE_CSV`` (a path) and ``BMRS_VLP_COST_COMPONENTS`` (a JSON list of
    ``{"name", "per_mwh_gbp", "share_of_revenue"}``); both unset: no reference table, no costs."""
    costs = value(VLP_COSTS_ENV)
    return VlpRevenueResource(reference_csv=setting(VLP_REFERENCE_ENV),
                              cost_components=[CostComponentConfig(**c) for c in costs])


# --- frames -----------------------------------------------------------------------------------
def rows_by_day(frame: Frame) -> dict[date, Frame]:
    """Rows of a warehouse read, split by settlementDate."""
    import pandas as pd

    if frame is None or not len(frame):
        return {}
    days = pd.to_datetime(frame["settlementDate"]).dt.date
    return {d: g for d, g in frame.groupby(days.to_numpy(), sort=True)}


class MissingSourceDay(RuntimeError):
    """A source day the revenue needs has no rows in the warehouse (not materialized yet)."""


def _require(frames: dict[date, Frame], day: date, code: str) -> Frame:
    rows = frames.get(day)
    if rows is None or not len(rows):
        raise MissingSourceDay(
            f"{code} has no rows for {day} in the warehouse: materialize bmrs/{code.lower()} for {day} first "
            "(acceptances are never priced against a missing day)")
    return rows


def _batch(table: DerivedTable, results: dict[date, Frame]) -> PartitionBatch:
    """The computed days as a write: declared types, the same metadata columns and hash as fetched rows.

    Each day with rows is whole (computed from all of its inputs): on the current-state revenue
    tables the stored rows it no longer computes (inputs withdrawn or changed) are deleted."""
    from bmrs_assets.core.conform import computed_frame

    now, source = datetime.now(UTC), f"derived:{','.join(table.inputs)}"
    frames = [(day, computed_frame(table, day, rows, ingested_utc=now, source=source)) for day, rows in results.items()]
    return PartitionBatch(table, sorted(results), frames, stats=LoadStats(rows_fetched=sum(len(f) for _, f in frames)),
                          whole_days={day for day, f in frames if len(f)})


def partition_days(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> list[date]:
    return sorted(parse_day(k) for k in context.partition_keys)


def json_md(value: object) -> dg.MetadataValue:
    return dg.MetadataValue.json(json.loads(json.dumps(value, default=str)))


# --- assets -----------------------------------------------------------------------------------
def build_revenue_assets(partitions: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    common = dict(partitions_def=partitions, io_manager_key="warehouse_io_manager", group_name=GROUP,
                  kinds=kinds(), backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=1))

    def meta(table: DerivedTable) -> dict:
        return {"table": table.table, "natural_key": ", ".join(table.key), "partition_column": table.partition_column,
                **definition_metadata(table)}

    def conventions(table: DerivedTable) -> dict:  # code_version from the declaration and method; owners, tags
        return asset_conventions(derived_code_version(table))

    @dg.asset(key=PRICED_KEY, ins=ins(BOALF_WITH_PRICES),
              description=BOALF_WITH_PRICES.description + " Method: `bmrs_assets/revenue/method.py`.",
              metadata=meta(BOALF_WITH_PRICES), **conventions(BOALF_WITH_PRICES), **common)
    def boalf_with_prices(context: dg.AssetExecutionContext, boalf: Frame, bod: Frame,
                          pn: Frame) -> dg.Output:
        import pandas as pd

        import bmrs_assets.revenue.method as revenue

        boalf_by, bod_by, pn_by = rows_by_day(boalf), rows_by_day(bod), rows_by_day(pn)
        results, previous_day_rows = {}, {}
        for day in partition_days(context):
            today = _require(boalf_by, day, "BOALF")
            before = boalf_by.get(day - timedelta(days=1), today.iloc[:0])  # acceptances running past midnight
            previous_day_rows[day.isoformat()] = len(before)
            results[day] = revenue.price_acceptances(pd.concat([before, today], ignore_index=True),
                                                     _require(bod_by, day, "BOD"), _require(pn_by, day, "PN"), day)
        per_day = {d.isoformat(): revenue.match_summary(f).as_dict() for d, f in results.items()}
        overall = revenue.match_summary(pd.concat(results.values(), ignore_index=True))
        return dg.Output(_batch(BOALF_WITH_PRICES, results), metadata={
            "match_rate": overall.match_rate, "energy_match_rate": overall.energy_match_rate,
            "rows_with_volume": overall.rows_with_volume, "rows_matched": overall.matched,
            "rows_partial": overall.partial, "rows_unmatched": overall.unmatched,
            "unmatched_reasons": json_md(overall.unmatched_reasons), "match_per_day": json_md(per_day),
            "boalf_rows_previous_day": json_md(previous_day_rows)})

    @dg.asset(key=HYBRID_KEY, ins=ins(BM_CASHFLOW_HYBRID), description=BM_CASHFLOW_HYBRID.description,
              metadata=meta(BM_CASHFLOW_HYBRID), **conventions(BM_CASHFLOW_HYBRID), **common)
    def bm_cashflow_hybrid(context: dg.AssetExecutionContext, boalf_with_prices: Frame,
                           ebocf: Frame) -> dg.Output:
        import pandas as pd

        import bmrs_assets.revenue.method as revenue

        priced_by, ebocf_by = rows_by_day(boalf_with_prices), rows_by_day(ebocf)
        empty = pd.DataFrame(columns=["settlementDate"])
        results = {day: revenue.cashflow_hybrid(priced_by.get(day, empty), ebocf_by.get(day, empty), day)
                   for day in partition_days(context)}
        rows = pd.concat(results.values(), ignore_index=True)
        sources = rows["source"].value_counts().to_dict() if len(rows) else {}
        return dg.Output(_batch(BM_CASHFLOW_HYBRID, results), metadata={
            "input_rows_boalf_with_prices": len(boalf_with_prices), "input_rows_ebocf": len(ebocf),
            "rows_ebocf": int(sources.get("EBOCF", 0)), "rows_estimate": int(sources.get("BOALF_BOD_estimate", 0)),
            "rows_mixed": int(sources.get("mixed", 0)),
            "cashflow_gbp": round(float(rows["cashflow_gbp"].sum()), 2) if len(rows) else 0.0,
            "reconciliation": json_md(revenue.reconciliation(rows).as_dict())})

    @dg.asset(key=UNITS_KEY, ins=ins(BM_UNIT_REVENUE), description=BM_UNIT_REVENUE.description,
              metadata=meta(BM_UNIT_REVENUE), **conventions(BM_UNIT_REVENUE), **common)
    def bm_unit_revenue(context: dg.AssetExecutionContext, bm_cashflow_hybrid: Frame,
                        boalf_with_prices: Frame, costs: Frame, bm_units: Frame,
                        vlp: VlpRevenueResource) -> dg.Output:
        import pandas as pd

        import bmrs_assets.revenue.method as revenue

        hybrid_by, priced_by, reference = rows_by_day(bm_cashflow_hybrid), rows_by_day(boalf_with_prices), vlp.reference()
        prices_by, empty = rows_by_day(costs), pd.DataFrame(columns=["settlementDate"])
        # the snapshots read (the run's days): each day is classified by the one in force on it
        units = bm_units if bm_units is not None and len(bm_units) else None
        results = {day: revenue.bm_unit_revenue(hybrid_by.get(day, empty), day, priced_by.get(day),
                                                prices_by.get(day), csv=reference, bm_units=units)
                   for day in partition_days(context)}
        rows = pd.concat(results.values(), ignore_index=True)
        by_class = rows.groupby("classification")["bm_revenue_gbp"].sum().round(2).to_dict() if len(rows) else {}
        sources = rows["classification_source"].value_counts().to_dict() if len(rows) else {}
        return dg.Output(_batch(BM_UNIT_REVENUE, results), metadata={
            "units": len(rows), "bm_revenue_gbp": round(float(rows["bm_revenue_gbp"].sum()), 2) if len(rows) else 0.0,
            "bm_revenue_gbp_by_class": json_md(by_class),
            "classified_by": json_md({k: int(v) for k, v in sorted(sources.items())}),
            "units_without_capacity": int(rows["capacity_mw"].isna().sum()) if len(rows) else 0,
            "units_without_system_price_value": int(rows["system_price_value_gbp"].isna().sum()) if len(rows) else 0,
            "input_rows_costs": 0 if costs is None else len(costs),
            "input_rows_bm_units": 0 if units is None else len(units), "reference_table": vlp.reference_csv or "none"})

    @dg.asset(key=VLP_KEY, ins=ins(VLP_REVENUE),
              description=VLP_REVENUE.description, metadata=meta(VLP_REVENUE), **conventions(VLP_REVENUE), **common)
    def vlp_revenue(context: dg.AssetExecutionContext, bm_unit_revenue: Frame,
                    vlp: VlpRevenueResource) -> dg.Output:
        import pandas as pd

        import bmrs_assets.revenue.method as revenue

        units_by, costs = rows_by_day(bm_unit_revenue), vlp.costs()
        empty = pd.DataFrame(columns=["settlementDate", "classification"])
        results = {day: revenue.vlp_from_units(units_by.get(day, empty), day, costs) for day in partition_days(context)}
        rows = pd.concat(results.values(), ignore_index=True)
        sources = rows["classification_source"].value_counts().to_dict() if len(rows) else {}
        total = (lambda c: round(float(rows[c].sum()), 2) if len(rows) else 0.0)  # noqa: E731
        return dg.Output(_batch(VLP_REVENUE, results), metadata={
            "vlp_units": len(rows), "gross_revenue_gbp": total("gross_revenue_gbp"),
            "net_revenue_gbp": total("net_revenue_gbp"), "input_rows_bm_unit_revenue": len(bm_unit_revenue),
            "classified_by": json_md({k: int(v) for k, v in sorted(sources.items())}),
            "cost_components": ", ".join(c.name for c in costs) or "none"})

    return [boalf_with_prices, bm_cashflow_hybrid, bm_unit_revenue, vlp_revenue]


# --- checks -----------------------------------------------------------------------------------
def build_revenue_checks(partitions: dg.PartitionsDefinition) -> list[dg.AssetChecksDefinition]:
    @dg.asset_check(asset=PRICED_KEY, name="match_rate", partitions_def=partitions,
                    description=f"Share of rows with accepted energy fully priced from BOD, per day "
                                f"(warns under {MATCH_RATE_WARN_BELOW:.0%}).")
    def match_rate(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> Iterator[CheckEvent]:
        import bmrs_assets.revenue.method as revenue

        days = partition_days(context)
        by_day = rows_by_day(warehouse.get().read(BOALF_WITH_PRICES, days[0], days[-1]))
        results = {}
        for day in days:  # one result per day of the run, so a range run shows each day's own verdict
            if day not in by_day:
                results[day.isoformat()] = dg.AssetCheckResult(
                    passed=True, severity=dg.AssetCheckSeverity.WARN, description=f"{day}: no accepted energy to price",
                    metadata={"rows": 0, "threshold": MATCH_RATE_WARN_BELOW})
                continue
            summary = revenue.match_summary(by_day[day])
            results[day.isoformat()] = dg.AssetCheckResult(
                passed=summary.match_rate >= MATCH_RATE_WARN_BELOW, severity=dg.AssetCheckSeverity.WARN,
                description=f"{day}: {summary.match_rate:.1%} of rows fully priced",
                metadata={"match_rate": summary.match_rate, "energy_match_rate": summary.energy_match_rate,
                          "threshold": MATCH_RATE_WARN_BELOW, "match": json_md(summary.as_dict())})
        yield from evaluations(context, results)

    @dg.asset_check(asset=HYBRID_KEY, name="reconciliation_with_ebocf", partitions_def=partitions,
                    description="The BOALF x BOD estimate against EBOCF where both exist for a unit and period, "
                                f"per day: error distribution (warns when the median relative error exceeds "
                                f"{RECONCILIATION_WARN_ABOVE:.0%}).")
    def reconciliation_with_ebocf(context: dg.AssetCheckExecutionContext,
                                  warehouse: WarehouseResource) -> Iterator[CheckEvent]:
        import bmrs_assets.revenue.method as revenue

        days = partition_days(context)
        by_day = rows_by_day(warehouse.get().read(BM_CASHFLOW_HYBRID, days[0], days[-1]))
        results = {}
        for day in days:
            rec = revenue.reconciliation(by_day[day]) if day in by_day else None
            error = rec.median_abs_pct_error if rec is not None else None
            results[day.isoformat()] = dg.AssetCheckResult(
                passed=error is None or error <= RECONCILIATION_WARN_ABOVE, severity=dg.AssetCheckSeverity.WARN,
                description=f"{day}: " + ("nothing to reconcile" if error is None
                                          else f"median relative error {error:.1%}"),
                metadata={k: (v if v is not None else "n/a") for k, v in rec.as_dict().items()} if rec else {"rows": 0})
        yield from evaluations(context, results)

    return [*(build_unique_key_check(t, partitions) for t in DERIVED.values()), match_rate, reconciliation_with_ebocf]
