"""What the replay driver, the benchmarks and the fault lab read back about a
run: its requests, offers and visits (ids start with the run's id), provider
scores, and how far the outbox has come. Test rigs live in ``tools/``; their
SQL lives here like everyone's."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from db import tables
from db.session import engine_for
from handlers.model import CareRequest, Offer, Visit


def _like(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def run_records(session: Session, prefix: str) -> tuple[list[CareRequest], list[Offer], list[Visit]]:
    """The requests, offers and visits whose request id starts with ``prefix``."""
    like = _like(prefix)
    requests = list(session.scalars(select(CareRequest).where(
        tables.care_requests.c.request_id.like(like, escape="\\"))))
    offers = list(session.scalars(select(Offer).where(tables.offers.c.request_id.like(like, escape="\\"))))
    visits = list(session.scalars(select(Visit).where(tables.visits.c.request_id.like(like, escape="\\"))))
    return requests, offers, visits


def records_of(session: Session, request_ids: list[str]) -> tuple[list[CareRequest], list[Offer], list[Visit]]:
    """The requests ``request_ids``, with their offers and visits."""
    requests = list(session.scalars(select(CareRequest).where(tables.care_requests.c.request_id.in_(request_ids))))
    offers = list(session.scalars(select(Offer).where(tables.offers.c.request_id.in_(request_ids))))
    visits = list(session.scalars(select(Visit).where(tables.visits.c.request_id.in_(request_ids))))
    return requests, offers, visits


def provider_scores(session: Session, prefix: str) -> dict[str, float | None]:
    """provider id -> its current score (0..100, or None) for providers whose id starts with ``prefix``."""
    p = tables.provider_organisations.c
    return dict(session.execute(select(p.provider_id, p.score).where(
        p.provider_id.like(_like(prefix), escape="\\"))).tuples().all())


def outbox_last_seq(database_url: str) -> int:
    """The outbox's highest sequence number (0 when empty)."""
    with engine_for(database_url).connect() as conn:
        return int(conn.execute(select(func.coalesce(func.max(tables.outbox.c.seq), 0))).scalar_one())


def outbox_after(session: Session, seq: int) -> list[Row]:
    """Outbox rows after ``seq``, in order (``seq``, ``topic``, ``key``, ``value``, ``sent_at``)."""
    return list(session.execute(select(tables.outbox).where(tables.outbox.c.seq > seq)
                                .order_by(tables.outbox.c.seq)).all())
