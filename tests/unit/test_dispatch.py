from datetime import timedelta

from handlers.dispatch import offers
from handlers.dispatch.scheduling import DispatchPolicy
from handlers.model import OfferStatus, RequestStatus, SyncType
from handlers.visits import attendance
from tests.unit.factories import at, caregiver, line_travel, request, uow_with

TRAVEL = line_travel()
POLICY = DispatchPolicy()


def offers_of(uow, rid):
    return uow.offers.for_request(rid)


def test_a_received_request_is_offered_to_the_nearest_able_caregiver():
    uow = uow_with(caregiver("far", home=0), caregiver("near", home=3), caregiver("unable", "meal", home=4))
    offers.receive_request(request("r", 4, service="bathing"), uow, at(0), POLICY, TRAVEL)
    [offer] = offers_of(uow, "r")
    assert offer.caregiver_id == "near" and offer.status == OfferStatus.PENDING
    assert offer.expires_at == at(2)
    decided = [e for e in uow.events if e.type == "dispatch.decided"][0]
    assert decided.payload["excluded"]["unable"] == "lacks the ability bathing"
    assert decided.payload["policy_version"] == POLICY.version


def test_a_decline_moves_the_offer_to_the_next_candidate():
    uow = uow_with(caregiver("a", home=1), caregiver("b", home=0))
    offers.receive_request(request("r", 1), uow, at(0), POLICY, TRAVEL)
    offers.close_offer("r.o1", OfferStatus.REJECTED, uow, at(1), POLICY, TRAVEL, "a")
    first, second = offers_of(uow, "r")
    assert (first.status, second.caregiver_id, second.status) == (OfferStatus.REJECTED, "b", OfferStatus.PENDING)


def test_a_timeout_moves_the_offer_on_and_a_late_accept_is_refused():
    uow = uow_with(caregiver("a", home=1), caregiver("b", home=0))
    offers.receive_request(request("r", 1), uow, at(0), POLICY, TRAVEL)
    offers.close_offer("r.o1", OfferStatus.TIMEOUT, uow, at(2), POLICY, TRAVEL)
    assert not offers.accept_offer("r.o1", "a", uow, at(3), POLICY, TRAVEL)
    assert uow.visits.for_request("r") is None
    assert any(e.type == "dispatch.offer.accept_refused" for e in uow.events)
    assert offers.accept_offer("r.o2", "b", uow, at(3), POLICY, TRAVEL)
    assert uow.visits.for_request("r").caregiver_id == "b"


def test_the_same_request_twice_creates_one_request_and_one_offer():
    uow = uow_with(caregiver("a"))
    offers.receive_request(request("r", 1), uow, at(0), POLICY, TRAVEL)
    offers.receive_request(request("r", 1), uow, at(0), POLICY, TRAVEL)
    assert len(uow.requests) == 1 and len(offers_of(uow, "r")) == 1


def test_a_request_nobody_can_take_fails_and_goes_to_the_operator_queue():
    uow = uow_with(caregiver("a", "meal"))
    offers.receive_request(request("r", 1, service="repair"), uow, at(0), POLICY, TRAVEL)
    assert uow.requests.get("r").status == RequestStatus.FAILED
    assert any(e.type == "care.request.escalated" and e.payload["step"] == "operator_queue" for e in uow.events)


def test_an_emergency_nobody_can_take_alerts_an_operator_and_waits_in_their_queue():
    from handlers.model import Priority

    uow = uow_with(caregiver("a", "meal"))
    offers.receive_request(request("sos", 1, service="emergency", priority=Priority.STAT), uow, at(0), POLICY, TRAVEL)
    assert uow.requests.get("sos").status == RequestStatus.FAILED
    assert any(e.type == "care.operator.alert" and e.payload["reason"] == "emergency received" for e in uow.events)
    assert any(e.type == "care.request.escalated" and e.payload["step"] == "operator_queue" for e in uow.events)


def test_a_pending_offer_holds_the_slot_so_no_caregiver_is_double_booked():
    uow = uow_with(caregiver("a", home=1))
    offers.receive_request(request("r1", 1, start=60, end=60), uow, at(0), POLICY, TRAVEL)
    offers.receive_request(request("r2", 1, start=60, end=60), uow, at(0), POLICY, TRAVEL)
    o1, o2 = offers_of(uow, "r1")[0], offers_of(uow, "r2")[0]
    assert o2.planned_start >= o1.planned_end


