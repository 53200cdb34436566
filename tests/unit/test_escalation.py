"""Parallel offers, the escalation ladder and re-dispatch after a visit falls through."""

from dataclasses import replace

from handlers.dispatch import offers
from handlers.dispatch.scheduling import DispatchPolicy
from handlers.model import OfferStatus, Priority, ProviderOrganisation, RequestStatus, VisitStatus
from handlers.visits import attendance, disruptions
from tests.unit.factories import at, caregiver, line_travel, request, uow_with

TRAVEL = line_travel()
POLICY = DispatchPolicy()


def pending(uow, rid):
    return [o for o in uow.offers.for_request(rid) if o.status == OfferStatus.PENDING]


def five():
    return [caregiver(f"c{i}", home=i) for i in range(5)]


def test_an_emergency_is_offered_to_the_three_nearest_at_once_and_the_operator_is_alerted():
    uow = uow_with(*five())
    offers.receive_request(request("r", 2, start=0, end=30, priority=Priority.STAT), uow, at(0), POLICY, TRAVEL)
    assert sorted(o.caregiver_id for o in pending(uow, "r")) == ["c1", "c2", "c3"]
    assert any(e.type == "care.operator.alert" for e in uow.events)


def test_the_first_accept_wins_and_the_other_parallel_offers_are_rescinded():
    uow = uow_with(*five())
    offers.receive_request(request("r", 2, start=0, end=30, priority=Priority.STAT), uow, at(0), POLICY, TRAVEL)
    first, second, third = uow.offers.for_request("r")
    assert offers.accept_offer(second.offer_id, second.caregiver_id, uow, at(0.5), POLICY, TRAVEL)
    assert not offers.accept_offer(first.offer_id, first.caregiver_id, uow, at(0.6), POLICY, TRAVEL)
    assert {o.offer_id: o.status for o in uow.offers.for_request("r")} == {
        first.offer_id: OfferStatus.RESCINDED,
        second.offer_id: OfferStatus.ACCEPTED,
        third.offer_id: OfferStatus.RESCINDED,
    }
    assert uow.visits.for_request("r").caregiver_id == second.caregiver_id


def test_one_parallel_decline_waits_for_the_others_before_offering_again():
    uow = uow_with(*five())
    offers.receive_request(request("r", 2, start=0, end=30, priority=Priority.STAT), uow, at(0), POLICY, TRAVEL)
    o = uow.offers.for_request("r")[0]
    offers.close_offer(o.offer_id, OfferStatus.REJECTED, uow, at(0.2), POLICY, TRAVEL, o.caregiver_id)
    assert len(uow.offers.for_request("r")) == 3 and len(pending(uow, "r")) == 2


def test_an_unacknowledged_emergency_climbs_to_emergency_services_at_its_deadline():
    uow = uow_with(*five())
    offers.receive_request(request("r", 2, start=0, end=30, priority=Priority.STAT), uow, at(0), POLICY, TRAVEL)
    assert offers.step_deadline("r", 0, uow, at(1), POLICY, TRAVEL)
    steps = [e.payload["step"] for e in uow.events if e.type == "care.request.escalated"]
    assert steps == ["emergency_services"]
    assert any(
        "emergency services" in e.payload.get("reason", "") for e in uow.events if e.type == "care.operator.alert"
    )
    assert {o.status for o in uow.offers.for_request("r")[:3]} == {OfferStatus.RESCINDED}
    assert len(pending(uow, "r")) == 2  # c0 and c4, the rest of the area
    assert not offers.step_deadline("r", 0, uow, at(1.5), POLICY, TRAVEL)  # a repeated firing changes nothing


def test_a_routine_request_widens_after_three_best_offers():
    uow = uow_with(*five())
    offers.receive_request(request("r", 2, start=60, end=120), uow, at(0), POLICY, TRAVEL)
    for n in range(3):
        o = pending(uow, "r")[0]
        offers.close_offer(o.offer_id, OfferStatus.REJECTED, uow, at(n + 1), POLICY, TRAVEL, o.caregiver_id)
    assert [e.payload["step"] for e in uow.events if e.type == "care.request.escalated"] == ["widen"]
    assert len(pending(uow, "r")) == 1


def test_an_answer_given_in_time_but_processed_after_the_timeout_still_wins_if_nobody_took_the_request():
    uow = uow_with(caregiver("a", home=1), caregiver("b", home=0))
    offers.receive_request(request("r", 1, start=60, end=120), uow, at(0), POLICY, TRAVEL)
    offers.close_offer("r.o1", OfferStatus.TIMEOUT, uow, at(2), POLICY, TRAVEL)
    assert offers.accept_offer("r.o1", "a", uow, at(1.5), POLICY, TRAVEL)
    assert uow.offers.get("r.o2").status == OfferStatus.RESCINDED
    assert uow.visits.for_request("r").caregiver_id == "a"


