"""``AreaContexts``: each service area's dispatch context, built one way for the
stream worker, the batch matcher and the dashboard.

An area's context (``handlers.dispatch.area.AreaContext``) is the routing
policy (``config/policy.toml`` with the offer-timeout override and the
exploration share, as the bootstrap loaded it) with the area's own shift rule,
its travel times and its dispatch mode, read from ``service_areas``. Contexts
are cached per area for ``ttl_seconds`` (60 by default), so a change of mode
in the register reaches a running worker within a minute.
"""

from __future__ import annotations

import time
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db import tables
from handlers.dispatch.area import AreaContext
from handlers.dispatch.scheduling import DispatchPolicy, MatrixTravelTimes


class AreaContexts:
    """``get(service_area) -> AreaContext``; an area without a row dispatches
    online with the base policy and no travel matrix."""

    def __init__(self, sessions: sessionmaker[Session], policy: DispatchPolicy, ttl_seconds: float = 60.0) -> None:
        self.sessions, self.policy, self.ttl_seconds = sessions, policy, ttl_seconds
        self._cache: dict[str, tuple[float, AreaContext]] = {}

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
            return AreaContext(self.policy, MatrixTravelTimes([]))
        return AreaContext(
            replace(self.policy, shift_end_hard=bool(row.shift_end_hard)),
            MatrixTravelTimes(row.travel_matrix or []),
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