def test_a_follower_waits_on_hold_until_its_anchor_is_assigned_then_starts_with_it():
    uow = uow_with(caregiver("a", home=2), caregiver("b", home=2))
    offers.receive_request(request("anchor", 2, start=60, end=120), uow, at(0), POLICY, TRAVEL)
    follower = request(
        "follower",
        2,
        start=60,
        end=120,
        sync_type=SyncType.SIMULTANEOUS,
        sync_partner_id="anchor",
        sync_is_follower=True,
    )
    offers.receive_request(follower, uow, at(0), POLICY, TRAVEL)
    assert uow.requests.get("follower").status == RequestStatus.ON_HOLD
    anchor_offer = offers_of(uow, "anchor")[0]
    offers.accept_offer(anchor_offer.offer_id, anchor_offer.caregiver_id, uow, at(1), POLICY, TRAVEL)
    [f_offer] = offers_of(uow, "follower")
    assert f_offer.planned_start == anchor_offer.planned_start
    assert f_offer.caregiver_id != anchor_offer.caregiver_id


def test_check_in_and_check_out_complete_the_request_and_record_lateness():
    uow = uow_with(caregiver("a", home=1))
    offers.receive_request(request("r", 1, start=0, end=10), uow, at(0), POLICY, TRAVEL)
    offers.accept_offer("r.o1", "a", uow, at(0), POLICY, TRAVEL)
    assert attendance.check_in("r", "a", uow, at(25), TRAVEL)
    assert not attendance.check_in("r", "a", uow, at(26), TRAVEL)
    assert attendance.check_out("r", "a", uow, at(55))
    visit, req = uow.visits.for_request("r"), uow.requests.get("r")
    assert req.status == RequestStatus.COMPLETED and req.closed_at == at(55)
    assert visit.lateness_minutes == 15 and visit.travel_minutes == 0


def test_a_check_in_by_another_caregiver_changes_nothing():
    uow = uow_with(caregiver("a", home=1), caregiver("b"))
    offers.receive_request(request("r", 1), uow, at(0), POLICY, TRAVEL)
    offers.accept_offer("r.o1", "a", uow, at(0), POLICY, TRAVEL)
    assert not attendance.check_in("r", "b", uow, at(60), TRAVEL)
    assert uow.requests.get("r").status == RequestStatus.ACCEPTED


def test_evv_mismatches_are_kept_on_the_visit_and_raised_for_review_not_dropped():
    uow = uow_with(caregiver("a", home=1))
    offers.receive_request(request("r", 1, start=0, end=60), uow, at(0), POLICY, TRAVEL)
    offers.accept_offer("r.o1", "a", uow, at(0), POLICY, TRAVEL)
    far = [{"code": "outside_geofence", "detail": "212 m from the elder's home"}]
    assert attendance.check_in("r", "a", uow, at(5), TRAVEL, far, "app_gps")
    assert attendance.check_out("r", "a", uow, at(10), [{"code": "short_visit", "detail": "5 of 30 min"}], "app_gps")
    visit = uow.visits.for_request("r")
    assert [f["code"] for f in visit.evv_flags] == ["outside_geofence", "short_visit"]
    assert uow.requests.get("r").status == RequestStatus.COMPLETED  # flagged, still counted
    alerts = [e.payload["reason"] for e in uow.events if e.type == "care.operator.alert"]
    assert alerts == ["EVV mismatch to review: outside_geofence", "EVV mismatch to review: short_visit"]


def test_a_check_in_that_came_with_no_verification_is_flagged_unverified_and_raised_for_review():
    uow = uow_with(caregiver("a", home=1))
    offers.receive_request(request("r", 1, start=0, end=60), uow, at(0), POLICY, TRAVEL)
    offers.accept_offer("r.o1", "a", uow, at(0), POLICY, TRAVEL)
    assert attendance.check_in("r", "a", uow, at(5), TRAVEL)
    visit = uow.visits.for_request("r")
    assert [f["code"] for f in visit.evv_flags] == ["unverified"] and visit.evv_method is None
    assert [e.payload["reason"] for e in uow.events if e.type == "care.operator.alert"] == [
        "EVV mismatch to review: unverified"
    ]


def test_a_check_in_verified_by_its_channel_keeps_the_method_and_no_flag():
    uow = uow_with(caregiver("a", home=1))
    offers.receive_request(request("r", 1, start=0, end=60), uow, at(0), POLICY, TRAVEL)
    offers.accept_offer("r.o1", "a", uow, at(0), POLICY, TRAVEL)
    assert attendance.check_in("r", "a", uow, at(5), TRAVEL, [], "landline")
    visit = uow.visits.for_request("r")
    assert visit.evv_method == "landline" and not visit.evv_flags


def test_an_offer_made_while_another_caregiver_was_accepting_is_withdrawn_not_a_second_visit():
    """The batch matcher may read a request just before another offer's accept commits."""
    from handlers.dispatch.offers import accept_offer
    from handlers.model import Offer, OfferStatus

    uow = uow_with(caregiver("c1"), caregiver("c2"))
    r = request("r1", 2)
    offers.receive_request(r, uow, at(0), POLICY, line_travel())
    first = next(o for o in uow.offers.for_request("r1") if o.status == OfferStatus.PENDING)
    assert accept_offer(first.offer_id, first.caregiver_id, uow, at(1), POLICY, line_travel())
    other = "c2" if first.caregiver_id == "c1" else "c1"
    late = Offer("r1.late", "r1", other, at(60), at(90), at(1), at(3), 0, 0, "9999")
    uow.offers.add(late)
    assert not accept_offer("r1.late", other, uow, at(2), POLICY, line_travel())
    assert late.status == OfferStatus.RESCINDED
    assert [o.offer_id for o in uow.offers.for_request("r1") if o.status == OfferStatus.ACCEPTED] == [first.offer_id]


