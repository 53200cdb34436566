"""The dashboard's read model: what the board, the statistics and the region-scoped
pages show, read from the database into the plain lists ``handlers.operations.queues``
and ``handlers.operations.alerts`` compute on (as cosmicpython's ``views.py``:
plain queries for pages, outside the domain).

Scoping happens in SQL first (only service areas inside the operator's region
are read) and again in the pure functions. "Now" is the clock every component
reads: the replay clock when one is set, else the wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from db import tables
from db.loose_ends import outcomes_of
from db.regions import area_regions
from db.register import read_clock
from handlers.model import FINAL_STATUSES, Caregiver, CareRequest, Elder, Offer, Priority, RequestStatus, Visit
from handlers.operations.alerts import Acknowledgement
from handlers.operations.queues import Snapshot
from handlers.operations.regions import areas_within, child_regions

#: Closed requests stay in real-time views this long (TaskRouter's task time-to-live, 24 h).
RECENT_SECONDS = 24 * 3600
_R, _O, _V = tables.care_requests.c, tables.offers.c, tables.visits.c


def clock_now(session: Session) -> datetime:
    """The components' "now" (timezone-aware): the replay clock when one is set, else the wall clock."""
    return read_clock(session).now()


def areas_in(session: Session, regions: dict[str, str], region: str) -> list[str] | None:
    """Service areas inside ``region`` (sorted), known from ``service_areas`` and the
    placements ``regions`` (area -> path); None means every area (the root, '')."""
    if region == "":
        return None
    known = set(session.scalars(select(tables.service_areas.c.service_area))) | set(regions)
    return sorted(areas_within(regions, known, region))


@dataclass(frozen=True)
class RegionView:
    """A region-scoped page's frame: the ``region`` path shown, its service ``areas``
    (None: every area) and the ``subregions`` one level below it for the picker."""

    region: str
    areas: list[str] | None
    subregions: list[str]


def region_view(session: Session, region: str) -> RegionView:
    """``RegionView`` of ``region`` (already checked against the operator's scope)."""
    regions = area_regions(session)
    return RegionView(region, areas_in(session, regions, region), child_regions(regions.values(), region))


def _scoped(stmt, column, areas: list[str] | None):  # noqa: ANN001, ANN202
    return stmt if areas is None else stmt.where(column.in_(areas))


def _snapshot(
    session: Session,
    request_filter: ColumnElement[bool],
    regions: dict[str, str],
    areas: list[str] | None,
    extra_offer_filter: ColumnElement[bool] | None = None,
) -> Snapshot:
    ids = _scoped(select(_R.request_id).where(request_filter), _R.service_area, areas)
    if extra_offer_filter is not None:
        ids = ids.union(
            _scoped(
                select(_O.request_id)
                .join(tables.care_requests, _R.request_id == _O.request_id)
                .where(extra_offer_filter),
                _R.service_area,
                areas,
            )
        )
    id_list = list(session.scalars(ids))
    requests = list(session.scalars(select(CareRequest).where(_R.request_id.in_(id_list)))) if id_list else []
    offers = list(session.scalars(select(Offer).where(_O.request_id.in_(id_list)))) if id_list else []
    visits = list(session.scalars(select(Visit).where(_V.request_id.in_(id_list)))) if id_list else []
    caregivers = list(session.scalars(_scoped(select(Caregiver), tables.caregivers.c.service_area, areas)))
    resolved = frozenset(outcomes_of(session, set(id_list)))
    return Snapshot(requests, offers, visits, caregivers, regions, resolved)


def realtime_snapshot(session: Session, region: str, now: datetime) -> Snapshot:
    """A ``Snapshot`` of ``region``: open requests, those closed in the last
    ``RECENT_SECONDS`` (24 h before ``now``) and, whatever their age, failed requests
    and emergencies no operator has closed with an outcome (nothing unresolved leaves
    the board on a timer), with their offers and visits, the caregivers of its areas,
    every area's region path and which requests have an outcome."""
    regions = area_regions(session)
    closed = select(tables.request_outcomes.c.request_id)
    unresolved = ((_R.status == RequestStatus.FAILED) | (_R.priority == Priority.STAT)) & _R.request_id.not_in(closed)
    recent = or_(
        _R.status.not_in(list(FINAL_STATUSES)),
        _R.closed_at >= now - timedelta(seconds=RECENT_SECONDS),
        unresolved,
    )
    return _snapshot(session, recent, regions, areas_in(session, regions, region))


def window_snapshot(session: Session, region: str, start: datetime, end: datetime) -> Snapshot:
    """A ``Snapshot`` of ``region`` with the requests that had anything in ``[start, end)``:
    received, submitted, assigned, closed, or an offer made or answered."""
    regions = area_regions(session)
    touched = or_(*[(c >= start) & (c < end) for c in (_R.received_at, _R.submitted_at, _R.assigned_at, _R.closed_at)])
    offer_touched = or_(
        (_O.created_at >= start) & (_O.created_at < end), (_O.responded_at >= start) & (_O.responded_at < end)
    )
    return _snapshot(session, touched, regions, areas_in(session, regions, region), offer_touched)


def elders_of(session: Session, elder_ids: set[str]) -> dict[str, Elder]:
    """elder id -> ``Elder`` for those of ``elder_ids`` that exist."""
    if not elder_ids:
        return {}
    return {e.elder_id: e for e in session.scalars(select(Elder).where(tables.elders.c.elder_id.in_(elder_ids)))}


def addresses_of(session: Session, elder_ids: set[str]) -> dict[str, str]:
    """elder id -> street address (``elder_addresses``), for those that have one."""
    if not elder_ids:
        return {}
    a = tables.elder_addresses.c
    return {
        r.elder_id: r.address for r in session.execute(select(a.elder_id, a.address).where(a.elder_id.in_(elder_ids)))
    }


def acknowledgements(session: Session, request_ids: set[str]) -> dict[str, Acknowledgement]:
    """request id -> its emergency ``Acknowledgement``, for those of ``request_ids`` acknowledged."""
    t = tables.emergency_acknowledgements.c
    if not request_ids:
        return {}
    rows = session.execute(
        select(t.request_id, t.operator_id, t.acknowledged_at).where(t.request_id.in_(request_ids))
    ).all()
    return {r.request_id: Acknowledgement(r.request_id, r.operator_id, r.acknowledged_at) for r in rows}


def escalation_steps(session: Session, request_ids: set[str]) -> dict[str, str]:
    """request id -> the last ``care.request.escalated`` step the event log holds for it."""
    t = tables.event_log.c
    if not request_ids:
        return {}
    steps: dict[str, str] = {}
    for subject, payload in session.execute(
        select(t.subject, t.payload)
        .where(t.type == "care.request.escalated", t.subject.in_(request_ids))
        .order_by(t.seq)
    ):
        step = (payload.get("data") or {}).get("step") if isinstance(payload, dict) else None
        if step:
            steps[subject] = str(step)
    return steps


def travel_matrix(session: Session, area: str) -> list[list[float]] | None:
    """The area's travel-time matrix (minutes, location index by location index), None if the area has none."""
    return session.execute(
        select(tables.service_areas.c.travel_matrix).where(tables.service_areas.c.service_area == area)
    ).scalar()
