"""The ``live_kpis`` read model (what the worker's live windows hold, for the dashboard), who
the KPIs are about (providers' names, caregivers' employers) in a region's areas, and the
stored events a restarted worker rebuilds those windows from (``stored_events``)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Iterable, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import tables
from db.session import dialect_insert
from handlers.evaluation.kpis import Kpis

_T = tables.live_kpis


def save(
    session: Session,
    rows: Iterable[tuple[str, Kpis, float | None]],
    window_start: datetime,
    window_end: datetime,
    now: datetime,
) -> int:
    """Replace the rows of these (scope, ``Kpis``, score) subjects; returns how many. The caller commits.

    One upsert per subject: while partitions move between workers (a rebalance) two workers can
    write the same subject at once, and a delete-then-insert of each then failed with a unique
    violation that crashed the worker (issue 19's rebalance test)."""
    rows = list(rows)
    for scope, kpis, score in rows:
        values = {
            "window_start": window_start,
            "window_end": window_end,
            "kpis": asdict(kpis),
            "score": score,
            "updated_at": now,
        }
        session.execute(
            dialect_insert(session, _T)
            .values(scope=scope, subject_id=kpis.subject_id, **values)
            .on_conflict_do_update(index_elements=[_T.c.scope, _T.c.subject_id], set_=values)
        )
    return len(rows)


def read(session: Session, scope: str, subject_ids: Iterable[str] | None = None) -> list[dict]:
    """The rows of ``scope`` (``provider`` or ``caregiver``), each a dict of the
    ``Kpis`` fields plus ``score``, ``window_start``, ``window_end``, ``updated_at``;
    providers by score (best first), caregivers by id."""
    stmt = select(_T).where(_T.c.scope == scope)
    if subject_ids is not None:
        stmt = stmt.where(_T.c.subject_id.in_(list(subject_ids)))
    out = [
        {
            **(r.kpis or {}),
            "subject_id": r.subject_id,
            "score": r.score,
            "window_start": r.window_start,
            "window_end": r.window_end,
            "updated_at": r.updated_at,
        }
        for r in session.execute(stmt)
    ]
    if scope == "provider":
        return sorted(out, key=lambda r: (-(r["score"] if r["score"] is not None else -1), r["subject_id"]))
    return sorted(out, key=lambda r: r["subject_id"])


def provider_names(session: Session, areas: list[str] | None) -> dict[str, str]:
    """provider id -> name of the providers serving ``areas`` (None: all)."""
    p = tables.provider_organisations.c
    stmt = select(p.provider_id, p.name)
    return dict(session.execute(stmt if areas is None else stmt.where(p.service_area.in_(areas))).all())


def employers(session: Session, areas: list[str] | None) -> dict[str, str]:
    """caregiver id -> provider id of the caregivers of ``areas`` (None: all)."""
    c = tables.caregivers.c
    stmt = select(c.caregiver_id, c.provider_id)
    return dict(session.execute(stmt if areas is None else stmt.where(c.service_area.in_(areas))).all())


def stored_events(session: Session, topic_names: Iterable[str], since: datetime) -> Iterator[dict]:
    """The CloudEvents careline put on its outbox for ``topic_names`` since ``since`` (wall
    time the row was written; sent or not), oldest first, read 1,000 rows at a time: every
    event the live KPI fold reads comes from there (``streams.live_kpis`` rebuilds its
    windows from them)."""
    o = tables.outbox.c
    rows = session.execute(
        select(o.value)
        .where(o.topic.in_(list(topic_names)), o.created_at >= since)
        .order_by(o.seq)
        .execution_options(yield_per=1000)
    )
    for (value,) in rows:
        if isinstance(value, dict):
            yield value


def set_provider_score(session: Session, provider_id: str, score: float | None) -> None:
    """Store the provider's composite score (0..100, or None) that dispatch ranks by (not committed)."""
    session.execute(
        tables.provider_organisations.update()
        .where(tables.provider_organisations.c.provider_id == provider_id)
        .values(score=score)
    )
