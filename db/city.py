"""Store a city day (``handlers.datasets.city.CityDay``): its service areas, providers, points,
elders and caregivers, as the register keeps them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db import tables
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
        for area, borough in day.areas.items():
            if session.execute(select(areas.service_area).where(areas.service_area == area)).first() is None:
                session.execute(
                    tables.service_areas.insert().values(
                        service_area=area, name=f"New York City: {borough.title()}", shift_end_hard=True
                    )
                )
        index = [add_location(session, point, now) for point in day.points]
        elders = tuple(replace(e, location_index=index[e.location_index or 0]) for e in day.elders)
        caregivers = tuple(replace(c, home_base_index=index[c.home_base_index or 0]) for c in day.caregivers)
        # copies made now: an object built before the mappers started cannot be added
        for group in (tuple(replace(p) for p in day.providers), elders, caregivers):
            session.add_all(group)
            session.flush()
        session.commit()
    return replace(day, elders=elders, caregivers=caregivers)
