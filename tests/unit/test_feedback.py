from datetime import timedelta

import pytest

from handlers import dispatch, feedback
from handlers.scheduling import DispatchPolicy
from tests.unit.factories import at, caregiver, line_travel, request, uow_with


def received():
    uow = uow_with(caregiver("a", home=1))
    dispatch.receive_request(request("r", 1), uow, at(0), DispatchPolicy(), line_travel())
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
