"""What the elder is promised (handlers.dispatch.promise): a window around the start the dispatch
holds (the accepted visit, or a planned area's slot), clipped to what the elder asked for, and a
new window told as a notice when a re-dispatched visit starts outside the one told."""

from __future__ import annotations

from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest

from config.locale import get_texts
from handlers.channels.notice_texts import render
from handlers.dispatch import offers
from handlers.dispatch.promise import PLAN, VISIT, change_for, promised_window, tally
from handlers.dispatch.scheduling import DispatchPolicy
from handlers.visits import disruptions
from tests.unit.factories import at, caregiver, line_travel, request, uow_with
from tests.unit.test_notices import FakeRegister, told, who

TEXTS = get_texts()
SHANGHAI = ZoneInfo("Asia/Shanghai")
POLICY = DispatchPolicy()  # promise: 15 min before, 45 min after the held start
TRAVEL = line_travel()


def test_nothing_held_yet_means_no_promise_so_the_elder_hears_the_time_later():
    assert promised_window(request("r", 1), None) is None


def test_the_promise_is_around_the_held_start_and_inside_the_asked_for_window():
    r = request("r", 1, start=60, end=180)
    mid = promised_window(r, at(100))
    assert (mid.start, mid.end, mid.source) == (at(85), at(145), VISIT)
    early = promised_window(r, at(60), PLAN)
    assert (early.start, early.end, early.source) == (at(60), at(105), PLAN)  # never before 60
    late = promised_window(r, at(170))
    assert (late.start, late.end) == (at(155), at(180))  # never after the window's end


def test_a_plan_that_places_a_soft_window_visit_late_is_told_as_it_is():
    late = promised_window(request("r", 1, start=60, end=120), at(150))
    assert (late.start, late.end) == (at(135), at(195))  # around the planned start, not the asked-for end


def test_a_window_bounding_the_service_end_promises_starts_that_finish_in_time():
    r = request("r", 1, start=60, end=180, duration=30, window_at_service_end=True)
    assert promised_window(r, at(140)).end == at(150)


def test_widths_are_the_policy_and_a_negative_one_is_refused():
    r = request("r", 1, start=0, end=600)
    assert (promised_window(r, at(100), VISIT, 30, 60).start, promised_window(r, at(100), VISIT, 30, 60).end) == (
        at(70),
        at(160),
    )
    with pytest.raises(ValueError):
        promised_window(r, at(100), VISIT, -1, 60)


def test_a_promise_is_kept_while_the_start_stays_inside_and_replaced_when_it_leaves():
    r = request("r", 1, start=0, end=600)
    first = promised_window(r, at(100))
    assert change_for(r, first, at(130)) == (first, False)
    moved, changed = change_for(r, first, at(200))
    assert changed and (moved.start, moved.end) == (at(185), at(245))
    assert change_for(r, None, at(100)) == (first, False)  # a first promise is a confirmation, not a change


def test_the_elder_is_told_the_promised_window_of_the_accepted_visit_not_the_asked_for_one():
    uow = uow_with(caregiver("a", home=1))
    offers.receive_request(request("r", 1, start=60, end=240), uow, at(0), POLICY, TRAVEL)
    offers.accept_offer("r.o1", "a", uow, at(1), POLICY, TRAVEL)  # planned start 60 (09:00 UTC)
    [elder] = [n for n in told(uow, FakeRegister(uow, family_updates=False)) if n.person.role == "elder"]
    assert (elder.kind, elder.values["start"], elder.values["end"]) == ("elder.confirmed", at(60), at(105))
    zh = render(elder, TEXTS, SHANGHAI, "关爱")
    assert "17:00-17:45" in zh[0] and "20:00" not in zh[0]  # 09:00..09:45 UTC, not the window's end 12:00
    en = render(replace(elder, person=replace(elder.person, language="en")), TEXTS, SHANGHAI, "careline")
    assert "17:00" in en[0] and "17:45" in en[0]


def test_a_redispatched_visit_outside_the_promise_tells_the_elder_the_new_window():
    uow = uow_with(caregiver("a", home=1), caregiver("b", home=0, start=130))
    offers.receive_request(request("r", 1, start=60, end=180), uow, at(0), POLICY, TRAVEL)
    offers.accept_offer("r.o1", "a", uow, at(1), POLICY, TRAVEL)  # promised 60..105
    disruptions.missed_check_in("r.o1.v", uow, at(65), POLICY, TRAVEL)  # b can start at 140 at the earliest
    before = len(uow.events)
    offers.accept_offer("r.o2", "b", uow, at(66), POLICY, TRAVEL)
    notices = told(uow, since=before)
    assert ("elder", "elder.rescheduled", "sms") in who(notices)
    assert ("elder", "elder.confirmed", "sms") not in who(notices)
    [moved] = [n for n in notices if n.kind == "elder.rescheduled"]
    assert (moved.values["start"], moved.values["end"]) == (at(125), at(180))  # 10:05..11:00 UTC
    assert render(moved, TEXTS, SHANGHAI, "关爱") == [
        "【关爱】您的送餐时间有变，护理员改为11月30日18:00-19:00上门(请求号r)。"
    ]


def test_a_redispatched_visit_inside_the_promise_confirms_the_same_window_again():
    uow = uow_with(caregiver("a", home=1), caregiver("b", home=0))
    offers.receive_request(request("r", 1, start=60, end=180), uow, at(0), POLICY, TRAVEL)
    offers.accept_offer("r.o1", "a", uow, at(1), POLICY, TRAVEL)  # promised 60..105
    disruptions.missed_check_in("r.o1.v", uow, at(65), POLICY, TRAVEL)
    [offer] = [o for o in uow.offers.for_request("r") if o.caregiver_id == "b"]
    before = len(uow.events)
    offers.accept_offer(offer.offer_id, "b", uow, at(66), POLICY, TRAVEL)
    [elder] = [n for n in told(uow, since=before) if n.person.role == "elder"]
    assert (elder.kind, elder.values["start"], elder.values["end"]) == ("elder.confirmed", at(60), at(105))


def test_the_day_tally_counts_a_visit_against_the_last_window_told_and_an_early_start_as_outside():
    accepted = [
        {"request_id": "r1", "promised_start": at(60).isoformat(), "promised_end": at(105).isoformat()},
        {"request_id": "r2", "promised_start": at(60).isoformat(), "promised_end": at(105).isoformat()},
        {"request_id": "r2", "promised_start": at(125).isoformat(), "promised_end": at(180).isoformat(),
         "promise_changed": True},
        {"request_id": "r3", "promised_start": at(60).isoformat(), "promised_end": at(105).isoformat()},
    ]  # fmt: skip
    started = {"r1": at(106), "r2": at(140), "r3": at(59), "r4": at(0)}  # r4 was never promised
    day = tally(accepted, started)
    assert (day.visits, day.kept, day.changed, day.early) == (3, 1, 1, 1)
    assert day.share == pytest.approx(1 / 3)
    assert tally([], {}).share is None
