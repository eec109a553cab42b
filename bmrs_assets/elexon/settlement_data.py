"""Registry entries for Elexon's settlement volumes: BOAV (per acceptance) and DISPTAV (per unit-period).

Both are shaped like EBOCF: one path per side (``bidOffer``), the twelve pair volumes of
``pairVolumes`` flattened (``positive<n>`` is BOD pair ``n``, ``negative<n>`` pair ``-n``), each
settlement run restating the day. BOAV is what ``boalf_with_prices``' volumes are reconciled against
(``revenue/volumes.py``, ``docs/revenue.md``). Registered in ``datasets.REGISTRY`` like every entry.
"""

from __future__ import annotations

from bmrs_assets.core.column_checks import isin
from bmrs_assets.core.tables import PERIOD_CHECK, TS, Col, D, F, I, Origin, PeriodLabel, PeriodRule, S, WriteSemantics
from bmrs_assets.elexon import publication as pub
from bmrs_assets.elexon.dataset import Dataset, IrisMode
from bmrs_assets.elexon.requests import PathDate
from bmrs_assets.quality.rules import Completeness

# the members of Elexon's DerivedDataBidOfferPairs object, in the spec's order (EBOCF's cashflows too)
PAIR_MEMBERS = tuple(f"{side}{n}" for n in range(1, 7) for side in ("negative", "positive"))
AT_START = PeriodLabel("settlementPeriod", "startTime", PeriodRule.START)  # startTime is the period's start


def _settlement_volumes(code: str, description: str, path: str, schema: str, middle: tuple[Col, ...],
                        key: tuple[str, ...], rows_per_day: int) -> Dataset:
    """A settlement volume dataset (BOAV, DISPTAV): one path per side like EBOCF, the 12 pair volumes
    flattened, each settlement run restating the day (``createdDateTime`` is the run)."""
    return Dataset(
        code=code,
        description=description,
        path=path,
        request=PathDate(variants=({"bidOffer": "bid"}, {"bidOffer": "offer"})),
        flatten=("pairVolumes",),
        spec_schema=f"Insights.Api.Models.Responses.Balancing.Settlement.{schema}",
        columns=(
            Col("createdDateTime", TS, nullable=False),
            Col("settlementDate", D, nullable=False),
            Col("settlementPeriod", I, nullable=False, checks=(PERIOD_CHECK,)),
            Col("startTime", TS, nullable=False),
            Col("bmUnit", S),
            Col("bmUnitType", S, nullable=False),
            Col("leadPartyName", S),
            Col("nationalGridBmUnit", S),
            *middle,
            Col("totalVolumeAccepted", F),  # MWh, bids negative
            *(Col(f"pairVolumes_{p}", F) for p in PAIR_MEMBERS),  # MWh per pair: positive<n> is pair n, negative<n> pair -n
            Col("bidOffer", S, nullable=False, checks=(isin(["bid", "offer"]),), origin=Origin.PATH),
        ),
        key=key,
        partition_column="settlementDate",
        semantics=WriteSemantics.CURRENT_STATE,
        semantics_why=pub.SETTLEMENT_RUN,
        rows_per_day=rows_per_day,
        period_labels=(AT_START,),
        revision_column="createdDateTime",
        completeness=Completeness(median_fraction=0.5),
        freshness=pub.SETTLEMENT_RUNS,
        iris=IrisMode.RAW,  # as EBOCF: IRIS rows do not carry the bid/offer side the API path gives
    )


# BOAV: Elexon's settlement volume of each acceptance, per pair and settlement period (what the
# boalf_with_prices volumes are reconciled against, see docs/revenue.md).
BOAV = _settlement_volumes(
    "BOAV", "Settlement acceptance volumes per acceptance, bid-offer pair and settlement period (bid and offer "
            "sides), latest settlement run.",
    "/balancing/settlement/acceptance/volumes/all/{bidOffer}/{settlementDate}", "AcceptanceVolumeResponse",
    (Col("acceptanceId", I, nullable=False), Col("acceptanceDuration", S)),
    ("settlementDate", "settlementPeriod", "bmUnit", "nationalGridBmUnit", "acceptanceId", "bidOffer"),
    rows_per_day=14_500)  # both sides: ~4,700 acceptances a day, each with energy in ~3 (period, side) pairs

# DISPTAV: the same volumes summed over a unit's acceptances of each settlement period.
DISPTAV = _settlement_volumes(
    "DISPTAV", "Indicative period BM unit volumes per bid-offer pair and settlement period (bid and offer sides), "
               "latest settlement run.",
    "/balancing/settlement/indicative/volumes/all/{bidOffer}/{settlementDate}", "IndicativeVolumeResponse",
    (Col("dataType", S),),
    ("settlementDate", "settlementPeriod", "bmUnit", "nationalGridBmUnit", "bidOffer"),
    rows_per_day=11_000)  # both sides: the unit-periods with accepted energy
