"""Confirmation rounds ahead of a planned day (issue 18): offer the plan, re-plan from the answers.

Repairing a planned day as each visit falls (``handlers.dispatch.repair``) keeps the visits
already accepted where they are, so each fallen visit is placed around them and the day drifts
from the plan (bazirha-F1 1.31x the published travel, rome-p44 562 min of tardiness; measured in
``careline bench dispatch``). Asking first and re-planning the whole day from the answers keeps
most of the plan (``careline bench confirm``, docs/NOTES.md). The flow, with
``policy.confirm_rounds`` rounds of ``policy.confirm_round_minutes`` (config/policy.toml
``[planned]``):

- the plan is announced (the evening before); every planned request already received is offered
  to its planned caregiver at its planned start at once (``offer_plan``; a request received later
  is offered the same way when it arrives, ``handlers.dispatch.planned.receive_planned``);
- a planned offer declined or unanswered while the rounds are open is held (``hold``), not
  repaired: the round will place it;
- each round closes on a timer (``confirm-round``, target ``<announced ISO>#<k>``): when anything
  was held, the area's whole day is re-planned with ``handlers.dispatch.planning.plan_day``
  (``close_round``): nobody is planned again on a visit she declined (or let lapse twice:
  ``refused_by``); an accepted visit moves to
  another caregiver only when that saves more than ``policy.keep_minutes_in(k)`` (she is told
  it was reassigned, the other gets an offer), or to another start on her own day (she is told,
  ``care.visit.moved``); the search starts from the current plan. Held requests get offers at
  their new slots; synchronised pairs keep their gap;
- an accept while the rounds are open tells the caregiver but not yet the elder
  (``defer_promise``); after the last round every accepted visit's elder is told her window
  (``dispatch.promise.told``), and a request the rounds could not place goes to insertion
  (``offers.offer_next``); from then on a fall repairs the day as before;
- in the stream worker a round's re-plan is searched beside it, not in the dispatch batch
  (``_ask_solver``, ``search_round_job``, ``apply_round``, ``round_overdue``): the answer is
  carried out when it comes back, if the day as it is then still lets it, and the last round
  finishes after its answer (or its overdue timer); the rounds stay open until then.

A slot takes part only when it starts ``policy.confirm_lead_minutes`` after the last close
(``DispatchPolicy.round_due``, decided at the announcement): the early slots of a plan announced on
the day repair at once, its later ones take part. A round decides at the clock, not at its due
time (``messages.CloseRound.decides_now``), and changes nothing that starts within
``confirm_lead_minutes`` of then; a caregiver whose shift has begun starts from the visit she is
in or her last one, not from home (``_from_where_she_is``). Times in the planning instance are
whole minutes, travel and durations rounded up, and the plan is checked in real minutes before
it is carried out (``_unsound``).
Not modelled in a round: elders' preferred caregivers beyond the ranking's exclusions, lunch
breaks, a caregiver's commitments outside the area (none exist: caregivers serve one area).
"""

from __future__ import annotations

import itertools
import math
import time as wall
from collections import Counter
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping

from handlers import events as ev
from handlers.datasets.uhhc import Instance, RosterEntry, ServiceNeed, Stop
from handlers.dispatch import offers, promise
from handlers.dispatch.planned import PlannedVisit
from handlers.dispatch.planning import plan_day
from handlers.dispatch.repair import (
    ANSWER_GRACE_SECONDS,
    ANSWER_TRIP_SECONDS,
    MIN_SOLVER_SECONDS,
    ROUND_LANE,
    in_solver_process,
    solver_timeout,
)
from handlers.dispatch.scheduling import DispatchPolicy, Ranking, TravelTimes, _excluded, insertion_at, travel_for
from handlers.dispatch.shifts import shifts_between
from handlers.messages import round_target
from handlers.model import (
    Booking,
    CancelReason,
    Caregiver,
    CareRequest,
    Offer,
    OfferStatus,
    RequestStatus,
    SyncType,
    Visit,
    VisitStatus,
    offer_id_of,
)
from handlers.ports import UnitOfWork

KIND = "confirm-round"
"""The timer kind of a round's close (``handlers.messages``)."""

#: unanswered offers of one request a caregiver may let lapse before a round stops asking her
#: (an evening text left unread is no "no": the round's re-plan asks her again, as a reminder)
ASKED_AT_MOST = 2


def refused_by(offers_made: list[Offer]) -> set[str]:
    """The caregivers a round no longer plans on a request whose ``offers_made`` these are: who
    declined it, or let ``ASKED_AT_MOST`` of its offers time out (a "no" given after the offer
    lapsed is a timeout, as the event log records it: ``offers.close_offer``). Measured
    (``careline bench dispatch``, docs/NOTES.md "Rounds that churn less"): counting the first
    timeout as a refusal moved the visit to another caregiver's route for nothing she had said.
    A caregiver who called the visit off (or did not show up) is excluded as one who declined;
    one whose offer was ``canceled`` for another ``CancelReason`` (a round's own move, an
    operator's withdrawal, a late hand-over) is not: that said nothing about her. None of it
    counts against a caregiver who holds the request now (an accepted or pending offer: an
    operator gave it back to her and she said yes)."""
    lapsed = Counter(o.caregiver_id for o in offers_made if o.status == OfferStatus.TIMEOUT)
    declined = {o.caregiver_id for o in offers_made if o.status == OfferStatus.REJECTED or _let_down(o)}
    holding = {o.caregiver_id for o in offers_made if o.status in (OfferStatus.ACCEPTED, OfferStatus.PENDING)}
    return (declined | {cid for cid, n in lapsed.items() if n >= ASKED_AT_MOST}) - holding


def _let_down(offer: Offer) -> bool:
    """The caregiver accepted ``offer`` and then called the visit off or did not come."""
    return offer.status == OfferStatus.CANCELED and offer.cancel_reason in (
        CancelReason.CALLED_OFF,
        CancelReason.NO_SHOW,
    )


def _closed_id(area: str, announced_at: datetime, k: int) -> str:
    """The id ``close_round`` claims for round ``k``: its close happened (``uow.claimed``)."""
    return f"{KIND}:{round_target(area, announced_at, k)}"


def _finished_id(area: str, announced_at: datetime) -> str:
    """The id claimed when the last round of ``area``'s plan announced at ``announced_at`` has
    finished: its elders told and what it could not place sent to insertion (``_finish``)."""
    return f"{KIND}-finished:{area}|{announced_at.isoformat()}"


def _answered_id(area: str, announced_at: datetime, k: int) -> str:
    """The id claimed by the first of round ``k``'s answer and its overdue timer (``apply_round``,
    ``round_overdue``): only one of them acts."""
    return f"{KIND}-answered:{round_target(area, announced_at, k)}"


def takes_part(slot: PlannedVisit, policy: DispatchPolicy) -> bool:
    """Whether ``slot`` is in its plan's confirmation rounds: the policy has rounds, the slot was
    announced, and it starts ``confirm_lead_minutes`` after the last round closes (decided at the
    announcement, so a slot never changes sides)."""
    return (
        slot.announced_at is not None and policy.round_due(slot.announced_at, slot.start, slot.announced_at) is not None
    )


