"""Read a recorded day for a what-if replay (``careline whatif``, ``handlers.simulation.whatif``).

The day of an area is its requests whose window opens in ``[start, end)`` (as ``careline plan
--date`` reads a day); each arrived when its first event was logged (``event_log``, the
``received`` status change), and the event log also gives each offer's answer and each
visit's check-in. The register gives the elders, caregivers and providers of the area; the
tables ``offers`` and ``visits`` the day's own outcome.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db import tables
from handlers.model import Caregiver, CareRequest, Elder, Offer, ProviderOrganisation, Visit
from handlers.simulation.whatif import RecordedDay, recorded_answers, recorded_check_ins

_R, _L = tables.care_requests.c, tables.event_log.c


def areas_with_requests(session: Session, start: datetime, end: datetime) -> list[str]:
    """The service areas with a request whose window opens in ``[start, end)``, by id."""
    rows = session.scalars(select(_R.service_area).where(_R.window_start >= start, _R.window_start < end).distinct())
    return sorted(rows)


def read_recorded_day(session: Session, service_area: str, start: datetime, end: datetime) -> RecordedDay:
    """The recorded day of ``service_area`` (its requests whose window opens in ``[start,
    end)``, aware datetimes), loaded and detached from ``session``. Arrivals are in the
    order they were logged; a request with no logged event arrived when it was submitted."""
    requests = list(
        session.scalars(
            select(CareRequest)
            .where(_R.service_area == service_area, _R.window_start >= start, _R.window_start < end)
            .order_by(_R.request_id)
        )
    )
    ids = [r.request_id for r in requests]
    rows = session.execute(
        select(_L.seq, _L.type, _L.subject, _L.time, _L.payload).where(_L.subject.in_(ids)).order_by(_L.seq)
    ).all()
    events: list[dict[str, Any]] = [{"type": r.type, "time": r.time, "data": r.payload["data"]} for r in rows]
    first: dict[str, tuple[int, datetime]] = {}
    for r in rows:
        first.setdefault(r.subject, (r.seq, r.time))
    arrivals = sorted(
        ((first.get(r.request_id, (0, r.submitted_at)), r) for r in requests),
        key=lambda a: (a[0][1], a[0][0]),
    )
    elders = list(session.scalars(select(Elder).where(tables.elders.c.service_area == service_area)))
    caregivers = list(
        session.scalars(
            select(Caregiver)
            .where(tables.caregivers.c.service_area == service_area)
            .order_by(tables.caregivers.c.caregiver_id)
        )
    )
    provider_ids = sorted({c.provider_id for c in caregivers})
    providers = list(
        session.scalars(
            select(ProviderOrganisation).where(tables.provider_organisations.c.provider_id.in_(provider_ids))
        )
    )
    offers = list(session.scalars(select(Offer).where(tables.offers.c.request_id.in_(ids))))
    visits = list(session.scalars(select(Visit).where(tables.visits.c.request_id.in_(ids))))
    session.expunge_all()
    return RecordedDay(
        area=service_area,
        start=start,
        elders=tuple(elders),
        providers=tuple(providers),
        caregivers=tuple(caregivers),
        arrivals=tuple((at, r) for (_, at), r in arrivals),
        answers=recorded_answers(events),
        check_ins=recorded_check_ins(events),
        offers=tuple(offers),
        visits=tuple(visits),
    )


def logged_events(session: Session) -> int:
    """How many events the log holds (0: nothing was recorded)."""
    return session.execute(select(func.count()).select_from(tables.event_log)).scalar_one()
