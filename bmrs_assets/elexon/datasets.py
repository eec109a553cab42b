"""The declarative dataset registry: one entry per Elexon dataset drives everything.

An entry says where the data comes from (endpoint and request strategy, see ``requests.py``),
which columns it has and of what type, which columns identify a row (the natural key used by the
MERGE), which column places a row in a daily partition, and which column orders revisions of the
same key. Assets, Pandera schemas, checks, warehouse tables, the simulator's routes, the OpenAPI
subset and ``docs/datasets.md`` are all generated from it; adding a dataset is adding an entry
here (and its generator in ``simulator/data.py``), nothing else. Reference lists (not settlement-day
data) are declared in ``reference_data.py``, the settlement volumes (BOAV, DISPTAV) in
``settlement_data.py``; both are registered here. The shape of an entry is
:class:`~bmrs_assets.elexon.dataset.Dataset`.
"""

from __future__ import annotations

from datetime import timedelta

from bmrs_assets.core.column_checks import in_range, isin, not_equal_to
from bmrs_assets.core.tables import PERIOD_CHECK, TS, B, Col, D, F, I, J, Origin, PeriodLabel, PeriodRule, S, WriteSemantics
from bmrs_assets.elexon import publication as pub
from bmrs_assets.elexon.dataset import Dataset, IrisMode
from bmrs_assets.elexon.reference_data import BM_UNITS
from bmrs_assets.elexon.requests import Endpoint, PathDate, SettlementDates, SettlementDay, TimeWindow
from bmrs_assets.elexon.settlement_data import BOAV, DISPTAV, PAIR_MEMBERS
from bmrs_assets.quality.rules import Completeness


# --- shared column groups -----------------------------------------------------------------
def _dataset_label(code: str) -> Col:
    return Col("dataset", S, checks=(isin([code]),))


# --- settlement periods against their day and time (``PeriodLabel``, checked in ``core/periods.py``) ---
# startTime is the period's start (real DISEBSP, MID, FUELHH, INDGEN samples); timeFrom is a point of a
# level profile anywhere in the period (real PN sample: 10:59 in the period 10:30-11:00 UTC).
AT_START = PeriodLabel("settlementPeriod", "startTime", PeriodRule.START)
FROM_WITHIN = PeriodLabel("settlementPeriod", "timeFrom", PeriodRule.WITHIN)
ON_ITS_DAY = PeriodLabel("settlementPeriod")  # no time column: the period must exist on its day


# --- the registry -------------------------------------------------------------------------
BOALF = Dataset(
    code="BOALF",
    description="Bid-offer acceptance levels (flagged): one row per acceptance level segment.",
    path="/datasets/BOALF/stream",
    request=SettlementDay(time_field="timeFrom", period_field="settlementPeriodFrom"),
    also_at=(Endpoint("/datasets/BOALF"),),
    spec_schema="Insights.Api.Models.Responses.Balancing.DatasetRows.BidOfferAcceptanceLevelDatasetResponse",
    columns=(
        _dataset_label("BOALF"),
        Col("settlementDate", D, nullable=False),
        Col("settlementPeriodFrom", I, nullable=False, checks=(PERIOD_CHECK,)),
        Col("settlementPeriodTo", I, nullable=False, checks=(PERIOD_CHECK,)),
        Col("timeFrom", TS, nullable=False),
        Col("timeTo", TS, nullable=False),
        Col("levelFrom", I, nullable=False),
        Col("levelTo", I, nullable=False),
        Col("acceptanceNumber", I, nullable=False),
        Col("acceptanceTime", TS, nullable=False),
        Col("deemedBoFlag", B, nullable=False),
        Col("soFlag", B, nullable=False),
        Col("amendmentFlag", S),
        Col("storFlag", B, nullable=False),
        Col("rrFlag", B),
        Col("nationalGridBmUnit", S),
        Col("bmUnit", S),
    ),
    key=("bmUnit", "nationalGridBmUnit", "acceptanceNumber", "settlementDate", "timeFrom", "timeTo"),  # see UNIT_PERIOD_KEY
    partition_column="settlementDate",
    semantics=WriteSemantics.CURRENT_STATE,
    semantics_why=pub.BOALF,
    rows_per_day=19_000,
    revision_column="acceptanceTime",
    # a segment starts anywhere in its period; settlementPeriodTo (the period timeTo falls in, which can
    # be past the day's end) keeps the coarse 1-50 bound only
    period_labels=(PeriodLabel("settlementPeriodFrom", "timeFrom", PeriodRule.WITHIN),),
    completeness=Completeness(median_fraction=0.5),
    freshness=pub.REALTIME_BM,
)