def rounds_open(request: CareRequest, slot: PlannedVisit | None, uow: UnitOfWork, policy: DispatchPolicy) -> bool:
    """Whether ``request``'s plan slot takes part in rounds whose last round has not finished yet
    (its close, and its re-plan when the solver agent searches it: ``_finished_id``; read from the
    claims, not the clock: a reply stamped before the last close but handled after it is told at
    once, never left untold)."""
    if slot is None or slot.announced_at is None or not takes_part(slot, policy):
        return False
    return not uow.claimed(_finished_id(request.service_area, slot.announced_at))


def ask_round(
    request: CareRequest, slot: PlannedVisit | None, uow: UnitOfWork, now: datetime, policy: DispatchPolicy
) -> int | None:
    """When ``request``'s plan slot is in open rounds, ask the timer service for the close of the
    next round not yet closed (the round ``now`` falls in, at the earliest) and return its number;
    None when the rounds are not open for it. Asking again is harmless: one job per target, and a
    close runs once (``close_round``)."""
    if slot is None or slot.announced_at is None or not rounds_open(request, slot, uow, policy):
        return None
    span = timedelta(minutes=policy.confirm_round_minutes)
    k = min(policy.confirm_rounds, max(1, int((now - slot.announced_at) / span) + 1))
    while k < policy.confirm_rounds and uow.claimed(_closed_id(request.service_area, slot.announced_at, k)):
        k += 1
    due = policy.round_closes_at(slot.announced_at, k)
    uow.emit(ev.timer_requested(KIND, round_target(request.service_area, slot.announced_at, k), request, due, now))
    return k


def offer_plan(area: str, uow: UnitOfWork, now: datetime, policy: DispatchPolicy, travel: TravelTimes) -> int:
    """At the announcement: offer every planned request of ``area`` already received, with no
    offer or visit yet, to its planned caregiver at its planned start (the rest arrive later and
    are offered on arrival); ask for the first round's close. Returns how many were offered."""
    plan = uow.day_plan([c.caregiver_id for c in uow.caregivers.in_area(area)])
    made = 0
    for rid, slot in sorted(plan.items(), key=lambda kv: kv[1].start):
        request = uow.requests.get(rid)
        if request is None or request.status != RequestStatus.RECEIVED or slot.start < now:
            continue
        if uow.offers.for_request(rid) or uow.visits.for_request(rid) is not None:
            continue
        caregiver = uow.caregivers.get(slot.caregiver_id)
        if caregiver is None or not caregiver.active:
            continue
        fit = insertion_at(request, caregiver, uow.bookings([caregiver.caregiver_id])[caregiver.caregiver_id],
                           travel, slot.start, now, policy)  # fmt: skip
        if isinstance(fit, str):
            continue
        uow.emit(ev.dispatch_decided(request, Ranking((fit,), {}), policy, now))
        offers.offer_to(request, fit, len(uow.offers.for_request(rid)) + 1, uow, now, policy)
        ask_round(request, slot, uow, now, policy)
        made += 1
    return made


def hold(request: CareRequest, uow: UnitOfWork, now: datetime, policy: DispatchPolicy) -> bool:
    """Hold a planned request whose offer fell while its plan's rounds are open: the round's
    close places it (``close_round``). Emits ``care.dispatch.repaired`` with outcome ``held`` and
    asks for the round's close. Returns False (nothing done) when the rounds are not open for it."""
    slot = uow.planned_visits([request.request_id]).get(request.request_id)
    k = ask_round(request, slot, uow, now, policy)
    if k is None or slot is None or slot.announced_at is None:
        return False
    reason = f"held for confirmation round {k} of the plan announced {slot.announced_at:%Y-%m-%d %H:%M}"
    uow.emit(ev.dispatch_repaired(request, now, "held", [], 0.0, None, None, 0, reason=reason))
    return True


def defer_promise(request: CareRequest, uow: UnitOfWork, now: datetime, policy: DispatchPolicy) -> bool:
    """Whether an accept of ``request`` at ``now`` waits to tell the elder: its plan's rounds are
    open (a round may still move the visit). Then it also asks for the next round's close, so the
    last round comes and tells her (``close_round``), whatever stamped the slot."""
    if policy.confirm_rounds <= 0:
        return False
    slot = uow.planned_visits([request.request_id]).get(request.request_id)
    return ask_round(request, slot, uow, now, policy) is not None


def ladder_resumes_at(
    request: CareRequest, deadline_seconds: float, uow: UnitOfWork, now: datetime, policy: DispatchPolicy
) -> datetime | None:
    """When a ladder step of ``request`` that is due at ``now`` should fire instead, while its
    plan's rounds are open: ``deadline_seconds`` after the last round closes, or after ``now``
    when that has passed (the rounds, not the ladder, place a planned request before then); None
    when the ladder goes on now."""
    if policy.confirm_rounds <= 0:
        return None
    slot = uow.planned_visits([request.request_id]).get(request.request_id)
    if slot is None or slot.announced_at is None or not rounds_open(request, slot, uow, policy):
        return None
    last = policy.round_closes_at(slot.announced_at, policy.confirm_rounds)
    return max(last, now) + timedelta(seconds=deadline_seconds)


@dataclass(frozen=True)
class _Vehicle:
    """One shift of a caregiver in a round's instance: from home at ``start`` (the shift's start,
    the round's cut, or early enough to reach her visit under way: ``_from_where_she_is``) to
    ``end``; ``shift_start`` is the rota's."""

    vehicle_id: str
    caregiver: Caregiver
    start: datetime
    end: datetime
    shift_start: datetime


def close_round(
    area: str,
    announced_at: datetime,
    k: int,
    uow: UnitOfWork,
    now: datetime,
    policy: DispatchPolicy,
    travel: TravelTimes,
    background: bool = False,
) -> int:
    """Close round ``k`` of ``area``'s plan announced at ``announced_at`` (module docstring).
    Returns how many offers the round made. A round closed before (the same timer fired twice)
    does nothing (``uow.claim``). With ``background`` (the stream worker, which runs the solver
    agent) the re-plan is not searched here: it goes to the solver agent as a job
    (``dispatch.round.requested``) and its answer is carried out when it comes back
    (``apply_round``), or its overdue timer holds the requests (``round_overdue``), so the
    dispatch agent decides the other areas meanwhile; the last round finishes then."""
    if not uow.claim(_closed_id(area, announced_at, k)):
        return 0
    last = k >= policy.confirm_rounds
    plan, held, roster = _round_state(area, announced_at, k, uow, policy)
    if not last and plan:  # the next round closes even when nothing falls: the last tells the elders
        following = policy.round_closes_at(announced_at, k + 1)
        uow.emit(ev.area_timer_requested(KIND, round_target(area, announced_at, k + 1), area, following, now))
    made = 0
    if held and roster:
        if not background:
            made = _replan(area, plan, held, k, uow, now, policy, travel)
        elif _ask_solver(area, announced_at, plan, held, k, uow, now, policy, travel):
            return 0  # the answer (or its overdue timer) carries the round out, and finishes the last
    if last:
        made += _finish(area, announced_at, k, plan, uow, now, policy, travel)
    return made


