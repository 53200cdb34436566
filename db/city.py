"""Store a city day (``handlers.datasets.city.CityDay``): its service areas, providers, points,
elders and caregivers, as the register keeps them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db import register, tables
from db.locations import add_location
from handlers.datasets.city import CityDay


def load_city(factory: sessionmaker[Session], day: CityDay) -> CityDay:
    """Insert the day's areas (travel from coordinates: no matrix; shift ends hard, the
    policy's default), providers, points (``locations``), elders and caregivers in one
    transaction, and return the day with every ``location_index`` / ``home_base_index``
    turned into the stored ``location_id``. Every id carries the day's run id, so a run's
    rows are new (``IntegrityError`` if a run id is reused)."""
    now = datetime.now(UTC)
    with factory() as session:
        areas = tables.service_areas.c
        known = set(session.scalars(select(areas.service_area).where(areas.service_area.in_(list(day.areas)))))
        new = [a for a in day.areas if a not in known]
        if new:
            register.add_service_areas(
                session,
                [
                    {"service_area": a, "name": f"New York City: {day.areas[a].title()}", "shift_end_hard": True}
                    for a in new
                ],
            )
        index = [add_location(session, point, now) for point in day.points]
        elders = tuple(replace(e, location_index=index[_point(e.location_index, e.elder_id)]) for e in day.elders)
        caregivers = tuple(
            replace(c, home_base_index=index[_point(c.home_base_index, c.caregiver_id)]) for c in day.caregivers
        )
        # copies made now: an object built before the mappers started cannot be added
        for group in (tuple(replace(p) for p in day.providers), elders, caregivers):
            session.add_all(group)
            session.flush()
        session.commit()
    return replace(day, elders=elders, caregivers=caregivers)


def _point(index: int | None, who: str) -> int:
    """The day's point index of an elder's home or a caregiver's base; a city day places every
    one (``handlers.datasets.city``), so None is a bug in the build: ``ValueError`` naming ``who``."""
    if index is None:
        raise ValueError(f"{who} has no point in the city day")
    return index
