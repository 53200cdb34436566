"""The message bus: one map from command type to its use case, one ``handle``.

Every entry point that changes dispatch state — the stream worker's agents,
the offline runner, the dashboard's operator actions — decodes its input into
a command (``handlers.messages``) and calls ``handle(command, uow, now,
area)``; the caller owns the transaction (claim the event id, handle, commit).
A use case that says no raises its own domain error; a command whose content
is invalid raises ``handlers.messages.InvalidMessage``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, TypeVar

from handlers import messages as m
from handlers.channels.intake import InvalidIntake, validate_intake
from handlers.dispatch import batching, offers, repair, rounds
from handlers.dispatch.area import AreaContext
from handlers.dispatch.planned import receive_planned
from handlers.dispatch.repair import repair_or_offer, replace_late
from handlers.evaluation import feedback
from handlers.model import CareRequest, OfferStatus, Priority
from handlers.ports import UnitOfWork
from handlers.register import changes as register
from handlers.register import commands as rc
from handlers.visits import attendance, disruptions, lateness

Handler = Callable[[Any, UnitOfWork, datetime, Any], object]
"""A use case as ``handle`` calls it: (command, unit of work, event time, area
context or None). What it returns (whether anything changed) is not used. The
command is ``Any`` because a dict cannot tie each key to its handler's command
type; ``_on`` checks that pairing where ``HANDLERS`` is built."""

C = TypeVar("C", bound=m.Command)


def _on(
    kind: type[C], run: Callable[[C, UnitOfWork, datetime, AreaContext], object]
) -> tuple[type[m.Command], Handler]:
    """The ``HANDLERS`` entry of a dispatch command: ``run`` takes a ``kind`` and its area's context."""
    return kind, run


def receive_request(cmd: m.ReceiveRequest, uow: UnitOfWork, now: datetime, area: AreaContext) -> None:
    """Register a validated request and offer it the way its area dispatches
    (``handlers.dispatch.area``); a request of an elder who is not active (in hospital,
    moved, deceased) goes to the operator queue instead. Raises ``InvalidMessage`` naming
    the bad field."""
    try:
        request = validate_intake(cmd.record, uow.elders.get)
    except InvalidIntake as exc:
        raise m.InvalidMessage(exc.reason, exc.field) from None
    p, t = area.policy, area.travel
    elder = uow.elders.get(request.elder_id)
    if elder is not None and not elder.active:
        reason = f"the elder's status is {elder.status}: not dispatched, an operator decides"
        offers.refer_to_operator(request, uow, now, p, t, reason)
        return
    if area.mode == "batched":
        batching.receive_batched(request, uow, now, p, t)
    elif area.mode == "planned":
        ids = [request.request_id] + ([request.sync_partner_id] if request.sync_partner_id else [])
        plan = uow.planned_visits(ids)
        receive_planned(request, plan, uow, now, p, t, _unplanned(uow, now, area))
        slot = plan.get(request.request_id)
        if slot is not None and p.confirm_rounds > 0:  # its plan's rounds are open: their close is due
            rounds.ask_round(request, slot, uow, now, p)
    else:
        offers.receive_request(request, uow, now, p, t)


def _reoffer(uow: UnitOfWork, now: datetime, area: AreaContext) -> offers.Reoffer | None:
    """How a request whose offer or visit fell through (a decline, a timeout, a call-off, a
    no-show) is offered on: a planned area repairs its day (``handlers.dispatch.repair``), any
    other area ranks again (None: ``offers.offer_next``)."""
    if area.mode != "planned":
        return None
    return lambda request: (
        rounds.hold(request, uow, now, area.policy)
        or repair_or_offer(request, uow, now, area.policy, area.travel, area.background_repairs)
    )


#: priorities whose arrival without a plan slot repairs a planned day (issue 18: "or an urgent request
#: arrives"); ``asap`` and ``stat`` keep their parallel offers at once: for them the first yes
#: matters more than the rest of the day
REPAIR_ON_ARRIVAL = frozenset({Priority.URGENT})