def _round_state(
    area: str, announced_at: datetime, k: int, uow: UnitOfWork, policy: DispatchPolicy
) -> tuple[dict[str, PlannedVisit], list[CareRequest], list[Caregiver]]:
    """Round ``k``'s part of the plan (its slots by the round's due time, not the clock: a round
    handled late still tells the elders of visits already begun and sends what it holds on), the
    requests it holds, and the area's active caregivers."""
    due = policy.round_closes_at(announced_at, k)
    everyone = uow.caregivers.in_area(area)  # a slot of a caregiver gone sick still counts
    roster = sorted((c for c in everyone if c.active), key=lambda c: c.caregiver_id)
    plan = {
        rid: pv
        for rid, pv in uow.day_plan([c.caregiver_id for c in everyone]).items()
        if pv.announced_at == announced_at and pv.start > due and takes_part(pv, policy)
    }
    held = [r for rid in sorted(plan) if (r := uow.requests.get(rid)) is not None and _held(r, uow)]
    return plan, held, roster


def _finish(
    area: str,
    announced_at: datetime,
    k: int,
    plan: Mapping[str, PlannedVisit],
    uow: UnitOfWork,
    now: datetime,
    policy: DispatchPolicy,
    travel: TravelTimes,
) -> int:
    """After the last round: the elders are told, what is left goes to insertion; once
    (``_finished_id``). Returns the offers made."""
    if not uow.claim(_finished_id(area, announced_at)):
        return 0
    made = 0
    for rid in sorted(plan):
        request = uow.requests.get(rid)
        if request is None or request.status.is_final:
            continue
        visit = uow.visits.for_request(rid)
        if visit is not None and visit.status == VisitStatus.SCHEDULED:
            # against a window she was told before the plan (an accept before the announcement)
            window, changed = promise.change_for(request, promise.told(request), visit.planned_start,
                                                 policy.promise_before_minutes, policy.promise_after_minutes)  # fmt: skip
            request.promised_start, request.promised_end = window.start, window.end
            uow.emit(ev.promise_told(request, visit, window.start, window.end, now, changed))
        elif _held(request, uow):
            uow.emit(ev.dispatch_repaired(request, now, "insertion", [], 0.0, None, None, 0,
                                          reason=f"no slot after the last confirmation round ({k})"))  # fmt: skip
            offers.offer_next(request, uow, now, policy, travel)
            made += 1
    return made


OVERDUE_KIND = "round-overdue"
"""The timer kind of a round whose answer did not come back in time (target ``round_target``)."""


def _ask_solver(
    area: str,
    announced_at: datetime,
    plan: Mapping[str, PlannedVisit],
    held: list[CareRequest],
    k: int,
    uow: UnitOfWork,
    now: datetime,
    policy: DispatchPolicy,
    travel: TravelTimes,
) -> bool:
    """Send round ``k``'s re-plan to the solver agent (``ev.round_requested``, keyed by the area)
    and set its overdue timer (``answer_wait``); each held request's audit entry says it is
    searched. The model is built for when the answer should be back (the budget plus
    ``repair.ANSWER_TRIP_SECONDS`` ahead, ``modelled_at``), so an answer on time is judged against
    the same cut it was searched for. False when there is nothing to search (too little planner
    time, or nothing the model can place): the round is then over as it is."""
    if _too_little_time(held, k, uow, now, policy):
        return False
    modelled_at = now + timedelta(seconds=policy.confirm_round_seconds + ANSWER_TRIP_SECONDS)
    model = _model(area, plan, held, k, uow, modelled_at, policy, travel)
    if model is None:
        return False
    due = now + answer_wait(policy)
    job = {
        "service_area": area,
        "announced_at": announced_at.isoformat(),
        "round": k,
        "due": due.isoformat(),
        "modelled_at": modelled_at.isoformat(),
        "origin": model.origin.isoformat(),
        "seconds": policy.confirm_round_seconds,
        "keep_minutes": policy.keep_minutes_in(k),
        "instance": instance_json(model.instance),
        "allowed": [[elder, rid, sorted(who)] for (elder, rid), who in sorted(model.allowed.items())],
        "keep": [[elder, rid, vid] for (elder, rid), vid in sorted(model.keep.items())],
        "hint": {vid: [[s.patient_id, s.service_id] for s in stops] for vid, stops in sorted(model.hint.items())},
    }
    uow.emit(ev.round_requested(area, now, job))
    why = f"confirmation round {k}'s re-plan, {policy.confirm_round_seconds:g} s of planner time"
    for r in held:
        uow.emit(ev.dispatch_repaired(r, now, "solving", [], 0.0, None, None, len(model.by_vehicle), reason=why))
    uow.emit(ev.area_timer_requested(OVERDUE_KIND, round_target(area, announced_at, k), area, due, now))
    return True


def answer_wait(policy: DispatchPolicy) -> timedelta:
    """How long a round's answer is awaited before its overdue timer keeps the requests held: half
    a round (``confirm_round_minutes``), and at least the budget plus
    ``repair.ANSWER_GRACE_SECONDS``. The rounds' solver process searches one job at a time, and the
    rounds of areas announced at the same hour close at the same minutes: 30 areas' 10 s searches
    queue for 5 minutes, and a wait of the budget alone would skip all but the first few."""
    budget = policy.confirm_round_seconds + ANSWER_GRACE_SECONDS
    return timedelta(seconds=max(budget, 30.0 * policy.confirm_round_minutes))


def instance_json(instance: Instance) -> dict[str, Any]:
    """A round's planning instance as JSON data (``instance_from_json`` reads it back): minutes,
    location indexes and ids as in ``handlers.datasets.uhhc.Instance``; ``raw`` is left out."""
    return {
        "name": instance.name,
        "distances": [list(row) for row in instance.distances],
        "needs": [
            {
                **asdict(n),
                "sync_type": n.sync_type.value if n.sync_type else None,
                "windows": [list(w) for w in n.windows],
            }
            for n in instance.needs
        ],
        "roster": [{**asdict(e), "abilities": list(e.abilities)} for e in instance.roster],
        "at_service_end": instance.at_service_end,
        "windows_hard": instance.windows_hard,
        "shift_end_hard": instance.shift_end_hard,
        "horizon": instance.horizon,
    }


