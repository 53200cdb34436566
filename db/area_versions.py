"""Every transaction that changes a service area's dispatch state raises the area's counter
(``area_versions``), so the worker holding that area in memory (``db.partition_state``) learns
that someone else wrote: an operator reassigning or cancelling, the app cancelling, a register
import, the batch matcher, another worker after a rebalance.

``install()`` hooks every ORM session of the process (``before_flush``): the areas of the
requests, offers, visits, caregivers and elders about to be written get their counter raised in
the same transaction. A session marked ``OWNER`` (the partition owner's own) is left alone:
it raises its areas' counters itself and checks them (``raise_owned``).
"""

from __future__ import annotations

from typing import Iterable

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from db import tables
from handlers.model import Caregiver, CareRequest, Elder, Offer, Visit

#: ``session.info`` key of the partition owner's session
OWNER = "careline.partition_owner"
_installed = False


def areas_of(session: Session, objects: Iterable[object]) -> set[str]:
    """The service areas whose dispatch state ``objects`` (requests, offers, visits, caregivers,
    elders) belong to; an offer's or visit's area is its request's (from the session, or read)."""
    areas: set[str] = set()
    requests: set[str] = set()
    for obj in objects:
        if isinstance(obj, (CareRequest, Caregiver, Elder)):
            areas.add(obj.service_area)
        elif isinstance(obj, (Offer, Visit)):
            requests.add(obj.request_id)
    for rid in requests:
        held = session.identity_map.get(session.identity_key(CareRequest, (rid,)))
        if isinstance(held, CareRequest):
            areas.add(held.service_area)
            continue
        with session.no_autoflush:
            area = session.execute(
                select(tables.care_requests.c.service_area).where(tables.care_requests.c.request_id == rid)
            ).scalar()
        if area is not None:
            areas.add(area)
    return areas


def raise_versions(session: Session, areas: Iterable[str]) -> None:
    """Raise the counters of ``areas`` (those without a counter yet have nothing to tell)."""
    wanted = sorted(set(areas))
    if wanted:
        session.connection().execute(
            update(tables.area_versions)
            .where(tables.area_versions.c.service_area.in_(wanted))
            .values(version=tables.area_versions.c.version + 1)
        )


def _before_flush(session: Session, _context: object, _instances: object) -> None:
    if session.info.get(OWNER):
        return
    changed = [*session.new, *session.dirty, *session.deleted]
    if changed:
        raise_versions(session, areas_of(session, changed))


def install() -> None:
    """Hook every ORM session of this process (idempotent)."""
    global _installed
    if not _installed:
        event.listen(Session, "before_flush", _before_flush)
        _installed = True