def test_an_offer_ranked_before_another_accept_changed_the_caregivers_day_is_withdrawn_and_offered_on():
    """The batch matcher and the agent decide concurrently: CI saw a caregiver hold two offers made
    on views that did not include each other, accept both, and reach the second visit 72 minutes
    late. The second accept is refused and the request goes to the next caregiver."""
    from handlers.dispatch.offers import accept_offer
    from handlers.model import Offer

    travel = line_travel()
    uow = uow_with(caregiver("c1", home=0), caregiver("c2", home=5))
    offers.receive_request(request("near", 1, start=30, end=200), uow, at(0), POLICY, travel)
    (first,) = offers_of(uow, "near")
    assert first.caregiver_id == "c1" and accept_offer(first.offer_id, "c1", uow, at(1), POLICY, travel)
    visit = uow.visits.for_request("near")
    # ranked without the visit at location 1: c1 would leave home and be at location 4 at 00:40,
    # but after the visit (ending 01:00) it cannot be there before 01:30
    uow.requests.add(request("far", 4, start=40, end=60, window_hard=True))
    stale = Offer("far.o1", "far", "c1", at(40), at(70), at(0), at(2), 0, 0, "1234")
    uow.offers.add(stale)
    assert visit.planned_end == at(60)
    assert not accept_offer("far.o1", "c1", uow, at(1), POLICY, travel)
    assert stale.status == OfferStatus.RESCINDED
    assert [v.visit_id for v in uow.visits.for_caregiver("c1")] == [visit.visit_id]
    assert [(o.caregiver_id, o.status) for o in offers_of(uow, "far") if o is not stale] == [
        ("c2", OfferStatus.PENDING)
    ]
    assert any(e.type == "dispatch.offer.accept_refused" for e in uow.events)


def test_a_driving_caregivers_accept_is_checked_at_her_own_speed_not_the_areas():
    """Ranking measures travel at the caregiver's mode (``scheduling.travel_for``); the accept's
    clash check must too, or every tight slot of a car driver is refused as a clash."""
    from dataclasses import replace

    from handlers.dispatch.offers import accept_offer
    from handlers.register.geo import CoordinateTravelTimes

    # Nanjing, about 4 km apart on a line: 0 the base, 1 and 2 the homes
    travel = CoordinateTravelTimes([(32.0400, 118.7800), (32.0760, 118.7800), (32.1120, 118.7800)])
    uow = uow_with(replace(caregiver("car", home=0), travel_mode="car"))
    offers.receive_request(request("first", 1, start=60, end=120), uow, at(0), POLICY, travel)
    (first,) = offers_of(uow, "first")
    assert accept_offer(first.offer_id, "car", uow, at(1), POLICY, travel)
    offers.receive_request(request("second", 2, start=0, end=300), uow, at(2), POLICY, travel)
    (second,) = offers_of(uow, "second")
    assert second.planned_start < at(90) + timedelta(minutes=travel.minutes(1, 2))  # sooner than by e-bike
    assert accept_offer(second.offer_id, "car", uow, at(3), POLICY, travel)
    assert second.status == OfferStatus.ACCEPTED


def test_a_caregiver_who_checked_out_early_may_accept_the_next_visit_ranking_gave_her():
    """Ranking books a visit until its check-out (``Visit.expected_end``); the accept's clash check
    must too. The deploy smoke saw a caregiver complete a visit in minutes, be offered the next
    request at once, answer yes and be refused: the first visit's planned end was still ahead."""
    from handlers.dispatch.offers import accept_offer
    from handlers.visits import attendance

    travel = line_travel()
    uow = uow_with(caregiver("c1", home=1))
    offers.receive_request(request("first", 1, start=0, end=120), uow, at(0), POLICY, travel)
    (first,) = offers_of(uow, "first")
    assert accept_offer(first.offer_id, "c1", uow, at(1), POLICY, travel)
    assert attendance.check_in("first", "c1", uow, at(2), travel)
    assert attendance.check_out("first", "c1", uow, at(10))
    assert uow.visits.for_request("first").planned_end > at(30)  # planned longer than it took
    offers.receive_request(request("next", 1, start=10, end=200), uow, at(11), POLICY, travel)
    (second,) = offers_of(uow, "next")
    assert second.caregiver_id == "c1" and second.planned_start < at(30)
    assert accept_offer(second.offer_id, "c1", uow, at(12), POLICY, travel)
    assert second.status == OfferStatus.ACCEPTED