def test_a_missed_check_in_records_a_no_show_informs_the_elder_and_offers_the_visit_to_someone_else():
    uow = uow_with(caregiver("a", home=1), caregiver("b", home=0))
    offers.receive_request(request("r", 1, start=60, end=120), uow, at(0), POLICY, TRAVEL)
    offers.accept_offer("r.o1", "a", uow, at(1), POLICY, TRAVEL)
    deadline = [e for e in uow.events if e.payload.get("kind") == "check-in-deadline"][0]
    assert deadline.payload["due"] == at(65).isoformat()
    assert disruptions.missed_check_in("r.o1.v", uow, at(65), POLICY, TRAVEL)
    assert uow.visits.get("r.o1.v").status == VisitStatus.NO_SHOW
    (no_show,) = [e for e in uow.events if e.type == "care.visit.no_show"]  # what the elder is told from
    assert no_show.payload["visit_id"] == "r.o1.v" and no_show.payload["elder_id"] == "e1"
    assert pending(uow, "r")[0].caregiver_id == "b"
    assert not disruptions.missed_check_in("r.o1.v", uow, at(66), POLICY, TRAVEL)


def test_a_checked_in_visit_is_not_a_no_show():
    uow = uow_with(caregiver("a", home=1))
    offers.receive_request(request("r", 1, start=60, end=120), uow, at(0), POLICY, TRAVEL)
    offers.accept_offer("r.o1", "a", uow, at(1), POLICY, TRAVEL)
    attendance.check_in("r", "a", uow, at(61), TRAVEL)
    assert not disruptions.missed_check_in("r.o1.v", uow, at(65), POLICY, TRAVEL)


def test_a_call_off_after_acceptance_re_dispatches():
    uow = uow_with(caregiver("a", home=1), caregiver("b", home=0))
    offers.receive_request(request("r", 1, start=60, end=120), uow, at(0), POLICY, TRAVEL)
    offers.accept_offer("r.o1", "a", uow, at(1), POLICY, TRAVEL)
    assert disruptions.call_off("r", "a", uow, at(10), POLICY, TRAVEL)
    assert uow.requests.get("r").status == RequestStatus.RECEIVED
    assert pending(uow, "r")[0].caregiver_id == "b"


def test_a_nurse_may_take_a_companionship_visit_but_not_the_reverse():
    policy = replace(POLICY, skill_hierarchy={"nurse": ("companionship", "bathing")})
    uow = uow_with(caregiver("nurse", "nurse", home=1), caregiver("companion", "companionship", home=1))
    offers.receive_request(request("r1", 1, service="companionship"), uow, at(0), policy, TRAVEL)
    offers.receive_request(request("r2", 1, service="nurse", start=200, end=260), uow, at(0), policy, TRAVEL)
    assert uow.offers.for_request("r1")
    decided = [e for e in uow.events if e.type == "dispatch.decided" and e.subject == "r2"][0]
    assert decided.payload["excluded"]["companion"] == "lacks the ability nurse"


def test_a_provider_without_a_contract_for_the_service_is_excluded():
    uow = uow_with(caregiver("a", home=1, provider="meals-only"), caregiver("b", home=0, provider="p1"))
    uow.providers.add(ProviderOrganisation("meals-only", "Meals", "gulou", "meal"))
    offers.receive_request(request("r", 1, service="bathing"), uow, at(0), POLICY, TRAVEL)
    assert pending(uow, "r")[0].caregiver_id == "b"


def test_the_elders_recent_caregiver_is_preferred_over_a_slightly_nearer_one():
    uow = uow_with(caregiver("known", home=0), caregiver("near", home=1))
    offers.receive_request(request("old", 1, start=0, end=30), uow, at(0), POLICY, TRAVEL)
    offer = pending(uow, "old")[0]
    offers.close_offer(offer.offer_id, OfferStatus.REJECTED, uow, at(0.1), POLICY, TRAVEL, offer.caregiver_id)
    offers.accept_offer(pending(uow, "old")[0].offer_id, "known", uow, at(0.2), POLICY, TRAVEL)
    offers.receive_request(request("new", 1, start=300, end=360), uow, at(1), POLICY, TRAVEL)
    assert pending(uow, "new")[0].caregiver_id == "known"


def test_a_caregiver_at_daily_capacity_is_excluded():
    policy = replace(POLICY, daily_capacity=1)
    uow = uow_with(caregiver("a", home=1), caregiver("b", home=0))
    offers.receive_request(request("r1", 1, start=0, end=30), uow, at(0), policy, TRAVEL)
    offers.accept_offer("r1.o1", "a", uow, at(0.1), policy, TRAVEL)
    offers.receive_request(request("r2", 1, start=300, end=360), uow, at(1), policy, TRAVEL)
    decided = [e for e in uow.events if e.type == "dispatch.decided" and e.subject == "r2"][0]
    assert "daily capacity" in decided.payload["excluded"]["a"]


def test_the_elders_gender_and_language_preferences_and_exclusions_filter_caregivers():
    from handlers.model import Elder

    uow = uow_with(
        caregiver("man", home=1), caregiver("cantonese", home=1), caregiver("banned", home=1), caregiver("fit", home=0)
    )
    uow.caregivers["man"].gender, uow.caregivers["cantonese"].language = "male", "yue"
    for c in ("cantonese", "banned", "fit"):
        uow.caregivers[c].gender = "female"
    uow.elders.add(Elder("e1", "gulou", 1, language="zh", preferred_gender="female", excluded_caregivers="banned"))
    offers.receive_request(request("r", 1), uow, at(0), POLICY, TRAVEL)
    decided = [e for e in uow.events if e.type == "dispatch.decided"][0].payload
    assert decided["excluded"] == {
        "man": "the elder asks for a female caregiver",
        "cantonese": "does not speak zh",
        "banned": "excluded by the elder",
    }
    assert pending(uow, "r")[0].caregiver_id == "fit"
