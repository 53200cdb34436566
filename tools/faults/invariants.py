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
from typing import Any, Iterable, Mapping

from handlers.model import CareRequest, Offer, OfferStatus, RequestStatus, Visit, VisitStatus, visit_id_for

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


def _overlaps(visits: list[Visit], booked: Mapping[str, Any], freed: Mapping[str, Any]) -> list[tuple[Visit, Visit]]:
    """Pairs of one caregiver's visits whose planned slots overlap, ordered by start, unless one
    was freed (checked out, or checked in before its planned start: ``Visit.expected_end``, the
    rule dispatch books by) before the other was booked (its offer made). ``booked`` and ``freed`` map visit ids to comparable marks (times,
    or outbox sequence numbers: the order the worker did things in). The lifecycle bench checks
    tomorrow's visits in and out today, and a caregiver booked again in a slot freed so is no
    double booking."""

    def freed_before(x: Visit, y: Visit) -> bool:
        done, made = freed.get(x.visit_id), booked.get(y.visit_id)
        return done is not None and made is not None and done <= made

    ordered = sorted(visits, key=lambda v: v.planned_start)
    return [
        (a, b)
        for i, a in enumerate(ordered)
        for b in ordered[i + 1 :]
        if b.planned_start < a.planned_end and not freed_before(a, b) and not freed_before(b, a)
    ]


def _slot(x: Visit, booked: Mapping[str, Any], freed: Mapping[str, Any]) -> str:
    """What a reader needs to judge an overlap: the planned slot, status, check-in and out, and
    when the visit was booked and freed (``_overlaps``)."""

    def hm(t: Any) -> str:
        return t.strftime("%d %H:%M:%S") if t is not None else "-"

    return (
        f"{x.visit_id} {hm(x.planned_start)}-{hm(x.planned_end)} {x.status.value}, in {hm(x.check_in_at)} "
        f"out {hm(x.check_out_at)}, booked {booked.get(x.visit_id)} freed {freed.get(x.visit_id)}"
    )


def check(
    intake_ids: Iterable[str],
    requests: Iterable[CareRequest],
    offers: Iterable[Offer],
    visits: Iterable[Visit],
    status_events: Mapping[str, set[str]],
    dead_lettered: Iterable[str] = (),
    unsent_outbox: int = 0,
    sms_sent: Mapping[tuple, int] | None = None,
    booked: Mapping[str, Any] | None = None,
    freed: Mapping[str, Any] | None = None,
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
    if booked is None:  # when each visit's offer was made, and when it was checked out (event time)
        booked = {visit_id_for(o.offer_id): o.created_at for o in offers}
    if freed is None:  # an early check-in moves the hold off the planned slot; a check-out ends it
        freed = {
            x.visit_id: x.check_in_at if x.check_in_at < x.planned_start else x.check_out_at
            for x in visits
            if x.check_in_at is not None and (x.check_in_at < x.planned_start or x.check_out_at is not None)
        }
    for caregiver, held in sorted(per_caregiver.items()):
        for a, b in _overlaps(held, booked, freed):
            v.violations.append(
                f"caregiver {caregiver}: visits {a.request_id} and {b.request_id} overlap "
                f"({_slot(a, booked, freed)}; {_slot(b, booked, freed)})"
            )
    if unsent_outbox:
        v.violations.append(f"outbox: {unsent_outbox} messages never relayed")
    for (kind, to, body, *_), n in sorted((sms_sent or {}).items()):
        if n > 1:
            v.duplicated += n - 1
            v.violations.append(f"{kind} to …{to[-4:]} sent {n} times: {body[:40]!r}")
    return v
