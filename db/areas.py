"""``AreaContexts``: each service area's dispatch context, built one way for the
stream worker, the batch matcher and the dashboard.

An area's context (``handlers.dispatch.area.AreaContext``) is the routing
policy (``config/policy.toml`` with the offer-timeout override and the
exploration share, as the bootstrap loaded it), its travel times and its
dispatch mode, read from ``service_areas``. Contexts are cached per area for
``ttl_seconds`` (60 by default), so a change of mode in the register reaches a
running worker within a minute.

Travel: an area with a travel matrix is a UHHC replay and keeps it (the
benchmark defines travel that way) with the day's own shift rule; every other
area, and an area with no row yet, travels from coordinates: the register's
points (``db.locations.LocationBook``, which finds a point stored after the
context was built) with geodesic distance × circuity ÷ each caregiver's speed
(``handlers.register.geo``), or by road with Valhalla when ``road_network``
names a Valhalla configuration (``adapters.road_network``).
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db import tables
from db.locations import LocationBook
from handlers.dispatch.area import AreaContext
from handlers.dispatch.scheduling import DispatchPolicy, MatrixTravelTimes, TravelTimes
from handlers.register.geo import CoordinateTravelTimes


def coordinate_travel(sessions: sessionmaker[Session], road_network: Path | None = None) -> TravelTimes:
    """Travel from the register's coordinates: by road through Valhalla when ``road_network``
    names its configuration, else geodesic × circuity ÷ speed."""
    points = LocationBook(sessions)
    if road_network is not None:
        from adapters.road_network import ValhallaTravelTimes

        return ValhallaTravelTimes(road_network, points)
    return CoordinateTravelTimes(points)


class AreaContexts:
    """``get(service_area) -> AreaContext``; an area without a row dispatches
    online with the base policy and travel from coordinates."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        policy: DispatchPolicy,
        ttl_seconds: float = 60.0,
        road_network: Path | None = None,
    ) -> None:
        self.sessions, self.policy, self.ttl_seconds = sessions, policy, ttl_seconds
        self.road_network = road_network
        self._cache: dict[str, tuple[float, AreaContext]] = {}
        self._coordinates: TravelTimes | None = None

    @property
    def coordinates(self) -> TravelTimes:
        """The travel times of every area without a matrix (built once per process)."""
        if self._coordinates is None:
            self._coordinates = coordinate_travel(self.sessions, self.road_network)
        return self._coordinates

    def get(self, service_area: str) -> AreaContext:
        """The context of ``service_area``, read at most once per ``ttl_seconds``."""
        cached = self._cache.get(service_area)
        if cached is not None and time.monotonic() - cached[0] < self.ttl_seconds:
            return cached[1]
        with self.sessions() as session:
            context = self.read(session, service_area)
        self._cache[service_area] = (time.monotonic(), context)
        return context

    def read(self, session: Session, service_area: str) -> AreaContext:
        """The context of ``service_area`` read in ``session`` now (uncached)."""
        row = session.execute(
            select(tables.service_areas).where(tables.service_areas.c.service_area == service_area)
        ).first()
        if row is None:
            return AreaContext(self.policy, self.coordinates)
        if row.travel_matrix is None:
            return AreaContext(
                self.policy, self.coordinates, row.dispatch_mode or "online", row.batch_interval_seconds or 60.0
            )
        return AreaContext(
            replace(self.policy, shift_end_hard=bool(row.shift_end_hard)),
            MatrixTravelTimes(row.travel_matrix),
            row.dispatch_mode or "online",
            row.batch_interval_seconds or 60.0,
        )

    def forget(self) -> None:
        """Drop every cached context (tests, and after the register changed an area)."""
        self._cache.clear()


def batched_areas(session: Session) -> list[str]:
    """The service areas whose requests are matched in batches (``dispatch_mode`` ``batched``)."""
    return list(
        session.scalars(
            select(tables.service_areas.c.service_area).where(tables.service_areas.c.dispatch_mode == "batched")
        )
    )