def _unplanned(uow: UnitOfWork, now: datetime, area: AreaContext) -> offers.Reoffer:
    """How a planned area offers a request its plan has no slot for (or whose slot no longer fits):
    an urgent one by repairing the day (``repair.repair_or_offer``: pending offers and the plan's
    slots may move to make room), any other by insertion (``offers.offer_next``)."""

    def offer(request: CareRequest) -> object:
        if request.priority in REPAIR_ON_ARRIVAL:
            return repair_or_offer(request, uow, now, area.policy, area.travel, area.background_repairs)
        return offers.offer_next(request, uow, now, area.policy, area.travel)

    return offer


def _late_repair(uow: UnitOfWork, now: datetime, area: AreaContext) -> lateness.LateRepair | None:
    """How a caregiver running late is replaced: a planned area repairs its day first
    (``repair.replace_late``); any other area only ranks (None)."""
    if area.mode != "planned":
        return None
    return lambda request, expected, hand_over: replace_late(
        request, expected, hand_over, uow, now, area.policy, area.travel, area.background_repairs
    )


def _record_feedback(cmd: m.RecordFeedback, uow: UnitOfWork, now: datetime, area: None) -> None:
    try:
        feedback.record_feedback(cmd.event_id, cmd.request_id, uow, now, cmd.stars, cmd.complaint, cmd.comment)
    except feedback.InvalidFeedback as exc:
        raise m.InvalidMessage(str(exc), "data." + str(exc).split(":", 1)[0]) from None


def _register(
    *pairs: tuple[type[m.Command], Callable[[Any, Any, datetime], object]],
) -> list[tuple[type[m.Command], Handler]]:
    """``HANDLERS`` entries of the register's commands: their use cases take a register unit of
    work (``handlers.register.ports.RegisterUnitOfWork``) and no area context."""

    def entry(run: Callable[[Any, Any, datetime], object]) -> Handler:
        def handler(command: Any, uow: UnitOfWork, now: datetime, area: Any) -> object:
            return run(command, uow, now)

        return handler

    return [(kind, entry(run)) for kind, run in pairs]