FREQ = Dataset(
    code="FREQ",
    description="System frequency, one spot value every 15 seconds.",
    path="/datasets/FREQ/stream",
    request=TimeWindow("measurementDateTimeFrom", "measurementDateTimeTo", time_field="measurementTime"),
    also_at=(Endpoint("/datasets/FREQ", max_window=timedelta(hours=24)),),  # the spec: 24 h; the stream: none
    spec_schema="Insights.Api.Models.Responses.Misc.DatasetRows.SystemFrequency",
    columns=(
        _dataset_label("FREQ"),
        Col("measurementTime", TS, nullable=False),
        Col("frequency", F, nullable=False, checks=(in_range(45.0, 55.0),)),
    ),
    key=("measurementTime",),
    partition_column="measurementTime",
    semantics=WriteSemantics.KEEP_VERSIONS,
    semantics_why=pub.MEASURED_ONCE,
    rows_per_day=5_760,
    completeness=Completeness(interval=timedelta(seconds=15)),
    freshness=pub.REALTIME_FAST,
)

COSTS = Dataset(
    code="COSTS",
    description="System prices (Elexon DISEBSP): SSP/SBP per settlement period, latest run.",
    path="/balancing/settlement/system-prices/{settlementDate}",
    request=PathDate(),
    spec_schema="Insights.Api.Models.Responses.Balancing.Settlement.SystemPriceResponse",
    columns=(
        Col("settlementDate", D, nullable=False),
        Col("settlementPeriod", I, nullable=False, checks=(PERIOD_CHECK,)),
        Col("startTime", TS, nullable=False),
        Col("createdDateTime", TS, nullable=False),
        Col("systemSellPrice", F, nullable=False),
        Col("systemBuyPrice", F, nullable=False),
        Col("bsadDefaulted", B, nullable=False),
        Col("priceDerivationCode", S),
        Col("reserveScarcityPrice", F),
        Col("netImbalanceVolume", F, nullable=False),
        Col("sellPriceAdjustment", F),
        Col("buyPriceAdjustment", F),
        Col("replacementPrice", F),
        Col("replacementPriceReferenceVolume", F),
        Col("totalAcceptedOfferVolume", F),
        Col("totalAcceptedBidVolume", F),
        Col("totalAdjustmentSellVolume", F),
        Col("totalAdjustmentBuyVolume", F),
        Col("totalSystemTaggedAcceptedOfferVolume", F),
        Col("totalSystemTaggedAcceptedBidVolume", F),
        Col("totalSystemTaggedAdjustmentSellVolume", F),
        Col("totalSystemTaggedAdjustmentBuyVolume", F),
    ),
    key=("settlementDate", "settlementPeriod"),
    partition_column="settlementDate",
    semantics=WriteSemantics.CURRENT_STATE,
    semantics_why=pub.SETTLEMENT_RUN,
    rows_per_day=48,
    revision_column="createdDateTime",
    completeness=Completeness(per_period=1),
    freshness=pub.SETTLEMENT_RUNS,
    period_labels=(AT_START,),
    iris_subject="DISEBSP",  # Elexon's code for system prices; IRIS messages carry it
)

def _physical(code: str, *extra: Col) -> tuple[Col, ...]:
    """Columns of the physical-notification family (PN, QPN, MELS, MILS)."""
    return (
        _dataset_label(code),
        Col("settlementDate", D, nullable=False),
        Col("settlementPeriod", I, nullable=False, checks=(PERIOD_CHECK,)),
        Col("timeFrom", TS, nullable=False),
        Col("timeTo", TS, nullable=False),
        Col("levelFrom", I, nullable=False),
        Col("levelTo", I, nullable=False),
        *extra,
        Col("nationalGridBmUnit", S),
        Col("bmUnit", S),
    )


