"""The simulator's REMIT messages (``/datasets/REMIT/stream``): outages published on a day, with revisions."""

from __future__ import annotations

from datetime import date, timedelta

from bmrs_assets.core.settlement import day_window, utc_iso
from bmrs_assets.simulator.units import rng_for

Row = dict[str, object]


def gen_remit(day: date, state: object) -> list[Row]:
    """~250 messages published on ``day``; revisions of long-running outages; optional fields omitted
    (``state``, the settlement run and position, changes nothing)."""
    rng = rng_for("REMIT", day)
    window = day_window(day)
    rows = []
    for i in range(rng.randint(220, 280)):
        asset = rng.randint(0, 400)
        published = window.start + timedelta(seconds=rng.randrange(0, int(window.duration.total_seconds())))
        start = published + timedelta(hours=rng.randint(-48, 240))
        normal = round(rng.uniform(20, 1300), 1)
        available = round(normal * rng.choice([0.0, 0.25, 0.5, 0.75]), 3)
        msg: Row = {
            "dataset": "REMIT", "mrid": f"48X00000000{asset:04d}E-NGET-RMT-{asset * 1000 + rng.randint(0, 999):08d}",
            "revisionNumber": (day - date(2020, 1, 1)).days * 300 + i, "publishTime": utc_iso(published),
            "createdTime": utc_iso(published - timedelta(seconds=rng.randint(5, 600))),
            "messageType": "UnavailabilitiesOfElectricityFacilities",
            "messageHeading": "Actual Availability of Generation Unit",
            "eventType": rng.choice(["Production unavailability", "Transmission unavailability"]),
            "unavailabilityType": rng.choice(["Planned", "Unplanned"]), "participantId": f"PART{asset % 37:02d}",
            "registrationCode": f"48X00000000{asset:04d}E", "assetId": f"T_SIM{asset:03d}-1", "assetType": "Production",
            "affectedUnit": f"SIM{asset:03d}-1", "affectedUnitEIC": f"48W00000SIM{asset:03d}T",
            "biddingZone": "10YGB----------A", "fuelType": rng.choice(["Wind Offshore", "Fossil Gas", "Nuclear", "Biomass"]),
            "normalCapacity": normal, "availableCapacity": available, "unavailableCapacity": round(normal - available, 3),
            "eventStatus": rng.choice(["Active", "Inactive", "Dismissed"]), "eventStartTime": utc_iso(start),
            "eventEndTime": utc_iso(start + timedelta(hours=rng.randint(1, 2000))), "cause": rng.choice(
                ["Ambient Conditions", "Planned Maintenance", "Forced Outage"]),
            "relatedInformation": "Estimated End Date / Time changed",
        }
        if rng.random() < 0.3:
            msg["affectedArea"] = "GB"
            msg["durationUncertainty"] = "+/- 2 days"
        if rng.random() < 0.7:
            msg["outageProfile"] = [{"startTime": msg["eventStartTime"], "endTime": msg["eventEndTime"], "capacity": available}]
        if rng.random() < 0.1:
            for optional in ("eventEndTime", "cause", "relatedInformation", "affectedUnitEIC"):
                msg.pop(optional, None)
        rows.append(msg)
    rows.sort(key=lambda r: r["publishTime"])
    return rows