HANDLERS: dict[type[m.Command], Handler] = dict(
    [
        _on(m.ReceiveRequest, receive_request),
        _on(
            m.AcceptOffer,
            lambda c, uow, now, a: offers.accept_offer(c.offer_id, c.caregiver_id, uow, now, a.offer_policy, a.travel),
        ),
        _on(
            m.DeclineOffer,
            lambda c, uow, now, a: offers.close_offer(
                c.offer_id, OfferStatus.REJECTED, uow, now, a.policy, a.travel, c.caregiver_id, _reoffer(uow, now, a)
            ),
        ),
        _on(
            m.CheckIn,
            lambda c, uow, now, a: attendance.check_in(
                c.request_id, c.caregiver_id, uow, now, a.travel, c.evv_flags, c.evv_method
            ),
        ),
        _on(
            m.CheckOut,
            lambda c, uow, now, a: attendance.check_out(
                c.request_id,
                c.caregiver_id,
                uow,
                now,
                c.evv_flags,
                c.evv_method,
                a.policy,
                a.travel,
                _late_repair(uow, now, a),
            ),
        ),
        _on(
            m.CallOff,
            lambda c, uow, now, a: disruptions.call_off(
                c.request_id, c.caregiver_id, uow, now, a.policy, a.travel, _reoffer(uow, now, a)
            ),
        ),
        _on(
            m.ExpireOffer,
            lambda c, uow, now, a: offers.close_offer(
                c.offer_id, OfferStatus.TIMEOUT, uow, now, a.policy, a.travel, reoffer=_reoffer(uow, now, a)
            ),
        ),
        _on(
            m.EscalateRequest,
            lambda c, uow, now, a: offers.step_deadline(c.request_id, c.step, uow, now, a.offer_policy, a.travel),
        ),
        _on(
            m.EnforceCheckIn,
            lambda c, uow, now, a: disruptions.missed_check_in(
                c.visit_id, uow, now, a.policy, a.travel, _reoffer(uow, now, a), due=c.at or now
            ),
        ),
        _on(
            m.CheckLateness,
            lambda c, uow, now, a: lateness.late_check(
                c.visit_id, uow, now, a.policy, a.travel, _late_repair(uow, now, a)
            ),
        ),
        _on(
            m.CloseRound,
            # in any mode: an area switched away from planned still tells its elders after the last round
            lambda c, uow, now, a: rounds.close_round(
                c.service_area, c.announced_at, c.round, uow, now, a.policy, a.travel, a.background_repairs
            ),
        ),
        _on(m.ApplyRound, lambda c, uow, now, a: rounds.apply_round(c.answer, uow, now, a.policy, a.travel)),
        _on(
            m.RoundOverdue,
            lambda c, uow, now, a: rounds.round_overdue(
                c.service_area, c.announced_at, c.round, uow, now, a.policy, a.travel
            ),
        ),
        _on(m.ApplyRepair, lambda c, uow, now, a: repair.apply_answer(c.answer, uow, now, a.policy, a.travel)),
        _on(m.RepairOverdue, lambda c, uow, now, a: repair.answer_overdue(c.attempt_id, uow, now, a.policy, a.travel)),
        _on(
            m.OfferPlan,
            lambda c, uow, now, a: (
                rounds.offer_plan(c.service_area, uow, now, a.policy, a.travel) if a.mode == "planned" else 0
            ),
        ),
        _on(m.FollowUpComplaint, lambda c, uow, now, a: feedback.followup_due(c.request_id, uow, now)),
        (m.RecordFeedback, _record_feedback),
        *_register(
            (rc.RegisterProvider, register.register_provider),
            (rc.RegisterElder, register.register_elder),
            (rc.RegisterCaregiver, register.register_caregiver),
            (rc.RegisterDevice, register.register_device),
            (rc.SetElderStatus, register.set_elder_status),
            (rc.SetCaregiverActive, register.set_caregiver_active),
            (rc.SetDeviceActive, register.set_device_active),
            (rc.SetProviderActive, register.set_provider_active),
            (rc.SetRota, register.set_rota),
            (rc.AddAbsence, register.add_absence),
            (rc.RemoveAbsence, register.remove_absence),
            (rc.RecordHeartbeat, register.record_heartbeat),
        ),
    ]
)


def handle(command: m.Command, uow: Any, now: datetime, area: AreaContext | None = None) -> Any:
    """Run ``command``'s use case in ``uow`` at ``now`` (event time); a dispatch
    command needs its service area's context (``area``). The caller claims the
    event id and commits. Raises ``KeyError`` for a command type without a
    handler and ``ValueError`` for a dispatch command without ``area``
    (programming errors), ``InvalidMessage`` for invalid content, and the use
    case's own refusals. ``uow`` is a ``handlers.ports.UnitOfWork`` for dispatch commands and a
    ``handlers.register.ports.RegisterUnitOfWork`` for the register's. Returns what the use
    case returned (a register command's ``handlers.register.changes.Change``)."""
    if isinstance(command, m.DispatchCommand) and area is None:
        raise ValueError(f"{type(command).__name__} needs the context of area {command.service_area!r}")
    return HANDLERS[type(command)](command, uow, now, area)


def event_time(command: m.Command, clock_now: datetime) -> datetime:
    """When ``command`` happened, never later than the clock: dispatch decides in
    event time, so broker latency changes the order of work, not the times a
    request or visit records. A command that re-plans the day ahead
    (``Command.decides_now``: a confirmation round, a plan's offers) is decided at the
    clock: handled an hour late, a round stamped with its due time moved a visit its caregiver
    had set off for (CI of 2e6f011, a bazirha-E2 replay at 1200x)."""
    if command.at is None or command.decides_now:
        return clock_now
    return min(command.at, clock_now)
