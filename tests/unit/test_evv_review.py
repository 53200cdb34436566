"""An operator decides each EVV flag of a visit: accepted, rejected (not payable) or corrected."""

import pytest

from handlers.dispatch import offers
from handlers.dispatch.scheduling import DispatchPolicy
from handlers.evaluation.kpis import VisitOutcome, evv_compliance_rate
from handlers.operations.access import Role
from handlers.operations.operator_actions import Refused
from handlers.visits import attendance
from handlers.visits.evv_review import (
    ReviewOutcome,
    counted_flag_codes,
    detail_for,
    may_review,
    open_flags,
    raised_at,
    review_flag,
)
from tests.unit.factories import at, caregiver, elder, line_travel, request
from tests.unit.operator_fakes import InMemoryOperatorUnitOfWork

TRAVEL = line_travel()
FAR = {"code": "outside_geofence", "detail": "checked in 212 m from the elder's home (geofence 150 m)"}
EARLY = {"code": "too_early", "detail": "checked in 40 min before the planned start (allowed 15 min)"}
SHORT = {"code": "short_visit", "detail": "visit lasted 5 min of 30 min planned"}


def flagged_visit():
    """Request r, done by caregiver a: checked in far away and early, checked out too soon."""
    uow = InMemoryOperatorUnitOfWork()
    uow.caregivers.add(caregiver("a", home=1))
    uow.elders.add(elder("e1", 1))
    offers.receive_request(request("r", 1, start=0, end=60), uow, at(0), DispatchPolicy(), TRAVEL)
    offers.accept_offer("r.o1", "a", uow, at(0), DispatchPolicy(), TRAVEL)
    attendance.check_in("r", "a", uow, at(5), TRAVEL, [FAR, EARLY], "app_gps")
    attendance.check_out("r", "a", uow, at(10), [SHORT], "app_gps")
    uow.events.clear()
    return uow, uow.visits.for_request("r")


def test_a_reviewed_flag_leaves_the_open_list_and_the_others_stay():
    uow, visit = flagged_visit()
    review_flag(visit.visit_id, "outside_geofence", "accepted", "", uow, at(30), "op")
    assert [f["code"] for f in open_flags(visit, uow.evv_reviews)] == ["too_early", "short_visit"]
    assert [f["code"] for f in visit.evv_flags] == ["outside_geofence", "too_early", "short_visit"]  # kept


def test_the_review_is_an_event_with_the_outcome_and_whether_the_visit_is_payable_but_not_the_note():
    uow, visit = flagged_visit()
    review_flag(visit.visit_id, "short_visit", "rejected", "elder says nobody came in", uow, at(30), "op")
    [event] = uow.events
    assert event.type == "care.visit.evv_reviewed" and event.subject == "r"
    assert {k: event.payload[k] for k in ("code", "outcome", "payable", "operator_id", "service_area")} == {
        "code": "short_visit",
        "outcome": "rejected",
        "payable": False,
        "operator_id": "op",
        "service_area": "gulou",
    }
    assert "nobody" not in str(event.payload)


def test_rejecting_or_correcting_needs_a_note_accepting_does_not():
    uow, visit = flagged_visit()
    for outcome in ("rejected", "corrected"):
        with pytest.raises(Refused) as refused:
            review_flag(visit.visit_id, "too_early", outcome, "   ", uow, at(30), "op")
        assert refused.value.code == "note_required"
    assert review_flag(visit.visit_id, "too_early", "accepted", "", uow, at(30), "op").outcome == "accepted"


def test_a_flag_is_decided_once():
    uow, visit = flagged_visit()
    review_flag(visit.visit_id, "too_early", "accepted", "", uow, at(30), "op")
    with pytest.raises(Refused) as again:
        review_flag(visit.visit_id, "too_early", "rejected", "changed my mind", uow, at(31), "sup")
    assert again.value.code == "already_reviewed"
    assert [r.outcome for r in uow.evv_reviews] == [ReviewOutcome.ACCEPTED]


@pytest.mark.parametrize(
    "visit_id, code, outcome, note, expected",
    [
        ("nope.v", "too_early", "accepted", "", "unknown_visit"),
        (None, "wrong_phone", "accepted", "", "unknown_flag"),
        (None, "too_early", "approved", "", "invalid"),
        (None, "too_early", "accepted", "x" * 501, "invalid"),
    ],
)
def test_an_unknown_visit_flag_or_outcome_and_an_overlong_note_are_refused(visit_id, code, outcome, note, expected):
    uow, visit = flagged_visit()
    with pytest.raises(Refused) as refused:
        review_flag(visit_id or visit.visit_id, code, outcome, note, uow, at(30), "op")
    assert refused.value.code == expected
    assert list(uow.evv_reviews) == [] and uow.events == []


def test_only_rejected_visits_are_unpayable_and_only_corrected_flags_stop_counting_against_the_provider():
    assert [o.payable for o in ReviewOutcome] == [True, False, True]
    uow, visit = flagged_visit()
    review_flag(
        visit.visit_id, "outside_geofence", "corrected", "home position on file was 300 m off", uow, at(30), "op"
    )
    review_flag(visit.visit_id, "too_early", "accepted", "", uow, at(30), "op")
    assert counted_flag_codes(visit.evv_flags, uow.evv_reviews) == ("short_visit", "too_early")
    review_flag(visit.visit_id, "short_visit", "rejected", "elder says the caregiver left at once", uow, at(31), "op")
    assert counted_flag_codes(visit.evv_flags, uow.evv_reviews) == ("short_visit", "too_early")


def test_a_visit_whose_only_flag_was_corrected_counts_as_compliant():
    uow, visit = flagged_visit()
    for code in ("outside_geofence", "too_early", "short_visit"):
        review_flag(visit.visit_id, code, "corrected", "care plan on file was wrong", uow, at(30), "op")
    arrived = VisitOutcome(
        "p1", "a", at(0), at(5), 0.0, True, False, counted_flag_codes(visit.evv_flags, uow.evv_reviews)
    )
    assert evv_compliance_rate([arrived]) == 1.0


def test_flags_recomputed_from_the_times_count_unless_corrected():
    uow, visit = flagged_visit()
    review_flag(visit.visit_id, "too_early", "corrected", "planned start was entered wrong", uow, at(30), "op")
    assert counted_flag_codes(None, uow.evv_reviews, derived=["too_early", "short_visit"]) == ("short_visit",)


def test_a_flag_is_dated_at_the_check_in_or_the_check_out_that_raised_it():
    _uow, visit = flagged_visit()
    assert raised_at(visit, "outside_geofence") == at(5) and raised_at(visit, "short_visit") == at(10)


def test_operators_and_supervisors_review_admins_do_not():
    assert may_review(Role.OPERATOR) and may_review(Role.SUPERVISOR) and not may_review(Role.ADMIN)


def test_a_calling_number_in_a_flag_is_masked_for_a_supervisor_but_not_an_operator():
    detail = "landline check-in from +86 138 0000 0012, not a phone registered for the elder"
    assert detail_for(Role.OPERATOR, detail) == detail
    masked = detail_for(Role.SUPERVISOR, detail)
    assert "0000 0012" not in masked and "+86" in masked and masked.endswith("registered for the elder")
    assert detail_for(Role.SUPERVISOR, FAR["detail"]) == FAR["detail"]  # distances are not phone numbers
