"""Builders of the domain events the use cases emit.

Event types are dotted, past tense (``care.request.status_changed``); the
``topic_role`` says which stream carries them (``config.topics``):
``lifecycle`` for a request's history, ``offers`` for what caregivers are
told, ``schedule`` for deadlines the timer service must fire. Keys are request ids so one
request's events stay in order on one partition.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from handlers.dispatch.scheduling import DispatchPolicy, Ranking
from handlers.model import CareRequest, DomainEvent, Offer, Visit, offer_id_of


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _event(type_: str, request: CareRequest, now: datetime, role: str, **payload: Any) -> DomainEvent:
    payload.setdefault("request_id", request.request_id)
    payload.setdefault("service_area", request.service_area)
    return DomainEvent(
        type=type_, subject=request.request_id, time=now, topic_role=role, key=request.request_id, payload=payload
    )


def status_changed(request: CareRequest, now: datetime) -> DomainEvent:
    """``care.request.status_changed`` (lifecycle): the request's new FHIR Task status and the
    reason for it, with elder, service type and priority so a consumer needs no lookup."""
    return _event(
        "care.request.status_changed",
        request,
        now,
        "lifecycle",
        status=request.status.value,
        reason=request.status_reason,
        elder_id=request.elder_id,
        service_type=request.service_type,
        priority=request.priority.value,
    )


def dispatch_decided(request: CareRequest, ranking: Ranking, policy: DispatchPolicy, now: datetime) -> DomainEvent:
    """``dispatch.decided`` (lifecycle): why the ranking chose whom, for ``careline explain``: the
    10 cheapest candidates (start as ISO UTC; cost in minute-equivalents; added travel, lateness
    and sync deviation in minutes, 2 decimals), every excluded caregiver with the reason, and the
    policy version (config/policy.toml) that ranked them."""
    candidates = [
        {
            "caregiver_id": c.caregiver_id,
            "start": _iso(c.start),
            "cost": round(c.cost, 2),
            "travel_added_minutes": round(c.travel_added_minutes, 2),
            "lateness_minutes": round(c.lateness_minutes, 2),
            "sync_deviation_minutes": round(c.sync_deviation_minutes, 2),
        }
        for c in ranking.candidates[:10]
    ]
    return _event(
        "dispatch.decided",
        request,
        now,
        "lifecycle",
        policy_version=policy.version,
        candidates=candidates,
        excluded=ranking.exclusions,
    )


def offer_created(request: CareRequest, offer: Offer) -> DomainEvent:
    """``dispatch.offer.created`` (offers), at the offer's ``created_at``: what the caregiver is sent
    (``handlers.channels.notices``): planned start/end and answer deadline ``expires_at`` as ISO
    UTC (TaskRouter's 120 s reservation timeout by default, config/policy.toml) and the
    ``short_code`` the caregiver replies with."""
    return _event(
        "dispatch.offer.created",
        request,
        offer.created_at,
        "offers",
        offer_id=offer.offer_id,
        caregiver_id=offer.caregiver_id,
        service_type=request.service_type,
        planned_start=_iso(offer.planned_start),
        planned_end=_iso(offer.planned_end),
        expires_at=_iso(offer.expires_at),
        short_code=offer.short_code,
        policy_version=offer.policy_version,
    )


def offer_accepted(
    request: CareRequest,
    offer: Offer,
    visit: Visit,
    now: datetime,
    supersedes: str | None = None,
    promise: tuple[datetime, datetime, bool] | None = None,
) -> DomainEvent:
    """``supersedes``: the status this acceptance overturns (``timeout``, when
    an answer given in time was processed after the expiry), so a consumer
    that counted the timeout counts this offer once (``handlers.evaluation.live_kpis``).
    ``promise``: (start, end, changed), the window the elder is told
    (``handlers.dispatch.promise``) and whether it replaces one told before; None while a planned
    day's confirmation rounds may still move the visit (``promise_deferred``: the elder is told
    after the last round, ``dispatch.promise.told``)."""
    told: dict[str, Any] = {}
    if promise is None:
        told = {"promise_deferred": True}  # a confirmation round may still move it: told after the last
    else:
        told = {"promised_start": _iso(promise[0]), "promised_end": _iso(promise[1]), "promise_changed": promise[2]}
    return _event(
        "dispatch.offer.accepted",
        request,
        now,
        "offers",
        offer_id=offer.offer_id,
        caregiver_id=offer.caregiver_id,
        offered_at=_iso(offer.created_at),
        visit_id=visit.visit_id,
        provider_id=visit.provider_id,
        location_index=visit.location_index,
        planned_start=_iso(visit.planned_start),
        planned_end=_iso(visit.planned_end),
        time_to_assign_seconds=(now - request.received_at).total_seconds() if request.received_at else None,
        supersedes=supersedes,
        **told,
    )


def offer_closed(request: CareRequest, offer: Offer, now: datetime, provider_id: str | None = None) -> DomainEvent:
    """Rejected, timed out, rescinded or canceled; ``provider_id`` (the
    caregiver's organisation) when the caller knows it: live KPIs count a
    rejection or timeout against the provider (``handlers.evaluation.live_kpis``)."""
    return _event(
        f"dispatch.offer.{offer.status.value}",
        request,
        now,
        "offers",
        offer_id=offer.offer_id,
        caregiver_id=offer.caregiver_id,
        provider_id=provider_id,
        offered_at=_iso(offer.created_at),
    )


def offer_refused(request: CareRequest, offer: Offer, now: datetime) -> DomainEvent:
    """``dispatch.offer.accept_refused`` (offers): an accept that came too late or for an offer no
    longer pending (``offer_status`` says which), so the caregiver is told it did not count."""
    return _event(
        "dispatch.offer.accept_refused",
        request,
        now,
        "offers",
        offer_id=offer.offer_id,
        caregiver_id=offer.caregiver_id,
        offer_status=offer.status.value,
    )


def dispatch_repaired(
    request: CareRequest,
    now: datetime,
    outcome: str,
    moved: list[dict[str, Any]],
    solver_seconds: float,
    objective_before: float | None,
    objective_after: float | None,
    caregivers: int,
    reason: str | None = None,
) -> DomainEvent:
    """A planned visit fell through and the day was repaired (``outcome`` ``repaired``: ``moved``
    lists each request moved, ``caregiver_before``/``after`` and ``start_before``/``after`` as ISO
    times; objectives are travel + tardiness minutes of the ``caregivers`` re-planned) or the
    repair gave way to insertion (``outcome`` ``insertion`` with the ``reason``); before a planned
    day's confirmation rounds end (``handlers.dispatch.rounds``) it was ``held`` for a round, or a
    round's whole-day re-plan placed it (``round``, with ``moved``; no objectives)."""
    return _event(
        "care.dispatch.repaired",
        request,
        now,
        "lifecycle",
        outcome=outcome,
        moved=moved,
        solver_seconds=round(solver_seconds, 3),
        objective_before=None if objective_before is None else round(objective_before, 1),
        objective_after=None if objective_after is None else round(objective_after, 1),
        caregivers=caregivers,
        reason=reason,
    )


def promise_told(
    request: CareRequest, visit: Visit, start: datetime, end: datetime, now: datetime, changed: bool = False
) -> DomainEvent:
    """``dispatch.promise.told`` (offers): after a planned day's last confirmation round
    (``handlers.dispatch.rounds``), the window ``start``..``end`` (aware) the elder of ``request``
    is told for her accepted ``visit``; ``handlers.channels.notices`` tells the household as for a
    first acceptance, or as a change when ``changed`` (she had been told another window), and
    ``handlers.dispatch.promise.tally`` counts it as the window told."""
    return _event(
        "dispatch.promise.told",
        request,
        now,
        "offers",
        visit_id=visit.visit_id,
        offer_id=offer_id_of(visit.visit_id),
        caregiver_id=visit.caregiver_id,
        planned_start=_iso(visit.planned_start),
        planned_end=_iso(visit.planned_end),
        promised_start=_iso(start),
        promised_end=_iso(end),
        promise_changed=changed,
    )


def plan_changed(
    request: CareRequest, now: datetime, caregiver_id: str, day: datetime, visits: list[dict[str, str]]
) -> DomainEvent:
    """``dispatch.plan.changed`` (offers): a repair for ``request`` moved slots of an announced
    plan, and ``caregiver_id``'s day now holds ``visits`` (each ``request_id``, ``service_type``,
    ``start``, ``end`` ISO 8601; the planned visits still to be offered, in order; empty when
    none is left); ``day`` is when the first changed slot starts (the day the caregiver is told
    about). ``handlers.channels.notices`` tells her the new day."""
    return _event(
        "dispatch.plan.changed",
        request,
        now,
        "offers",
        service_area=request.service_area,
        caregiver_id=caregiver_id,
        day=day.isoformat(),
        visits=visits,
    )


def repair_requested(request: CareRequest, now: datetime, job: dict[str, Any]) -> DomainEvent:
    """``dispatch.repair.requested`` (repairs, keyed by the service area): a planned day's repair
    to search beside the worker (``handlers.dispatch.repair.ask_solver`` gives the ``job``'s
    shape; the solver agent answers with ``dispatch.repair.solved`` on the area's timers
    partition)."""
    return DomainEvent("dispatch.repair.requested", request.request_id, now, "repairs", request.service_area, dict(job))


def repair_solved(answer: dict[str, Any], now: datetime) -> DomainEvent:
    """``dispatch.repair.solved`` (timers, keyed by the answer's ``service_area``): the solver
    agent's answer to a repair job, ``handlers.dispatch.repair.search_job``'s data, for the area's
    dispatch (``handlers.messages.ApplyRepair``). Its event id is ``repair_solved_id``."""
    return DomainEvent(
        "dispatch.repair.solved", str(answer["request_id"]), now, "timers", str(answer["service_area"]), dict(answer)
    )


def repair_solved_id(answer: dict[str, Any]) -> str:
    """The event id of a repair's answer: one per attempt (``repair-solved:<attempt id>``), so a
    second delivery is dropped by the dispatch batch's claims."""
    return f"repair-solved:{answer['attempt_id']}"


def round_requested(area: str, now: datetime, job: dict[str, Any]) -> DomainEvent:
    """``dispatch.round.requested`` (rounds, keyed by the area): a confirmation round's re-plan to
    search beside the worker (``handlers.dispatch.rounds._ask_solver`` gives the ``job``'s shape;
    the rounds' solver agent answers with ``dispatch.round.solved`` on the area's timers partition)."""
    return DomainEvent("dispatch.round.requested", area, now, "rounds", area, dict(job))


def round_solved(answer: dict[str, Any], now: datetime) -> DomainEvent:
    """``dispatch.round.solved`` (timers, keyed by the answer's ``service_area``): the solver
    agent's answer to a round's job, ``handlers.dispatch.rounds.search_round_job``'s data, for the
    area's dispatch (``handlers.messages.ApplyRound``). Its event id is ``round_solved_id``."""
    area = str(answer["service_area"])
    return DomainEvent("dispatch.round.solved", area, now, "timers", area, dict(answer))


def round_solved_id(answer: dict[str, Any]) -> str:
    """The event id of a round's answer: one per area, plan and round, so a second delivery is
    dropped by the dispatch batch's claims."""
    return f"round-solved:{answer['service_area']}|{answer['announced_at']}#{answer['round']}"


def timer_requested(kind: str, target_id: str, request: CareRequest, due: datetime, now: datetime) -> DomainEvent:
    """``timer.requested`` (schedule): ask the timer service to fire ``kind`` for ``target_id`` at
    ``due`` (aware UTC). Kinds and their targets are decoded in ``handlers.messages``:
    ``offer-expiry`` (offer id), ``ladder-step`` (``<request id>#<step index>``),
    ``check-in-deadline`` and ``late-check`` (visit id), ``followup-deadline`` (request id)."""
    return _event("timer.requested", request, now, "schedule", kind=kind, target_id=target_id, due=_iso(due))


def area_timer_requested(kind: str, target_id: str, service_area: str, due: datetime, now: datetime) -> DomainEvent:
    """``timer.requested`` (schedule) for a whole service area, not one request: ``offer-plan``
    (target ``<area>|<announced ISO 8601>``, ``careline.day_plan.announce``) and ``confirm-round``
    (``handlers.messages.round_target``); keyed by the area, as the timer service publishes it."""
    payload = {"kind": kind, "target_id": target_id, "due": _iso(due), "service_area": service_area}
    return DomainEvent("timer.requested", service_area, now, "schedule", service_area, payload)


def timer_fired(kind: str, target_id: str, service_area: str, due: datetime) -> DomainEvent:
    """``timer.fired`` (timers): the deadline ``kind`` of ``target_id`` asked for by
    ``timer_requested`` / ``area_timer_requested`` has come (``due``, aware UTC, is also the
    event's time); keyed by the area, so the area's dispatch partition handles it in order with the
    area's other records (``handlers.messages.decode`` reads it by ``data.kind``)."""
    payload = {"kind": kind, "target_id": target_id, "service_area": service_area, "due": _iso(due)}
    return DomainEvent("timer.fired", target_id, due, "timers", service_area, payload)


def escalated(request: CareRequest, now: datetime, step: str, reason: str) -> DomainEvent:
    """``care.request.escalated`` (lifecycle): the request moved to ladder ``step`` (a step name
    of the priority's escalation ladder in config/policy.toml, or ``operator_followup``)."""
    return _event(
        "care.request.escalated", request, now, "lifecycle", step=step, reason=reason, priority=request.priority.value
    )


def operator_alert(request: CareRequest, now: datetime, reason: str) -> DomainEvent:
    """``care.operator.alert`` (lifecycle): a person at the center must act now; ``reason`` says
    why, in English (an emergency received or not accepted, a due complaint call, an EVV mismatch,
    a late visit); for ``emergency received`` ``handlers.channels.notices`` also tells the family."""
    return _event(
        "care.operator.alert",
        request,
        now,
        "lifecycle",
        reason=reason,
        priority=request.priority.value,
        elder_id=request.elder_id,
    )


def feedback_recorded(request: CareRequest, now: datetime, kind: str, **details: Any) -> DomainEvent:
    """``care.feedback.<kind>`` (lifecycle): a callback-survey rating, a complaint, a closed
    complaint follow-up or a center rating (``kind`` ``rating``, ``complaint``,
    ``followup_closed``, ``center_rating``); ``details`` become payload fields as given."""
    return _event(f"care.feedback.{kind}", request, now, "lifecycle", kind=kind, **details)


def escalated_to_operator(request: CareRequest, now: datetime, reason: str) -> DomainEvent:
    """``care.request.escalated`` at step ``operator_queue`` (lifecycle): dispatch gave up
    (nobody eligible or nobody accepted) and the request waits for an operator."""
    return _event("care.request.escalated", request, now, "lifecycle", step="operator_queue", reason=reason)


def visit_event(
    type_: str, request: CareRequest, visit: Visit, now: datetime, reason: str | None = None, **extra: Any
) -> DomainEvent:
    """A visit's event; ``reason`` why it ended or changed (``cancelled``, ``reassigned``,
    ``late``: the caregiver is told which, ``handlers.channels.notices``); ``extra``
    fields add to (or replace) the visit's own."""
    payload: dict[str, Any] = {
        "reason": reason,
        "elder_id": request.elder_id,
        "visit_id": visit.visit_id,
        "caregiver_id": visit.caregiver_id,
        "provider_id": visit.provider_id,
        "service_type": visit.service_type,
        "location_index": visit.location_index,
        "planned_start": _iso(visit.planned_start),
        "planned_end": _iso(visit.planned_end),
        "check_in_at": _iso(visit.check_in_at),
        "check_out_at": _iso(visit.check_out_at),
        "lateness_minutes": round(visit.lateness_minutes, 3),
        "travel_minutes": round(visit.travel_minutes, 3),
        "evv_flags": visit.evv_flags or [],
        "evv_method": visit.evv_method,
        "expected_at": _iso(visit.expected_at),
    }
    return _event(type_, request, now, "lifecycle", **(payload | extra))
