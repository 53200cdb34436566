"""A late caregiver's replacement and a fall's repair searched beside the worker: the cases a
review of c0999c8 reproduced (each failed on it): an answer that would take the visit from a
caregiver on time again, an overdue timer acting on the replacement's visit, an answer on time
made stale by a booking between the job's cut and the answer's, and a prediction that moves with
the clock asking for a second search."""

from datetime import timedelta

import pytest

from handlers import messagebus
from handlers import messages as m
from handlers.dispatch.area import AreaContext
from handlers.model import CareRequest, RequestStatus, Visit, VisitStatus
from tests.unit.factories import AREA, at
from tests.unit.test_repair import POLICY
from tests.unit.test_repair_background import outcomes, pending, solved
from tests.unit.test_repair_disruptions import accepted_day


def busy_far():
    """accepted_day + far is in a visit v0 at location 3 (10 min from r1), checked in 08:55 for
    30 min: expected end 09:25, arrival at r1 09:35 > 09:30 -> late at the 09:00 late check."""
    uow, travel = accepted_day(q_at=70, q_received=59)
    r9 = CareRequest("r9", "e3", "meal", 30, at(40), at(100), AREA, at(0), location_index=3)
    r9.status = RequestStatus.IN_PROGRESS
    uow.requests.add(r9)
    v0 = Visit(
        "r9.o1.v",
        "r9",
        "far",
        "p1",
        "e3",
        "meal",
        3,
        at(55),
        at(85),
        status=VisitStatus.IN_PROGRESS,
        check_in_at=at(55),
    )
    uow.visits.add(v0)
    area = AreaContext(POLICY, travel, mode="planned", background_repairs=True)
    visit = uow.visits.for_request("r1")
    messagebus.handle(m.CheckLateness("ev-late", None, AREA, visit.visit_id), uow, at(60), area)
    return uow, travel, area, visit


def test_answer_hands_over_a_visit_whose_caregiver_is_no_longer_late():
    uow, travel, area, visit = busy_far()
    [job] = [e for e in uow.events if e.type == "dispatch.repair.requested"]
    assert job.payload.get("late_visit_id") == visit.visit_id
    # far finishes v0 early: 09:00:30 + 10 min -> 09:10:30, on time; the elder is told "on the way"
    messagebus.handle(m.CheckOut("ev-out", None, AREA, "r9", "far"), uow, at(60.5), area)
    assert [e for e in uow.events if e.type == "care.visit.on_the_way"], "told on the way"
    # the answer arrives a few seconds later
    messagebus.handle(m.decode(solved(job)), uow, at(60.6), area)
    # she is on time again: her visit stands
    assert visit.status == VisitStatus.SCHEDULED, (
        f"visit {visit.status}, pending {[o.caregiver_id for o in pending(uow)]}, "
        f"events {[e.type for e in uow.events][-8:]}"
    )


def test_overdue_of_a_late_job_acts_on_the_replacement_caregivers_visit():
    from tests.unit.test_repair_background import late_in_background

    uow, travel, area, visit = late_in_background()
    [late_job] = [e for e in uow.events if e.type == "dispatch.repair.requested"]
    # far, told nothing, calls the visit off while the search runs: the fall's own repair
    messagebus.handle(m.CallOff("ev-off", None, AREA, "r1", "far"), uow, at(60.1), area)
    fall_job = [e for e in uow.events if e.type == "dispatch.repair.requested"][-1]
    assert fall_job.payload["attempt_id"] == "r1#1"
    messagebus.handle(m.decode(solved(fall_job)), uow, at(60.2), area)
    [offer] = pending(uow)
    messagebus.handle(m.AcceptOffer("ev-yes", None, AREA, offer.offer_id, offer.caregiver_id), uow, at(60.3), area)
    new_visit = uow.visits.for_request("r1")
    assert new_visit is not None and new_visit.visit_id != visit.visit_id
    before = len(uow.events)
    # the late job's answer never came (dead-lettered / skipped): its overdue timer fires
    messagebus.handle(
        m.RepairOverdue("ev-od", None, AREA, attempt_id=late_job.payload["attempt_id"]), uow, at(60.9), area
    )
    new = [(e.type, e.payload.get("reason")) for e in uow.events[before:]]
    # the late job was far's (cancelled) visit's: near's visit is not run through the late check
    assert new == [], new


@pytest.mark.parametrize("booking_start_s", [0, 60])
def test_an_on_time_answer_goes_stale_when_a_booking_falls_between_the_two_cuts(booking_start_s):
    """decline at 08:01:50: the job is modelled at 08:02:05.4 (cut 08:04:05.4); the answer comes at
    08:01:51 (cut 08:03:51). near holds a visit at her home starting 08:04:<booking_start_s>."""
    from tests.unit.test_repair import planned_day

    uow, travel = planned_day()
    rb = CareRequest("rb", "e5", "meal", 20, at(0), at(60), AREA, at(0), location_index=5)
    rb.status = RequestStatus.ACCEPTED
    uow.requests.add(rb)
    start = at(4) + timedelta(seconds=booking_start_s)
    uow.visits.add(Visit("rb.o1.v", "rb", "near", "p1", "e5", "meal", 5, start, start + timedelta(minutes=20)))
    area = AreaContext(POLICY, travel, mode="planned", background_repairs=True)
    messagebus.handle(m.DeclineOffer("ev-decline", None, AREA, "r1.o1", "far"), uow, at(1 + 50 / 60), area)
    [job] = [e for e in uow.events if e.type == "dispatch.repair.requested"]
    messagebus.handle(m.decode(solved(job)), uow, at(1 + 51 / 60), area)
    assert outcomes(uow)[-1][0] == "repaired", outcomes(uow)


def test_a_prediction_that_moves_with_the_clock_asks_again_while_the_first_search_runs():
    from tests.unit.test_repair_background import late_in_background

    uow, travel, area, visit = late_in_background()
    messagebus.handle(m.CheckLateness("ev-late-2", None, AREA, visit.visit_id), uow, at(61), area)
    jobs = [e.payload["attempt_id"] for e in uow.events if e.type == "dispatch.repair.requested"]
    assert len(jobs) == 1, jobs  # far at home: her arrival is now + 40 min, a new minute each minute