# bmUnit is null for interconnector units: nationalGridBmUnit is part of every unit key, and keys
# compare null-safely, so those rows neither duplicate nor vanish.
# timeTo is in the key of every level profile: a vertical step is two points at one instant (the spec's
# own examples of BOD, MELS, MILS and QPN have timeTo equal to timeFrom), which timeFrom alone would merge.
UNIT_PERIOD_KEY = ("bmUnit", "nationalGridBmUnit", "settlementDate", "settlementPeriod", "timeFrom", "timeTo")

BOD = Dataset(
    code="BOD",
    description="Bid-offer data: each unit's price/volume pairs per settlement period (negative pairId = bid).",
    path="/datasets/BOD/stream",
    # ~70 MB a day in one response; ~8 MB each in nine requests of 6 periods
    request=SettlementDay(periods_per_request=6, time_field="timeFrom"),
    also_at=(Endpoint("/datasets/BOD", max_window=timedelta(hours=1)),),  # the plain path caps at 1 h
    spec_schema="Insights.Api.Models.Responses.Balancing.DatasetRows.BidOfferDatasetResponse",
    columns=(
        _dataset_label("BOD"),
        Col("settlementDate", D, nullable=False),
        Col("settlementPeriod", I, nullable=False, checks=(PERIOD_CHECK,)),
        Col("timeFrom", TS, nullable=False),
        Col("levelFrom", I, nullable=False),
        Col("timeTo", TS, nullable=False),
        Col("levelTo", I, nullable=False),
        Col("pairId", I, nullable=False, checks=(in_range(-6, 6), not_equal_to(0))),
        Col("offer", F, nullable=False),
        Col("bid", F, nullable=False),
        Col("nationalGridBmUnit", S),
        Col("bmUnit", S),
    ),
    key=("bmUnit", "nationalGridBmUnit", "settlementDate", "settlementPeriod", "pairId", "timeFrom", "timeTo"),
    partition_column="settlementDate",
    semantics=WriteSemantics.CURRENT_STATE,
    semantics_why=pub.GATE_CLOSURE,
    rows_per_day=270_000,
    period_labels=(FROM_WITHIN,),  # the real sample starts at the period's start; the spec does not promise it
    completeness=Completeness(median_fraction=0.5),
    freshness=pub.REALTIME_BM,
)

def _physical_dataset(code: str, description: str, spec_schema: str, *extra: Col, **options: object) -> Dataset:
    """A dataset of the physical-notification family: one stream per settlement day, unit-period key."""
    return Dataset(
        code=code,
        description=description,
        path=f"/datasets/{code}/stream",
        request=SettlementDay(time_field="timeFrom"),
        spec_schema=f"Insights.Api.Models.Responses.Balancing.Physical.DatasetRows.{spec_schema}",
        columns=_physical(code, *extra),
        key=(*UNIT_PERIOD_KEY, *(c.name for c in extra)),
        partition_column="settlementDate",
        semantics=WriteSemantics.CURRENT_STATE,
        semantics_why=options.pop("semantics_why", pub.GATE_CLOSURE),
        freshness=pub.REALTIME_BM,
        period_labels=(FROM_WITHIN,),
        **options,
    )


PN = _physical_dataset(
    "PN", "Physical notifications: each unit's expected level, as MW points per settlement period.",
    "PhysicalNotificationData", rows_per_day=126_000)
QPN = _physical_dataset("QPN", "Quiescent physical notifications.", "PhysicalNotificationData", rows_per_day=15_000)

# MELS/MILS: IRIS sends raw re-declarations, the API the resolved position (different timeFrom/timeTo):
# the table keeps the API's; IRIS messages are validated and kept in the landing store only (IrisMode.LAND).
_NOTIFICATION = (Col("notificationTime", TS, nullable=False), Col("notificationSequence", I, nullable=False))
MELS = _physical_dataset("MELS", "Maximum export limits (resolved position, as the API serves it).",
                         "DeliveryLimitMaxData", *_NOTIFICATION, iris=IrisMode.LAND, rows_per_day=30_000,
                         semantics_why=pub.RESOLVED_POSITION)
MILS = _physical_dataset("MILS", "Maximum import limits (resolved position, as the API serves it).",
                         "DeliveryLimitMaxData", *_NOTIFICATION, iris=IrisMode.LAND, rows_per_day=30_000,
                         semantics_why=pub.RESOLVED_POSITION)

