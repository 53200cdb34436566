"""A request's history in words (``handlers.dispatch.explain`` with ``careline.history``'s
words): what ``careline explain`` prints and the dashboard's history page shows."""

from datetime import timedelta
from zoneinfo import ZoneInfo

from careline.history import CenterWords, told
from handlers.dispatch import offers
from handlers.dispatch.explain import explain, history
from handlers.dispatch.scheduling import DispatchPolicy
from handlers.simulation.memory import InMemoryUnitOfWork
from tests.unit.factories import at, caregiver, elder, line_travel, request

SHANGHAI, NEW_YORK = ZoneInfo("Asia/Shanghai"), ZoneInfo("America/New_York")


def logged(uow, rid):
    return [{"type": e.type, "time": e.time.isoformat(), "data": e.payload} for e in uow.events if e.subject == rid]


def bathing_request():
    """near and far bathe, cook only cooks; the request is offered to near at T0 (08:00 UTC)."""
    uow = InMemoryUnitOfWork()
    for c in (caregiver("near", home=3), caregiver("far", home=0), caregiver("cook", "meal", home=4)):
        uow.caregivers.add(c)
    uow.elders.add(elder("e4", 4))
    offers.receive_request(request("r", 4, service="bathing"), uow, at(0), DispatchPolicy(), line_travel())
    return uow


def test_an_explanation_names_the_chosen_caregiver_the_runner_up_and_why_others_were_excluded():
    text = "\n".join(explain(logged(bathing_request(), "r"), CenterWords("en", SHANGHAI)))
    assert "1. near" in text and "2. far" in text
    assert "not cook: lacks the ability bathing" in text
    assert "offered to near" in text and "policy 2026-11-30.1" in text


def test_in_chinese_the_exclusion_reason_status_and_offer_read_in_chinese():
    text = "\n".join(explain(logged(bathing_request(), "r"), CenterWords("zh", SHANGHAI)))
    assert "不派 cook：不具备“助浴”服务技能" in text
    assert "状态：已受理" in text and "派单给 near" in text and "按调度策略 2026-11-30.1 决定" in text
    assert "lacks" not in text and "received" not in text


def test_times_are_on_the_centers_clock_shanghai_or_new_york():
    events = logged(bathing_request(), "r")
    shanghai = explain(events, CenterWords("en", SHANGHAI))
    new_york = explain(events, CenterWords("en", NEW_YORK))
    assert shanghai[0].startswith("16:00 ")  # 08:00 UTC is 16:00 in Shanghai
    assert new_york[0].startswith("03:00 ")  # and 03:00 in New York (EST, UTC-5)
    offer = next(line for line in shanghai if "offered to near" in line)
    assert "answer by 16:" in offer or "answer by 17:" in offer  # the answer deadline on the same clock


def test_a_notice_shows_its_delivery_after_the_event_that_caused_it_with_the_phone_masked():
    events = logged(bathing_request(), "r")
    notice = {
        "created_at": at(0),
        "kind": "offer",
        "recipient_role": "caregiver",
        "channel": "sms",
        "to_phone": "+8613812345678",
        "status": "sent",
        "delivery": "delivered",
    }
    lines = explain(events, CenterWords("zh", SHANGHAI), [notice])
    last = lines[-1]
    assert "通知“新派单”发给护理员" in last and "短信" in last and "已送达" in last
    assert "+8613812345678" not in "\n".join(lines) and "+86*********78" in last


def test_an_operator_action_an_answer_and_a_ladder_step_are_in_the_history():
    events = [
        {"type": "care.request.escalated", "time": at(0).isoformat(), "data": {"step": "operator_queue",
         "reason": "no eligible caregiver"}},
        {"type": "dispatch.offer.timeout", "time": at(2).isoformat(), "data": {"offer_id": "o1",
         "caregiver_id": "near"}},
        {"type": "care.request.reassigned", "time": at(5).isoformat(), "data": {"operator_id": "op",
         "caregiver_id": "far"}},
        {"type": "care.visit.checked_in", "time": at(40).isoformat(), "data": {"caregiver_id": "far",
         "lateness_minutes": 4}},
    ]  # fmt: skip
    zh = explain(events, CenterWords("zh", SHANGHAI))
    assert zh == [
        "16:00 升级至“转人工处理”：没有符合条件的护理员",
        "16:02 派单 o1 超时未回复（near）",
        "16:05 操作员 op 改派给 far",
        "16:40 服务签到（far），晚到 4 分钟",
    ]
    en = explain(events, CenterWords("en", SHANGHAI))
    assert en[0] == "16:00 escalated to operator queue: no eligible caregiver"
    assert en[3] == "16:40 visit checked in by far, 4 min late"


def test_the_page_groups_entries_by_the_centers_day():
    events = logged(bathing_request(), "r")
    late = {"type": "care.visit.completed", "time": (at(0) + timedelta(hours=9)).isoformat(), "data": {}}
    entries = told([*events, late], [], "en", SHANGHAI)
    assert entries[0]["day"] == "2026-11-30" and entries[-1]["day"] == "2026-12-01"  # 01:00 next day in Shanghai
    decision = next(e for e in entries if e["kind"] == "decision")
    assert ("cook", "lacks the ability bathing") in decision["excluded"]
    # a notice sent between two events is shown between them
    notice = {"created_at": at(0) + timedelta(hours=1), "kind": "elder.confirmed", "channel": "sms"}
    kinds = [e.kind for e in history([*events, late], [notice])]
    assert kinds[-2:] == ["notice", "visit"]
