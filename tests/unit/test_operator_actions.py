import pytest

from handlers.dispatch import offers
from handlers.dispatch.scheduling import DispatchPolicy
from handlers.model import OfferStatus, Priority, RequestStatus, VisitStatus
from handlers.operations import operator_actions as ops
from tests.unit.factories import at, caregiver, elder, line_travel, request
from tests.unit.operator_fakes import InMemoryOperatorUnitOfWork

TRAVEL = line_travel()
POLICY = DispatchPolicy()


def center(*caregivers):
    uow = InMemoryOperatorUnitOfWork()
    for c in caregivers or (caregiver("a", home=1), caregiver("b", home=3)):
        uow.caregivers.add(c)
    for loc in range(6):
        uow.elders.add(elder(f"e{loc}", loc))
    return uow


def received(uow, rid="r", **kw):
    offers.receive_request(request(rid, 1, **kw), uow, at(0), POLICY, TRAVEL)
    return uow.requests.get(rid)


def types(uow):
    return [e.type for e in uow.events]


def test_cancelling_a_request_cancels_its_pending_offer():
    uow = center()
    received(uow)
    ops.cancel_request("r", uow, at(1), "op")
    assert uow.requests.get("r").status == RequestStatus.CANCELLED
    assert uow.offers.get("r.o1").status == OfferStatus.CANCELED
    assert "care.request.cancelled_by_operator" in types(uow)


def test_a_late_reply_to_a_cancelled_request_changes_nothing():
    uow = center()
    received(uow)
    ops.cancel_request("r", uow, at(1), "op")
    assert not offers.accept_offer("r.o1", "a", uow, at(1.5), POLICY, TRAVEL)
    assert uow.visits.for_request("r") is None


def test_a_visit_in_progress_cannot_be_cancelled_or_moved():
    uow = center()
    received(uow)
    offers.accept_offer("r.o1", "a", uow, at(1), POLICY, TRAVEL)
    uow.visits.for_request("r").status = VisitStatus.IN_PROGRESS
    uow.requests.get("r").status = RequestStatus.IN_PROGRESS
    with pytest.raises(ops.Refused) as cancel:
        ops.cancel_request("r", uow, at(2), "op")
    with pytest.raises(ops.Refused) as move:
        ops.reassign("r", "b", uow, at(2), POLICY, TRAVEL, "op")
    assert (cancel.value.code, move.value.code) == ("in_progress", "in_progress")


def test_reassigning_an_accepted_request_frees_the_first_caregiver_and_offers_it_to_the_chosen_one():
    uow = center()
    received(uow)
    offers.accept_offer("r.o1", "a", uow, at(1), POLICY, TRAVEL)
    offer = ops.reassign("r", "b", uow, at(2), POLICY, TRAVEL, "op")
    assert (offer.caregiver_id, offer.status, offer.expires_at) == ("b", OfferStatus.PENDING, at(4))
    assert uow.visits.for_request("r") is None and uow.bookings(["a"])["a"] == []
    assert uow.requests.get("r").status == RequestStatus.RECEIVED
    assert offers.accept_offer(offer.offer_id, "b", uow, at(3), POLICY, TRAVEL)
    assert uow.visits.for_request("r").caregiver_id == "b"


def test_reassigning_a_request_nobody_took_reopens_it_from_the_operator_queue():
    uow = center(caregiver("a", "meal", home=1))
    failed = received(uow, service="bathing")
    assert failed.status == RequestStatus.FAILED
    uow.caregivers.get("a").abilities = "meal bathing"
    ops.reassign("r", "a", uow, at(3), POLICY, TRAVEL, "op")
    assert failed.status == RequestStatus.RECEIVED and failed.closed_at is None


def test_a_caregiver_without_the_ability_is_refused_with_the_reason():
    uow = center(caregiver("a", home=1), caregiver("cook", "meal", home=1))
    received(uow, service="bathing")
    with pytest.raises(ops.Refused) as refused:
        ops.reassign("r", "cook", uow, at(1), POLICY, TRAVEL, "op")
    assert str(refused.value) == "lacks the ability bathing"
    assert uow.offers.get("r.o1").status == OfferStatus.PENDING


def test_acknowledging_an_emergency_twice_keeps_the_first_operator():
    uow = center()
    received(uow, "sos", priority=Priority.STAT)
    first = ops.acknowledge_emergency("sos", uow, at(1), "op1")
    again = ops.acknowledge_emergency("sos", uow, at(2), "op2")
    assert again == first and first.operator_id == "op1"
    assert types(uow).count("care.emergency.acknowledged") == 1


def test_only_emergencies_are_acknowledged():
    uow = center()
    received(uow)
    with pytest.raises(ops.Refused):
        ops.acknowledge_emergency("r", uow, at(1), "op")


def test_a_caregiver_marked_unavailable_loses_pending_offers_to_the_next_caregiver():
    uow = center()
    received(uow)
    done = ops.mark_caregiver_unavailable("a", uow, at(1), POLICY, TRAVEL, "op")
    assert done.rescinded_requests == ("r",)
    assert uow.offers.get("r.o1").status == OfferStatus.RESCINDED
    assert uow.offers.get("r.o2").caregiver_id == "b"
    received(uow, "r2")
    assert uow.offers.get("r2.o1").caregiver_id == "b"


def test_booked_visits_of_an_unavailable_caregiver_are_listed_for_reassignment():
    uow = center()
    received(uow)
    offers.accept_offer("r.o1", "a", uow, at(1), POLICY, TRAVEL)
    done = ops.mark_caregiver_unavailable("a", uow, at(2), POLICY, TRAVEL, "op")
    assert done == ops.Unavailability((), ("r",))
    assert ops.mark_caregiver_available("a", uow, at(3), "op")
    assert not ops.mark_caregiver_available("a", uow, at(3), "op")
