"""The message bus: records decode into typed commands naming the bad field, and
every command reaches its use case the same way from any entry point."""

from __future__ import annotations

import pytest

from handlers import messagebus
from handlers import messages as m
from handlers.dispatch.area import AreaContext
from handlers.dispatch.planned import PlannedVisit
from handlers.dispatch.scheduling import DispatchPolicy
from handlers.model import OfferStatus, RequestStatus
from tests.unit.factories import AREA, T0, at, caregiver, line_travel, uow_with

AREA_CTX = AreaContext(DispatchPolicy(), line_travel())


def record(type_: str, **data) -> dict:
    return {"id": "ev-1", "type": type_, "time": T0.isoformat(), "data": {"service_area": AREA, **data}}


def intake(rid: str = "r1", elder: str = "e3", priority: str = "routine") -> dict:
    return {
        "intake_id": rid,
        "channel": "app",
        "elder_id": elder,
        "service_type": "meal",
        "duration_minutes": 30,
        "window": {"start": at(60).isoformat(), "end": at(120).isoformat()},
        "priority": priority,
        "submitted_at": T0.isoformat(),
    }


def test_a_caregiver_reply_decodes_into_a_typed_command():
    command = m.decode(record("caregiver.offer.accepted", offer_id="r1.o1", caregiver_id="c1"))
    assert command == m.AcceptOffer("ev-1", T0, AREA, "r1.o1", "c1")


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"type": "caregiver.offer.accepted", "data": {"service_area": AREA}}, "id"),
        ({"id": "x", "type": "caregiver.offer.accepted"}, "data"),
        ({"id": "x", "type": "caregiver.offer.accepted", "data": {"offer_id": "o"}}, "data.service_area"),
        (record("caregiver.offer.accepted", caregiver_id="c1"), "data.offer_id"),
        (record("caregiver.offer.declined", offer_id="o", caregiver_id=7), "data.caregiver_id"),
        (record("caregiver.visit.checked_in", request_id="r", caregiver_id="c", evv_flags="late"), "data.evv_flags"),
        (record("timer.fired", kind="ladder-step", target_id="r1"), "data.target_id"),
        (record("timer.fired", kind="sunrise", target_id="r1"), "data.kind"),
        (record("timer.fired", kind=["offer-expiry"], target_id="o"), "data.kind"),
        (record("caregiver.offer.teleported"), "type"),
        ({**record("timer.fired", kind="offer-expiry", target_id="o"), "time": "2026-11-30T08:00:00"}, "time"),
    ],
)
def test_a_malformed_record_is_refused_naming_its_field(value, field):
    with pytest.raises(m.InvalidMessage) as refused:
        m.decode(value)
    assert refused.value.field == field


def test_a_ladder_timer_names_the_request_and_the_step():
    assert m.decode(record("timer.fired", kind="ladder-step", target_id="r1.a#2")) == m.EscalateRequest(
        "ev-1", T0, AREA, "r1.a", 2
    )


def test_feedback_with_stars_as_text_is_refused():
    with pytest.raises(m.InvalidMessage) as refused:
        m.decode_feedback({"id": "f", "data": {"request_id": "r1", "stars": "5"}})
    assert refused.value.field == "data.stars"


def test_a_validated_request_is_offered_through_the_bus():
    uow = uow_with(caregiver("c1", home=2))
    messagebus.handle(m.ReceiveRequest("ev-1", T0, AREA, intake()), uow, T0, AREA_CTX)
    [offer] = uow.offers.for_request("r1")
    assert (offer.caregiver_id, offer.status) == ("c1", OfferStatus.PENDING)


def test_an_intake_record_for_an_unknown_elder_is_refused_naming_the_field():
    uow = uow_with(caregiver("c1"))
    with pytest.raises(m.InvalidMessage) as refused:
        messagebus.handle(m.ReceiveRequest("ev-1", T0, AREA, intake(elder="nobody")), uow, T0, AREA_CTX)
    assert refused.value.field == "elder_id"


def test_a_planned_area_offers_the_request_to_its_planned_caregiver_first():
    uow = uow_with(caregiver("near", home=3), caregiver("planned", home=0))
    uow.plan = {"r1": PlannedVisit("planned", at(70), at(100), 3, T0)}
    messagebus.handle(
        m.ReceiveRequest("ev-1", T0, AREA, intake()),
        uow,
        T0,
        AreaContext(DispatchPolicy(), line_travel(), mode="planned"),
    )
    [offer] = uow.offers.for_request("r1")
    assert offer.caregiver_id == "planned"


def test_an_emergency_in_a_batched_area_does_not_wait_for_the_batch():
    uow = uow_with(caregiver("c1", home=2))
    batched = AreaContext(DispatchPolicy(), line_travel(), mode="batched")
    messagebus.handle(m.ReceiveRequest("ev-1", T0, AREA, intake("r1", priority="stat")), uow, T0, batched)
    messagebus.handle(m.ReceiveRequest("ev-2", T0, AREA, intake("r2")), uow, T0, batched)
    assert len(uow.offers.for_request("r1")) == 1 and uow.offers.for_request("r2") == []


def test_a_whole_visit_runs_through_the_bus_from_offer_to_check_out():
    uow = uow_with(caregiver("c1", home=2))
    run = lambda command, minute: messagebus.handle(command, uow, at(minute), AREA_CTX)  # noqa: E731
    run(m.ReceiveRequest("ev-1", T0, AREA, intake()), 0)
    run(m.AcceptOffer("ev-2", None, AREA, "r1.o1", "c1"), 1)
    run(m.CheckIn("ev-3", None, AREA, "r1", "c1"), 60)
    run(m.CheckOut("ev-4", None, AREA, "r1", "c1"), 90)
    assert uow.requests["r1"].status == RequestStatus.COMPLETED


def test_a_dispatch_command_without_its_area_context_is_a_programming_error():
    with pytest.raises(ValueError, match="needs the context"):
        messagebus.handle(m.ExpireOffer("ev-1", None, AREA, "r1.o1"), uow_with(), T0)


def test_every_command_type_has_a_handler():
    from handlers.register import commands as rc

    commands = {
        c for module in (m, rc) for c in vars(module).values() if isinstance(c, type) and issubclass(c, m.Command)
    }
    assert commands - {m.Command, m.DispatchCommand, rc.RegisterCommand} == set(messagebus.HANDLERS)


def test_event_time_is_never_later_than_the_clock():
    late = m.ExpireOffer("ev", at(5), AREA, "o")
    assert messagebus.event_time(late, at(3)) == at(3) and messagebus.event_time(late, at(9)) == at(5)


def test_a_confirmation_round_handled_late_decides_at_the_clock_not_at_its_due_time():
    late = m.CloseRound("ev", at(5), AREA, announced_at=at(-600), round=1)
    assert messagebus.event_time(late, at(65)) == at(65)
    assert messagebus.event_time(m.OfferPlan("ev", at(5), AREA), at(65)) == at(65)
