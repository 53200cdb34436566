"""Confirmation rounds handled late or during the day (``handlers.dispatch.rounds``): a round
decides at the clock (``messages.CloseRound.decides_now``), so it must still tell and send on
what its due time covered, keep clear of everything its caregivers are doing or are planned to do
before its cut, and never model a caregiver away from the visit she is in. Each case was found by
a review of 571e1c2 (a reproduction first, then the fix); offline, through the message bus."""

from dataclasses import replace

from handlers import messagebus
from handlers import messages as m
from handlers.dispatch import rounds
from handlers.dispatch.area import AreaContext
from handlers.dispatch.planned import PlannedVisit, receive_planned
from handlers.dispatch.rounds import _from_where_she_is, _Vehicle
from handlers.model import Booking, OfferStatus, VisitStatus
from tests.unit.factories import AREA, at, caregiver, line_travel, request, uow_with
from tests.unit.test_rounds import POLICY, answer

ONE_ROUND = replace(POLICY, confirm_rounds=1)  # announced at 08:00, the round closes 08:30, cut +60 min


def pv(cid: str, start: float, end: float, loc: int, first: float, last: float) -> PlannedVisit:
    return PlannedVisit(cid, at(start), at(end), loc, at(0), "meal", at(first), at(last), True)


def close_at(uow, travel, minute: float) -> None:
    area = AreaContext(ONE_ROUND, travel, mode="planned")
    messagebus.handle(m.CloseRound("ev-round", None, AREA, announced_at=at(0), round=1), uow, at(minute), area)


def pending(uow, rid: str):
    return [o for o in uow.offers.for_request(rid) if o.status == OfferStatus.PENDING]


def two_slots_day():
    """r1 accepted by a at 09:35; b declines r2 (09:36): both begin before a round handled late."""
    uow = uow_with(caregiver("a", "meal", home=0), caregiver("b", "meal", home=5))
    uow.plan = {"r1": pv("a", 95, 125, 1, 90, 130), "r2": pv("b", 96, 126, 2, 90, 130)}
    travel = line_travel()
    for r in (request("r1", 1, start=90, end=130), request("r2", 2, start=90, end=130)):
        receive_planned(r, uow.planned_visits([r.request_id]), uow, at(0), ONE_ROUND, travel)
    answer(uow, travel, m.AcceptOffer, "r1.o1", "a", 1, ONE_ROUND)
    answer(uow, travel, m.DeclineOffer, "r2.o1", "b", 2, ONE_ROUND)
    return uow, travel


def test_a_last_round_handled_late_still_tells_the_elders_and_sends_its_held_requests_on():
    for minute in (30, 97):  # on time, and 67 min late: r1 has begun, r2's slot too
        uow, travel = two_slots_day()
        close_at(uow, travel, minute)
        told = [e.payload["request_id"] for e in uow.events if e.type == "dispatch.promise.told"]
        assert told == ["r1"], minute
        assert len(pending(uow, "r2")) == 1, minute  # placed by the round, or by insertion after it


def test_a_round_keeps_clear_of_a_planned_slot_whose_request_has_not_arrived():
    """u (09:40-10:10, not received) is a's; b declines h. A round 20 min late has its cut at
    09:50, inside u: h must not be offered to a on top of it."""
    for minute in (30, 50):
        uow = uow_with(caregiver("a", "meal", home=0), caregiver("b", "meal", home=5))
        uow.plan = {"u": pv("a", 100, 130, 1, 100, 110), "h": pv("b", 100, 130, 1, 95, 140)}
        travel = line_travel()
        h = request("h", 1, start=95, end=140, window_hard=True)
        receive_planned(h, uow.planned_visits(["h"]), uow, at(0), ONE_ROUND, travel)
        assert rounds.takes_part(uow.plan["u"], ONE_ROUND)
        answer(uow, travel, m.DeclineOffer, "h.o1", "b", 1, ONE_ROUND)
        close_at(uow, travel, minute)
        u = uow.plan["u"]
        for o in pending(uow, "h"):
            assert o.caregiver_id != "a" or not (o.planned_start < u.end and u.start < o.planned_end), minute


def test_a_round_never_moves_a_visit_into_the_one_she_is_still_in():
    """a checked in to r0 20 min late and is there until 10:00; the planner may leave any need out
    of its routes, and a plan that leaves her visit out must not be used."""
    uow = uow_with(caregiver("a", "meal", home=0), caregiver("b", "meal", home=5))
    uow.plan = {
        "r0": pv("a", 40, 100, 1, 40, 50),
        "f": pv("a", 120, 150, 3, 120, 125),
        "w": pv("a", 150, 170, 3, 90, 160),
        "h": pv("b", 150, 170, 3, 150, 155),
    }
    travel = line_travel()
    for r in (
        request("r0", 1, start=40, end=50, duration=60, window_hard=True),
        request("f", 3, start=120, end=125, window_hard=True),
        request("w", 3, start=90, end=160, duration=20, window_hard=True),
        request("h", 3, start=150, end=155, duration=20, window_hard=True),
    ):
        receive_planned(r, uow.planned_visits([r.request_id]), uow, at(0), ONE_ROUND, travel)
    answer(uow, travel, m.AcceptOffer, "r0.o1", "a", 1, ONE_ROUND)
    answer(uow, travel, m.AcceptOffer, "w.o1", "a", 1.2, ONE_ROUND)
    answer(uow, travel, m.DeclineOffer, "h.o1", "b", 1.5, ONE_ROUND)
    r0 = uow.visits.for_request("r0")
    r0.check_in_at, r0.status = at(60), VisitStatus.IN_PROGRESS
    close_at(uow, travel, 30)
    w = uow.visits.for_request("w")
    assert w.planned_start >= r0.expected_end + (at(20) - at(0))  # after r0 and the 20 min to location 3


def test_she_is_where_her_latest_commitment_before_the_cut_is_even_without_a_place_or_begun_before_the_shift():
    a = caregiver("a", "meal", home=0)
    cut, travel = at(90), line_travel()
    shift = _Vehicle("a", a, cut, at(600), at(0))
    booked = [Booking("r0", 3, at(10), at(40)), Booking("x", None, at(60), at(150))]  # in x (no place) to 10:30
    _, anchors = _from_where_she_is([shift], {"a": booked}, cut, [travel])
    assert list(anchors) == ["x"] and anchors["x"][1].location_index == 0  # at home, as the repair reads it
    second = _Vehicle("a#1", a, cut, at(300), at(80))  # her second shift began 09:20, she is still in r0
    out, anchors = _from_where_she_is([second], {"a": [Booking("r0", 5, at(50), at(120))]}, cut, [travel])
    assert list(anchors) == ["r0"] and out[0].start == at(0)  # from home early enough to be at 5 by 08:50
