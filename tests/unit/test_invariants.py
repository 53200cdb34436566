"""The fault invariants (tools.faults.invariants) on hand-made runs."""

from __future__ import annotations

from handlers.model import VISIT_SUFFIX, Offer, OfferStatus, RequestStatus, Visit, VisitStatus
from tests.unit.factories import at, request
from tools.faults.invariants import check


def _done(rid: str, status: RequestStatus = RequestStatus.COMPLETED):
    r = request(rid, 1)
    r.status = status
    return r


def _offer(rid: str, caregiver: str, status: OfferStatus = OfferStatus.ACCEPTED) -> Offer:
    return Offer(f"o-{rid}-{caregiver}", rid, caregiver, at(60), at(90), at(0), at(5), 0, 0, "1234", status)


def _visit(rid: str, caregiver: str, start: float, end: float) -> Visit:
    return Visit(
        f"v-{rid}-{caregiver}", rid, caregiver, "p1", "e1", "meal", 1, at(start), at(end), VisitStatus.COMPLETED
    )


def test_a_clean_run_holds_and_counts_completed_and_operator_requests():
    requests = [_done("r1"), _done("r2", RequestStatus.FAILED)]
    verdict = check(
        ["r1", "r2"],
        requests,
        [_offer("r1", "c1")],
        [_visit("r1", "c1", 60, 90)],
        {"r1": {"received", "completed"}, "r2": {"failed"}},
    )
    assert verdict.holds and (verdict.requests_in, verdict.completed, verdict.to_operator) == (2, 1, 1)
    assert verdict.lost == verdict.duplicated == 0


def test_an_intake_without_request_is_lost_unless_it_was_dead_lettered():
    lost = check(["r1", "r2"], [_done("r1")], [], [], {"r1": {"completed"}})
    assert lost.lost == 1 and "r2" in lost.violations[0]
    assert check(["r1", "r2"], [_done("r1")], [], [], {"r1": {"completed"}}, dead_lettered=["r2"]).holds


def test_a_request_left_waiting_is_lost_and_named():
    verdict = check(["r1"], [_done("r1", RequestStatus.RECEIVED)], [], [], {"r1": {"received"}})
    assert verdict.lost == 1 and verdict.violations == ["request r1: stuck in received"]


def test_two_accepted_offers_and_overlapping_visits_are_violations():
    requests = [_done("r1"), _done("r2")]
    offers = [_offer("r1", "c1"), _offer("r1", "c2"), _offer("r2", "c1")]
    visits = [_visit("r1", "c1", 60, 90), _visit("r2", "c1", 80, 120)]
    verdict = check(["r1", "r2"], requests, offers, visits, {"r1": {"completed"}, "r2": {"completed"}})
    assert verdict.duplicated == 1
    assert "request r1: 2 accepted offers" in verdict.violations
    assert any(line.startswith("caregiver c1: visits r1 and r2 overlap (") for line in verdict.violations)


def test_back_to_back_visits_do_not_overlap():
    visits = [_visit("r1", "c1", 60, 90), _visit("r2", "c1", 90, 120)]
    assert check(["r1", "r2"], [_done("r1"), _done("r2")], [], visits, {"r1": {"completed"}, "r2": {"completed"}}).holds


def test_missing_audit_event_stuck_outbox_and_repeated_sms_are_reported():
    verdict = check(
        ["r1"],
        [_done("r1")],
        [],
        [],
        {"r1": {"received"}},
        unsent_outbox=3,
        sms_sent={("Messages.json", "+8613800138000", "offer 1"): 2},
    )
    assert verdict.duplicated == 1 and len(verdict.violations) == 3
    assert any("no audit event" in line for line in verdict.violations)
    assert any("outbox: 3" in line for line in verdict.violations)


def test_a_slot_freed_before_the_next_offer_is_no_double_booking_but_a_visit_inside_another_is():
    early = _visit("r1", "c1", 60, 120)
    early.check_in_at, early.check_out_at = at(0), at(5)  # checked in and out before its planned slot
    rebooked = _visit("r2", "c1", 70, 100)
    offer = _offer("r2", "c1")
    offer.created_at = at(6)  # offered after that
    rebooked.visit_id = offer.offer_id + VISIT_SUFFIX
    statuses = {"r1": {"completed"}, "r2": {"completed"}, "r3": {"completed"}}
    done = [_done("r1"), _done("r2"), _done("r3")]
    assert check(["r1", "r2"], done[:2], [offer], [early, rebooked], statuses).holds
    # in the workers' order (outbox sequence numbers) the offer came before the slot was freed
    late = check(["r1", "r2"], done[:2], [offer], [early, rebooked], statuses, booked={rebooked.visit_id: 7}, freed={})
    [line] = late.violations
    assert line.startswith("caregiver c1: visits r1 and r2 overlap (")
    assert "booked 7 freed None" in line  # the reader sees why: booked before anything freed it
    long, short_after, inside = _visit("r1", "c1", 0, 100), _visit("r2", "c1", 20, 30), _visit("r3", "c1", 50, 60)
    verdict = check(["r1", "r2", "r3"], done, [], [long, short_after, inside], statuses)
    assert any(line.startswith("caregiver c1: visits r1 and r3 overlap") for line in verdict.violations)  # not adjacent
