"""A request's history as the dashboard and ``careline explain`` read it: the request, its
logged events (``db.events.events_about``), the notices sent about it with their delivery
status (``db.notices.for_requests``) and the region its service area is placed at, for the
operator's scope check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from db import events, notices
from db.operator_uow import region_of_area
from db.session import Session
from handlers.model import CareRequest


@dataclass(frozen=True)
class RequestHistory:
    """``request`` (``None`` when only events are logged), ``events`` as CloudEvents dicts in log
    order, ``notices`` as plain dicts oldest first, ``region`` the service area's region path
    (``None`` when the area is placed nowhere)."""

    request: CareRequest | None
    events: list[dict[str, Any]]
    notices: list[dict[str, Any]]
    region: str | None


def read_history(session: Session, request_id: str) -> RequestHistory | None:
    """The history of ``request_id``; ``None`` when neither the request nor an event of it is stored."""
    request = session.get(CareRequest, request_id)
    logged = events.events_about(session, request_id)
    if request is None and not logged:
        return None
    area = (
        request.service_area
        if request
        else next(
            (e.get("data", {}).get("service_area") for e in logged if e.get("data", {}).get("service_area")), None
        )
    )
    sent = [dict(row._mapping) for row in notices.for_requests(session, [request_id])]
    return RequestHistory(request, logged, sent, region_of_area(session, area))
