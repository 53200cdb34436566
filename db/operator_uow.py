"""The unit of work behind ``handlers.operations.operator_actions.OperatorUnitOfWork``, the
audit log, and the dispatch context of one service area.

``OperatorSqlUnitOfWork`` is ``SqlUnitOfWork`` plus emergency acknowledgements and EVV flag reviews, so an
operator's action commits its state change, events, outbox rows and audit row in one transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db import tables
from db.loose_ends import SqlOutcomes
from db.uow import SqlUnitOfWork
from handlers.operations.alerts import Acknowledgement
from handlers.operations.operator_actions import Refused
from handlers.visits.evv_review import EvvReview, ReviewOutcome


class _Acknowledgements:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, request_id: str) -> Acknowledgement | None:
        t = tables.emergency_acknowledgements
        row = self.session.execute(select(t).where(t.c.request_id == request_id)).first()
        return Acknowledgement(row.request_id, row.operator_id, row.acknowledged_at) if row else None

    def add(self, ack: Acknowledgement) -> None:
        self.session.execute(
            tables.emergency_acknowledgements.insert().values(
                request_id=ack.request_id, operator_id=ack.operator_id, acknowledged_at=ack.acknowledged_at
            )
        )


class _EvvReviews:
    def __init__(self, session: Session) -> None:
        self.session = session

    def for_visit(self, visit_id: str) -> list[EvvReview]:
        return evv_reviews_of(self.session, [visit_id])

    def add(self, review: EvvReview) -> None:
        """Insert now: a concurrent review of the same flag loses on the primary key and
        is refused as ``already_reviewed`` (the caller's unit of work rolls back)."""
        try:
            self.session.execute(
                tables.evv_reviews.insert().values(
                    visit_id=review.visit_id,
                    code=review.code,
                    outcome=review.outcome.value,
                    note=review.note,
                    operator_id=review.operator_id,
                    reviewed_at=review.reviewed_at,
                )
            )
        except IntegrityError:
            raise Refused(
                "already_reviewed", f"the {review.code} flag of {review.visit_id} is already reviewed"
            ) from None


def evv_reviews_of(session: Session, visit_ids: list[str]) -> list[EvvReview]:
    """The stored reviews of these visits, oldest first."""
    if not visit_ids:
        return []
    t = tables.evv_reviews.c
    rows = session.execute(select(tables.evv_reviews).where(t.visit_id.in_(visit_ids)).order_by(t.reviewed_at))
    return [EvvReview(r.visit_id, r.code, ReviewOutcome(r.outcome), r.note, r.operator_id, r.reviewed_at) for r in rows]


class OperatorSqlUnitOfWork(SqlUnitOfWork):
    def __enter__(self) -> OperatorSqlUnitOfWork:
        super().__enter__()
        self.acknowledgements = _Acknowledgements(self.session)
        self.evv_reviews = _EvvReviews(self.session)
        self.outcomes = SqlOutcomes(self.session)
        return self

    def audit(
        self,
        operator_id: str,
        action: str,
        target: str,
        at: datetime,
        outcome: str = "done",
        detail: dict | None = None,
        region: str | None = None,
    ) -> None:
        """Append an audit row in this transaction (commit with the change it records)."""
        write_audit(self.session, operator_id, action, target, at, outcome, detail, region)


def write_audit(
    session: Session,
    operator_id: str,
    action: str,
    target: str,
    at: datetime,
    outcome: str = "done",
    detail: dict | None = None,
    region: str | None = None,
) -> None:
    """One ``audit_log`` row: who, action, target, when, outcome, and the region path the
    action touched (None: visible to unscoped auditors only). ``detail`` must hold no
    personal data (ids, codes and reasons only)."""
    session.execute(
        tables.audit_log.insert().values(
            operator_id=operator_id,
            action=action,
            target=target[:200],
            at=at,
            outcome=outcome,
            detail=detail,
            region_path=region,
        )
    )


def audit_rows(session: Session, scope: str, limit: int) -> list:
    """The latest ``limit`` audit rows an auditor scoped to ``scope`` may read: all for ``""``,
    else those whose region lies within ``scope`` (``handlers.operations.regions.within``, segment-wise)."""
    t = tables.audit_log.c
    query = select(tables.audit_log).order_by(t.seq.desc()).limit(limit)
    if scope:
        below = scope.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"
        query = query.where(or_(t.region_path == scope, t.region_path.like(below, escape="\\")))
    return list(session.execute(query).all())


def region_of_area(session: Session, service_area: str | None) -> str | None:
    """The region path a service area is placed at, if any."""
    if service_area is None:
        return None
    t = tables.service_area_regions.c
    return session.execute(select(t.region_path).where(t.service_area == service_area)).scalar_one_or_none()
