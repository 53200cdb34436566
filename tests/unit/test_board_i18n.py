"""The board's domain words in Chinese: every status the model has, every ladder step the
policy names, and dispatch's refusal reasons (``careline.web.board_i18n``)."""

from __future__ import annotations

import tomllib

from careline.web.board_i18n import BOARD_TEXT, answer, reason, service, step
from config.settings import REPO_ROOT
from handlers.model import OfferStatus, RequestStatus, VisitStatus
from handlers.register.services import SERVICE_TYPES


def test_every_status_and_service_has_chinese_and_english():
    for status in [*RequestStatus, *OfferStatus, *VisitStatus]:
        entry = BOARD_TEXT[f"status.{status.value}"]
        assert entry["zh"] and entry["en"] and entry["zh"] != status.value
    for name in SERVICE_TYPES:
        assert service(name, "zh") != name, name


def test_every_ladder_step_of_the_policy_and_the_derived_ones_read_in_chinese():
    policy = tomllib.loads((REPO_ROOT / "config" / "policy.toml").read_text())
    steps = {s["step"] for ladder in policy["ladder"].values() for s in ladder}
    for name in [*steps, "operator_queue", "assigned", "waiting"]:
        assert step(name, "zh") != name, name
    assert step("offer_3", "zh") == "第3次派单" and step("offer_3", "en") == "offer 3"


def test_refusal_reasons_are_translated_with_their_values_and_unknown_ones_kept():
    assert reason("lacks the ability bathing", "zh") == "不具备“助浴”服务技能"
    assert reason("serves area a-1, not b-2", "zh") == "服务片区为 a-1，不是 b-2"
    assert reason("daily capacity of 6 visits reached", "zh") == "已达每日 6 单上限"
    assert reason("lacks the ability bathing", "en") == "lacks the ability bathing"
    assert reason("something new", "zh") == "something new"  # a gap shows rather than hides
    assert answer(False, "not_eligible", "excluded by the elder", "zh") == "该护理员无法接单：老人要求不派此护理员"
    assert answer(False, "closed", "request R-1 is already completed", "zh") == "请求已结束"
    assert answer(True, "done", "request.reassign R-1", "zh") == "已完成：R-1"
    assert answer(True, "done", "request.reassign R-1", "en") == "request.reassign R-1"
