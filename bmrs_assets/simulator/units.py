"""The simulator's BM units: the ids every unit dataset shares, and the BM unit reference list.

BOALF, BOD, PN, QPN, MELS, MILS and EBOCF draw their units from :func:`bm_units` and
:data:`INTERCONNECTORS`; :func:`gen_bmunits` (``/reference/bmunits/all``) lists those same units with
Elexon's ``bmUnitType``, plus ``C__`` CfD allocation units that do not trade, one unit whose name
misleads (a ``2__`` unit registered as a VLP's secondary unit) and one trading unit it does not list.
"""

from __future__ import annotations

import random
import zlib
from datetime import date

Row = dict[str, object]

INTERCONNECTORS: tuple[tuple[str | None, str], ...] = tuple(
    (None, f"I_{name}") for name in ("IFA-1", "IFA-2", "BRITNED", "NEMO", "NSL", "VIKING", "ELECLINK", "EWIC",
                                     "MOYLE", "GREENLINK", "IFA-3", "NEUCONNECT"))


def rng_for(code: str, day: date, salt: str = "") -> random.Random:
    return random.Random(zlib.crc32(f"{code}|{day.isoformat()}|{salt}".encode()))


def bm_units(n: int) -> list[tuple[str | None, str]]:
    """(bmUnit, nationalGridBmUnit): transmission (``T_``), embedded (``E_``), supplier (``2__``) and VLP (``V__``)."""
    units: list[tuple[str | None, str]] = []
    prefixes = ["T_", "T_", "E_", "2__", "V__", "T_"]
    for i in range(n):
        prefix = prefixes[i % len(prefixes)]
        name = f"SIM{i:03d}-{1 + i % 4}"
        units.append((f"{prefix}{name}", name if prefix in ("T_", "E_") else f"AG-{name}"))
    return units


def unit_type(bm_unit: str | None) -> str:
    """The ``bmUnitType`` settlement data (EBOCF, BOAV, DISPTAV) give a trading unit, by its id's prefix."""
    return "I" if bm_unit is None else {"T_": "T", "E_": "E", "2_": "S", "V_": "V"}[bm_unit[:2]]


# BM unit reference: every unit the other generators use, plus CfD allocation units (``C__``) that do not
# trade. Elexon's bmUnitType per prefix; a few units are deliberately off the naming rule or unlisted.
REFERENCE_TYPES = {"T_": "T", "E_": "E", "2__": "S", "V__": "V", "C__": "S"}
CFD_UNITS: tuple[tuple[str | None, str], ...] = tuple((f"C__SIMCFD{i:03d}", f"CFD-SIM{i:03d}") for i in range(6))
MISLEADING = {"2__SIM003-4": "V"}  # a 2__-named unit whose lead party registered it as a secondary (VLP) unit
UNLISTED = {"V__SIM010-3"}  # in the trading data, not (yet) in the reference: the prefix rule decides
CHANGE = ("T_SIM000-1", date(2025, 6, 1), "SIMP99")  # a change of lead party: snapshots before and after differ


def gen_bmunits(day: date, state: object) -> list[Row]:
    """The current BM unit list on ``day``: ~1,320 units, the same ids as BOALF/BOD/PN/EBOCF use
    (``state``, the settlement run and position, changes nothing in a reference list)."""
    rows: list[Row] = []
    for bm_unit, ng_unit in [*bm_units(1300), *INTERCONNECTORS, *CFD_UNITS]:
        if bm_unit in UNLISTED:
            continue
        rng = rng_for("BM_UNITS", date(2020, 1, 1), ng_unit)  # a unit's attributes do not change by day
        prefix = next((p for p in REFERENCE_TYPES if bm_unit and bm_unit.startswith(p)), None)
        unit_type = "I" if bm_unit is None else MISLEADING.get(bm_unit, REFERENCE_TYPES.get(prefix or "", "M"))
        party = f"SIMP{rng.randint(1, 40):02d}"
        if bm_unit == CHANGE[0] and day >= CHANGE[1]:
            party = CHANGE[2]
        generation = 0.0 if unit_type in ("S", "I") else round(rng.uniform(5, 900), 3)
        rows.append({
            "nationalGridBmUnit": ng_unit, "elexonBmUnit": bm_unit,
            "eic": f"48W0000{ng_unit.replace('-', '').replace('_', '')[:8]:0<8}"[:16],
            "fuelType": None if unit_type in ("S", "V", "I") else rng.choice(("CCGT", "WIND", "NUCLEAR", "PS", "OTHER")),
            "leadPartyName": f"Sim Party {party}", "bmUnitType": unit_type,
            "fpnFlag": unit_type in ("T", "I"), "bmUnitName": f"Simulated {ng_unit}", "leadPartyId": party,
            "demandCapacity": f"{-round(rng.uniform(0, 300), 3):.3f}", "generationCapacity": f"{generation:.3f}",
            "productionOrConsumptionFlag": "P" if generation else "C",
            "transmissionLossFactor": f"{rng.uniform(-0.03, 0.03):.6f}",
            "workingDayCreditAssessmentImportCapability": f"{rng.uniform(0, 300):.3f}",
            "nonWorkingDayCreditAssessmentImportCapability": f"{rng.uniform(0, 300):.3f}",
            "workingDayCreditAssessmentExportCapability": f"{generation:.3f}",
            "nonWorkingDayCreditAssessmentExportCapability": f"{generation:.3f}",
            "creditQualifyingStatus": False, "demandInProductionFlag": False,
            "gspGroupId": None if unit_type in ("T", "I") else f"_{'ABCDEFGHJKLMNP'[rng.randint(0, 13)]}",
            "gspGroupName": None, "interconnectorId": ng_unit[2:] if bm_unit is None else None,
        })
    return rows
