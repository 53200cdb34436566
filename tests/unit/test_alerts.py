from datetime import timedelta

from handlers.model import Offer, OfferStatus, Priority, RequestStatus, Visit, VisitStatus
from handlers.operations.alerts import Acknowledgement, alerts, open_emergencies
from handlers.operations.queues import SlaPolicy, Snapshot
from tests.unit.factories import at, request

SLA = SlaPolicy({"routine": 600.0, "stat": 60.0})


def req(rid, priority=Priority.ROUTINE, status=RequestStatus.RECEIVED, received=0.0, closed=None):
    r = request(rid, 1, priority=priority)
    r.status, r.received_at = status, at(received)
    r.closed_at = at(closed) if closed is not None else None
    return r


def test_an_emergency_nobody_acknowledged_for_a_minute_is_the_first_alert():
    snap = Snapshot([req("late", received=0), req("sos", Priority.STAT, received=8)])
    found = alerts(snap, {}, at(11), SLA)
    assert [(a.kind, a.subject_id) for a in found] == [
        ("unacknowledged_emergency", "sos"),
        ("sla_breach", "late"),
        ("sla_breach", "sos"),
    ]


def test_an_acknowledged_emergency_stays_pinned_below_the_open_ones():
    snap = Snapshot([req("old", Priority.STAT, received=0), req("new", Priority.STAT, received=5)])
    acks = {"old": Acknowledgement("old", "op", at(1))}
    pinned = open_emergencies(snap, acks, at(6))
    assert [(e.request_id, e.acknowledged_by) for e in pinned] == [("new", None), ("old", "op")]
    assert not any(a.kind == "unacknowledged_emergency" for a in alerts(snap, acks, at(6), SLA))


def test_the_escalation_step_follows_offers_then_the_event_log():
    snap = Snapshot(
        [req("sos", Priority.STAT)],
        [Offer("sos.o1", "sos", "cg", at(0), at(1), at(0), at(2), 0, 0, "0000", OfferStatus.PENDING)],
    )
    assert open_emergencies(snap, {}, at(1))[0].step == "offer_1"
    assert open_emergencies(snap, {}, at(1), {"sos": "supervisor_called"})[0].step == "supervisor_called"


def test_a_request_dispatch_gave_up_on_asks_for_an_operator():
    failed = req("f", status=RequestStatus.FAILED, received=0, closed=1)
    failed.status_reason = "no eligible caregiver"
    [alert] = alerts(Snapshot([failed]), {}, at(2), SLA)
    assert (alert.kind, alert.detail) == ("escalated", "no eligible caregiver")


def test_no_check_in_five_minutes_after_the_planned_start_is_a_no_show_alert():
    visit = Visit("v", "r", "cg", "p1", "e1", "meal", 1, at(0), at(30), VisitStatus.SCHEDULED)
    snap = Snapshot([req("r", status=RequestStatus.ACCEPTED)], visits=[visit])
    assert alerts(snap, {}, at(4), SLA) == []
    assert [a.kind for a in alerts(snap, {}, at(6), SLA)] == ["no_show"]


def test_a_failed_request_stays_an_alert_and_a_breach_days_later_until_an_operator_records_an_outcome():
    failed = req("f", status=RequestStatus.FAILED, received=0, closed=1)
    days_later = at(3 * 24 * 60)
    kinds = {a.kind for a in alerts(Snapshot([failed]), {}, days_later, SLA)}
    assert kinds == {"escalated", "sla_breach"}  # nothing leaves on a timer
    assert alerts(Snapshot([failed], resolved=frozenset({"f"})), {}, days_later, SLA) == []


def test_an_emergency_stays_on_the_card_until_its_outcome_is_recorded_whatever_its_status():
    done = req("sos", Priority.STAT, status=RequestStatus.COMPLETED, received=0, closed=30)
    acks = {"sos": Acknowledgement("sos", "op", at(1))}
    assert [e.request_id for e in open_emergencies(Snapshot([done]), acks, at(60))] == ["sos"]
    assert open_emergencies(Snapshot([done], resolved=frozenset({"sos"})), acks, at(60)) == []


def test_an_acknowledged_emergency_with_nobody_on_the_way_stays_red():
    sos = req("sos", Priority.STAT, status=RequestStatus.FAILED, received=0, closed=2)
    acks = {"sos": Acknowledgement("sos", "op", at(1))}
    (card,) = open_emergencies(Snapshot([sos]), acks, at(5))
    assert card.acknowledged_by == "op" and card.nobody_on_the_way and card.red
    helped = req("help", Priority.STAT, status=RequestStatus.ACCEPTED, received=0)
    visit = Visit("v", "help", "cg", "p1", "e1", "emergency", 1, at(1), at(31), VisitStatus.SCHEDULED)
    (card,) = open_emergencies(Snapshot([helped], visits=[visit]), {"help": acks["sos"]}, at(5))
    assert not card.nobody_on_the_way and not card.red


def test_a_visit_predicted_to_start_after_the_window_is_a_late_alert_with_the_new_time():
    r = req("r", status=RequestStatus.ACCEPTED)
    visit = Visit("v", "r", "cg", "p1", "e1", "meal", 1, at(60), at(90), VisitStatus.SCHEDULED)
    assert alerts(Snapshot([r], visits=[visit]), {}, at(0), SLA) == []
    visit.expected_at = r.latest_start + timedelta(minutes=25)
    (late,) = alerts(Snapshot([r], visits=[visit]), {}, at(0), SLA)
    assert (late.kind, late.subject_id, late.age_seconds) == ("late", "r", 25 * 60.0)
    assert late.detail == visit.expected_at.isoformat()
