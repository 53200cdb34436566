"""The center's own KPIs over a period: requests served, and emergencies answered.

**Unserved requests** are the care requests of a period that no caregiver served.

A request is unserved when it ``failed`` (the escalation ladder ran out: no caregiver
accepted it and it went to the operators) or was never assigned (no caregiver holds it or
served it, and it was neither withdrawn nor recorded in error: still waiting, on hold or
rejected at the period's end). A request cancelled (by the elder or an operator) or entered in error is
withdrawn, neither served nor unserved; one assigned, lost (a no-show) and not taken again
fails, and so counts as unserved. Every other request had a caregiver: served.
``served_share`` is served / (served + unserved).

**Emergencies answered** (priority ``stat``): an emergency is answered when a person took
it, an operator acknowledging it or a caregiver accepting it, whichever came first, counted
from when the center received it. The target is the alarm-call standard's (DESIGN.md: 97.5%
answered within 60 s, UK TSA code of practice), the dashboard's alert after 60 s
(``CARELINE_EMERGENCY_ACK_SECONDS``) likewise.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Sequence

EMERGENCY = "stat"

FAILED = "failed"
NEVER_ASSIGNED = "never_assigned"
#: statuses of a request that was taken back rather than left unserved
WITHDRAWN = frozenset({"cancelled", "entered-in-error"})
#: statuses of a request a caregiver holds or served (``handlers.model.RequestStatus``)
WITH_A_CAREGIVER = frozenset({"accepted", "in-progress", "completed"})


@dataclass(frozen=True)
class RequestOutcome:
    """One care request of the period; ``status`` is a ``RequestStatus`` value,
    ``priority`` a ``Priority`` value; ``received_at`` when the center had it,
    ``assigned_at`` when a caregiver first held it and ``acknowledged_at`` when an operator
    acknowledged it (an emergency), each None if it never happened."""

    request_id: str
    service_type: str
    priority: str
    service_area: str
    window_start: datetime
    status: str
    received_at: datetime
    assigned_at: datetime | None = None
    acknowledged_at: datetime | None = None

    @property
    def assigned(self) -> bool:
        """True once a caregiver held the request (``assigned_at`` set), whatever happened after."""
        return self.assigned_at is not None


def why_unserved(request: RequestOutcome) -> str | None:
    """``FAILED``, ``NEVER_ASSIGNED`` or None (served, or withdrawn)."""
    if request.status == FAILED:
        return FAILED
    if request.status in WITHDRAWN or request.status in WITH_A_CAREGIVER or request.assigned:
        return None
    return NEVER_ASSIGNED


@dataclass(frozen=True)
class RequestTally:
    """The period's requests: ``requests`` in all, ``withdrawn``, ``served`` and the unserved
    by reason, service type and priority; ``served_share`` None without any to serve."""

    requests: int
    withdrawn: int
    served: int
    unserved: int
    by_reason: dict[str, int] = field(default_factory=dict)
    by_service: dict[str, int] = field(default_factory=dict)
    by_priority: dict[str, int] = field(default_factory=dict)

    @property
    def served_share(self) -> float | None:
        """Served ÷ (served + unserved), 0..1; withdrawn requests are left out of both."""
        due = self.served + self.unserved
        return self.served / due if due else None


def tally(requests: Sequence[RequestOutcome]) -> RequestTally:
    """Count ``requests`` as served, withdrawn and unserved (see the module's rules)."""
    reasons = [(r, why_unserved(r)) for r in requests]
    unserved = [(r, why) for r, why in reasons if why is not None]
    withdrawn = sum(r.status in WITHDRAWN for r in requests)
    return RequestTally(
        requests=len(requests),
        withdrawn=withdrawn,
        served=len(requests) - withdrawn - len(unserved),
        unserved=len(unserved),
        by_reason=dict(Counter(why for _, why in unserved)),
        by_service=dict(Counter(r.service_type for r, _ in unserved)),
        by_priority=dict(Counter(r.priority for r, _ in unserved)),
    )


def answer_seconds(request: RequestOutcome) -> float | None:
    """Seconds from receipt until a person took the request (acknowledged or assigned,
    whichever first); None if nobody did."""
    taken = [t for t in (request.acknowledged_at, request.assigned_at) if t is not None]
    return max(0.0, (min(taken) - request.received_at).total_seconds()) if taken else None


def emergencies_answered_within(requests: Sequence[RequestOutcome], seconds: float) -> tuple[int, float | None]:
    """(emergencies, share of them answered within ``seconds``); the share None without any.
    An emergency nobody answered counts as not answered in time."""
    emergencies = [r for r in requests if r.priority == EMERGENCY and r.status != "entered-in-error"]
    if not emergencies:
        return 0, None
    answered = sum((s := answer_seconds(r)) is not None and s <= seconds for r in emergencies)
    return len(emergencies), answered / len(emergencies)
