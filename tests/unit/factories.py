"""Small builders for unit tests: a square street grid of travel minutes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handlers.dispatch.scheduling import MatrixTravelTimes
from handlers.model import Caregiver, CareRequest, Elder

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
AREA = "gulou"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def line_travel(n: int = 6, minutes_per_step: float = 10.0) -> MatrixTravelTimes:
    """Locations 0..n-1 on a line, ``minutes_per_step`` apart; 0 is the home base."""
    return MatrixTravelTimes([[abs(i - j) * minutes_per_step for j in range(n)] for i in range(n)])


def caregiver(
    cid: str, abilities: str = "meal bathing", home: int = 0, start: float = 0, end: float = 600, provider: str = "p1"
) -> Caregiver:
    return Caregiver(cid, provider, AREA, abilities, home, at(start), at(end))


def elder(eid: str, location: int) -> Elder:
    return Elder(eid, AREA, location)


def request(
    rid: str, location: int, start: float = 60, end: float = 120, service: str = "meal", duration: float = 30, **kw
) -> CareRequest:
    return CareRequest(
        rid, f"e{location}", service, duration, at(start), at(end), AREA, at(0), location_index=location, **kw
    )


def uow_with(*caregivers: Caregiver):
    """An in-memory unit of work holding ``caregivers`` and elders e0..e5 at locations 0..5."""
    from handlers.simulation.memory import InMemoryUnitOfWork

    uow = InMemoryUnitOfWork()
    for c in caregivers:
        uow.caregivers.add(c)
    for loc in range(6):
        uow.elders.add(elder(f"e{loc}", loc))
    return uow