def instance_from_json(data: Mapping[str, Any]) -> Instance:
    """``instance_json``'s data as an ``Instance``. Raises ``KeyError``, ``TypeError`` or
    ``ValueError`` for data that is not one."""
    needs = tuple(
        ServiceNeed(
            **{
                **n,
                "sync_type": SyncType(n["sync_type"]) if n.get("sync_type") else None,
                "windows": tuple(tuple(float(x) for x in w) for w in n.get("windows", ())),
            }
        )  # fmt: skip
        for n in data["needs"]
    )
    roster = tuple(RosterEntry(**{**e, "abilities": tuple(e["abilities"])}) for e in data["roster"])
    distances = tuple(tuple(float(x) for x in row) for row in data["distances"])
    return Instance(str(data["name"]), distances, needs, roster, bool(data["at_service_end"]),
                    bool(data["windows_hard"]), bool(data["shift_end_hard"]), float(data["horizon"]), {})  # fmt: skip


def search_round_job(job: Mapping[str, Any], now: datetime | None = None) -> dict[str, Any] | None:
    """The solver agent's work for a round (``_ask_solver``'s job): ``planning.plan_day`` where
    searches run (``repair.in_solver_process``), answered as ``dispatch.round.solved`` data: the
    job's ``service_area``, ``announced_at``, ``round``, ``origin``, ``modelled_at`` and ``keep``
    (who held each accepted visit when the search began), ``routes`` (vehicle id ->
    [[request id, start minute, end minute], ...] from the origin; None when no plan was found),
    ``why`` (None, or why not) and the search's wall ``seconds``. None (not searched) when
    ``now`` is past the job's ``due``: its overdue timer has acted. Raises ``KeyError``,
    ``TypeError`` or ``ValueError`` for a job that is not one."""
    if now is not None and datetime.fromisoformat(str(job["due"])) <= now:
        return None
    instance = instance_from_json(job["instance"])
    allowed = {(str(e), str(r)): frozenset(str(v) for v in who) for e, r, who in job["allowed"]}
    keep = {(str(e), str(r)): str(v) for e, r, v in job["keep"]}
    hint = {str(vid): [Stop(str(p), str(sid), 0.0, 0.0) for p, sid in stops] for vid, stops in job["hint"].items()}
    started = wall.perf_counter()
    why = None
    try:
        seconds = float(job["seconds"])
        routes = in_solver_process(plan_day, instance, seconds, 0, allowed, keep, int(job["keep_minutes"]), hint,
                                   lane=ROUND_LANE, timeout=solver_timeout(seconds))  # fmt: skip
    except RuntimeError as exc:  # plan_day: no run found a plan
        routes, why = None, f"the planner failed ({type(exc).__name__})"
    if routes is None and why is None:
        why = "the solver process stopped"
    return {
        **{
            name: job[name]
            for name in ("service_area", "announced_at", "round", "origin", "modelled_at", "keep")
            if name in job
        },
        "routes": None
        if routes is None
        else {vid: [[s.service_id, s.start, s.end] for s in stops] for vid, stops in routes.items()},
        "why": why,
        "seconds": round(wall.perf_counter() - started, 3),
    }


def apply_round(
    answer: Mapping[str, Any], uow: UnitOfWork, now: datetime, policy: DispatchPolicy, travel: TravelTimes
) -> int:
    """Carry out round ``answer["round"]``'s re-plan (``search_round_job``'s data) at ``now``: the
    first of the answer and the overdue timer decides (``uow.claim``), and nothing when a later
    round has closed since. The model is rebuilt from the day as it is now and the routes are
    used only when they are still sound in it (``_unsound``); else the held requests stay held,
    saying why. The last round then finishes (``_finish``). Returns the offers made."""
    area, at, k = str(answer["service_area"]), datetime.fromisoformat(str(answer["announced_at"])), int(answer["round"])
    if not uow.claim(_answered_id(area, at, k)) or uow.claimed(_closed_id(area, at, k + 1)):
        return 0
    plan, held, roster = _round_state(area, at, k, uow, policy)
    # the day as the job saw it ahead, or as it is now if later (``repair.apply_answer`` does the same)
    modelled = datetime.fromisoformat(str(answer["modelled_at"])) if answer.get("modelled_at") else now
    made = 0
    if held and roster and (model := _model(area, plan, held, k, uow, max(now, modelled), policy, travel)):
        routes, why = None, answer.get("why") or None
        if answer.get("routes") is not None:
            shift = (datetime.fromisoformat(str(answer["origin"])) - model.origin).total_seconds() / 60.0
            routes = {
                str(vid): [Stop("", str(rid), float(a) + shift, float(b) + shift) for rid, a, b in stops]
                for vid, stops in answer["routes"].items()
            }
            routes = {vid: stops for vid, stops in routes.items() if stops or vid in model.by_vehicle}
        searched = {(str(e), str(r)): str(v) for e, r, v in answer["keep"]} if "keep" in answer else None
        made = _use(model, routes, None if routes is not None else why, plan, held, k, uow, now, policy, travel,
                    searched)  # fmt: skip
    return made + _after_answer(area, at, k, plan, uow, now, policy, travel)


def _after_answer(
    area: str,
    announced_at: datetime,
    k: int,
    plan: Mapping[str, PlannedVisit],
    uow: UnitOfWork,
    now: datetime,
    policy: DispatchPolicy,
    travel: TravelTimes,
) -> int:
    """Once round ``k``'s answer (or its overdue timer) is handled: the last round finishes; an
    earlier one makes sure the next close is asked for (the close asked for it, unless the policy
    had fewer rounds then: a worker restarted with more rounds while the search ran must not leave
    the rounds open for ever)."""
    if k >= policy.confirm_rounds:
        return _finish(area, announced_at, k, plan, uow, now, policy, travel)
    if plan and not uow.claimed(_closed_id(area, announced_at, k + 1)):
        following = policy.round_closes_at(announced_at, k + 1)
        uow.emit(ev.area_timer_requested(KIND, round_target(area, announced_at, k + 1), area, following, now))
    return 0


def round_overdue(
    area: str, announced_at: datetime, k: int, uow: UnitOfWork, now: datetime, policy: DispatchPolicy,
    travel: TravelTimes,
) -> int:  # fmt: skip
    """Round ``k``'s answer did not come back by its due time (timer ``round-overdue``): unless it
    came first (``uow.claim``), the held requests stay held, saying so, and the last round
    finishes (``_finish``: what is held goes to insertion). Returns the offers made."""
    if not uow.claim(_answered_id(area, announced_at, k)):
        return 0
    plan, held, _ = _round_state(area, announced_at, k, uow, policy)
    for r in held:
        uow.emit(ev.dispatch_repaired(r, now, "held", [], policy.confirm_round_seconds, None, None, 0,
                                      reason=f"round {k}: the planner did not answer in time"))  # fmt: skip
    return _after_answer(area, announced_at, k, plan, uow, now, policy, travel)


def _held(request: CareRequest, uow: UnitOfWork) -> bool:
    """Waiting for its round: received, not final, offered before, no pending offer, no live visit."""
    if request.status.is_final or request.status != RequestStatus.RECEIVED:
        return False
    if uow.visits.for_request(request.request_id) is not None:
        return False
    offered = uow.offers.for_request(request.request_id)
    return bool(offered) and all(o.status != OfferStatus.PENDING for o in offered)


