from datetime import timedelta

import pytest

from handlers.dispatch import offers
from handlers.dispatch.scheduling import DispatchPolicy
from handlers.evaluation import feedback
from tests.unit.factories import at, caregiver, line_travel, request, uow_with


def received():
    uow = uow_with(caregiver("a", home=1))
    offers.receive_request(request("r", 1), uow, at(0), DispatchPolicy(), line_travel())
    return uow


def test_a_rating_is_stored_once_whatever_how_often_it_arrives():
    uow = received()
    assert feedback.record_feedback("f1", "r", uow, at(90), stars=4)
    assert not feedback.record_feedback("f1", "r", uow, at(91), stars=4)
    assert [(f.kind, f.rating) for f in uow.feedback.values()] == [("rating", 4)]


@pytest.mark.parametrize("kwargs,field", [({"stars": 6}, "stars"), ({"complaint": "smelly"}, "complaint")])
def test_bad_feedback_is_refused_naming_the_field(kwargs, field):
    with pytest.raises(feedback.InvalidFeedback, match=field):
        feedback.record_feedback("f1", "r", received(), at(90), **kwargs)


def test_a_complaint_reopens_the_request_for_an_operator_follow_up_within_a_day():
    uow = received()
    feedback.record_feedback("f2", "r", uow, at(90), complaint="late")
    escalation = [e for e in uow.events if e.type == "care.request.escalated"][-1]
    assert escalation.payload["step"] == "operator_followup"
    [timer] = [e for e in uow.events if e.payload.get("kind") == "followup-deadline"]
    assert timer.payload["due"] == (at(90) + timedelta(hours=24)).isoformat()
    assert feedback.followup_due("r", uow, at(90 + 24 * 60))
    assert "follow-up" in [e for e in uow.events if e.type == "care.operator.alert"][-1].payload["reason"]


def test_feedback_is_about_the_visit_that_came_and_a_complaint_without_one_about_the_no_show():
    """a accepted and did not come (no-show, re-dispatched to b); b came. A rating then is b's;
    a complaint while nobody else had accepted yet is a's (the no-show caregiver)."""
    from handlers.model import VisitStatus
    from handlers.visits import disruptions

    policy, travel = DispatchPolicy(), line_travel()
    uow = uow_with(caregiver("a", home=1), caregiver("b", home=1))
    offers.receive_request(request("r", 1), uow, at(0), policy, travel)
    [first] = [o for o in uow.offers.values() if o.status == "pending"]
    offers.accept_offer(first.offer_id, first.caregiver_id, uow, at(1), policy, travel)
    disruptions.missed_check_in(f"{first.offer_id}.v", uow, at(75), policy, travel)
    feedback.record_feedback("f-early", "r", uow, at(76), complaint="no-show")
    [second] = [o for o in uow.offers.values() if o.status == "pending"]
    offers.accept_offer(second.offer_id, second.caregiver_id, uow, at(77), policy, travel)
    feedback.record_feedback("f-late", "r", uow, at(200), stars=5)

    by_id = {f.feedback_id: f for f in uow.feedback.values()}
    assert uow.visits.get(by_id["f-early.complaint"].visit_id).status == VisitStatus.NO_SHOW
    assert uow.visits.get(by_id["f-early.complaint"].visit_id).caregiver_id == first.caregiver_id
    assert by_id["f-late.rating"].visit_id == f"{second.offer_id}.v"
    people = [
        (e.payload["kind"], e.payload.get("caregiver_id")) for e in uow.events if e.type.startswith("care.feedback.")
    ]
    assert people == [("complaint", first.caregiver_id), ("rating", second.caregiver_id)]
