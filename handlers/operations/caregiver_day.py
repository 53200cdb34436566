"""A caregiver's day: its visits in order, from the day plan or live, as a list and a route.

A request can be known three ways for one caregiver; the most live one is shown:

1. a visit (``visits``: scheduled, in-progress, completed, no-show, cancelled), made when an
   offer is accepted or an operator assigns;
2. an offer still waiting for the caregiver's answer (TaskRouter's ``pending`` reservation);
   accepted offers are visits already, refused or withdrawn ones are no longer the caregiver's;
3. the day plan (``planned_visits``, ``careline plan``): planned but not yet offered.

Stops are ordered by when they happen: the check-in when there is one, else the planned start.
A stop that still happens or happened (not cancelled, not a no-show) gets the next number; the
route runs from the home base (when known) through the numbered stops that have a point, in
order. Pure: plain data in and out (``db.caregiver_day`` reads it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

Point = tuple[float, float]
#: live before planned: a visit wins over a pending offer, which wins over the plan
_PRECEDENCE = {"visit": 0, "offer": 1, "plan": 2}
#: statuses that take no place on the route
OFF_ROUTE = frozenset({"cancelled", "no-show"})


@dataclass(frozen=True)
class Stop:
    """One request of the day: ``source`` visit, offer or plan; ``status`` the visit's or the
    offer's status, or ``planned``; ``start``/``end`` the planned times (timezone-aware);
    ``home`` the elder's point; ``number`` its place on the route (None: off the route)."""

    request_id: str
    elder_id: str
    service_type: str
    source: str
    status: str
    start: datetime
    end: datetime
    checked_in_at: datetime | None = None
    checked_out_at: datetime | None = None
    home: Point | None = None
    number: int | None = None


def day_of(bookings: list[Stop]) -> list[Stop]:
    """One stop per request (the most live of ``bookings``, see the module docstring),
    in order, numbered."""
    best: dict[str, Stop] = {}
    for b in bookings:
        if b.source == "offer" and b.status != "pending":
            continue
        held = best.get(b.request_id)
        if held is None or _PRECEDENCE[b.source] < _PRECEDENCE[held.source]:
            best[b.request_id] = b
    ordered = sorted(best.values(), key=lambda s: (s.checked_in_at or s.start, s.start, s.request_id))
    numbered, n = [], 0
    for s in ordered:
        if s.status in OFF_ROUTE:
            numbered.append(replace(s, number=None))
        else:
            n += 1
            numbered.append(replace(s, number=n))
    return numbered


def route(stops: list[Stop], home_base: Point | None) -> list[Point]:
    """The points the caregiver goes through: its home base (when known), then each numbered
    stop with a point, in order."""
    points = [s.home for s in stops if s.number is not None and s.home is not None]
    return ([home_base] if home_base is not None else []) + points
