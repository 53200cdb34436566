"""The operator's board: one view model of everything the live page shows,
built from the read model and the pure statistics, with personal data masked
for roles that do not need it (``handlers.operations.access.personal``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from careline.web.board_map import map_points
from careline.web.street_map import board_street_map
from config.settings import Settings
from db import dashboard as readmodel
from db import loose_ends
from db.session import Session
from handlers.dispatch.scheduling import DispatchPolicy
from handlers.dispatch.shifts import absence_on, current_or_next_shift
from handlers.model import OfferStatus, VisitStatus
from handlers.operations.access import Permission, Role, allowed, personal
from handlers.operations.alerts import alerts, open_emergencies
from handlers.operations.outcomes import EMERGENCY_OUTCOMES, LOOSE_END_OUTCOMES, UNSERVED_OUTCOMES
from handlers.operations.queues import SlaPolicy, activities, realtime_statistics, unserved, waiting_age
from handlers.operations.regions import child_regions

MAX_ROWS = 100


def sla_policy(policy: DispatchPolicy) -> SlaPolicy:
    """The SLA thresholds of the routing policy (``[sla]`` minutes per priority), in seconds."""
    return SlaPolicy({priority: minutes * 60.0 for priority, minutes in policy.sla_minutes.items()})


def _holders(snap) -> dict[str, tuple[str, str]]:  # noqa: ANN001
    """request id -> (caregiver id, "offer" | "visit") for what holds each request now."""
    held: dict[str, tuple[str, str]] = {}
    for o in snap.offers:
        if o.status == OfferStatus.PENDING:
            held[o.request_id] = (o.caregiver_id, "offer")
    for v in snap.visits:
        if v.status in (VisitStatus.SCHEDULED, VisitStatus.IN_PROGRESS):
            held[v.request_id] = (v.caregiver_id, "visit")
    return held


def build_board(
    session: Session, settings: Settings, policy: DispatchPolicy, role: Role, region: str, map_area: str | None = None
) -> dict[str, Any]:
    """Everything the live board shows for ``region`` (already checked against the scope);
    SLA thresholds from ``policy`` (the bootstrap's routing policy)."""
    now: datetime = readmodel.clock_now(session)
    snap = readmodel.realtime_snapshot(session, region, now).in_region(region)
    sla = sla_policy(policy)
    stats = realtime_statistics(snap, now, sla)
    # open requests, and those nobody took until an operator records how the elder was served
    open_ids = {r.request_id for r in snap.requests if not r.status.is_final or unserved(r, snap.resolved)}
    stat_ids = {r.request_id for r in snap.requests if r.priority.value == "stat"}
    acks = readmodel.acknowledgements(session, stat_ids)
    elders = readmodel.elders_of(
        session,
        {r.elder_id for r in snap.requests if r.request_id in open_ids | stat_ids or r.status.value == "failed"},
    )

    def show(eid: str) -> dict[str, str]:
        """The elder's name and phone as ``role`` may see them (masked for some roles)."""
        return personal(role, elders[eid].name, elders[eid].phone) if eid in elders else {"name": "", "phone": ""}

    cards = open_emergencies(snap, acks, now, readmodel.escalation_steps(session, stat_ids))
    may_see = allowed(role, Permission.VIEW_PERSONAL_DATA)
    addresses = readmodel.addresses_of(session, {e.elder_id for e in cards}) if may_see else {}
    emergencies = [
        {
            **e.__dict__,
            "red": e.red,
            "elder": show(e.elder_id),
            "address": addresses.get(e.elder_id, ""),
            "dial": settings.emergency_services_number,
            "service_type": next(r.service_type for r in snap.requests if r.request_id == e.request_id),
        }
        for e in cards
    ]
    found = [
        _on_the_clock(a.__dict__, ZoneInfo(settings.programme_timezone))
        for a in alerts(snap, acks, now, sla, settings.emergency_ack_seconds, settings.late_visit_alert_seconds)
    ]
    holders = _holders(snap)
    breached = {a["subject_id"] for a in found if a["kind"] == "sla_breach"}
    open_requests = sorted(
        (r for r in snap.requests if r.request_id in open_ids),
        key=lambda r: (r.priority.value != "stat", -waiting_age(r, now, snap.resolved), r.request_id),
    )
    rows = [
        {
            "request_id": r.request_id,
            "status": r.status.value,
            "priority": r.priority.value,
            "service_type": r.service_type,
            "service_area": r.service_area,
            "age_seconds": (now - (r.received_at or r.submitted_at)).total_seconds(),
            "holder": holders.get(r.request_id),
            "emergency": r.priority.value == "stat",
            "sla_breached": r.request_id in breached or unserved(r, snap.resolved),
            "unserved": unserved(r, snap.resolved),
            "elder": show(r.elder_id),
        }
        for r in open_requests
    ]
    scope = readmodel.areas_in(session, dict(snap.area_regions), region)
    loose = [
        {
            "loose_end_id": row.loose_end_id,
            "kind": row.kind,
            "subject": row.subject or "",
            "service_area": row.service_area or "",
            "phone": personal(role, "", row.phone)["phone"] if row.phone else "",
            "detail": row.detail,
            "age_seconds": (now - row.opened_at).total_seconds(),
            "due": row.due_at is not None and row.due_at <= now,
        }
        for row in loose_ends.open_loose_ends(session, scope)
    ]
    followups = [
        {
            "feedback_id": row.feedback_id,
            "request_id": row.request_id,
            "category": row.category or "",
            "channel": row.channel or "",
            "service_area": row.service_area,
            "age_seconds": (now - row.received_at).total_seconds(),
            "due": row.followup_due_at is not None and row.followup_due_at <= now,
        }
        for row in loose_ends.open_followups(session, scope)
    ]
    states = activities(snap, now)
    areas = sorted({c.service_area for c in snap.caregivers} | {r.service_area for r in snap.requests})
    if map_area not in areas:
        busiest = sorted(
            areas, key=lambda a: -sum(r.service_area == a for r in snap.requests if r.request_id in open_ids)
        )
        map_area = busiest[0] if busiest else None
    return {
        "now": now,
        "region": region,
        "areas": areas,
        "map_area": map_area,
        "subregions": child_regions(snap.area_regions.values(), region),
        "workspace": stats["workspace"],
        "queues": stats["queues"],
        "workers": [
            {
                "caregiver_id": c.caregiver_id,
                "service_area": c.service_area,
                "provider_id": c.provider_id,
                "activity": states[c.caregiver_id].value,
                "active": c.active,
                "abilities": c.abilities,
                "absence": _absence(c, now),
                "shift": _shift(c, now, ZoneInfo(settings.programme_timezone)),
            }
            for c in sorted(snap.caregivers, key=lambda c: (states[c.caregiver_id].value, c.caregiver_id))
        ],
        "emergencies": emergencies,
        "alerts": found[:MAX_ROWS],
        "alerts_total": len(found),
        "requests": rows[:MAX_ROWS],
        "requests_total": len(rows),
        "loose_ends": loose[:MAX_ROWS],
        "followups": sorted(followups, key=lambda f: (not f["due"], -f["age_seconds"]))[:MAX_ROWS],
        "loose_total": len(loose) + len(followups),
        "outcome_codes": {
            "emergency": EMERGENCY_OUTCOMES,
            "unserved": UNSERVED_OUTCOMES,
            "loose_end": LOOSE_END_OUTCOMES,
        },
        "map": map_points(session, snap, elders, map_area, now) if map_area else [],
        "street_map": board_street_map(session, settings, map_area),  # None: the schematic above
        "personal_visible": allowed(role, Permission.VIEW_PERSONAL_DATA),
        "can": {p.value: allowed(role, p) for p in Permission},
    }


def _on_the_clock(alert: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    """A ``late`` alert's expected arrival (ISO 8601 in UTC from ``handlers.operations.alerts``)
    as ``HH:MM`` on the center's clock, as the operator reads it."""
    if alert["kind"] != "late" or not alert.get("detail"):
        return alert
    return {**alert, "detail": datetime.fromisoformat(alert["detail"]).astimezone(zone).strftime("%H:%M")}


def _absence(caregiver: Any, now: datetime) -> str | None:
    """``leave`` or ``sick`` when the caregiver's rota says so for today."""
    absence = absence_on(caregiver, now)
    return absence.kind if absence else None


def _shift(caregiver: Any, now: datetime, zone: ZoneInfo) -> str:
    """The shift now or the next one (``HH:MM–HH:MM`` on the center's clock ``zone``, with its
    date when not today there); a fixed shift is stored in UTC, a rota's in its own zone."""
    shift = current_or_next_shift(caregiver, now) if caregiver.active else None
    if shift is None:
        return ""
    start, end = shift.start.astimezone(zone), shift.end.astimezone(zone)
    day = "" if start.date() == now.astimezone(zone).date() else f"{start:%m-%d} "
    return f"{day}{start:%H:%M}–{end:%H:%M}"