def _vehicles(roster: list[Caregiver], first: datetime, last: datetime, now: datetime) -> list[_Vehicle]:
    out: list[_Vehicle] = []
    for c in roster:
        shifts = [s for s in shifts_between(c, first, last) if s.end > now]
        for i, s in enumerate(shifts):
            vid = c.caregiver_id if len(shifts) == 1 else f"{c.caregiver_id}#{i}"
            out.append(_Vehicle(vid, c, max(s.start, now), s.end, s.start))
    return out


def _from_where_she_is(
    vehicles: list[_Vehicle],
    commitments: Mapping[str, list[Booking]],
    cut: datetime,
    paces: list[TravelTimes],
) -> tuple[list[_Vehicle], dict[str, tuple[str, Booking]]]:
    """Each shift that has begun starts where its caregiver is at the round's ``cut``: at her
    latest commitment of the shift that starts before the cut (``commitments``: her bookings and
    the plan's slots not received yet; the visit she is in, or her last one; one without a place
    at her home), not at home. Returns the vehicles, those with such a commitment starting from
    home early enough to reach it (travel rounded up to whole minutes, the slowest pace), and
    request id -> (vehicle id, commitment with its place) of those commitments, fixed in the
    instance. The day-of repair does the same (``handlers.dispatch.repair._problem``)."""
    anchors: dict[str, tuple[str, Booking]] = {}
    out: list[_Vehicle] = []
    for v in vehicles:
        home = v.caregiver.home_base_index
        before = [b for b in commitments.get(v.caregiver.caregiver_id, []) if b.end > v.shift_start and b.start < cut]
        if not before or home is None:
            out.append(v)
            continue
        last = max(before, key=lambda b: b.start)
        place = last.location_index if last.location_index is not None else home
        leg = math.ceil(max(t.minutes(home, place) for t in paces) - 1e-9)
        at = last.start.replace(second=0, microsecond=0)
        out.append(replace(v, start=at - timedelta(minutes=leg)))
        anchors[last.request_id] = (v.vehicle_id, replace(last, location_index=place))
    return out, anchors


@dataclass(frozen=True)
class _Model:
    """A round's planning instance and what carrying its plan out needs: the vehicles (shifts) by
    id, the requests that may move (held, or accepted at a keep cost) with the accepted visits
    among them, the fixed bookings (vehicle, start, end, place), the origin of its minutes, the
    cut (nothing starts before it), who may do each need, who keeps it, and the search's start."""

    instance: Instance
    by_vehicle: Mapping[str, _Vehicle]
    moving: Mapping[str, CareRequest]
    accepted: Mapping[str, Visit]
    fixed: Mapping[str, tuple[str, datetime, datetime, int]]
    origin: datetime
    cut: datetime
    allowed: Mapping[tuple[str, str], frozenset[str]]
    keep: Mapping[tuple[str, str], str]
    hint: Mapping[str, list[Stop]]


def _replan(
    area: str,
    plan: Mapping[str, PlannedVisit],
    held: list[CareRequest],
    k: int,
    uow: UnitOfWork,
    now: datetime,
    policy: DispatchPolicy,
    travel: TravelTimes,
) -> int:
    """Re-plan the area's day of ``plan`` for the ``held`` requests here and carry the plan out. A
    budget below ``repair.MIN_SOLVER_SECONDS`` (a replay clock's share of it) is not spent: the
    requests stay held, as when the planner finds nothing."""
    if _too_little_time(held, k, uow, now, policy):
        return 0
    model = _model(area, plan, held, k, uow, now, policy, travel)
    if model is None:
        return 0
    why = None
    try:
        routes = in_solver_process(plan_day, model.instance, policy.confirm_round_seconds, 0, model.allowed,
                                   model.keep, policy.keep_minutes_in(k), model.hint, lane=ROUND_LANE,
                                   timeout=solver_timeout(policy.confirm_round_seconds))  # fmt: skip
    except Exception as exc:  # noqa: BLE001  # a round that cannot plan holds its requests; the last one inserts
        routes, why = None, f"the planner failed ({type(exc).__name__})"
    return _use(model, routes, why, plan, held, k, uow, now, policy, travel)


def _too_little_time(held: list[CareRequest], k: int, uow: UnitOfWork, now: datetime, policy: DispatchPolicy) -> bool:
    """Whether the round's planner budget is below ``repair.MIN_SOLVER_SECONDS``; if so the held
    requests are told so in the audit trail (they stay held)."""
    if policy.confirm_round_seconds >= MIN_SOLVER_SECONDS:
        return False
    brief = f"{policy.confirm_round_seconds:.3f} s of planner time (a replay clock's share) is too little"
    for r in held:
        uow.emit(ev.dispatch_repaired(r, now, "held", [], 0.0, None, None, 0, reason=f"round {k}: {brief}"))
    return True


def _use(
    model: _Model,
    routes: Mapping[str, list[Stop]] | None,
    why: str | None,
    plan: Mapping[str, PlannedVisit],
    held: list[CareRequest],
    k: int,
    uow: UnitOfWork,
    now: datetime,
    policy: DispatchPolicy,
    travel: TravelTimes,
    searched_keep: Mapping[tuple[str, str], str] | None = None,
) -> int:
    """Carry out a round's ``routes`` when they are sound in ``model`` (``_unsound``; a plan
    searched beside the worker with the ``searched_keep`` it was searched with); else every held
    request stays held, its audit entry saying ``why`` (or why the routes are unsound)."""
    if routes is not None:
        fixed_at = {rid: start for rid, (_, start, _, _) in model.fixed.items()}
        why = _unsound(routes, model.by_vehicle, model.moving, fixed_at, model.fixed, model.origin, travel, policy,
                       model.cut, model.allowed, model.accepted, model.keep, searched_keep)  # fmt: skip
    elif why is None:
        why = "the planner found no plan in time"
    if routes is None or why is not None:
        for r in held:
            uow.emit(ev.dispatch_repaired(r, now, "held", [], policy.confirm_round_seconds, None, None,
                                          len(model.by_vehicle), reason=f"round {k}: {why}"))  # fmt: skip
        return 0
    return _carry_out(routes, model.by_vehicle, model.moving, model.accepted, plan, held, k, model.origin, uow, now,
                      policy, travel, len(model.by_vehicle))  # fmt: skip


