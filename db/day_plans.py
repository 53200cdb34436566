"""What a live day plan reads and writes (``careline plan --date``, the timer service's
evening job): the area, its caregivers, the day's known visits, and the stored plan."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Mapping

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from db import tables
from db.timers import subscriptions
from handlers.dispatch.day_plan import KnownVisit, recurring_visits
from handlers.dispatch.planned import PlannedVisit
from handlers.model import FINAL_STATUSES, Caregiver, VisitStatus

_R, _V, _E, _P = tables.care_requests.c, tables.visits.c, tables.elders.c, tables.planned_visits.c


def area_mode(session: Session, service_area: str) -> str | None:
    """The area's ``dispatch_mode``, or None when the register has no such area."""
    a = tables.service_areas.c
    return session.execute(select(a.dispatch_mode).where(a.service_area == service_area)).scalar()


def planned_areas(session: Session) -> list[str]:
    """The areas in ``planned`` mode (those the evening job plans), by id."""
    a = tables.service_areas.c
    return list(session.scalars(select(a.service_area).where(a.dispatch_mode == "planned").order_by(a.service_area)))


def caregivers_of(session: Session, service_area: str) -> list[Caregiver]:
    """The area's active caregivers, by id (loaded; usable after the session closes)."""
    c = tables.caregivers.c
    found = list(
        session.scalars(
            select(Caregiver).where(c.service_area == service_area, c.active.is_(True)).order_by(c.caregiver_id)
        )
    )
    session.expunge_all()
    return found


def known_visits(session: Session, service_area: str, start: datetime, end: datetime) -> list[KnownVisit]:
    """The area's visits known before the day ``[start, end)`` (aware): requests stored and
    not final whose window opens in it (an accepted one with its caregiver and start),
    then those active recurring services of the area's elders will submit (not yet stored)."""
    final = list(FINAL_STATUSES)
    rows = session.execute(
        select(_R.request_id, _R.elder_id, _R.service_type, _R.duration_minutes, _R.window_start, _R.window_end)
        .add_columns(_R.location_index, _R.window_at_service_end, _R.sync_partner_id)
        .where(_R.service_area == service_area, _R.window_start >= start, _R.window_start < end)
        .where(_R.status.not_in(final))
        .order_by(_R.window_start, _R.request_id)
    ).all()
    live = [VisitStatus.SCHEDULED, VisitStatus.IN_PROGRESS]
    accepted = {
        r.request_id: (r.caregiver_id, r.planned_start)
        for r in session.execute(
            select(_V.request_id, _V.caregiver_id, _V.planned_start).where(
                _V.request_id.in_([r.request_id for r in rows]), _V.status.in_(live)
            )
        )
    }
    out = [
        KnownVisit(
            r.request_id,
            r.elder_id,
            r.service_type,
            r.duration_minutes,
            r.window_start,
            r.window_end,
            r.location_index,
            bool(r.window_at_service_end),
            "booked",
            r.sync_partner_id,
            *accepted.get(r.request_id, (None, None)),
        )
        for r in rows
    ]
    places: Mapping[str, int | None] = {
        r.elder_id: r.location_index
        for r in session.execute(
            select(_E.elder_id, _E.location_index).where(_E.service_area == service_area, _E.status == "active")
        )
    }
    stored = {v.request_id for v in out}
    days = {start.date(), end.date()}
    for day in sorted(days):
        for v in recurring_visits(subscriptions(session), places, day):
            if v.request_id not in stored and start <= v.window_start < end and not _exists(session, v.request_id):
                out.append(v)
                stored.add(v.request_id)
    return out


def _exists(session: Session, request_id: str) -> bool:
    return session.execute(select(_R.request_id).where(_R.request_id == request_id)).first() is not None


def store_plan(session: Session, request_ids: list[str], plan: Mapping[str, PlannedVisit]) -> None:
    """Replace the planned visits of ``request_ids`` (the day's visits) with ``plan``; not committed."""
    session.execute(tables.planned_visits.delete().where(_P.request_id.in_(request_ids)))
    if plan:
        session.execute(
            tables.planned_visits.insert(),
            [{"request_id": rid, **plan_row(v)} for rid, v in plan.items()],
        )


def plan_row(v: PlannedVisit) -> dict[str, Any]:
    """The ``planned_visits`` columns of a slot, but its request id: the single mapping every
    writer of the plan uses (``store_plan``, the repair's ``replan``, ``db.register``)."""
    return {
        "caregiver_id": v.caregiver_id,
        "planned_start": v.start,
        "planned_end": v.end,
        "location_index": v.location_index,
        "announced_at": v.announced_at,
        "service_type": v.service_type,
        "window_start": v.window_start,
        "latest_start": v.latest_start,
        "window_hard": v.window_hard,
        "synchronised": v.synchronised,
    }


def planned_visit(row: Row[Any]) -> PlannedVisit:
    """A ``planned_visits`` row as the plan's slot; a row stored before migration 0020 has no
    window (None) and so stays put in a repair."""
    return PlannedVisit(
        row.caregiver_id,
        row.planned_start,
        row.planned_end,
        row.location_index,
        row.announced_at,
        service_type=row.service_type,
        window_start=row.window_start,
        latest_start=row.latest_start,
        window_hard=bool(row.window_hard),
        synchronised=bool(row.synchronised),
    )


def plan_of_requests(session: Session, request_ids: Iterable[str]) -> dict[str, PlannedVisit]:
    """The plan's slots of ``request_ids`` (request id -> slot, its window included); requests
    without a row are absent."""
    rows = session.execute(select(tables.planned_visits).where(_P.request_id.in_(list(request_ids)))).all()
    return {r.request_id: planned_visit(r) for r in rows}


def plan_of_caregivers(session: Session, caregiver_ids: Iterable[str]) -> dict[str, PlannedVisit]:
    """Every slot the plan gives ``caregiver_ids`` (request id -> slot, its window included)."""
    rows = session.execute(select(tables.planned_visits).where(_P.caregiver_id.in_(list(caregiver_ids)))).all()
    return {r.request_id: planned_visit(r) for r in rows}


def replan_rows(session: Session, visits: Mapping[str, PlannedVisit]) -> None:
    """Update each request's ``planned_visits`` row in ``session``'s transaction (a repair moved
    it); a request without a row gets one (``plan_row``: the slot with its window). Used by
    ``db.uow.SqlUnitOfWork`` and the partition state's unit of work (``db.partition_state``),
    so both paths write a repair the same way."""
    pv = tables.planned_visits
    for request_id, v in visits.items():
        values = plan_row(v)
        known = session.scalar(select(_P.request_id).where(_P.request_id == request_id))
        if known is None:
            session.execute(pv.insert().values(request_id=request_id, **values))
        else:
            session.execute(pv.update().where(_P.request_id == request_id).values(**values))
