"""Providers rate the center, one visit at a time: the seed's two-way evaluation.

The center scores providers (``handlers.evaluation.kpis``); a provider organisation
answers back for each visit its caregivers did: was the information the
center gave right (address, needs, service), was the notice enough (time
between offer and visit), and optionally 1–5 stars and a comment. The KPI is
``handlers.evaluation.kpis.center_score``; the monthly report reads the stored ratings.

Rules: only the provider whose caregiver did the visit may rate it, only
once the visit is completed, and only once (a second rating is refused, not
merged: the first answer is what the month's report counted). Same contract
as ``handlers.operations.operator_actions``: ``Refused`` with a stable code before
anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from handlers import events as ev
from handlers.evaluation.kpis import CenterRating
from handlers.model import VisitStatus
from handlers.operations.operator_actions import Refused
from handlers.ports import UnitOfWork

#: the longest comment, in characters
COMMENT_MAX_CHARS = 1000


class InvalidCenterRating(ValueError):
    """Answers that cannot be stored; ``field`` names the offending one."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


@dataclass(frozen=True)
class CenterAnswers:
    """A provider's answers about one visit; ``stars`` 1..5 or None, ``comment``
    at most ``COMMENT_MAX_CHARS``. Raises ``InvalidCenterRating`` naming the field."""

    information_correct: bool
    notice_sufficient: bool
    stars: int | None = None
    comment: str | None = None

    def __post_init__(self) -> None:
        for name in ("information_correct", "notice_sufficient"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidCenterRating(name, "must be true or false")
        if self.stars is not None and (isinstance(self.stars, bool) or not 1 <= self.stars <= 5):
            raise InvalidCenterRating("stars", f"must be 1 to 5, got {self.stars}")
        if self.comment is not None and len(self.comment) > COMMENT_MAX_CHARS:
            raise InvalidCenterRating("comment", f"at most {COMMENT_MAX_CHARS} characters")


@dataclass(frozen=True)
class CenterRatingRecord:
    """A stored rating of the center for one visit."""

    visit_id: str
    request_id: str
    provider_id: str
    answers: CenterAnswers
    rated_at: datetime

    def as_kpi_input(self) -> CenterRating:
        """The ``handlers.evaluation.kpis.CenterRating`` the center score is computed from."""
        return CenterRating(
            self.provider_id, self.answers.information_correct, self.answers.notice_sufficient, self.answers.stars
        )


class CenterRatingRepository(Protocol):
    """Providers' ratings of the center by visit id: at most one per visit."""

    def get(self, visit_id: str) -> CenterRatingRecord | None:
        """The visit's rating, or None when it has none yet."""

    def add(self, record: CenterRatingRecord) -> None:
        """Store the visit's rating; its visit and request must already be stored. Raises
        ``Refused("already_rated")`` when the visit has one (the SQL adapter: a concurrent rating
        loses on the primary key)."""


class CenterRatingUnitOfWork(UnitOfWork, Protocol):
    """The dispatch unit of work plus the center ratings (``db.center_ratings``)."""

    @property
    def center_ratings(self) -> CenterRatingRepository:
        """Center ratings, read and written in this unit of work's transaction."""


def rate_center(
    request_id: str, provider_id: str, answers: CenterAnswers, uow: CenterRatingUnitOfWork, now: datetime
) -> CenterRatingRecord:
    """Store ``provider_id``'s rating of the center for the visit of ``request_id``.

    Refused: ``unknown_visit`` when the request has no live visit or another
    provider's caregiver holds it (reported alike, so a provider learns
    nothing of others' visits); ``not_completed`` before check-out;
    ``already_rated`` for a second rating. Emits ``care.feedback.center_rating``
    with the answers (no comment)."""
    request = uow.requests.get(request_id)
    visit = uow.visits.for_request(request_id)
    if request is None or visit is None or visit.provider_id != provider_id:
        raise Refused("unknown_visit", "no visit of yours for this request")
    if visit.status != VisitStatus.COMPLETED:
        raise Refused("not_completed", f"only a completed visit can be rated; this one is {visit.status.value}")
    if uow.center_ratings.get(visit.visit_id) is not None:
        raise Refused("already_rated", "this visit was already rated; a rating is given once")
    record = CenterRatingRecord(visit.visit_id, request_id, provider_id, answers, now)
    uow.center_ratings.add(record)
    uow.emit(
        ev.feedback_recorded(
            request,
            now,
            "center_rating",
            visit_id=visit.visit_id,
            provider_id=provider_id,
            information_correct=answers.information_correct,
            notice_sufficient=answers.notice_sufficient,
            stars=answers.stars,
        )
    )
    return record
