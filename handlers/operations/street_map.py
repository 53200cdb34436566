"""What the board's street map shows of one service area: the homes of elders with open
requests, and the caregivers, placed by latitude and longitude (WGS-84 degrees).

* An elder's home is one marker however many open requests the elder has; it lists them
  and is an emergency marker when any of them is ``stat`` (FHIR's highest priority, the
  one-key alarm's). Emergencies come first, so they are drawn last and stay on top.
* A caregiver stands where it last checked in today (the home of that visit's elder), else
  at its home base; a caregiver with neither point is left off the map and counted.
* A request whose elder has no coordinates is left off and counted, so the board can say
  how many it could not place instead of silently showing fewer.

Pure: plain data in, plain data out (``db.street_map`` reads it; ``careline.web.street_map``
shows it).
"""

from __future__ import annotations

from dataclasses import dataclass

Point = tuple[float, float]


@dataclass(frozen=True)
class OpenRequest:
    """An open request of the area with its elder's home point (None: not geocoded)."""

    request_id: str
    elder_id: str
    service_type: str
    status: str
    priority: str
    home: Point | None


@dataclass(frozen=True)
class CaregiverPlace:
    """A caregiver with its activity (available, busy, offline), where it last checked in
    today and its home base (either None when unknown)."""

    caregiver_id: str
    activity: str
    checked_in_at: Point | None
    home_base: Point | None


@dataclass(frozen=True)
class Marker:
    """One marker: ``kind`` home or caregiver, ``ident`` the elder or caregiver id; for a home
    the open ``requests`` (emergencies first), for a caregiver ``placed_by`` check_in or home_base."""

    kind: str
    ident: str
    latitude: float
    longitude: float
    emergency: bool = False
    requests: tuple[OpenRequest, ...] = ()
    activity: str = ""
    placed_by: str = "home"


@dataclass(frozen=True)
class StreetMap:
    """What the street map draws: ``markers`` in drawing order, and how many open requests and
    caregivers had no coordinates to place them (counted under the map, never dropped silently)."""

    markers: list[Marker]
    unplaced_requests: int
    unplaced_caregivers: int


def street_map(requests: list[OpenRequest], caregivers: list[CaregiverPlace]) -> StreetMap:
    """The markers of ``requests`` and ``caregivers`` (see the module docstring), in drawing
    order: caregivers, then homes, emergencies last (on top); each group by id."""
    homes: dict[str, list[OpenRequest]] = {}
    for r in requests:
        if r.home is not None:
            homes.setdefault(r.elder_id, []).append(r)
    placed = []
    for elder_id, held in homes.items():
        held.sort(key=lambda r: (r.priority != "stat", r.request_id))
        lat, lon = held[0].home or (0.0, 0.0)
        placed.append(Marker("home", elder_id, lat, lon, held[0].priority == "stat", tuple(held)))
    placed.sort(key=lambda m: (m.emergency, m.ident))
    standing = []
    for c in sorted(caregivers, key=lambda c: c.caregiver_id):
        where, how = (c.checked_in_at, "check_in") if c.checked_in_at else (c.home_base, "home_base")
        if where is not None:
            standing.append(Marker("caregiver", c.caregiver_id, where[0], where[1], activity=c.activity, placed_by=how))
    return StreetMap(
        standing + placed,
        unplaced_requests=sum(r.home is None for r in requests),
        unplaced_caregivers=len(caregivers) - len(standing),
    )
