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
