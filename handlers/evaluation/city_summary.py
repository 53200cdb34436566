"""The measures a city day ends with, from its stored requests, offers and visits.

* requests by final state (open ones under ``__open__``), failure reasons, failures by service
  area and service type (where the contracts leave a gap), and requests by channel;
* time to assign (received -> assigned), p50 and p95 in simulated minutes;
* offers by outcome (TaskRouter's reservation states);
* travel from coordinates: each caregiver's route home base -> visits in check-in order ->
  home base, each leg in minutes by ``handlers.register.geo`` (geodesic × circuity ÷ the
  caregiver's travel-mode speed); total, per visit (the leg into it) p50/p95 and max;
* tardiness: minutes a check-in came after the window's latest on-time start (total, max,
  visits late);
* visits per caregiver: how many caregivers made 0, 1, 2 … visits, and the busiest.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np

from handlers.model import Caregiver, CareRequest, Offer, Visit
from handlers.register.geo import TravelTimes


@dataclass(frozen=True)
class Leg:
    """One leg of a caregiver's route: ``to_request`` None for the way back to the home base;
    ``origin``/``destination`` are location indexes, ``minutes`` the travel time."""

    caregiver_id: str
    origin: int | None
    destination: int | None
    minutes: float
    to_request: str | None


@dataclass(frozen=True)
class CitySummary:
    """See the module docstring; minutes are simulated minutes."""

    requests: int
    by_status: dict[str, int]
    by_channel: dict[str, int]
    failure_reasons: dict[str, int]
    failed_by_area_service: dict[tuple[str, str], int]
    time_to_assign_p50_minutes: float | None
    time_to_assign_p95_minutes: float | None
    offers_by_status: dict[str, int]
    travel_total_minutes: float
    travel_per_visit_p50_minutes: float | None
    travel_per_visit_p95_minutes: float | None
    travel_per_visit_max_minutes: float | None
    tardiness_total_minutes: float
    tardiness_max_minutes: float
    visits_late: int
    visits: int
    caregivers: int
    caregivers_by_visits: dict[int, int]
    busiest_caregiver_visits: int
    legs: tuple[Leg, ...]

    @property
    def all_final(self) -> bool:
        """True when no request is left open (``by_status['__open__']`` is 0)."""
        return self.by_status.get("__open__", 0) == 0


def _percentiles(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return float(np.percentile(values, 50)), float(np.percentile(values, 95))


def routes(
    visits: Iterable[Visit], caregivers: Mapping[str, Caregiver], travel: Mapping[str, TravelTimes]
) -> list[Leg]:
    """Every leg of every caregiver's day (checked-in visits only), ``travel[caregiver_id]``
    giving that caregiver's minutes. Raises ``handlers.register.geo.UnknownLocation`` for a
    visit or home base without a point (never 0 minutes)."""
    by_caregiver: dict[str, list[Visit]] = {}
    for v in visits:
        if v.check_in_at is not None:
            by_caregiver.setdefault(v.caregiver_id, []).append(v)
    legs: list[Leg] = []
    for cid, stops in sorted(by_caregiver.items()):
        home = caregivers[cid].home_base_index
        here, minutes = home, travel[cid].minutes
        for v in sorted(stops, key=lambda v: v.check_in_at or v.planned_start):
            legs.append(Leg(cid, here, v.location_index, minutes(here, v.location_index), v.request_id))
            here = v.location_index
        legs.append(Leg(cid, here, home, minutes(here, home), None))
    return legs


def summarise_city(
    requests: list[CareRequest],
    offers: list[Offer],
    visits: list[Visit],
    caregivers: Mapping[str, Caregiver],
    travel: Mapping[str, TravelTimes],
) -> CitySummary:
    """The measures of the module docstring; ``caregivers`` is the whole roster (id ->
    caregiver, those without a visit count as 0), ``travel`` each caregiver's travel times."""
    by_status = Counter(r.status.value if r.status.is_final else "__open__" for r in requests)
    waits = [(r.assigned_at - r.received_at).total_seconds() / 60 for r in requests if r.assigned_at and r.received_at]
    legs = routes(visits, caregivers, travel)
    into = [leg.minutes for leg in legs if leg.to_request is not None]
    window = {r.request_id: r for r in requests}
    late = []
    for v in visits:
        r = window.get(v.request_id)
        if v.check_in_at is not None and r is not None:
            late.append(max(0.0, (v.check_in_at - r.latest_start).total_seconds() / 60))
    done = Counter(v.caregiver_id for v in visits if v.check_in_at is not None)
    per = Counter(done.get(cid, 0) for cid in caregivers)
    p50, p95 = _percentiles(waits)
    t50, t95 = _percentiles(into)
    return CitySummary(
        requests=len(requests),
        by_status=dict(by_status),
        by_channel=dict(Counter(r.channel for r in requests)),
        failure_reasons=dict(Counter(r.status_reason or "unknown" for r in requests if r.status.value == "failed")),
        failed_by_area_service=dict(
            Counter((r.service_area, r.service_type) for r in requests if r.status.value == "failed").most_common()
        ),
        time_to_assign_p50_minutes=p50,
        time_to_assign_p95_minutes=p95,
        offers_by_status=dict(Counter(o.status.value for o in offers)),
        travel_total_minutes=sum(leg.minutes for leg in legs),
        travel_per_visit_p50_minutes=t50,
        travel_per_visit_p95_minutes=t95,
        travel_per_visit_max_minutes=max(into) if into else None,
        tardiness_total_minutes=sum(late),
        tardiness_max_minutes=max(late, default=0.0),
        visits_late=sum(1 for x in late if x > 0),
        visits=len(into),
        caregivers=len(caregivers),
        caregivers_by_visits=dict(sorted(per.items())),
        busiest_caregiver_visits=max(done.values(), default=0),
        legs=tuple(legs),
    )
