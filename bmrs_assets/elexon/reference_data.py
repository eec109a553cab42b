"""Registry entries for Elexon's reference lists: data kept current, not published per settlement day.

``/reference/bmunits/all`` serves the BM units Elexon holds now, with no date parameter and no
history. The entry takes one snapshot a day: partition day D is the day the snapshot was taken
(:class:`~bmrs_assets.elexon.requests.Snapshot` stamps it into ``snapshotDate``), the key is the unit
plus that day, and every day's snapshot is kept, so a change of type, lead party or fuel shows as
the difference between two days' snapshots. Registered in ``datasets.REGISTRY`` like every entry.
"""

from __future__ import annotations

from bmrs_assets.core.tables import B, Col, D, Origin, S, WriteSemantics
from bmrs_assets.elexon import publication as pub
from bmrs_assets.elexon.dataset import Dataset
from bmrs_assets.elexon.requests import Snapshot
from bmrs_assets.quality.rules import Completeness

BM_UNITS = Dataset(
    code="BM_UNITS",
    description="BM unit reference data (type, lead party, fuel type, capacities): one snapshot a day of the "
                "current list.",
    path="/reference/bmunits/all",
    request=Snapshot(stamp="snapshotDate"),
    spec_schema="Insights.Api.Models.Responses.Reference.BmUnitData",
    columns=(
        Col("nationalGridBmUnit", S),
        Col("elexonBmUnit", S),
        Col("eic", S),
        Col("fuelType", S),
        Col("leadPartyName", S),
        Col("bmUnitType", S),
        Col("fpnFlag", B),
        Col("bmUnitName", S),
        Col("leadPartyId", S),
        *(Col(n, S) for n in ("demandCapacity", "generationCapacity", "productionOrConsumptionFlag",
                              "transmissionLossFactor", "workingDayCreditAssessmentImportCapability",
                              "nonWorkingDayCreditAssessmentImportCapability",
                              "workingDayCreditAssessmentExportCapability",
                              "nonWorkingDayCreditAssessmentExportCapability")),
        Col("creditQualifyingStatus", B),
        Col("demandInProductionFlag", B),
        Col("gspGroupId", S),
        Col("gspGroupName", S),
        Col("interconnectorId", S),
        Col("snapshotDate", D, nullable=False, origin=Origin.REQUEST),
    ),
    # elexonBmUnit may be null (interconnectors): nationalGridBmUnit keys it too, compared null-safely
    key=("elexonBmUnit", "nationalGridBmUnit", "snapshotDate"),
    partition_column="snapshotDate",
    semantics=WriteSemantics.KEEP_VERSIONS,
    semantics_why=pub.SNAPSHOTS,
    rows_per_day=3_000,
    completeness=Completeness(median_fraction=0.5),
    freshness=pub.DAILY_SNAPSHOT,
)
