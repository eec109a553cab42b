"""Balancing Mechanism revenue: accepted energy, its price, and the cashflow per unit - pure pandas.

This docstring is the specification of the method; the code is in the modules beside it -
``energy.py`` (accepted energy: the intervals and the exact band integration), ``pricing.py``
(``boalf_with_prices`` rows, the match rate), ``hybrid.py`` (the hybrid cashflow, its
reconciliation), ``classification.py`` (unit classes), ``units.py`` (every unit's revenue) and
``vlp.py`` (VLP revenue) - and their public names are
re-exported here. ``defs/revenue/assets.py`` only wires them into Dagster; which tables each step
reads is declared once, in ``tables.py`` (see ``lineage.py``). Every function takes and returns
plain frames (the rows of the warehouse tables), so each step can be checked by hand.

Accepted energy (BSC Section T acceptance volume)
-------------------------------------------------
A BOALF acceptance ``k`` of a unit is a level profile: MW points joined linearly (each BOALF row
is one segment ``(timeFrom, levelFrom) -> (timeTo, levelTo)``). Its *acceptance volume* at an
instant ``t`` is its level minus the level in force before it: the level of the unit's latest
earlier acceptance whose profile covers ``t`` ("earlier" = ordered by ``acceptanceTime``, then
``acceptanceNumber``), or, where no earlier acceptance covers ``t``, the unit's physical
notification (PN, as the final physical notification FPN). The accepted energy is that
difference integrated over time, in MWh (MW x hours - never a MW difference taken as MWh). The
integration is exact: every level here (BOALF, PN, BOD band widths) is piecewise linear, so time
is cut at every breakpoint of every profile, at every settlement-period boundary and at every
instant where a level crosses a band edge or the previous level, and each piece is a trapezoid.

An acceptance that spans settlement periods is split at the period boundaries: one output row per
(unit, acceptance, settlement period). Periods are those of the Europe/London settlement day
(``settlement.day_window``; 46 or 50 on clock-change days). A settlement day's rows include the
part of an acceptance from the previous day's BOALF that runs past midnight.

Direction and sign conventions
------------------------------
An increase over the previous level is *offer* energy (positive MWh); a decrease is *bid* energy
(negative MWh). One acceptance can have both (e.g. it raises the unit, then takes it below PN).
Cashflows are from the unit's point of view: ``offer price x offer volume`` is paid to the unit
(positive £ for a positive price); ``bid price x bid volume`` with the bid volume negative, so a
positive bid price means the unit pays (negative £) and a negative bid price (e.g. wind giving up
subsidy) means it is paid.

Pricing from BOD bands
----------------------
For a settlement period, the unit's BOD pairs stack into MW bands measured from its PN: offer
pair ``+1`` occupies ``[PN, PN + |level(+1)|]``, ``+2`` the next ``|level(+2)|`` MW above it, and so
on (offers are consumed in ascending positive ``pairId``); bid pair ``-1`` occupies
``[PN - |level(-1)|, PN]``, ``-2`` the band below it, and so on (bids consumed in descending negative
``pairId``). A missing pair has zero width. The energy between the previous level and the new
level is allocated to the bands it passes through (Section T's clamp of both levels to each
band): increases in a band are priced at that pair's ``offer`` price, decreases at its ``bid``
price. So an acceptance moving a unit from +80 MW back down to PN inside offer band +1 is bid
energy priced at pair +1's bid price, and the result never depends on taking "the lowest pairId".

What cannot be priced is kept, never guessed:

* energy beyond the outermost submitted band (BOD does not cover the accepted volume) stays
  unpriced with reason ``beyond_bod_bands`` - it is not priced at the last pair's price;
* a pair whose price for that direction is a sentinel (``|price| >= 9999``, Elexon's "not
  available" marker) leaves the energy in its band unpriced with reason ``sentinel_price`` (the band
  still occupies its MW, so the bands beyond it stay where they are);
* no BOD for the unit and period: reason ``no_bod``;
* no PN where the bands must be placed: reason ``no_pn``; where there is neither an earlier
  acceptance nor PN the volume itself is unknown: the row's volumes and cashflows are null.

Each row carries ``match_status``: ``matched`` (all its energy priced), ``partial`` (some),
``unmatched`` (none, or volume unknown), ``no_volume`` (the acceptance changes nothing in that
period); ``unmatched_reason`` lists the reasons for any unpriced energy; ``pricing_source`` is
``BOD`` where any energy was priced; ``priced_pairs`` breaks the row down by pair and direction.
The match rate of a day is matched rows / rows with volume (``no_volume`` rows excluded).

Units are identified by ``bmUnit`` (the Elexon id) where present; interconnector units have a null
``bmUnit`` and are identified by ``nationalGridBmUnit``. Both columns are kept on every output row.

Hybrid cashflow, every unit's revenue, VLP revenue
--------------------------------------------------
:func:`cashflow_hybrid` gives one row per (unit, settlement period), the unit being its
``nationalGridBmUnit`` (on every BOALF and EBOCF row; ``bmUnit`` is null on some BOALF rows and can
be spelt differently by the two sources). Each side is decided on its own: the offer side is
Elexon's indicative cashflow (EBOCF) where EBOCF has an offer row for that unit and period, else
the BOALF x BOD estimate of its acceptances' offer energy; the bid side likewise - never both for
one side (``offer_source`` / ``bid_source`` say which, ``none`` where neither has anything on that
side; ``source`` is ``EBOCF``, ``BOALF_BOD_estimate`` or ``mixed`` for one side from each). The
row's ``bmUnit`` is the unit's first non-null one of the day, EBOCF's before BOALF's. The estimate
is kept alongside for reconciliation (:func:`reconciliation`).

:func:`bm_unit_revenue` sums the hybrid per unit (its ``nationalGridBmUnit``) and day for every
unit, whatever its class (:func:`classify_units`): volumes, the two sides, the source mix; the
acceptances flagged SO / STOR / deemed split out (their energy and estimated cashflow); the same
energy valued at the period's system prices (offer MWh x SSP + bid MWh x SBP, null when a period
with energy has no prices, never a partial sum); and the revenue per MW of registered capacity
(max of generation and abs(demand) capacity in the BM unit reference), per day and x 365.
:func:`vlp_from_units` is its filter to Virtual Lead Party units, less configured cost components;
nothing about tariffs is built in.
"""