MID = Dataset(
    code="MID",
    description="Market index data: price and volume per settlement period, one row per data provider.",
    path="/datasets/MID/stream",
    request=SettlementDay(time_field="startTime"),
    spec_schema="Insights.Api.Models.Responses.Balancing.DatasetRows.MarketIndexDatasetResponse",
    columns=(
        _dataset_label("MID"),
        Col("startTime", TS, nullable=False),
        Col("dataProvider", S, nullable=False),
        Col("settlementDate", D, nullable=False),
        Col("settlementPeriod", I, nullable=False, checks=(PERIOD_CHECK,)),
        Col("price", F, nullable=False),
        Col("volume", F, nullable=False),
    ),
    key=("dataProvider", "settlementDate", "settlementPeriod"),
    partition_column="settlementDate",
    semantics=WriteSemantics.KEEP_VERSIONS,
    semantics_why=pub.MEASURED_ONCE,
    rows_per_day=96,
    period_labels=(AT_START,),
    completeness=Completeness(per_period=2),
    freshness=pub.REALTIME_BM,
)

def _fuel(code: str, *required: str) -> tuple[Col, ...]:
    """Every field is nullable in the spec; we require those that key, place or order a row."""
    kinds = {"publishTime": TS, "startTime": TS, "settlementDate": D, "settlementPeriod": I, "fuelType": S}
    return (
        _dataset_label(code),
        *(Col(n, k, nullable=n not in required, checks=(PERIOD_CHECK,) if n == "settlementPeriod" else ())
          for n, k in kinds.items()),
        Col("generation", I),
    )


FUELINST = Dataset(
    code="FUELINST",
    description="Generation by fuel type, 5-minute averages (not the down-sampled outturn summary).",
    path="/datasets/FUELINST/stream",
    request=SettlementDates(),
    spec_schema="Insights.Api.Models.Responses.Generation.DatasetRows.AugmentedOutturnData",
    columns=_fuel("FUELINST", "publishTime", "startTime", "settlementDate", "fuelType"),
    key=("startTime", "fuelType"),
    partition_column="settlementDate",
    semantics=WriteSemantics.KEEP_VERSIONS,
    semantics_why=pub.MEASURED_ONCE,
    rows_per_day=5_760,
    revision_column="publishTime",
    period_labels=(PeriodLabel("settlementPeriod", "startTime", PeriodRule.WITHIN),),  # 5-minute readings
    completeness=Completeness(interval=timedelta(minutes=5), group_by="fuelType"),
    freshness=pub.REALTIME_FAST,
)

FUELHH = Dataset(
    code="FUELHH",
    description="Generation by fuel type, half-hourly.",
    path="/datasets/FUELHH/stream",
    request=SettlementDates(),
    spec_schema="Insights.Api.Models.Responses.Generation.DatasetRows.AugmentedOutturnData",
    columns=_fuel("FUELHH", "publishTime", "settlementDate", "settlementPeriod", "fuelType"),
    key=("settlementDate", "settlementPeriod", "fuelType"),
    partition_column="settlementDate",
    semantics=WriteSemantics.KEEP_VERSIONS,
    semantics_why=pub.MEASURED_ONCE,
    rows_per_day=960,
    period_labels=(AT_START,),
    revision_column="publishTime",
    completeness=Completeness(per_period=1, group_by="fuelType"),
    freshness=pub.REALTIME_BM,
)

NETBSAD = Dataset(
    code="NETBSAD",
    description="Net balancing services adjustment data per settlement period.",
    path="/datasets/NETBSAD/stream",
    request=SettlementDay(),
    spec_schema="Insights.Api.Models.Responses.Balancing.DatasetRows.NetBalancingServicesAdjustmentData",
    columns=(
        _dataset_label("NETBSAD"),
        Col("settlementDate", D, nullable=False),
        Col("settlementPeriod", I, nullable=False, checks=(PERIOD_CHECK,)),
        *(Col(n, F, nullable=False) for n in (
            "netBuyPriceCostAdjustmentEnergy", "netBuyPriceVolumeAdjustmentEnergy",
            "netBuyPriceVolumeAdjustmentSystem", "buyPricePriceAdjustment",
            "netSellPriceCostAdjustmentEnergy", "netSellPriceVolumeAdjustmentEnergy",
            "netSellPriceVolumeAdjustmentSystem", "sellPricePriceAdjustment")),
    ),
    key=("settlementDate", "settlementPeriod"),
    partition_column="settlementDate",
    semantics=WriteSemantics.KEEP_VERSIONS,
    semantics_why=pub.ONE_ROW_PER_PERIOD,
    rows_per_day=48,
    period_labels=(ON_ITS_DAY,),
    completeness=Completeness(per_period=1),
    freshness=pub.REALTIME_BM,
)

