"""Providers rate the center once per visit their caregiver did, and the center's score follows."""

import pytest

from handlers.dispatch import offers
from handlers.dispatch.scheduling import DispatchPolicy
from handlers.evaluation.center_ratings import CenterAnswers, InvalidCenterRating, rate_center
from handlers.evaluation.kpis import center_score
from handlers.operations.operator_actions import Refused
from handlers.simulation.memory import InMemoryUnitOfWork
from handlers.visits import attendance
from tests.unit.factories import at, caregiver, elder, line_travel, request

TRAVEL = line_travel()
YES_NO = CenterAnswers(information_correct=True, notice_sufficient=False, stars=4, comment="offer came late")


class _Ratings(dict):
    def get(self, visit_id):  # type: ignore[override]  # the repository's signature
        return super().get(visit_id)

    def add(self, record) -> None:
        self[record.visit_id] = record


def center(done: bool = True):
    """Request r of elder e1, accepted by caregiver a of provider p1; checked out when ``done``."""
    uow = InMemoryUnitOfWork()
    uow.center_ratings = _Ratings()
    uow.caregivers.add(caregiver("a", home=1, provider="p1"))
    uow.elders.add(elder("e1", 1))
    offers.receive_request(request("r", 1, start=0, end=60), uow, at(0), DispatchPolicy(), TRAVEL)
    offers.accept_offer("r.o1", "a", uow, at(0), DispatchPolicy(), TRAVEL)
    if done:
        attendance.check_in("r", "a", uow, at(60), TRAVEL)
        attendance.check_out("r", "a", uow, at(90))
    uow.events.clear()
    return uow


def test_the_provider_of_a_completed_visit_rates_the_center_once():
    uow = center()
    record = rate_center("r", "p1", YES_NO, uow, at(120))
    assert (record.visit_id, record.provider_id, record.rated_at) == ("r.o1.v", "p1", at(120))
    with pytest.raises(Refused) as again:
        rate_center("r", "p1", CenterAnswers(True, True), uow, at(121))
    assert again.value.code == "already_rated"
    assert uow.center_ratings.get("r.o1.v").answers == YES_NO  # the first answer stands


def test_the_rating_is_an_event_with_the_answers_but_not_the_comment():
    uow = center()
    rate_center("r", "p1", YES_NO, uow, at(120))
    [event] = uow.events
    assert event.type == "care.feedback.center_rating"
    assert {k: event.payload[k] for k in ("provider_id", "information_correct", "notice_sufficient", "stars")} == {
        "provider_id": "p1",
        "information_correct": True,
        "notice_sufficient": False,
        "stars": 4,
    }
    assert "late" not in str(event.payload)


def test_another_providers_visit_looks_like_no_visit():
    uow = center()
    for request_id, provider in (("r", "p2"), ("nope", "p1")):
        with pytest.raises(Refused) as refused:
            rate_center(request_id, provider, YES_NO, uow, at(120))
        assert refused.value.code == "unknown_visit"
    assert uow.center_ratings == {}


def test_a_visit_not_yet_checked_out_cannot_be_rated():
    with pytest.raises(Refused) as refused:
        rate_center("r", "p1", YES_NO, center(done=False), at(30))
    assert refused.value.code == "not_completed"


@pytest.mark.parametrize(
    "answers, field",
    [
        (dict(information_correct="yes", notice_sufficient=True), "information_correct"),
        (dict(information_correct=True, notice_sufficient=None), "notice_sufficient"),
        (dict(information_correct=True, notice_sufficient=True, stars=6), "stars"),
        (dict(information_correct=True, notice_sufficient=True, stars=0), "stars"),
        (dict(information_correct=True, notice_sufficient=True, comment="x" * 1001), "comment"),
    ],
)
def test_answers_out_of_range_are_refused_naming_the_field(answers, field):
    with pytest.raises(InvalidCenterRating) as bad:
        CenterAnswers(**answers)
    assert bad.value.field == field


def test_stored_ratings_make_the_centers_score_and_mean_stars():
    records = []
    for n, (info, notice, stars) in enumerate(((True, True, 5), (True, False, None), (False, False, 2))):
        uow = center()
        records.append(rate_center("r", "p1", CenterAnswers(info, notice, stars), uow, at(100 + n)))
    score = center_score([r.as_kpi_input() for r in records])
    assert (score.ratings, score.information_right_rate, score.notice_enough_rate) == (3, 2 / 3, 1 / 3)
    assert score.score == pytest.approx(50.0) and score.mean_stars == pytest.approx(3.5)