def _model(
    area: str,
    plan: Mapping[str, PlannedVisit],
    held: list[CareRequest],
    k: int,
    uow: UnitOfWork,
    now: datetime,
    policy: DispatchPolicy,
    travel: TravelTimes,
) -> _Model | None:
    """The round's instance for the area's day of ``plan`` and its ``held`` requests, as the day
    is at ``now``; None when there is nothing to plan (no caregiver on duty with a home, or no
    held request left with a place)."""
    roster = sorted((c for c in uow.caregivers.in_area(area) if c.active), key=lambda c: c.caregiver_id)
    # nothing starting within the lead moves or is placed: she has set off, or is about to
    cut = now + max(timedelta(seconds=policy.offer_timeout_seconds), timedelta(minutes=policy.confirm_lead_minutes))
    vehicles = _vehicles(roster, min(pv.start for pv in plan.values()), max(pv.end for pv in plan.values()), cut)
    if not vehicles:
        return None
    bookings = uow.bookings([c.caregiver_id for c in roster])
    commitments = {cid: list(booked) for cid, booked in bookings.items()}
    for rid, pv in plan.items():  # a slot not received yet holds its caregiver too
        if uow.requests.get(rid) is None and pv.caregiver_id in commitments:
            commitments[pv.caregiver_id].append(Booking(rid, pv.location_index, pv.start, pv.end))
    paces = [travel_for(v.caregiver, travel) for v in vehicles]
    vehicles, anchors = _from_where_she_is(vehicles, commitments, cut, paces)
    origin = min([now.replace(second=0, microsecond=0)] + [v.start for v in vehicles])  # no minute below 0

    def minute(at: datetime, up: bool = False) -> float:
        """Whole minutes from ``origin``: down, or ``up`` (starts that must not come too early)."""
        exact = (at - origin).total_seconds() / 60.0
        return float(math.ceil(exact - 1e-9) if up else math.floor(exact + 1e-9))

    def vehicle_at(cid: str, at: datetime) -> str | None:
        return next((v.vehicle_id for v in vehicles if v.caregiver.caregiver_id == cid and v.start <= at < v.end), None)

    # each request of the day: movable (held, or accepted: may move at a keep cost) or fixed (offered, not received)
    moving: dict[str, CareRequest] = {r.request_id: r for r in held}
    fixed: dict[str, tuple[str, datetime, datetime, int]] = {}  # rid -> (vehicle, start, end, place)
    accepted: dict[str, Visit] = {}
    for rid, (anchored, b) in anchors.items():
        assert b.location_index is not None  # _from_where_she_is gave it a place
        fixed[rid] = (anchored, b.start, b.end, b.location_index)
    for cid, booked in bookings.items():
        for b in booked:
            if b.start < cut:
                continue  # under way or done: the anchors above say where she is
            visit = uow.visits.for_request(b.request_id)
            request = uow.requests.get(b.request_id)
            if (
                b.request_id in plan
                and request is not None
                and visit is not None
                and visit.caregiver_id == cid
                and visit.status == VisitStatus.SCHEDULED
                and visit.check_in_at is None
                and request.location_index is not None
            ):
                accepted[b.request_id] = visit
                moving[b.request_id] = request
                continue
            vid = vehicle_at(cid, b.start)
            place = b.location_index if b.location_index is not None else _home_of(roster, cid)
            if vid is not None and place is not None:
                fixed[b.request_id] = (vid, b.start, b.end, place)
    for rid, pv in plan.items():  # slots of requests not received yet stay where they are
        if rid in moving or rid in fixed or uow.requests.get(rid) is not None or pv.start < cut:
            continue
        vid = vehicle_at(pv.caregiver_id, pv.start)
        if vid is not None and pv.location_index is not None:
            fixed[rid] = (vid, pv.start, pv.end, pv.location_index)
    moving = {rid: r for rid, r in moving.items() if r.location_index is not None}
    for rid in sorted(accepted):  # half of a pair whose other half cannot move stays put: the gap holds
        r = moving[rid]
        pair = {r.sync_partner_id} if r.sync_partner_id else {f.request_id for f in uow.requests.followers_of(rid)}
        if pair and not pair <= set(moving):
            visit = accepted.pop(rid)
            del moving[rid]
            vid = vehicle_at(visit.caregiver_id, visit.planned_start)
            if vid is not None and r.location_index is not None:
                fixed[rid] = (vid, visit.planned_start, visit.planned_end, r.location_index)
    if not any(rid not in accepted for rid in moving):
        return None

    places: list[int] = []
    where: dict[int, int] = {}

    def place_of(index: int) -> int:
        if index not in where:
            where[index] = len(places)
            places.append(index)
        return where[index]

    homes = {
        v.vehicle_id: place_of(v.caregiver.home_base_index) for v in vehicles if v.caregiver.home_base_index is not None
    }
    vehicles = [v for v in vehicles if v.vehicle_id in homes]
    needs: list[ServiceNeed] = []
    able: dict[str, set[str]] = {v.vehicle_id: set() for v in vehicles}
    allowed: dict[tuple[str, str], frozenset[str]] = {}
    keep: dict[tuple[str, str], str] = {}
    hard = any(r.window_hard for r in moving.values())  # mixed: every window hard, none promised late
    for rid, r in sorted(moving.items()):
        context = uow.ranking_context(r, now)
        refused = refused_by(uow.offers.for_request(rid))
        who = frozenset(
            v.vehicle_id
            for v in vehicles
            if v.caregiver.caregiver_id not in refused and _excluded(r, v.caregiver, policy, context, set()) is None
        )
        for vid in who:
            able[vid].add(rid)
        allowed[(r.elder_id, rid)] = who
        first = minute(max(r.window_start, cut), up=True)
        latest = minute(r.latest_start)
        partner = r.sync_partner_id or ""
        known_partner = partner in moving or (partner in fixed and uow.requests.get(partner) is not None)
        sync = r.sync_type if r.sync_is_follower and known_partner else None
        assert r.location_index is not None  # requests without a place were left out above
        needs.append(
            ServiceNeed(
                r.elder_id,
                rid,
                float(math.ceil(r.duration_minutes - 1e-9)),
                place_of(r.location_index),
                first,
                max(first, latest),
                sync,
                r.sync_partner_id if sync else None,
                r.sync_min_gap,
                r.sync_max_gap,
            )  # fmt: skip
        )
        if rid in accepted:
            keep[(r.elder_id, rid)] = vehicle_at(accepted[rid].caregiver_id, accepted[rid].planned_start) or ""
    for rid, (vid, start, end, place) in sorted(fixed.items()):
        if vid not in able:
            continue
        able[vid].add(rid)
        at = minute(start)
        known = uow.requests.get(rid)  # an offered request keeps its elder: a held follower syncs with it
        needs.append(
            ServiceNeed(
                known.elder_id if known else f"fixed:{rid}", rid, minute(end, up=True) - at, place_of(place), at, at
            )
        )
    roster_entries = tuple(
        RosterEntry(
            v.vehicle_id,
            tuple(sorted(able[v.vehicle_id])),
            homes[v.vehicle_id],
            minute(v.start, up=True),
            minute(v.end),
        )
        for v in vehicles
    )
    paces = [travel_for(v.caregiver, travel) for v in vehicles]
    distances = tuple(  # whole minutes, up: a leg the model can make, a caregiver can make
        tuple(0.0 if a == b else float(math.ceil(max(t.minutes(a, b) for t in paces) - 1e-9)) for b in places)
        for a in places
    )
    horizon = max([24 * 60.0] + [e.shift_end for e in roster_entries] + [n.window_end + n.duration for n in needs])
    instance = Instance(f"{area} round {k}", distances, tuple(needs), roster_entries, False, hard,
                        policy.shift_end_hard, horizon, {})  # fmt: skip
    hint = _hint(plan, moving, fixed, accepted, uow, vehicle_at)
    by_vehicle = {v.vehicle_id: v for v in vehicles}
    return _Model(instance, by_vehicle, moving, accepted, fixed, origin, cut, allowed, keep, hint)


