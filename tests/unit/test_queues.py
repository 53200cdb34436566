from handlers.model import Offer, OfferStatus, Priority, RequestStatus, Visit, VisitStatus
from handlers.operations.queues import SlaPolicy, Snapshot, cumulative_statistics, realtime_statistics
from tests.unit.factories import AREA, at, caregiver, request

SLA = SlaPolicy({"routine": 600.0, "stat": 60.0})
REGIONS = {AREA: "江苏省/南京市/鼓楼区/宁海路街道/西康社区", "elsewhere": "江苏省/南京市/玄武区"}


def req(
    rid,
    status=RequestStatus.RECEIVED,
    received=0.0,
    assigned=None,
    closed=None,
    service="meal",
    priority=Priority.ROUTINE,
    area=AREA,
):
    r = request(rid, 1, service=service, priority=priority)
    r.status, r.received_at, r.service_area = status, at(received), area
    r.assigned_at = at(assigned) if assigned is not None else None
    r.closed_at = at(closed) if closed is not None else None
    return r


def offer(oid, rid, cid, status, created, responded=None):
    return Offer(
        oid,
        rid,
        cid,
        at(60),
        at(90),
        at(created),
        at(created + 2),
        0,
        0,
        "0000",
        status,
        at(responded) if responded is not None else None,
    )


def queue(stats, service, priority="routine"):
    return next(
        q for q in stats["queues"] if q["queue"]["service_type"] == service and q["queue"]["priority"] == priority
    )


def test_the_longest_waiting_request_of_a_queue_is_reported_in_seconds():
    snap = Snapshot(
        [req("a", received=0), req("b", received=5), req("c", RequestStatus.ACCEPTED, 0, 1)],
        caregivers=[caregiver("cg")],
        area_regions=REGIONS,
    )
    stats = realtime_statistics(snap, at(10), SLA)
    meal = queue(stats, "meal")
    assert meal["longest_task_waiting_age"] == 600.0 and meal["longest_task_waiting_sid"] == "a"
    assert meal["tasks_by_status"] == {"accepted": 1, "received": 2} and meal["tasks_waiting"] == 2


def test_sla_counts_assignments_within_the_threshold_and_ignores_undecided_waits():
    snap = Snapshot(
        [
            req("fast", RequestStatus.ACCEPTED, 0, assigned=5),
            req("slow", RequestStatus.ACCEPTED, 0, 15),
            req("waiting-long", received=0),
            req("waiting-short", received=28),
        ]
    )
    stats = realtime_statistics(snap, at(30), SLA)
    assert (stats["workspace"]["sla_met"], stats["workspace"]["sla_breached"]) == (1, 2)
    assert stats["workspace"]["sla_percent"] == 33.3


def test_caregivers_are_available_busy_or_offline():
    busy = caregiver("busy")
    off = caregiver("off")
    off.active = False
    free = caregiver("free")
    late_shift = caregiver("late", start=600, end=900)
    visit = Visit("v", "r", "busy", "p1", "e1", "meal", 1, at(0), at(60), VisitStatus.IN_PROGRESS)
    snap = Snapshot([req("r", RequestStatus.IN_PROGRESS)], visits=[visit], caregivers=[busy, off, free, late_shift])
    stats = realtime_statistics(snap, at(10), SLA)
    activity = {w["worker_sid"]: w["activity_name"] for w in stats["workers"]}
    assert activity == {"busy": "busy", "off": "offline", "free": "available", "late": "offline"}
    assert queue(stats, "meal")["total_available_workers"] == 1


def test_every_statistic_is_limited_to_the_region_asked_for():
    snap = Snapshot([req("here"), req("there", area="elsewhere")], area_regions=REGIONS, caregivers=[caregiver("cg")])
    stats = realtime_statistics(snap, at(10), SLA, region="江苏省/南京市/玄武区")
    assert [q["queue"]["service_area"] for q in stats["queues"]] == ["elsewhere"]
    assert stats["workers"] == [] and stats["workspace"]["total_tasks"] == 1


def test_cumulative_statistics_count_reservations_by_outcome_inside_the_window():
    r1 = req("r1", RequestStatus.ACCEPTED, received=0, assigned=6)
    r2 = req("r2", RequestStatus.CANCELLED, received=1, closed=4)
    offers = [
        offer("r1.o1", "r1", "a", OfferStatus.REJECTED, 0, 1),
        offer("r1.o2", "r1", "b", OfferStatus.TIMEOUT, 1, 3),
        offer("r1.o3", "r1", "c", OfferStatus.ACCEPTED, 3, 6),
        offer("r2.o1", "r2", "a", OfferStatus.CANCELED, 1, 4),
        offer("old", "r1", "a", OfferStatus.RESCINDED, -30, -29),
    ]
    snap = Snapshot([r1, r2], offers, caregivers=[caregiver("a"), caregiver("c")])
    stats = cumulative_statistics(snap, at(0), at(10), SLA)
    ws = stats["workspace"]
    assert (
        ws["reservations_created"],
        ws["reservations_accepted"],
        ws["reservations_rejected"],
        ws["reservations_timed_out"],
        ws["reservations_canceled"],
        ws["reservations_rescinded"],
    ) == (4, 1, 1, 1, 1, 0)
    assert ws["avg_task_acceptance_time"] == 360.0
    assert ws["wait_duration_until_accepted"] == {"avg": 360.0, "min": 360.0, "max": 360.0, "total": 360.0}
    assert (ws["tasks_entered"], ws["tasks_canceled"], ws["tasks_completed"]) == (2, 1, 0)
    by_worker = {w["worker_sid"]: w for w in stats["workers"]}
    assert by_worker["a"]["reservations_rejected"] == 1 and by_worker["a"]["avg_reservation_response_time"] == 60.0
    assert by_worker["c"]["reservations_accepted"] == 1


def test_escalated_and_completed_requests_are_counted_when_they_close():
    done = req("done", RequestStatus.COMPLETED, received=0, assigned=1, closed=50)
    failed = req("failed", RequestStatus.FAILED, received=0, closed=2)
    stats = cumulative_statistics(Snapshot([done, failed]), at(0), at(10), SLA)
    assert (stats["workspace"]["tasks_completed"], stats["workspace"]["tasks_escalated"]) == (0, 1)


def test_a_request_nobody_took_counts_as_waiting_and_as_an_sla_breach_until_it_is_resolved():
    failed = req("f", status=RequestStatus.FAILED, received=0, closed=1)
    served = req("s", status=RequestStatus.ACCEPTED, received=0, assigned=2)
    now = at(9 * 60)  # nine hours later
    ws = realtime_statistics(Snapshot([failed, served]), now, SLA)["workspace"]
    assert ws["tasks_waiting"] == 1 and ws["longest_task_waiting_sid"] == "f"
    assert (ws["sla_met"], ws["sla_breached"], ws["sla_percent"]) == (1, 1, 50.0)
    ws = realtime_statistics(Snapshot([failed, served], resolved=frozenset({"f"})), now, SLA)["workspace"]
    assert ws["tasks_waiting"] == 0 and ws["sla_breached"] == 1  # served another way, still not in time
    cumulative = cumulative_statistics(Snapshot([failed, served]), at(0), now, SLA)["workspace"]
    assert cumulative["sla_percent"] == 50.0 and cumulative["tasks_escalated"] == 1
