"""Where service areas sit in the region hierarchy (``tables.service_area_regions``).

The rules (a path's form, who may place an area where) are
``handlers.operations.regions`` and ``handlers.operations.access``; these
functions only read and write the placements. Writes join the caller's
transaction; the caller commits. ``db.operator_uow.region_of_area`` reads one
area's placement.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from db import tables

_T = tables.service_area_regions


def area_regions(session: Session) -> dict[str, str]:
    """service area -> its region path (``province/city/district/street/community``), for every placed area."""
    return dict(session.execute(select(_T.c.service_area, _T.c.region_path)).all())


def placements(session: Session) -> list[Row]:
    """Every placement as a row (``service_area``, ``region_path``), by region path."""
    return list(session.execute(select(_T).order_by(_T.c.region_path)).all())


def place_area(session: Session, service_area: str, region_path: str) -> None:
    """Put ``service_area`` at ``region_path`` (already normalised and checked), replacing an earlier placement."""
    session.execute(_T.delete().where(_T.c.service_area == service_area))
    session.execute(_T.insert().values(service_area=service_area, region_path=region_path))
