"""Who must be told what: the notices each change calls for (handlers.channels.notices),
decided from the events the use cases emit, with the register as a fake, and their words
in both languages within one SMS segment where the content allows."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from config.locale import get_texts
from handlers.channels.notice_texts import render
from handlers.channels.notices import Household, Notice, Person, notices_for, wanted
from handlers.channels.sms import count_segments
from handlers.dispatch import offers
from handlers.dispatch.scheduling import DispatchPolicy
from handlers.model import DomainEvent, OfferStatus, Priority
from handlers.operations import operator_actions as ops
from handlers.operations.outcomes import record_outcome
from handlers.visits import attendance, disruptions
from tests.unit.factories import at, caregiver, line_travel, request, uow_with
from tests.unit.operator_fakes import InMemoryOperatorUnitOfWork

TEXTS = get_texts()
SHANGHAI = ZoneInfo("Asia/Shanghai")
POLICY = DispatchPolicy()
TRAVEL = line_travel()
CAREGIVER_PHONE = {"a": "+8613800000001", "b": "+8613800000002"}
ELDER_PHONE, FAMILY_PHONE, LANDLINE = "+8613900000001", "+8613700000001", "+862583331234"


class FakeRegister:
    """The register as ``notices_for`` reads it: the unit of work's requests and offers,
    and people's phones, languages and apps from the test."""

    def __init__(self, uow, family_updates=True, elder_phone=ELDER_PHONE, apps=(), language="zh-CN"):
        self.uow, self.family_updates, self.elder_phone, self.apps, self.language = (
            uow,
            family_updates,
            elder_phone,
            set(apps),
            language,
        )

    def caregiver(self, caregiver_id):
        phone = CAREGIVER_PHONE.get(caregiver_id)
        return Person("caregiver", caregiver_id, phone, self.language, caregiver_id in self.apps) if phone else None

    def household(self, elder_id):
        phone = self.elder_phone
        elder = Person("elder", elder_id, phone, self.language, elder_id in self.apps, phone != LANDLINE)
        family = (Person("family", elder_id, FAMILY_PHONE, self.language),)
        return Household(elder, family, self.family_updates, "青岛路12号3单元401", "青岛路社区")

    def request(self, request_id):
        return self.uow.requests.get(request_id)

    def offer(self, offer_id):
        return self.uow.offers.get(offer_id)

    def area_name(self, service_area):
        return "鼓楼区"


def envelope(event: DomainEvent, n: int) -> dict:
    return {"id": f"ev{n}", "type": event.type, "time": event.time.isoformat(), "data": event.payload}


def told(uow, register=None, since: int = 0) -> list[Notice]:
    register = register or FakeRegister(uow)
    out = []
    for n, event in enumerate(uow.events[since:], start=since):
        out += notices_for(envelope(event, n), register)
    return out


def who(notices) -> list[tuple[str, str, str]]:
    return [(n.person.role, n.kind, n.channel) for n in notices]


def booked(uow=None):
    uow = uow or uow_with(caregiver("a", home=1), caregiver("b", home=0))
    offers.receive_request(request("r", 1, start=60, end=120), uow, at(0), POLICY, TRAVEL)
    offers.accept_offer("r.o1", "a", uow, at(1), POLICY, TRAVEL)
    return uow


def test_the_caregiver_gets_the_offer_then_the_address_and_the_elder_and_family_the_window():
    uow = booked()
    assert who(told(uow)) == [
        ("caregiver", "offer", "sms"),
        ("caregiver", "confirmed", "sms"),
        ("elder", "elder.confirmed", "sms"),
        ("family", "family.confirmed", "sms"),
    ]


def test_a_family_that_did_not_opt_in_hears_only_of_emergencies():
    uow = booked()
    assert [n.person.role for n in told(uow, FakeRegister(uow, family_updates=False))].count("family") == 0
    uow = uow_with(caregiver("a", abilities="emergency", home=1))
    offers.receive_request(request("s", 1, service="emergency", priority=Priority.STAT), uow, at(0), POLICY, TRAVEL)
    assert ("family", "family.emergency", "sms") in who(told(uow, FakeRegister(uow, family_updates=False)))


def test_a_visit_cancelled_after_acceptance_tells_the_caregiver_not_to_go_and_the_elder_it_is_cancelled():
    uow = InMemoryOperatorUnitOfWork()
    for c in (caregiver("a", home=1), caregiver("b", home=0)):
        uow.caregivers.add(c)
    booked(uow)
    before = len(uow.events)
    ops.cancel_request("r", uow, at(10), "op1")
    assert who(told(uow, since=before)) == [
        ("caregiver", "cancelled", "sms"),
        ("elder", "elder.cancelled", "sms"),
        ("family", "family.cancelled", "sms"),
    ]


def test_a_reassigned_visit_tells_the_first_caregiver_it_went_to_another_and_offers_it_to_the_second():
    uow = InMemoryOperatorUnitOfWork()
    for c in (caregiver("a", home=1), caregiver("b", home=0)):
        uow.caregivers.add(c)
    booked(uow)
    before = len(uow.events)
    ops.reassign("r", "b", uow, at(10), POLICY, TRAVEL, "op1")
    notices = told(uow, since=before)
    assert [(n.person.person_id, n.kind) for n in notices] == [("a", "reassigned"), ("b", "offer")]


