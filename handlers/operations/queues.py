"""Queue statistics for operators, named as Twilio TaskRouter names them.

A *queue* is service type × service area × priority; a care request is a
*task* and an offer a *reservation*. Real-time statistics describe the moment
``now`` (TaskRouter TaskQueue RealTimeStatistics); cumulative statistics count
what happened in ``[start, end)`` (TaskQueue / Worker CumulativeStatistics).
Every duration is in **seconds**; every function filters by a region prefix
(``handlers.operations.regions``). Pure: the caller loads plain lists and passes them in.

A request *waits* while it is requested, received, ready or on hold: not yet
accepted by a caregiver (TaskRouter counts pending and reserved tasks alike);
one dispatch *failed* (nobody took it) waits too until an operator records how
the elder was served (``Snapshot.resolved``, ``handlers.operations.outcomes``).
Its waiting age runs from receipt (``received_at``, else ``submitted_at``).
SLA: a request meets it when accepted within its priority's threshold
(``SlaPolicy``); one still waiting under the threshold is not decided yet; a
request cancelled before the threshold is not counted; a failed one is a breach
whenever it failed (an elder nobody served was not served in time).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Collection, Iterable, Mapping, Sequence, TypeGuard

from handlers.dispatch.shifts import on_shift
from handlers.model import Caregiver, CareRequest, Offer, OfferStatus, Priority, RequestStatus, Visit, VisitStatus
from handlers.operations.regions import areas_within

WAITING = frozenset({RequestStatus.REQUESTED, RequestStatus.RECEIVED, RequestStatus.READY, RequestStatus.ON_HOLD})
_OUTCOME_NAMES = {
    OfferStatus.ACCEPTED: "reservations_accepted",
    OfferStatus.REJECTED: "reservations_rejected",
    OfferStatus.TIMEOUT: "reservations_timed_out",
    OfferStatus.RESCINDED: "reservations_rescinded",
    OfferStatus.CANCELED: "reservations_canceled",
}


class Activity(StrEnum):
    """A caregiver's state, as TaskRouter worker activities."""

    AVAILABLE = "available"
    BUSY = "busy"
    OFFLINE = "offline"


@dataclass(frozen=True)
class SlaPolicy:
    """Seconds from receipt to acceptance, per priority value (``routine`` … ``stat``)."""

    assign_within_seconds: Mapping[str, float] = field(
        default_factory=lambda: {"stat": 60.0, "asap": 300.0, "urgent": 900.0, "routine": 3600.0}
    )

    def threshold(self, priority: Priority) -> float:
        """Seconds within which a request of ``priority`` must be accepted (3600 s for a priority
        the mapping lacks). The defaults are ``[sla_minutes]`` of config/policy.toml; stat's 60 s
        is the UK TSA code of practice's alarm-answer target."""
        return float(self.assign_within_seconds.get(priority.value, 3600.0))


@dataclass(frozen=True)
class QueueKey:
    """A queue (a TaskRouter TaskQueue): service type × service area × FHIR priority."""

    service_type: str
    service_area: str
    priority: Priority

    def as_dict(self, region: str | None) -> dict[str, str]:
        """The key as JSON-ready strings, with the area's region path (``""`` when unplaced)."""
        return {
            "service_type": self.service_type,
            "service_area": self.service_area,
            "priority": self.priority.value,
            "region": region or "",
        }


@dataclass(frozen=True)
class Snapshot:
    """What the statistics read: requests with their offers and visits, the
    caregivers, and each service area's region path."""

    requests: Sequence[CareRequest]
    offers: Sequence[Offer] = ()
    visits: Sequence[Visit] = ()
    caregivers: Sequence[Caregiver] = ()
    area_regions: Mapping[str, str] = field(default_factory=dict)
    #: requests an operator closed with an outcome (a failed one served another way, an emergency ended)
    resolved: frozenset[str] = frozenset()

    def in_region(self, region: str) -> Snapshot:
        """Only what lies in ``region`` (``""``: everything)."""
        if region == "":
            return self
        areas = areas_within(
            self.area_regions,
            {r.service_area for r in self.requests} | {c.service_area for c in self.caregivers},
            region,
        )
        requests = [r for r in self.requests if r.service_area in areas]
        ids = {r.request_id for r in requests}
        return Snapshot(
            requests,
            [o for o in self.offers if o.request_id in ids],
            [v for v in self.visits if v.request_id in ids],
            [c for c in self.caregivers if c.service_area in areas],
            self.area_regions,
            self.resolved,
        )


