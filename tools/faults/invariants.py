"""What must hold after any fault: the invariants of issue 7, checked on a run's records.

``check(...)`` takes what a run left behind (the intake ids the outside world
had accepted, the requests, offers and visits, the status events of the audit
trail, unsent outbox rows, the SMS the Twilio side received) and returns a
``Verdict``: counts for the fault table (requests in, completed, lost,
duplicated) and every violation, each naming the record. Pure: no database,
no broker (``tools.faults.lab`` reads the records and calls it).

Invariants (issue 7, "Faults"):
1. every accepted intake became exactly one request (``lost`` otherwise;
   a dead-lettered intake counts as handled, with its reason kept);
2. every request reached a final state or the operator queue (``failed``);
3. no caregiver holds overlapping visits;
4. no request has two accepted offers (or two live visits);
5. no message stuck in the outbox;
6. nothing lost from the audit trail: each request's current status has its
   ``care.request.status_changed`` event in the event log;
7. no SMS sent twice for one offer (recipient, text and the status callback that names
   the request, as Twilio received them).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Mapping

from handlers.model import CareRequest, Offer, OfferStatus, RequestStatus, Visit, VisitStatus

#: where a request may rest when the run is over: final, or waiting for an operator
RESTING = frozenset(
    {
        RequestStatus.COMPLETED,
        RequestStatus.CANCELLED,
        RequestStatus.REJECTED,
        RequestStatus.ENTERED_IN_ERROR,
        RequestStatus.FAILED,
    }
)
LIVE_VISITS = frozenset({VisitStatus.SCHEDULED, VisitStatus.IN_PROGRESS, VisitStatus.COMPLETED})


@dataclass
class Verdict:
    """``requests_in``: intakes accepted; ``completed``: requests completed;
    ``lost``: intakes with no request and no dead letter, plus requests not at
    rest; ``duplicated``: second accepted offers, second live visits and
    repeated SMS; ``violations``: one line per broken invariant instance."""

    requests_in: int = 0
    completed: int = 0
    to_operator: int = 0
    dead_lettered: int = 0
    lost: int = 0
    duplicated: int = 0
    violations: list[str] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        return not self.violations


def _held(v: Visit) -> tuple[datetime, datetime]:
    """When the visit holds its caregiver: from the check-in (else the planned start) to the
    check-out (else the expected end), the rule dispatch books by (``Visit.expected_end``). A
    visit checked out early frees the rest of its slot: the lifecycle bench checks visits of
    tomorrow in and out today, and a caregiver booked again in such a freed slot is no double booking."""
    return (v.check_in_at or v.planned_start, v.expected_end)


def _overlaps(visits: list[Visit]) -> list[tuple[Visit, Visit]]:
    """Each visit that starts before the visit ending last among those before it has ended."""
    ordered = sorted(visits, key=lambda v: _held(v)[0])
    found: list[tuple[Visit, Visit]] = []
    latest: Visit | None = None
    for v in ordered:
        if latest is not None and _held(v)[0] < _held(latest)[1]:
            found.append((latest, v))
        if latest is None or _held(v)[1] > _held(latest)[1]:
            latest = v
    return found


def check(
    intake_ids: Iterable[str],
    requests: Iterable[CareRequest],
    offers: Iterable[Offer],
    visits: Iterable[Visit],
    status_events: Mapping[str, set[str]],
    dead_lettered: Iterable[str] = (),
    unsent_outbox: int = 0,
    sms_sent: Mapping[tuple, int] | None = None,
) -> Verdict:
    """Check the invariants above. ``intake_ids`` are request ids the channels
    accepted; ``status_events`` maps request id -> statuses its
    ``care.request.status_changed`` events recorded; ``sms_sent`` maps
    (kind, to, body[, status callback]) -> how many creates Twilio received."""
    accepted = set(intake_ids)
    by_id = {r.request_id: r for r in requests}
    dead = set(dead_lettered) & accepted
    v = Verdict(requests_in=len(accepted), dead_lettered=len(dead))
    for rid in sorted(accepted - set(by_id) - dead):
        v.lost += 1
        v.violations.append(f"intake {rid}: accepted but no request and no dead letter")
    for rid in sorted(accepted & set(by_id)):
        request = by_id[rid]
        if request.status == RequestStatus.COMPLETED:
            v.completed += 1
        elif request.status == RequestStatus.FAILED:
            v.to_operator += 1
        if request.status not in RESTING:
            v.lost += 1
            v.violations.append(f"request {rid}: stuck in {request.status.value}")
        if request.status.value not in status_events.get(rid, set()):
            v.violations.append(f"request {rid}: no audit event for its status {request.status.value}")
    accepted_offers = Counter(o.request_id for o in offers if o.status == OfferStatus.ACCEPTED)
    for rid, n in sorted(accepted_offers.items()):
        if n > 1 and rid in accepted:
            v.duplicated += n - 1
            v.violations.append(f"request {rid}: {n} accepted offers")
    live = [x for x in visits if x.status in LIVE_VISITS and x.request_id in accepted]
    per_request = Counter(x.request_id for x in live)
    for rid, n in sorted(per_request.items()):
        if n > 1:
            v.duplicated += n - 1
            v.violations.append(f"request {rid}: {n} live visits")
    per_caregiver: dict[str, list[Visit]] = defaultdict(list)
    for x in live:
        per_caregiver[x.caregiver_id].append(x)
    for caregiver, held in sorted(per_caregiver.items()):
        for a, b in _overlaps(held):
            v.violations.append(f"caregiver {caregiver}: visits {a.request_id} and {b.request_id} overlap")
    if unsent_outbox:
        v.violations.append(f"outbox: {unsent_outbox} messages never relayed")
    for (kind, to, body, *_), n in sorted((sms_sent or {}).items()):
        if n > 1:
            v.duplicated += n - 1
            v.violations.append(f"{kind} to …{to[-4:]} sent {n} times: {body[:40]!r}")
    return v
