"""Leases: one process holds a named role per database (the timer service), renewing its row.

A lease is a row of ``service_leases``; every change is a compare-and-set on the holder, so
two processes racing for a free or stale lease cannot both win. Whether a holder is still
alive is the caller's rule (``careline.scheduler``); these functions only read and write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db import tables
from db.session import matched_rows

_l = tables.service_leases.c


@dataclass(frozen=True)
class Lease:
    """Who holds role ``name``: ``holder`` (unique per process), its ``host`` and ``pid``, the
    ``broker`` it works with; ``renewed_at`` (UTC) is when it last said it was alive."""

    name: str
    holder: str
    host: str
    pid: int
    broker: str
    acquired_at: datetime
    renewed_at: datetime


def current(session: Session, name: str) -> Lease | None:
    """The lease of ``name`` as stored, fresh or stale; None if nobody holds it."""
    row = session.execute(select(tables.service_leases).where(_l.name == name)).first()
    return None if row is None else Lease(**row._asdict())


def take(session: Session, lease: Lease, replacing: str | None) -> bool:
    """Write ``lease`` if the stored holder is still ``replacing`` (None: no row yet); True if
    written. Commits."""
    values = {k: getattr(lease, k) for k in ("holder", "host", "pid", "broker", "acquired_at", "renewed_at")}
    try:
        if replacing is None:
            session.execute(insert(tables.service_leases).values(name=lease.name, **values))
            written = 1
        else:
            written = matched_rows(
                session.execute(
                    update(tables.service_leases).where(_l.name == lease.name, _l.holder == replacing).values(**values)
                )
            )
        session.commit()
    except IntegrityError:  # another process inserted first
        session.rollback()
        return False
    return written == 1


def renew(session: Session, name: str, holder: str, now: datetime) -> bool:
    """Set ``renewed_at`` to ``now`` if ``holder`` still holds ``name``; False if it lost it. Commits."""
    renewed = matched_rows(
        session.execute(
            update(tables.service_leases).where(_l.name == name, _l.holder == holder).values(renewed_at=now)
        )
    )
    session.commit()
    return renewed == 1


def release(session: Session, name: str, holder: str) -> None:
    """Give ``name`` up if ``holder`` holds it. Commits."""
    session.execute(delete(tables.service_leases).where(_l.name == name, _l.holder == holder))
    session.commit()