def queue_of(request: CareRequest) -> QueueKey:
    """The queue ``request`` waits in."""
    return QueueKey(request.service_type, request.service_area, request.priority)


def _seconds(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds()


def entered_at(request: CareRequest) -> datetime:
    """When the request entered its queue (aware UTC): receipt, else submission."""
    return request.received_at or request.submitted_at


def unserved(request: CareRequest, resolved: Collection[str] = ()) -> bool:
    """Dispatch failed it (nobody took it) and no operator has recorded an outcome yet."""
    return request.status == RequestStatus.FAILED and request.request_id not in resolved


def waits(request: CareRequest, resolved: Collection[str] = ()) -> bool:
    """Not accepted yet: requested, received, ready, on hold, or ``unserved``."""
    return request.status in WAITING or unserved(request, resolved)


def waiting_age(request: CareRequest, now: datetime, resolved: Collection[str] = ()) -> float:
    """Seconds a waiting request has waited (an unserved one too); 0 for one that no longer waits."""
    return max(0.0, _seconds(now, entered_at(request))) if waits(request, resolved) else 0.0


def sla_outcome(request: CareRequest, now: datetime, threshold_seconds: float) -> bool | None:
    """True: accepted in time; False: breached (a failed request always is); None: not
    decided (yet) or not counted."""
    start = entered_at(request)
    if request.assigned_at is not None:
        return _seconds(request.assigned_at, start) <= threshold_seconds
    if request.status == RequestStatus.FAILED:
        return False
    end = request.closed_at or now
    if _seconds(end, start) <= threshold_seconds:
        return None
    if request.status == RequestStatus.CANCELLED and request.closed_at is not None:
        return None if _seconds(request.closed_at, start) <= threshold_seconds else False
    return False


def sla_percent(requests: Iterable[CareRequest], now: datetime, sla: SlaPolicy) -> dict[str, int | float | None]:
    """``sla_met``, ``sla_breached`` and ``sla_percent`` (None when nothing is decided)."""
    outcomes = [sla_outcome(r, now, sla.threshold(r.priority)) for r in requests]
    met, breached = outcomes.count(True), outcomes.count(False)
    pct = round(100.0 * met / (met + breached), 1) if met + breached else None
    return {"sla_met": met, "sla_breached": breached, "sla_percent": pct}


def caregiver_activity(
    caregiver: Caregiver, offers: Iterable[Offer], visits: Iterable[Visit], now: datetime
) -> Activity:
    """Offline when inactive (marked unavailable) or off shift (its rota or fixed shift,
    ``handlers.dispatch.shifts``); busy with a visit in
    progress, a visit planned for this moment or a pending offer; else available."""
    if not caregiver.active or not on_shift(caregiver, now):
        return Activity.OFFLINE
    cid = caregiver.caregiver_id
    for v in visits:
        if v.caregiver_id == cid and (
            v.status == VisitStatus.IN_PROGRESS
            or (v.status == VisitStatus.SCHEDULED and v.planned_start <= now < v.planned_end)
        ):
            return Activity.BUSY
    if any(o.caregiver_id == cid and o.status == OfferStatus.PENDING for o in offers):
        return Activity.BUSY
    return Activity.AVAILABLE


def activities(snapshot: Snapshot, now: datetime) -> dict[str, Activity]:
    """Caregiver id -> ``caregiver_activity`` at ``now`` for each caregiver of the snapshot."""
    return {c.caregiver_id: caregiver_activity(c, snapshot.offers, snapshot.visits, now) for c in snapshot.caregivers}


def _activity_statistics(states: Iterable[Activity]) -> list[dict[str, str | int]]:
    counts = Counter(states)
    return [{"friendly_name": a.value, "workers": counts.get(a, 0)} for a in Activity]


def _realtime_block(
    requests: Sequence[CareRequest], now: datetime, sla: SlaPolicy, resolved: Collection[str] = ()
) -> dict[str, Any]:
    waiting = [r for r in requests if waits(r, resolved)]
    oldest = max(waiting, key=lambda r: waiting_age(r, now, resolved), default=None)
    return {
        "longest_task_waiting_age": round(waiting_age(oldest, now, resolved), 1) if oldest else 0.0,
        "longest_task_waiting_sid": oldest.request_id if oldest else None,
        "tasks_waiting": len(waiting),
        "total_tasks": len(requests),
        "tasks_by_status": dict(sorted(Counter(r.status.value for r in requests).items())),
        **sla_percent(requests, now, sla),
    }


def realtime_statistics(snapshot: Snapshot, now: datetime, sla: SlaPolicy, region: str = "") -> dict[str, Any]:
    """Per queue, for the workspace (all queues in ``region``) and per caregiver, at ``now``.

    The caller passes the requests that are open plus those closed lately
    (the read model uses 24 h, TaskRouter's task time-to-live)."""
    snap = snapshot.in_region(region)
    states = activities(snap, now)
    by_queue: dict[QueueKey, list[CareRequest]] = defaultdict(list)
    for r in snap.requests:
        by_queue[queue_of(r)].append(r)
    queues = []
    for key in sorted(by_queue, key=lambda k: (k.service_area, k.service_type, k.priority.value)):
        eligible = [
            c for c in snap.caregivers if c.service_area == key.service_area and c.can_perform(key.service_type)
        ]
        queues.append(
            {
                "queue": key.as_dict(snap.area_regions.get(key.service_area)),
                **_realtime_block(by_queue[key], now, sla, snap.resolved),
                "sla_threshold_seconds": sla.threshold(key.priority),
                "total_eligible_workers": len(eligible),
                "total_available_workers": sum(states[c.caregiver_id] == Activity.AVAILABLE for c in eligible),
                "activity_statistics": _activity_statistics(states[c.caregiver_id] for c in eligible),
            }
        )
    workspace = {
        **_realtime_block(snap.requests, now, sla, snap.resolved),
        "tasks_by_priority": {p.value: sum(r.priority == p for r in snap.requests) for p in Priority},
        "total_workers": len(snap.caregivers),
        "activity_statistics": _activity_statistics(states.values()),
    }
    workers = [
        {
            "worker_sid": c.caregiver_id,
            "service_area": c.service_area,
            "provider_id": c.provider_id,
            "activity_name": states[c.caregiver_id].value,
            "abilities": c.abilities.split(),
        }
        for c in sorted(snap.caregivers, key=lambda c: c.caregiver_id)
    ]
    return {
        "region": region,
        "generated_at": now.isoformat(),
        "workspace": workspace,
        "queues": queues,
        "workers": workers,
    }


def _in(t: datetime | None, start: datetime, end: datetime) -> TypeGuard[datetime]:
    """Whether ``t`` is set and lies in ``[start, end)`` (so a ``True`` also narrows it to ``datetime``)."""
    return t is not None and start <= t < end


def _durations(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"avg": None, "min": None, "max": None, "total": 0.0}
    return {
        "avg": round(sum(values) / len(values), 1),
        "min": round(min(values), 1),
        "max": round(max(values), 1),
        "total": round(sum(values), 1),
    }


def _reservations(offers: Iterable[Offer], start: datetime, end: datetime) -> dict[str, int]:
    counts = {"reservations_created": 0, **{name: 0 for name in _OUTCOME_NAMES.values()}}
    for o in offers:
        counts["reservations_created"] += _in(o.created_at, start, end)
        if o.status in _OUTCOME_NAMES and _in(o.responded_at, start, end):
            counts[_OUTCOME_NAMES[o.status]] += 1
    return counts


def _cumulative_block(
    requests: Sequence[CareRequest], offers: Sequence[Offer], start: datetime, end: datetime, sla: SlaPolicy
) -> dict[str, Any]:
    accepted = [_seconds(r.assigned_at, entered_at(r)) for r in requests if _in(r.assigned_at, start, end)]
    closed = {
        s: [r for r in requests if r.status == s and _in(r.closed_at, start, end)]
        for s in (RequestStatus.COMPLETED, RequestStatus.CANCELLED, RequestStatus.FAILED)
    }
    until_canceled = [
        _seconds(r.closed_at, entered_at(r)) for r in closed[RequestStatus.CANCELLED] if r.closed_at is not None
    ]
    accepted_stats = _durations(accepted)
    return {
        "tasks_entered": sum(_in(entered_at(r), start, end) for r in requests),
        "tasks_completed": len(closed[RequestStatus.COMPLETED]),
        "tasks_canceled": len(closed[RequestStatus.CANCELLED]),
        "tasks_escalated": len(closed[RequestStatus.FAILED]),
        "avg_task_acceptance_time": accepted_stats["avg"],
        "wait_duration_until_accepted": accepted_stats,
        "wait_duration_until_canceled": _durations(until_canceled),
        **_reservations(offers, start, end),
        **sla_percent([r for r in requests if _in(entered_at(r), start, end)], end, sla),
    }


def cumulative_statistics(
    snapshot: Snapshot, start: datetime, end: datetime, sla: SlaPolicy, region: str = ""
) -> dict[str, Any]:
    """What happened in ``[start, end)``, per queue, for the workspace and per caregiver.

    A task counts where its event falls: entered at receipt, accepted at
    ``assigned_at``, completed / canceled / escalated (failed to the operator
    queue) at ``closed_at``; a reservation is created at ``created_at`` and
    counted by outcome at ``responded_at``."""
    snap = snapshot.in_region(region)
    request_of = {r.request_id: r for r in snap.requests}
    by_queue: dict[QueueKey, list[CareRequest]] = defaultdict(list)
    offers_by_queue: dict[QueueKey, list[Offer]] = defaultdict(list)
    for r in snap.requests:
        by_queue[queue_of(r)].append(r)
    for o in snap.offers:
        if o.request_id in request_of:
            offers_by_queue[queue_of(request_of[o.request_id])].append(o)
    queues = [
        {
            "queue": key.as_dict(snap.area_regions.get(key.service_area)),
            **_cumulative_block(by_queue[key], offers_by_queue[key], start, end, sla),
        }
        for key in sorted(by_queue, key=lambda k: (k.service_area, k.service_type, k.priority.value))
    ]
    workers = []
    for c in sorted(snap.caregivers, key=lambda c: c.caregiver_id):
        mine = [o for o in snap.offers if o.caregiver_id == c.caregiver_id]
        answered = [
            _seconds(o.responded_at, o.created_at)
            for o in mine
            if o.status in (OfferStatus.ACCEPTED, OfferStatus.REJECTED) and _in(o.responded_at, start, end)
        ]
        workers.append(
            {
                "worker_sid": c.caregiver_id,
                "service_area": c.service_area,
                **_reservations(mine, start, end),
                "avg_reservation_response_time": _durations(answered)["avg"],
                "tasks_completed": sum(
                    v.caregiver_id == c.caregiver_id and _in(v.check_out_at, start, end) for v in snap.visits
                ),
            }
        )
    return {
        "region": region,
        "start_time": start.isoformat(),
        "end_time": end.isoformat(),
        "workspace": _cumulative_block(snap.requests, snap.offers, start, end, sla),
        "queues": queues,
        "workers": workers,
    }