def _unsound(
    routes: Mapping[str, list[Stop]],
    by_vehicle: Mapping[str, _Vehicle],
    moving: Mapping[str, CareRequest],
    fixed_at: Mapping[str, datetime],
    fixed: Mapping[str, tuple[str, datetime, datetime, int]],
    origin: datetime,
    travel: TravelTimes,
    policy: DispatchPolicy,
    cut: datetime | None = None,
    allowed: Mapping[tuple[str, str], frozenset[str]] | None = None,
    accepted: Mapping[str, Visit] | None = None,
    keep: Mapping[tuple[str, str], str] | None = None,
    searched_keep: Mapping[tuple[str, str], str] | None = None,
) -> str | None:
    """Why the round's plan cannot be carried out in real minutes, or None: each caregiver can
    reach each stop by its start from her home or her previous stop, a hard window's start is
    kept, nothing starts before its window (nor, moving, before ``cut``, nor on a shift not in
    ``allowed`` for it: a plan searched beside the worker is checked against the day as it is
    when it comes back, a decline or an exclusion since included), a fixed booking stays at
    its start, every vehicle is one of the round's, and she is home by
    her shift's end when the policy holds it. The model's rounding makes this hold; this checks it
    (a plan that fails is not used: the round holds its requests). Every fixed booking stays on
    its caregiver's route: the planner may leave any need out, and a caregiver modelled without
    the visit she is in would be sent elsewhere meanwhile.

    An ``accepted`` visit the routes leave out stands where it is (``_carry_out``): the accepted
    visits the routes keep on the same caregiver (``keep``: (elder, request) -> vehicle), which
    are re-timed without a new offer, must reach it and be reached from it in time. Routed held
    or moved visits are new offers, checked against her bookings when made (``insertion_at``),
    so they are not held against it here. With ``searched_keep``, the ``keep`` the plan was searched with (a plan searched beside the
    worker), an accepted visit the routes give to another caregiver must have been accepted by
    the same one when the search began: a visit an operator gave to someone during the search
    was never weighed at the round's keep cost (found by a review)."""
    slack = timedelta(seconds=1)
    kept = {(vid, stop.service_id) for vid, stops in routes.items() for stop in stops}
    for rid, (vid, *_) in sorted(fixed.items()):
        v = by_vehicle.get(vid)
        if v is not None and v.caregiver.home_base_index is not None and (vid, rid) not in kept:
            return f"{rid} is a fixed booking the plan leaves out"
    routed = {rid: vid for vid, rid in kept}
    standing: dict[str, list[Stop]] = {}
    for (elder, rid), holder in sorted((keep or {}).items()):
        if rid in routed:
            if searched_keep is not None and routed[rid] != holder and searched_keep.get((elder, rid)) != holder:
                return f"{rid} was accepted by {_caregiver_of(by_vehicle, holder)} during the search"
        elif accepted is not None and rid in accepted and holder in by_vehicle:
            visit, minute = accepted[rid], timedelta(minutes=1)
            at, until = (visit.planned_start - origin) / minute, (visit.planned_end - origin) / minute
            standing.setdefault(holder, []).append(Stop(elder, rid, at, until))
    for vid, stops in routes.items():
        v = by_vehicle.get(vid)
        if v is None:
            return f"{vid} is not a shift of the round"
        pace = travel_for(v.caregiver, travel)
        here, free = v.caregiver.home_base_index, v.start
        for stop in stops:
            rid, start = stop.service_id, origin + timedelta(minutes=stop.start)
            r = moving.get(rid)
            if r is not None:
                loc, end = r.location_index, start + timedelta(minutes=r.duration_minutes)
                if start < r.window_start - slack or (r.window_hard and start > r.latest_start + slack):
                    return f"{rid} would start {start:%H:%M}, outside its window"
                if cut is not None and start < cut - slack:
                    return f"{rid} would start {start:%H:%M}, too soon to be offered"
                if allowed is not None and vid not in allowed.get((r.elder_id, rid), frozenset()):
                    return f"{rid} may no longer go to {v.caregiver.caregiver_id}"
            elif rid in fixed:
                _, was, was_end, loc = fixed[rid]
                end = start + (was_end - was)
                if abs(start - fixed_at[rid]) > timedelta(minutes=1):
                    return f"{rid} would move, but its booking is fixed"
            else:
                return f"{rid} is not a request of the round"
            if start < free + timedelta(minutes=pace.minutes(here, loc)) - slack:
                return f"{v.caregiver.caregiver_id} cannot reach {rid} by {start:%H:%M}"
            here, free = loc, end
        if policy.shift_end_hard and stops:
            back = free + timedelta(minutes=pace.minutes(here, v.caregiver.home_base_index))
            if back > v.end + timedelta(minutes=policy.overtime_minutes) + slack:
                return f"{v.caregiver.caregiver_id} would be home after her shift"
    # an accepted visit left out stands where it is: the accepted visits the routes keep on the
    # same day (re-timed without a new offer) must not run into it. A new offer is checked against
    # her bookings, standing visits included, when it is made (``insertion_at`` in ``_carry_out``).
    holder_of = {rid: holder for (_, rid), holder in (keep or {}).items()}
    for vid, stands in sorted(standing.items()):
        v = by_vehicle[vid]
        pace = travel_for(v.caregiver, travel)
        kept_here = [
            s for s in routes.get(vid, []) if s.service_id in (accepted or {}) and holder_of.get(s.service_id) == vid
        ]
        day = sorted([(s, True) for s in stands] + [(s, False) for s in kept_here], key=lambda x: x[0].start)
        for (a, a_stands), (b, _) in itertools.pairwise(day):
            ra, rb = moving.get(a.service_id), moving.get(b.service_id)
            if ra is None or rb is None:
                continue
            a_end = origin + timedelta(minutes=a.end if a_stands else a.start + ra.duration_minutes)
            b_start = origin + timedelta(minutes=b.start)
            if b_start < a_end + timedelta(minutes=pace.minutes(ra.location_index, rb.location_index)) - slack:
                return (f"{v.caregiver.caregiver_id} cannot reach {b.service_id} by {b_start:%H:%M} after "
                        f"{a.service_id}, which stays where it is")  # fmt: skip
    return None


def _home_of(roster: list[Caregiver], cid: str) -> int | None:
    """The home base (location index) of caregiver ``cid`` of ``roster``; None when unknown."""
    return next((c.home_base_index for c in roster if c.caregiver_id == cid), None)