DISBSAD = Dataset(
    code="DISBSAD",
    description="Disaggregated balancing services adjustment actions (a zero row where a period had none).",
    path="/datasets/DISBSAD/stream",
    request=SettlementDay(),
    spec_schema="Insights.Api.Models.Responses.Balancing.DatasetRows.DisaggregatedBalancingServicesAdjustmentData",
    columns=(
        _dataset_label("DISBSAD"),
        Col("settlementDate", D, nullable=False),
        Col("settlementPeriod", I, nullable=False, checks=(PERIOD_CHECK,)),
        Col("id", I, nullable=False),
        Col("cost", F),
        Col("volume", F, nullable=False),
        Col("soFlag", B, nullable=False),
        Col("storFlag", B, nullable=False),
        Col("partyId", S),
        Col("assetId", S),
        Col("isTendered", B),
        Col("service", S),
    ),
    key=("settlementDate", "settlementPeriod", "id"),
    partition_column="settlementDate",
    semantics=WriteSemantics.CURRENT_STATE,
    semantics_why=pub.DISBSAD,
    rows_per_day=110,
    period_labels=(ON_ITS_DAY,),
    completeness=Completeness(all_periods=True),
    freshness=pub.REALTIME_BM,
)


def _indicated(code: str, value: str) -> tuple[Col, ...]:
    return (
        _dataset_label(code),
        Col(value, I),
        Col("publishTime", TS, nullable=False),
        Col("startTime", TS, nullable=False),
        Col("settlementDate", D, nullable=False),
        Col("settlementPeriod", I, nullable=False, checks=(PERIOD_CHECK,)),
        Col("boundary", S),
    )


# Forecasts: partitioned by the London day they were published; every vintage is kept.
# Publish-time windows are limited to a day (the spec, for INDGEN/INDDEM; observed for REMIT).
PUBLISHED_DAILY = TimeWindow("publishDateTimeFrom", "publishDateTimeTo", time_field="publishTime",
                             max_window=timedelta(days=1))
INDGEN = Dataset(
    code="INDGEN",
    description="Indicated generation forecasts (every published vintage), partitioned by publish day.",
    path="/datasets/INDGEN/stream",
    request=PUBLISHED_DAILY,
    spec_schema="Insights.Api.Models.Responses.IndicatedForecast.DatasetRows.IndicatedGeneration",
    columns=_indicated("INDGEN", "generation"),
    key=("publishTime", "boundary", "settlementDate", "settlementPeriod"),
    partition_column="publishTime",
    semantics=WriteSemantics.KEEP_VERSIONS,
    semantics_why=pub.VINTAGES,
    rows_per_day=30_700,
    period_labels=(AT_START,),  # each row's own settlementDate (not the publish day it is partitioned by)
    completeness=Completeness(median_fraction=0.5),
    freshness=pub.REALTIME_BM,
)

INDDEM = Dataset(
    code="INDDEM",
    description="Indicated demand forecasts (every published vintage; demand is negative), by publish day.",
    path="/datasets/INDDEM/stream",
    request=PUBLISHED_DAILY,
    spec_schema="Insights.Api.Models.Responses.IndicatedForecast.DatasetRows.IndicatedDemand",
    columns=_indicated("INDDEM", "demand"),
    key=("publishTime", "boundary", "settlementDate", "settlementPeriod"),
    partition_column="publishTime",
    semantics=WriteSemantics.KEEP_VERSIONS,
    semantics_why=pub.VINTAGES,
    rows_per_day=30_700,
    period_labels=(AT_START,),  # each row's own settlementDate (not the publish day it is partitioned by)
    completeness=Completeness(median_fraction=0.5),
    freshness=pub.REALTIME_BM,
)

