"""What an operator must look at now: open emergencies and alerts.

An **emergency** is a request of priority ``stat`` (FHIR: "with highest
priority", the one-key button's alarms). As an alarm centre runs them, it stays
pinned until an operator records its outcome with a code and a note
(``handlers.operations.outcomes``), whatever its status; it is *red* while
nobody acknowledged it or, acknowledged, nobody is on the way (no caregiver
booked or there), and then the card shows the emergency-services step. One that
nobody acknowledged within ``ack_within_seconds`` (default 60 s, the UK TSA
code of practice target for answering alarm calls) raises an alert.

Alerts, most urgent first:
- ``unacknowledged_emergency``;
- ``escalated``: dispatch failed the request to the operator queue (nobody accepted);
  it stays until an operator records how the elder was served (no timer ends it);
- ``sla_breach``: still waiting past its priority's SLA threshold;
- ``late``: a booked visit predicted to start after the elder's window
  (``Visit.expected_at`` past ``CareRequest.latest_start``, ``handlers.visits.lateness``);
- ``no_show``: no check-in ``late_after_seconds`` after the planned start
  (home-care EVV practice alerts from 5 min), or a visit marked no-show.
Ages are seconds. Pure: no database, no clock of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Mapping

from handlers.model import OfferStatus, Priority, RequestStatus, VisitStatus
from handlers.operations.queues import SlaPolicy, Snapshot, entered_at, unserved, waiting_age

ESCALATED = "escalated"
#: visit states in which a caregiver is on the way or with the elder
_HELPING = frozenset({VisitStatus.SCHEDULED, VisitStatus.IN_PROGRESS, VisitStatus.COMPLETED})
_ORDER = {"unacknowledged_emergency": 0, ESCALATED: 1, "sla_breach": 2, "late": 3, "no_show": 4}


@dataclass(frozen=True)
class Acknowledgement:
    """An operator said "I am on it" for an emergency."""

    request_id: str
    operator_id: str
    acknowledged_at: datetime


@dataclass(frozen=True)
class Emergency:
    """An open emergency (a ``stat`` request) on the operators' red card: its FHIR status, the
    escalation ``step`` reached (``escalation_step``), ``age_seconds`` since receipt, and who
    acknowledged it (None: nobody yet)."""

    request_id: str
    elder_id: str
    service_area: str
    status: str
    step: str
    age_seconds: float
    acknowledged_by: str | None
    #: no caregiver booked, on the way or there: the operator must send help (emergency services)
    nobody_on_the_way: bool = True

    @property
    def red(self) -> bool:
        """Unacknowledged, or acknowledged with nobody on the way."""
        return self.acknowledged_by is None or self.nobody_on_the_way


@dataclass(frozen=True)
class Alert:
    """Something an operator must look at (module docstring): ``kind`` one of
    ``unacknowledged_emergency``, ``escalated``, ``sla_breach``, ``late``, ``no_show``; the request
    id as ``subject_id``; ``age_seconds`` how long the condition has lasted; ``detail`` the
    escalation reason, the expected arrival (ISO) of a late visit or the no-show's caregiver id."""

    kind: str
    subject_id: str
    service_area: str
    age_seconds: float
    detail: str = ""


def is_emergency(priority: Priority) -> bool:
    """True for ``stat`` (FHIR "with highest priority"): the one-key button's alarms."""
    return priority == Priority.STAT


def escalation_step(snapshot: Snapshot, request_id: str, status: RequestStatus, logged: Mapping[str, str]) -> str:
    """The step a request has reached: the last step the event log recorded
    (``care.request.escalated``), else what its offers and visit say."""
    if status == RequestStatus.FAILED:
        return logged.get(request_id, "operator_queue")
    if request_id in logged:
        return logged[request_id]
    if any(v.request_id == request_id for v in snapshot.visits):
        return "assigned"
    tries = [o for o in snapshot.offers if o.request_id == request_id]
    if any(o.status == OfferStatus.PENDING for o in tries):
        return f"offer_{len(tries)}"
    return "waiting"


def open_emergencies(
    snapshot: Snapshot,
    acks: Mapping[str, Acknowledgement],
    now: datetime,
    logged_steps: Mapping[str, str] | None = None,
) -> list[Emergency]:
    """Emergencies without a recorded outcome (``snapshot.resolved``), whatever their
    status: red ones first (unacknowledged, then nobody on the way), then oldest first."""
    steps = logged_steps or {}
    helping = {v.request_id for v in snapshot.visits if v.status in _HELPING}
    out = []
    for r in snapshot.requests:
        if not is_emergency(r.priority) or r.request_id in snapshot.resolved:
            continue
        ack = acks.get(r.request_id)
        out.append(
            Emergency(
                r.request_id,
                r.elder_id,
                r.service_area,
                r.status.value,
                escalation_step(snapshot, r.request_id, r.status, steps),
                round(max(0.0, (now - entered_at(r)).total_seconds()), 1),
                ack.operator_id if ack else None,
                r.request_id not in helping,
            )
        )
    return sorted(out, key=lambda e: (e.acknowledged_by is not None, not e.red, -e.age_seconds))


def alerts(
    snapshot: Snapshot,
    acks: Mapping[str, Acknowledgement],
    now: datetime,
    sla: SlaPolicy,
    ack_within_seconds: float = 60.0,
    late_after_seconds: float = 300.0,
) -> list[Alert]:
    """Every alert at ``now``, most urgent kind first, then oldest first."""
    found: list[Alert] = []
    for r in snapshot.requests:
        age = max(0.0, (now - entered_at(r)).total_seconds())
        if (
            is_emergency(r.priority)
            and r.request_id not in acks
            and r.request_id not in snapshot.resolved
            and age > ack_within_seconds
        ):
            found.append(Alert("unacknowledged_emergency", r.request_id, r.service_area, age))
        if unserved(r, snapshot.resolved):
            since = r.closed_at or entered_at(r)
            found.append(
                Alert(ESCALATED, r.request_id, r.service_area, (now - since).total_seconds(), r.status_reason or "")
            )
        waited = waiting_age(r, now, snapshot.resolved)
        if waited > sla.threshold(r.priority):
            found.append(Alert("sla_breach", r.request_id, r.service_area, waited))
    areas = {r.request_id: r.service_area for r in snapshot.requests}
    by_id = {r.request_id: r for r in snapshot.requests}
    for v in snapshot.visits:
        booked = by_id.get(v.request_id)
        if (
            v.status == VisitStatus.SCHEDULED
            and v.expected_at is not None
            and booked is not None
            and v.expected_at > booked.latest_start
        ):
            behind = (v.expected_at - booked.latest_start).total_seconds()
            found.append(Alert("late", v.request_id, booked.service_area, behind, v.expected_at.isoformat()))
        late = (now - v.planned_start).total_seconds()
        if v.status == VisitStatus.NO_SHOW or (v.status == VisitStatus.SCHEDULED and late > late_after_seconds):
            found.append(Alert("no_show", v.request_id, areas.get(v.request_id, ""), max(0.0, late), v.caregiver_id))
    return sorted(found, key=lambda a: (_ORDER[a.kind], -a.age_seconds))