def test_a_no_show_tells_the_caregiver_the_elder_and_the_family_what_happens_next():
    uow = booked()
    before = len(uow.events)
    disruptions.missed_check_in("r.o1.v", uow, at(65), POLICY, TRAVEL)
    kinds = who(told(uow, since=before))
    assert kinds[:3] == [
        ("caregiver", "no_show_taken", "sms"),
        ("elder", "elder.no_show", "sms"),
        ("family", "family.no_show", "sms"),
    ]
    assert ("caregiver", "offer", "sms") in kinds  # b is asked at once


def test_a_request_nobody_can_take_tells_the_elder_the_center_will_call():
    uow = uow_with(caregiver("a", abilities="cleaning"))
    offers.receive_request(request("r", 1), uow, at(0), POLICY, TRAVEL)
    assert who(told(uow)) == [("elder", "elder.unserved", "sms"), ("family", "family.unserved", "sms")]


def test_a_caregiver_running_late_after_her_last_visit_makes_the_elder_hear_the_new_time():
    uow = uow_with(caregiver("a", home=1))
    offers.receive_request(request("r1", 1, start=0, end=60), uow, at(0), POLICY, TRAVEL)
    offers.accept_offer("r1.o1", "a", uow, at(0), POLICY, TRAVEL)
    offers.receive_request(request("r2", 3, start=50, end=80), uow, at(1), POLICY, TRAVEL)
    offers.accept_offer("r2.o1", "a", uow, at(1), POLICY, TRAVEL)
    attendance.check_in("r1", "a", uow, at(5), TRAVEL, [], "sms_code")
    before = len(uow.events)
    attendance.check_out("r1", "a", uow, at(75), [], "sms_code", POLICY, TRAVEL)  # 20 min to location 3: 95 > 80
    notices = told(uow, since=before)
    late = [n for n in notices if n.kind == "elder.late"]
    assert late and late[0].values["time"] == at(95)
    assert ("caregiver", "plan_changed", "sms") in who(notices)
    parts = render(late[0], TEXTS, SHANGHAI, "关爱")
    assert parts == ["【关爱】抱歉，护理员会晚到，预计17:45到达。"]  # 09:35 UTC+8 rounded up: 17:35 -> 17:45


def test_a_caregiver_on_time_makes_the_next_elder_hear_she_is_on_the_way():
    uow = uow_with(caregiver("a", home=1))
    offers.receive_request(request("r1", 1, start=0, end=60), uow, at(0), POLICY, TRAVEL)
    offers.accept_offer("r1.o1", "a", uow, at(0), POLICY, TRAVEL)
    offers.receive_request(request("r2", 2, start=40, end=120), uow, at(1), POLICY, TRAVEL)
    offers.accept_offer("r2.o1", "a", uow, at(1), POLICY, TRAVEL)
    attendance.check_in("r1", "a", uow, at(5), TRAVEL, [], "sms_code")
    before = len(uow.events)
    attendance.check_out("r1", "a", uow, at(35), [], "sms_code", POLICY, TRAVEL)
    assert ("elder", "elder.on_the_way", "sms") in who(told(uow, since=before))


def test_an_emergency_closed_by_an_operator_tells_the_elder_and_family_the_outcome():
    uow = InMemoryOperatorUnitOfWork()
    uow.caregivers.add(caregiver("a", abilities="emergency"))
    offers.receive_request(request("s", 1, service="emergency", priority=Priority.STAT), uow, at(0), POLICY, TRAVEL)
    before = len(uow.events)
    record_outcome("s", "family_attended", "daughter arrived, elder fine", uow, at(20), "op1")
    notices = told(uow, FakeRegister(uow, family_updates=False), since=before)
    assert who(notices) == [
        ("elder", "elder.emergency_handled", "sms"),
        ("family", "family.emergency_handled", "sms"),
    ]
    assert render(notices[0], TEXTS, SHANGHAI, "关爱") == [
        "【关爱】您的紧急求助已处理:家属已到场。如仍需帮助请拨打热线。"
    ]


def test_an_app_user_gets_routine_news_in_the_app_and_urgent_news_by_sms_too():
    uow = booked()
    register = FakeRegister(uow, apps={"a", "e1"})
    assert ("caregiver", "confirmed", "app") in who(told(uow, register))
    assert ("caregiver", "confirmed", "sms") not in who(told(uow, register))
    assert {("caregiver", "offer", "app"), ("caregiver", "offer", "sms")} <= set(who(told(uow, register)))
    before = len(uow.events)
    disruptions.missed_check_in("r.o1.v", uow, at(65), POLICY, TRAVEL)
    assert {("elder", "elder.no_show", "app"), ("elder", "elder.no_show", "sms")} <= set(
        who(told(uow, register, since=before))
    )