EBOCF = Dataset(
    code="EBOCF",
    description="Indicative period BM unit cashflows (bid and offer sides), latest settlement run.",
    path="/balancing/settlement/indicative/cashflows/all/{bidOffer}/{settlementDate}",
    request=PathDate(variants=({"bidOffer": "bid"}, {"bidOffer": "offer"})),
    flatten=("bidOfferPairCashflows",),
    spec_schema="Insights.Api.Models.Responses.Balancing.Settlement.IndicativeCashflowResponse",
    columns=(
        Col("settlementDate", D, nullable=False),
        Col("settlementPeriod", I, nullable=False, checks=(PERIOD_CHECK,)),
        Col("startTime", TS, nullable=False),
        Col("createdDateTime", TS),
        Col("bmUnit", S),
        Col("bmUnitType", S, nullable=False),
        Col("leadPartyName", S),
        Col("nationalGridBmUnit", S),
        *(Col(f"bidOfferPairCashflows_{p}", F) for p in PAIR_MEMBERS),
        Col("totalCashflow", F, nullable=False),
        Col("bidOffer", S, nullable=False, checks=(isin(["bid", "offer"]),), origin=Origin.PATH),
    ),
    key=("settlementDate", "settlementPeriod", "bmUnit", "nationalGridBmUnit", "bidOffer"),
    partition_column="settlementDate",
    semantics=WriteSemantics.CURRENT_STATE,
    semantics_why=pub.SETTLEMENT_RUN,
    rows_per_day=7_700,
    period_labels=(AT_START,),
    revision_column="createdDateTime",
    completeness=Completeness(median_fraction=0.5),
    freshness=pub.SETTLEMENT_RUNS,
    iris=IrisMode.RAW,  # IRIS rows do not carry the bid/offer side the API path gives: kept as sent, not merged
)

# REMIT: every field optional (messages omit nulls); partitioned by the London day of publishTime.
REMIT = Dataset(
    code="REMIT",
    description="REMIT outage and unavailability messages, every revision, by publish day.",
    path="/datasets/REMIT/stream",
    request=PUBLISHED_DAILY,
    also_at=(Endpoint("/datasets/REMIT", max_window=timedelta(days=1)),),
    spec_schema="Insights.Api.Models.Responses.Transparency.Remit.DatasetRows.RemitMessage",
    columns=(
        _dataset_label("REMIT"),
        Col("mrid", S),
        Col("revisionNumber", I),
        Col("publishTime", TS, nullable=False),
        Col("createdTime", TS),
        *(Col(n, S) for n in ("messageType", "messageHeading", "eventType", "unavailabilityType",
                              "participantId", "registrationCode", "assetId", "assetType",
                              "affectedUnit", "affectedUnitEIC", "affectedArea", "biddingZone",
                              "fuelType")),
        Col("normalCapacity", F),
        Col("availableCapacity", F),
        Col("unavailableCapacity", F),
        Col("eventStatus", S),
        Col("eventStartTime", TS),
        Col("eventEndTime", TS),
        Col("durationUncertainty", S),
        Col("cause", S),
        Col("relatedInformation", S),
        Col("outageProfile", J),
    ),
    key=("mrid", "revisionNumber"),
    partition_column="publishTime",
    semantics=WriteSemantics.KEEP_VERSIONS,
    semantics_why=pub.REMIT,
    rows_per_day=220,
    completeness=Completeness(median_fraction=0.5),
    freshness=pub.REALTIME_BM,
)

REGISTRY: dict[str, Dataset] = {
    ds.code: ds
    for ds in (BOALF, FREQ, COSTS, BOD, PN, QPN, MELS, MILS, MID, FUELINST, FUELHH, NETBSAD, DISBSAD,
               INDGEN, INDDEM, EBOCF, BOAV, DISPTAV, REMIT, BM_UNITS)
}


IRIS_SUBJECTS: dict[str, Dataset] = {ds.elexon_code: ds for ds in REGISTRY.values()}


def get_dataset(code: str) -> Dataset:
    """Look a dataset up by code (case-insensitive); unknown names are refused loudly."""
    ds = REGISTRY.get(str(code).upper())
    if ds is None:
        raise KeyError(f"unknown dataset {code!r}; registered: {', '.join(sorted(REGISTRY))}")
    return ds
