"""Reading the event log (``event_log``): a request's history for ``careline explain``."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import tables


def events_about(session: Session, subject: str) -> list[dict[str, Any]]:
    """Every logged event whose subject is ``subject`` (a request id), in commit
    order, as its CloudEvents envelope."""
    return list(session.execute(select(tables.event_log.c.payload).where(
        tables.event_log.c.subject == subject).order_by(tables.event_log.c.seq)).scalars())
