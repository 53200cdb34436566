"""The EVV review page's read model: flagged visits and the latest decisions of a
region. Which flags are still open is decided by ``handlers.visits.evv_review``;
decisions are stored through ``db.operator_uow`` (``evv_reviews_of`` reads them).
"""

from __future__ import annotations

from sqlalchemy import Text, cast, func, select
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from db import tables
from handlers.model import Visit

_R, _V, _E = tables.care_requests.c, tables.visits.c, tables.elders.c


def flagged_visits(session: Session, areas: list[str] | None) -> list[Row]:
    """Visits in ``areas`` (None: all) that carry any EVV flag, oldest planned start first
    (then by visit id), as rows (``Visit``: the visit, ``service_area``: its request's,
    ``elder_name``, ``elder_phone``, ``provider_name``: None when the elder or the
    provider has no row)."""
    flags = func.coalesce(cast(_V.evv_flags, Text), "null")
    stmt = (
        select(
            Visit,
            _R.service_area,
            _E.name.label("elder_name"),
            _E.phone.label("elder_phone"),
            tables.provider_organisations.c.name.label("provider_name"),
        )
        .join(tables.care_requests, _R.request_id == _V.request_id)
        .outerjoin(tables.elders, _E.elder_id == _V.elder_id)
        .outerjoin(tables.provider_organisations, tables.provider_organisations.c.provider_id == _V.provider_id)
        .where(flags.not_in(["null", "[]"]))
        .order_by(_V.planned_start, _V.visit_id)
    )
    return list(session.execute(stmt if areas is None else stmt.where(_R.service_area.in_(areas))))


def recent_reviews(session: Session, areas: list[str] | None, limit: int) -> list[Row]:
    """The latest ``limit`` decisions on visits of requests in ``areas`` (None: all), newest
    first, as rows of every ``evv_reviews`` column (``visit_id``, ``code``, ``outcome``,
    ``note``, ``operator_id``, ``reviewed_at``) plus the visit's ``request_id``,
    ``caregiver_id`` and ``provider_id``."""
    t = tables.evv_reviews.c
    stmt = (
        select(tables.evv_reviews, _V.request_id, _V.caregiver_id, _V.provider_id)
        .join(tables.visits, _V.visit_id == t.visit_id)
        .join(tables.care_requests, _R.request_id == _V.request_id)
        .order_by(t.reviewed_at.desc(), t.visit_id)
        .limit(limit)
    )
    return list(session.execute(stmt if areas is None else stmt.where(_R.service_area.in_(areas))))
