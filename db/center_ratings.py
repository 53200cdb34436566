"""Storage of providers' ratings of the center (``center_ratings``, migration 0010)
and the provider app's list of visits to rate."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db import tables as t
from db.uow import SqlUnitOfWork
from handlers.evaluation.center_ratings import CenterAnswers, CenterRatingRecord
from handlers.model import VisitStatus
from handlers.operations.operator_actions import Refused


def _record(row: Row) -> CenterRatingRecord:
    return CenterRatingRecord(
        row.visit_id,
        row.request_id,
        row.provider_id,
        CenterAnswers(row.information_correct, row.notice_sufficient, row.stars, row.comment),
        row.rated_at,
    )


class SqlCenterRatings:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, visit_id: str) -> CenterRatingRecord | None:
        row = self.session.execute(select(t.center_ratings).where(t.center_ratings.c.visit_id == visit_id)).first()
        return _record(row) if row else None

    def add(self, record: CenterRatingRecord) -> None:
        """Insert now; a concurrent rating of the same visit loses on the primary key
        and is refused as ``already_rated``."""
        a = record.answers
        try:
            self.session.execute(
                t.center_ratings.insert().values(
                    visit_id=record.visit_id,
                    request_id=record.request_id,
                    provider_id=record.provider_id,
                    information_correct=a.information_correct,
                    notice_sufficient=a.notice_sufficient,
                    stars=a.stars,
                    comment=a.comment,
                    rated_at=record.rated_at,
                )
            )
        except IntegrityError:  # the transaction is lost with it; the caller's unit of work rolls back
            raise Refused("already_rated", "this visit was already rated; a rating is given once") from None


class CenterRatingSqlUnitOfWork(SqlUnitOfWork):
    """``SqlUnitOfWork`` plus ``center_ratings`` (``handlers.evaluation.center_ratings.CenterRatingUnitOfWork``)."""

    def __enter__(self) -> CenterRatingSqlUnitOfWork:
        super().__enter__()
        self.center_ratings = SqlCenterRatings(self.session)
        return self


def provider_visits(session: Session, provider_id: str, limit: int = 100) -> list[Row]:
    """The provider's latest completed visits, newest first, with whether the center was
    rated for each: request_id, visit_id, caregiver_id, service_type, planned_start,
    check_out_at, rated (bool). No elder data: the provider's office rates the center."""
    v, c = t.visits.c, t.center_ratings.c
    return list(
        session.execute(
            select(
                v.request_id,
                v.visit_id,
                v.caregiver_id,
                v.service_type,
                v.planned_start,
                v.check_out_at,
                c.visit_id.is_not(None).label("rated"),
            )
            .outerjoin(t.center_ratings, c.visit_id == v.visit_id)
            .where(v.provider_id == provider_id, v.status == VisitStatus.COMPLETED)
            .order_by(v.planned_start.desc(), v.visit_id)
            .limit(limit)
        )
    )