def test_an_elder_with_a_landline_is_called_for_urgent_news_and_not_texted():
    uow = booked()
    register = FakeRegister(uow, elder_phone=LANDLINE)
    assert ("elder", "elder.confirmed", "sms") not in who(told(uow, register))
    before = len(uow.events)
    disruptions.missed_check_in("r.o1.v", uow, at(65), POLICY, TRAVEL)
    assert ("elder", "elder.no_show", "voice") in who(told(uow, register, since=before))


def test_a_redelivered_event_gives_the_same_notice_ids_so_nothing_is_sent_twice():
    uow = booked()
    assert [n.notice_id for n in told(uow)] == [n.notice_id for n in told(uow)]
    assert len({n.notice_id for n in told(uow)}) == len(told(uow))


def test_most_events_call_for_no_notice_and_are_skipped_unread():
    uow = booked()
    quiet = [e for e in uow.events if not wanted(envelope(e, 0))]
    assert {e.type for e in quiet} >= {"dispatch.decided", "timer.requested"}
    assert not wanted({"type": "care.request.status_changed", "data": {"status": "received"}})


KINDS = {
    "offer": dict(code="4821", place="青岛路社区", start=at(60), end=at(90)),
    "confirmed": dict(code="4821", address="青岛路12号3单元401", start=at(60), end=at(90)),
    "withdrawn": dict(code="4821"),
    "refused": dict(code="4821"),
    "cancelled": dict(code="4821", start=at(60), end=at(90)),
    "reassigned": dict(code="4821", start=at(60), end=at(90)),
    "no_show_taken": dict(code="4821", time=at(65)),
    "late_taken": dict(code="4821"),
    "plan_changed": dict(code="4821", time=at(95)),
    "visit_moved": dict(code="4821", time=at(110)),
    "day_plan_changed": dict(
        day=at(60),
        visits=[
            {"start": at(100), "end": at(130), "service_type": "meal"},
            {"start": at(200), "end": at(230), "service_type": "bathing"},
        ],
    ),  # fmt: skip
    "day_plan_cleared": dict(day=at(60), visits=[]),
    "elder.confirmed": dict(start=at(45), end=at(75)),
    "elder.on_the_way": dict(time=at(55)),
    "elder.late": dict(time=at(95)),
    "elder.late_replaced": {},
    "elder.rescheduled": dict(start=at(125), end=at(180)),
    "elder.no_show": {},
    "elder.called_off": {},
    "elder.unserved": {},
    "elder.cancelled": {},
    "elder.emergency_handled": dict(outcome="ambulance_called"),
    "family.emergency": {},
    "family.confirmed": dict(start=at(45), end=at(75)),
    "family.on_the_way": dict(time=at(55)),
    "family.arrived": {},
    "family.completed": {},
    "family.late": dict(time=at(95)),
    "family.late_replaced": {},
    "family.rescheduled": dict(start=at(125), end=at(180)),
    "family.no_show": {},
    "family.called_off": {},
    "family.unserved": {},
    "family.cancelled": {},
    "family.emergency_handled": dict(outcome="false_alarm"),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_every_notice_is_written_in_chinese_and_english_in_one_segment(kind, language):
    role = "caregiver" if "." not in kind else kind.split(".")[0]
    person = Person(role, "x", "+8613800000001", language)
    values = {"service_type": "medical_escort", "number": "HL1024", **KINDS[kind]}
    notice = Notice("n", "ev", kind, "HL1024", person, "sms", values)
    brand = "关爱" if language == "zh-CN" else "careline"
    parts = render(notice, TEXTS, SHANGHAI, brand)
    assert all(count_segments(p).segments == 1 for p in parts), parts
    if kind != "confirmed":  # the address and the check-in words may take two
        assert len(parts) == 1
    if language == "en":
        assert all(count_segments(p).encoding == "GSM-7" for p in parts if not any("\u4e00" <= c for c in p))


def test_a_notice_for_an_unknown_request_is_no_notice():
    uow = booked()
    event = replace(uow.events[0], payload={**uow.events[0].payload, "request_id": "nope"})
    assert notices_for(envelope(event, 0), FakeRegister(uow)) == []


def test_the_first_caregiver_hears_her_offer_was_withdrawn_when_another_took_a_parallel_emergency():
    uow = uow_with(caregiver("a", abilities="emergency", home=1), caregiver("b", abilities="emergency", home=2))
    offers.receive_request(request("s", 1, service="emergency", priority=Priority.STAT), uow, at(0), POLICY, TRAVEL)
    pending = [o for o in uow.offers.for_request("s") if o.status == OfferStatus.PENDING]
    assert len(pending) == 2
    before = len(uow.events)
    offers.accept_offer(pending[0].offer_id, pending[0].caregiver_id, uow, at(1), POLICY, TRAVEL)
    notices = told(uow, since=before)
    assert (pending[1].caregiver_id, "withdrawn") in [(n.person.person_id, n.kind) for n in notices]
    assert ("elder", "elder.on_the_way", "sms") in who(notices)
    assert at(1) + timedelta(minutes=0) <= notices[-1].values.get("time", at(1))