from __future__ import annotations

from bmrs_assets.revenue.classification import (
    ID_RULES,
    REFERENCE_TYPES,
    VLP,
    classify_by_id,
    classify_by_reference,
    classify_units,
    match_reference,
    reference_as_of,
)
from bmrs_assets.revenue.common import VOLUME_TOLERANCE_MWH, unit_key
from bmrs_assets.revenue.energy import BIG_MW, PAIRS, REASONS, SENTINEL_PRICE
from bmrs_assets.revenue.hybrid import HYBRID_COLUMNS, Reconciliation, cashflow_hybrid, reconciliation
from bmrs_assets.revenue.pricing import PRICED_COLUMNS, MatchSummary, match_summary, price_acceptances
from bmrs_assets.revenue.units import DAYS_PER_YEAR, FLAGS, UNIT_REVENUE_COLUMNS, bm_unit_revenue, registered_capacity_mw
from bmrs_assets.revenue.version import METHOD_VERSION
from bmrs_assets.revenue.vlp import VLP_COLUMNS, CostComponent, vlp_from_units, vlp_revenue

__all__ = [
    "BIG_MW",
    "DAYS_PER_YEAR",
    "FLAGS",
    "HYBRID_COLUMNS",
    "ID_RULES",
    "METHOD_VERSION",
    "PAIRS",
    "PRICED_COLUMNS",
    "REASONS",
    "REFERENCE_TYPES",
    "SENTINEL_PRICE",
    "UNIT_REVENUE_COLUMNS",
    "VLP",
    "VLP_COLUMNS",
    "VOLUME_TOLERANCE_MWH",
    "CostComponent",
    "MatchSummary",
    "Reconciliation",
    "bm_unit_revenue",
    "cashflow_hybrid",
    "classify_by_id",
    "classify_by_reference",
    "classify_units",
    "match_reference",
    "match_summary",
    "price_acceptances",
    "reconciliation",
    "reference_as_of",
    "registered_capacity_mw",
    "unit_key",
    "vlp_from_units",
    "vlp_revenue",
]
