"""Unit classification: the BM unit reference's ``bmUnitType`` where it lists the unit, an operator's CSV
over it, the naming rule as the fallback. See ``method.py`` for the specification."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

# --- unit classification ------------------------------------------------------------------------
# Elexon's BM unit naming (the fallback for a unit the reference does not list): ``V__`` secondary BM
# units of Virtual Lead Parties; ``2__`` Supplier (primary) BM units, base or additional; ``C__``
# additional Supplier BM units registered solely to allocate CfD assets; ``T_`` directly connected;
# ``E_`` embedded; ``I_`` interconnector; anything else (``M_`` miscellaneous included) ``other``.
ID_RULES = (("V__", "vlp"), ("2__", "supplier"), ("C__", "cfd"), ("T_", "transmission"), ("E_", "embedded"),
            ("I_", "interconnector"))
# The reference's bmUnitType (``bmrs/bm_units``) per class; a supplier-type unit named ``C__`` is a CfD unit.
REFERENCE_TYPES = {"V": "vlp", "S": "supplier", "T": "transmission", "E": "embedded", "I": "interconnector",
                   "M": "other"}
CLASSES = ("vlp", "supplier", "transmission", "embedded", "interconnector", "cfd", "other")
VLP = "vlp"


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def classify_by_id(bm_unit: str | None) -> str:
    """The naming rule on the Elexon BM unit id (``ID_RULES``); a null ``bmUnit`` is an interconnector."""
    if _missing(bm_unit):
        return "interconnector"
    for prefix, cls in ID_RULES:
        if str(bm_unit).startswith(prefix):
            return cls
    return "other"


def classify_by_reference(elexon_bm_unit: str | None, bm_unit_type: str | None) -> str | None:
    """The class a reference row gives (``REFERENCE_TYPES``), or None for a type it does not map."""
    cls = None if _missing(bm_unit_type) else REFERENCE_TYPES.get(str(bm_unit_type).strip().upper())
    if cls == "supplier" and not _missing(elexon_bm_unit) and str(elexon_bm_unit).startswith("C__"):
        return "cfd"  # bmUnitType does not tell CfD allocation units from other supplier units; the name does
    return cls


def reference_as_of(bm_units: pd.DataFrame | None, day: date) -> pd.DataFrame | None:
    """Each unit's row in the latest ``bmrs/bm_units`` snapshot on or before ``day`` (the earliest
    snapshot for a day before any was taken: the list is the best there is)."""
    if bm_units is None or not len(bm_units):
        return None
    snaps = pd.to_datetime(bm_units["snapshotDate"]).dt.date
    past = snaps <= day
    chosen = snaps[past].max() if past.any() else snaps.min()
    return bm_units[snaps == chosen]


def match_reference(units: pd.DataFrame, reference: pd.DataFrame | None) -> pd.DataFrame:
    """The reference row listing each unit, aligned with ``units`` (all null where it is unlisted).

    A unit is looked up by ``bmUnit`` (the reference's ``elexonBmUnit``), or by ``nationalGridBmUnit``
    when it has no ``bmUnit`` (interconnectors); the reference's last row for an id wins."""
    if reference is None or not len(reference):
        return pd.DataFrame(index=units.index)
    ref = reference.reset_index(drop=True)
    by_bm, by_ng = {}, {}
    for i, (e, n) in enumerate(zip(ref["elexonBmUnit"], ref["nationalGridBmUnit"], strict=True)):
        if not _missing(e):
            by_bm[str(e)] = i
        elif not _missing(n):
            by_ng[str(n)] = i
    rows = [by_bm.get(str(b), -1) if not _missing(b) else by_ng.get(str(n), -1) if not _missing(n) else -1
            for b, n in zip(units["bmUnit"], units["nationalGridBmUnit"], strict=True)]
    return ref.reindex(rows).set_axis(units.index)


def classify_units(units: pd.DataFrame, reference: pd.DataFrame | None = None,
                   csv: pd.DataFrame | None = None) -> pd.DataFrame:
    """``classification`` and ``classification_source`` for each (bmUnit, nationalGridBmUnit) row.

    In order: an operator's CSV (columns ``bmUnit``, ``classification``) for the units it names
    (``csv``); the BM unit reference (rows of one ``bmrs/bm_units`` snapshot, see
    :func:`match_reference`) for the units it lists with a mapped ``bmUnitType`` (``reference``);
    the naming rule otherwise (``prefix``).
    """
    out = units[["bmUnit", "nationalGridBmUnit"]].copy()
    bm, ng = out["bmUnit"].tolist(), out["nationalGridBmUnit"].tolist()
    classes = [classify_by_id(u) for u in bm]
    sources = ["prefix"] * len(out)
    listed = match_reference(out, reference)
    if len(listed.columns):
        for i, (e, t) in enumerate(zip(listed["elexonBmUnit"], listed["bmUnitType"], strict=True)):
            hit = classify_by_reference(e, t)
            if hit is not None:
                classes[i], sources[i] = hit, "reference"
    if csv is not None and len(csv):
        table = dict(zip(csv["bmUnit"].astype(str).str.strip(),
                         csv["classification"].astype(str).str.strip().str.lower(), strict=True))
        for i, (b, n) in enumerate(zip(bm, ng, strict=True)):
            uid = n if _missing(b) else b
            hit = table.get(uid) if isinstance(uid, str) else None
            if hit is not None:
                classes[i], sources[i] = hit, "csv"
    out["classification"] = classes
    out["classification_source"] = sources
    return out