def _hint(
    plan: Mapping[str, PlannedVisit],
    moving: Mapping[str, CareRequest],
    fixed: Mapping[str, tuple[str, datetime, datetime, int]],
    accepted: Mapping[str, Visit],
    uow: UnitOfWork,
    at: Callable[[str, datetime], str | None],
) -> dict[str, list[Stop]]:
    """The current day as the search's first solution: each request where its visit, slot or
    fixed booking is, by start (``at(caregiver id, start)``: the vehicle of that shift)."""
    stops: dict[str, list[tuple[datetime, Stop]]] = {}
    for rid, r in moving.items():
        visit = accepted.get(rid)
        cid, start = (visit.caregiver_id, visit.planned_start) if visit else (plan[rid].caregiver_id, plan[rid].start)
        vid = at(cid, start)
        if vid is not None:
            stops.setdefault(vid, []).append((start, Stop(r.elder_id, rid, 0.0, 0.0)))
    for rid, (vid, start, _, _) in fixed.items():
        known = uow.requests.get(rid)
        stops.setdefault(vid, []).append((start, Stop(known.elder_id if known else f"fixed:{rid}", rid, 0.0, 0.0)))
    return {vid: [s for _, s in sorted(day, key=lambda x: x[0])] for vid, day in stops.items()}


def _caregiver_of(by_vehicle: Mapping[str, _Vehicle], vid: str) -> str:
    """The caregiver id of vehicle (shift) ``vid``; the id itself when it is not a shift of the round."""
    v = by_vehicle.get(vid)
    return v.caregiver.caregiver_id if v is not None else vid


def _carry_out(
    routes: Mapping[str, list[Stop]],
    by_vehicle: Mapping[str, _Vehicle],
    moving: Mapping[str, CareRequest],
    accepted: Mapping[str, Visit],
    plan: Mapping[str, PlannedVisit],
    held: list[CareRequest],
    k: int,
    origin: datetime,
    uow: UnitOfWork,
    now: datetime,
    policy: DispatchPolicy,
    travel: TravelTimes,
    caregivers: int,
) -> int:
    """Carry out a round's plan: reassigned visits cancelled first (their slots free), moved
    visits re-timed, then offers in order of start; the stored plan follows."""
    where = {
        s.service_id: (by_vehicle[vid].caregiver.caregiver_id, origin + timedelta(minutes=s.start))
        for vid, day in routes.items()
        for s in day
        if s.service_id in moving
    }
    moves: list[dict[str, object]] = []
    to_offer: list[tuple[datetime, str, str]] = []
    for rid, visit in sorted(accepted.items()):
        if rid not in where:
            continue  # left out: the accepted visit stands
        cid, start = where[rid]
        if cid != visit.caregiver_id:
            moves.append(_move(rid, visit.caregiver_id, visit.planned_start, cid, start, True))
            _reassign(visit, uow, now, k)
            to_offer.append((start, rid, cid))
        elif start != visit.planned_start:
            moves.append(_move(rid, cid, visit.planned_start, cid, start, True))
            was = visit.planned_start
            visit.planned_end = start + (visit.planned_end - visit.planned_start)
            visit.planned_start = start
            request = moving[rid]
            uow.emit(ev.visit_event("care.visit.moved", request, visit, now, reason=f"confirmation round {k}",
                                    start_before=was.isoformat()))  # fmt: skip
            due = visit.planned_start + timedelta(minutes=policy.no_show_minutes)
            uow.emit(ev.timer_requested("check-in-deadline", visit.visit_id, request, due, now))
    for follower in moving.values():  # a follower starts after its anchor's new start
        anchor = where.get(follower.sync_partner_id or "")
        if follower.sync_is_follower and anchor is not None:
            follower.sync_anchor_start = anchor[1]
    held_ids = {r.request_id for r in held}
    for rid in sorted(held_ids & set(where)):
        cid, start = where[rid]
        slot = plan.get(rid)
        moves.append(_move(rid, slot.caregiver_id if slot else None, slot.start if slot else None, cid, start, False))
        to_offer.append((start, rid, cid))
    made = 0
    changed: dict[str, PlannedVisit] = {}
    misfit: dict[str, str] = {}
    for start, rid, cid in sorted(to_offer):
        req = uow.requests.get(rid)
        caregiver = uow.caregivers.get(cid)
        if req is None or caregiver is None:
            continue
        fit = insertion_at(req, caregiver, uow.bookings([cid])[cid], travel, start, now, policy)
        if isinstance(fit, str):  # stays held: the next round (or the last one's insertion) places it
            misfit[rid] = fit
            continue
        uow.emit(ev.dispatch_decided(req, Ranking((fit,), {}), policy, now))
        offers.offer_to(req, fit, len(uow.offers.for_request(rid)) + 1, uow, now, policy)
        made += 1
    for rid, (cid, start) in where.items():
        slot = plan.get(rid)
        if slot is not None and (slot.caregiver_id, slot.start) != (cid, start):
            changed[rid] = replace(slot, caregiver_id=cid, start=start, end=start + (slot.end - slot.start))
    if changed:
        uow.replan(changed)
    for r in held:
        rid = r.request_id
        if rid in misfit:
            reason = f"confirmation round {k}: the re-planned slot does not fit ({misfit[rid]}); held"
        elif rid in where:
            reason = f"confirmation round {k}: offered at the re-planned slot"
        else:
            reason = f"confirmation round {k}: left out by the re-plan; held"
        outcome = "round" if rid in where and rid not in misfit else "held"
        uow.emit(ev.dispatch_repaired(r, now, outcome, moves if outcome == "round" else [],
                                      policy.confirm_round_seconds, None, None, caregivers, reason=reason))  # fmt: skip
    return made


def _move(
    rid: str, cid_before: str | None, before: datetime | None, cid_after: str, after: datetime, accepted: bool
) -> dict[str, object]:
    return {
        "request_id": rid,
        "caregiver_before": cid_before,
        "caregiver_after": cid_after,
        "start_before": before.isoformat() if before else None,
        "start_after": after.isoformat(),
        "offered": False,
        "accepted": accepted,
    }


def _reassign(visit: Visit, uow: UnitOfWork, now: datetime, k: int) -> None:
    """A round gives an accepted visit to another caregiver: hers is cancelled (she is told it was
    reassigned) and the request waits for the new offer. The elder was told nothing yet."""
    request = uow.requests.get(visit.request_id)
    assert request is not None
    offer = uow.offers.get(offer_id_of(visit.visit_id))
    if offer is not None and offer.status == OfferStatus.ACCEPTED:
        offer.status, offer.cancel_reason = OfferStatus.CANCELED, CancelReason.REASSIGNED
    visit.status = VisitStatus.CANCELLED
    uow.emit(ev.visit_event("care.visit.cancelled", request, visit, now, reason="reassigned"))
    request.status, request.status_reason = RequestStatus.RECEIVED, f"re-planned in confirmation round {k}"
    request.assigned_at = None
    uow.emit(ev.status_changed(request, now))


__all__ = [
    "KIND",
    "OVERDUE_KIND",
    "answer_wait",
    "apply_round",
    "instance_from_json",
    "instance_json",
    "round_overdue",
    "search_round_job",
    "ask_round",
    "close_round",
    "hold",
    "offer_plan",
    "defer_promise",
    "rounds_open",
    "takes_part",
    "round_target",
]
