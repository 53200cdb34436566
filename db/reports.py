"""The monthly provider report's read model: one month's offers, visits,
ratings, complaints and center ratings as the inputs of
``handlers.evaluation.kpis``, and its care requests as those of
``handlers.evaluation.center_kpis`` (``careline.reports`` computes and draws them).

Visits count by planned start, offers by creation time, feedback by the month
of the visit it is about (``feedback.visit_id``), requests by the start of the
time window asked for. A visit's EVV flags are those
stored with it plus the two its times show (``too_early``, ``short_visit``,
recomputed with ``handlers.visits.evv`` for visits checked in by SMS, which
store none), less those an operator's review marked ``corrected``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Row

from db import tables as t
from db.session import engine_for
from handlers.evaluation import kpis as k
from handlers.evaluation.center_kpis import RequestOutcome
from handlers.model import VISIT_SUFFIX, VisitStatus
from handlers.visits import evv
from handlers.visits.evv_review import EvvReview, ReviewOutcome, counted_flag_codes


@dataclass
class MonthData:
    """One month's evaluation inputs; ``skipped`` lists feedback rows not used and why."""

    names: dict[str, str]
    offers: list[k.OfferOutcome] = field(default_factory=list)
    visits: list[k.VisitOutcome] = field(default_factory=list)
    ratings: list[k.Rating] = field(default_factory=list)
    complaints: list[k.Complaint] = field(default_factory=list)
    center: list[k.CenterRating] = field(default_factory=list)
    requests: list[RequestOutcome] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _derived_flags(row: Row, policy: evv.EvvPolicy) -> tuple[str, ...]:
    if row.check_in_at is None:
        return ()
    flags = evv.check_too_early(row.check_in_at, row.planned_start, policy)
    if row.check_out_at is not None:
        planned = (row.planned_end - row.planned_start).total_seconds() / 60.0
        flags += evv.check_short_visit(row.check_in_at, row.check_out_at, planned, policy)
    return tuple(f.code.value for f in flags)


def _feedback(data: MonthData, row: Row) -> None:
    if row.provider_id is None:
        raise ValueError("no visit to attribute it to")
    if row.kind == "rating":
        data.ratings.append(k.Rating(row.provider_id, row.caregiver_id, int(row.rating or 0)))
    elif row.kind == "complaint":
        data.complaints.append(k.Complaint(row.provider_id, row.category or "", row.caregiver_id))
    else:
        raise ValueError(f"unknown kind {row.kind!r}")


def _reviews(conn, visit_ids) -> dict[str, list[EvvReview]]:  # noqa: ANN001 - Connection, a subquery
    """The EVV reviews of the visits ``visit_ids`` selects, per visit."""
    out: dict[str, list[EvvReview]] = {}
    r = t.evv_reviews.c
    for row in conn.execute(select(t.evv_reviews).where(r.visit_id.in_(visit_ids))):
        out.setdefault(row.visit_id, []).append(
            EvvReview(row.visit_id, row.code, ReviewOutcome(row.outcome), row.note, row.operator_id, row.reviewed_at)
        )
    return out


def read_month(database_url: str, start: datetime, end: datetime, policy: evv.EvvPolicy) -> MonthData:
    """The month's offers, visits and feedback as ``handlers.evaluation.kpis`` inputs."""
    v, o, f, c = t.visits, t.offers, t.feedback, t.caregivers
    with engine_for(database_url).connect() as conn:
        data = MonthData(
            {
                r.provider_id: r.name
                for r in conn.execute(select(t.provider_organisations.c.provider_id, t.provider_organisations.c.name))
            }
        )
        for r in conn.execute(
            select(o, c.c.provider_id, v.c.visit_id)
            .join(c, c.c.caregiver_id == o.c.caregiver_id)
            .outerjoin(v, v.c.visit_id == o.c.offer_id + VISIT_SUFFIX)
            .where(o.c.created_at >= start, o.c.created_at < end)
        ):
            data.offers.append(
                k.OfferOutcome(
                    r.provider_id,
                    r.caregiver_id,
                    r.created_at,
                    r.responded_at,
                    k.counted_offer_status(r.status.value, r.visit_id is not None),
                )
            )
        in_month = (v.c.planned_start >= start, v.c.planned_start < end, v.c.status != VisitStatus.CANCELLED)
        reviews = _reviews(conn, select(v.c.visit_id).where(*in_month))
        for r in conn.execute(select(v).where(*in_month)):
            flags = counted_flag_codes(
                r.evv_flags if isinstance(r.evv_flags, list) else None,
                reviews.get(r.visit_id, []),
                _derived_flags(r, policy),
            )
            data.visits.append(
                k.VisitOutcome(
                    r.provider_id,
                    r.caregiver_id,
                    r.planned_start,
                    r.check_in_at,
                    r.lateness_minutes,
                    r.status == VisitStatus.COMPLETED,
                    r.status == VisitStatus.NO_SHOW,
                    flags,
                )
            )
        for r in conn.execute(
            select(t.center_ratings).join(v, v.c.visit_id == t.center_ratings.c.visit_id).where(*in_month)
        ):
            data.center.append(k.CenterRating(r.provider_id, r.information_correct, r.notice_sufficient, r.stars))
        # each feedback counts once, for the visit it was about when received (feedback.visit_id)
        when = func.coalesce(v.c.planned_start, t.care_requests.c.window_start, type_=t.UTCDateTime)
        rows = conn.execute(
            select(f, v.c.provider_id, v.c.caregiver_id)
            .join(t.care_requests, t.care_requests.c.request_id == f.c.request_id)
            .outerjoin(v, v.c.visit_id == f.c.visit_id)
            .where(when >= start, when < end)
        )
        for r in rows:
            try:
                _feedback(data, r)
            except ValueError as exc:
                data.skipped.append(f"feedback {r.feedback_id} ({r.kind}): {exc}")
        data.requests = _requests(conn, start, end)
    return data


def _requests(conn, start: datetime, end: datetime) -> list[RequestOutcome]:  # noqa: ANN001 - Connection
    """The care requests whose time window starts in [start, end), with their emergency
    acknowledgement."""
    r, a = t.care_requests.c, t.emergency_acknowledgements.c
    rows = conn.execute(
        select(t.care_requests, a.acknowledged_at)
        .outerjoin(t.emergency_acknowledgements, a.request_id == r.request_id)
        .where(r.window_start >= start, r.window_start < end)
        .order_by(r.window_start, r.request_id)
    )
    return [
        RequestOutcome(
            row.request_id,
            row.service_type,
            row.priority.value,
            row.service_area,
            row.window_start,
            row.status.value,
            row.received_at or row.submitted_at,
            row.assigned_at,
            row.acknowledged_at,
        )
        for row in rows
    ]
