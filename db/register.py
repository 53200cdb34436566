"""Load a day's register and roster, and set the replay clock."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from db import tables
from db.day_plans import plan_row
from db.session import matched_rows
from handlers.clock import SimClock, wall_clock
from handlers.datasets.day import Day
from handlers.datasets.uhhc import Instance


def load_day(factory: sessionmaker[Session], day: Day, instance: Instance) -> None:
    """Insert the service area (with the travel matrix), providers, elders and
    caregivers of ``day``; rows that exist are left as they are."""
    with factory() as session:
        if (
            session.execute(
                select(tables.service_areas.c.service_area).where(tables.service_areas.c.service_area == day.area)
            ).first()
            is None
        ):
            session.execute(
                tables.service_areas.insert().values(
                    service_area=day.area,
                    name=f"UHHC {instance.name}",
                    travel_matrix=[list(r) for r in instance.distances],
                    shift_end_hard=instance.shift_end_hard,
                )
            )
        for group in (day.providers, day.elders, day.caregivers):
            for obj in group:
                # not session.merge: it copies every mapped attribute onto an existing row, so a
                # second load (the replay driver loads the day the fault lab already loaded)
                # blanked the phones the lab had given the caregivers, and no offer was texted
                if session.get(type(obj), inspect(type(obj)).primary_key_from_instance(obj)) is None:
                    session.add(obj)
            session.flush()
        session.commit()


def set_dispatch_mode(
    factory: sessionmaker[Session],
    service_area: str,
    mode: str,
    plan: dict | None = None,
    batch_interval_seconds: float = 60.0,
) -> None:
    """How the area's requests are first offered (online, batched, planned);
    ``plan`` (request id -> ``handlers.dispatch.planning.PlannedVisit``) is stored for planned."""
    with factory() as session:
        session.execute(
            tables.service_areas.update()
            .where(tables.service_areas.c.service_area == service_area)
            .values(dispatch_mode=mode, batch_interval_seconds=batch_interval_seconds)
        )
        for request_id, v in (plan or {}).items():
            session.execute(tables.planned_visits.delete().where(tables.planned_visits.c.request_id == request_id))
            session.execute(tables.planned_visits.insert().values(request_id=request_id, **plan_row(v)))
        session.commit()


def set_clock(factory: sessionmaker[Session], clock: SimClock) -> None:
    """Make every component read ``clock`` (one row, replaced)."""
    with factory() as session:
        session.execute(delete(tables.sim_clock))
        session.execute(
            tables.sim_clock.insert().values(
                clock_id=1, wall_origin=clock.wall_origin, sim_origin=clock.sim_origin, speed=clock.speed
            )
        )
        session.commit()


def read_clock(session: Session) -> SimClock:
    """The clock every component reads: the replay clock when one is set
    (``set_clock``), else the wall clock (speed 1)."""
    row = session.execute(select(tables.sim_clock).where(tables.sim_clock.c.clock_id == 1)).first()
    return SimClock(row.wall_origin, row.sim_origin, row.speed) if row else wall_clock()


def clear_clock(factory: sessionmaker[Session]) -> bool:
    """Remove the replay clock: every component reads the wall clock again. True if one was set."""
    with factory() as session:
        removed = matched_rows(session.execute(delete(tables.sim_clock)))
        session.commit()
    return bool(removed)


def hold_clock(factory: sessionmaker[Session]) -> SimClock:
    """Slow the replay clock to real time (speed 1) where it stands now, and return it: what a
    replay leaves behind, so the services still running read the replayed day going on at
    the pace of the wall clock instead of racing ahead at the replay's speed. A database
    without a replay clock keeps none."""
    with factory() as session:
        row = session.execute(select(tables.sim_clock).where(tables.sim_clock.c.clock_id == 1)).first()
        now = read_clock(session).now()
    if row is None:
        return wall_clock()
    held = SimClock(datetime.now(UTC), now, 1.0)
    set_clock(factory, held)
    return held


def add_service_areas(session: Session, areas: list[dict]) -> None:
    """Insert service areas (``service_area``, ``name``, ``travel_matrix`` in minutes,
    ``shift_end_hard``); not committed."""
    session.execute(tables.service_areas.insert(), areas)


def add_elder_address(session: Session, elder_id: str, address: str, neighbourhood: str | None = None) -> None:
    """The elder's street address (given to a caregiver once an offer is accepted); not committed."""
    session.execute(
        tables.elder_addresses.insert().values(elder_id=elder_id, address=address, neighbourhood=neighbourhood)
    )


def area_modes(session: Session) -> list[dict]:
    """Every service area's ``service_area``, ``name``, ``dispatch_mode`` and
    ``batch_interval_seconds`` (seconds), by area id."""
    a = tables.service_areas.c
    rows = session.execute(
        select(a.service_area, a.name, a.dispatch_mode, a.batch_interval_seconds).order_by(a.service_area)
    )
    return [dict(r._mapping) for r in rows]


def change_area_mode(session: Session, service_area: str, mode: str, batch_interval_seconds: float) -> bool:
    """Set how the area's requests are first offered (the register's own change; the
    stored plan is left as it is). False when no such area exists; not committed."""
    a = tables.service_areas.c
    changed = session.execute(
        tables.service_areas.update()
        .where(a.service_area == service_area)
        .values(dispatch_mode=mode, batch_interval_seconds=batch_interval_seconds)
    )
    return bool(matched_rows(changed))
