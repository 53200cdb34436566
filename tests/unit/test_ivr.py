"""The hotline menu: greeting, service and time menus, silence, re-prompts, operator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from config.ivr import load_ivr_config
from config.settings import REPO_ROOT
from handlers.channels.ivr import (
    Enqueue,
    Gather,
    Hangup,
    OperatorHandoff,
    Say,
    ServiceChoice,
    answer,
    confirm,
    on_menu,
    on_rating,
    on_time,
    rating_prompt,
)
from handlers.model import Priority

SHANGHAI = ZoneInfo("Asia/Shanghai")
CFG = load_ivr_config(REPO_ROOT / "config" / "ivr.toml")
MORNING_CALL = datetime(2026, 12, 1, 9, 30, tzinfo=SHANGHAI)  # 09:30 local
EVENING_CALL = datetime(2026, 12, 1, 18, 0, tzinfo=SHANGHAI)


def _gather(turn) -> Gather:
    (step,) = [s for s in turn.steps if isinstance(s, Gather)]
    return step


def _params(turn) -> dict[str, str]:
    return dict(_gather(turn).params)


def _spoken(steps) -> str:
    return " ".join(s.text for s in steps if isinstance(s, Say)) + " ".join(
        p.text for s in steps if isinstance(s, Gather) for p in s.prompts
    )


def test_a_known_caller_hears_the_chinese_greeting_with_an_english_option():
    turn = answer(CFG, caller_known=True, language=None)
    gather = _gather(turn)
    assert gather.prompts[0].language == "cmn-CN" and "关爱热线" in gather.prompts[0].text
    assert "送餐请按1" in gather.prompts[1].text and "人工服务请按0" in gather.prompts[1].text
    assert gather.prompts[-1].text == "For English, press 9."
    assert gather.timeout_seconds == 8 and _params(turn)["first"] == "1"
    assert turn.outcome is None


def test_an_unknown_caller_goes_to_the_operator_queue():
    turn = answer(CFG, caller_known=False, language=None)
    assert turn.steps[-1] == Enqueue("operators")
    assert turn.outcome == OperatorHandoff("unknown caller")


def test_silence_at_the_first_prompt_is_an_emergency():
    turn = on_menu(CFG, _params(answer(CFG, True, None)), "", MORNING_CALL)
    assert isinstance(turn.outcome, ServiceChoice)
    assert turn.outcome.service_type == "emergency" and turn.outcome.priority == Priority.STAT
    assert turn.outcome.window_start == MORNING_CALL


def test_pressing_7_is_an_emergency_too():
    turn = on_menu(CFG, _params(answer(CFG, True, None)), "7", MORNING_CALL)
    assert turn.outcome.priority == Priority.STAT


def test_pressing_9_repeats_the_menu_in_english():
    turn = on_menu(CFG, _params(answer(CFG, True, None)), "9", MORNING_CALL)
    gather = _gather(turn)
    assert gather.prompts[0].language == "en-US" and "For meal delivery, press 1." in gather.prompts[0].text
    assert _params(turn)["lang"] == "en" and "first" not in _params(turn)


def test_a_service_digit_leads_to_the_time_menu():
    turn = on_menu(CFG, _params(answer(CFG, True, None)), "1", MORNING_CALL)
    assert _gather(turn).action == "time" and _params(turn)["service"] == "meal"
    assert "今天上午请按2" in _spoken(turn.steps)


def test_an_invalid_digit_reprompts_twice_then_the_operator_takes_the_call():
    params = _params(answer(CFG, True, None))
    turns = []
    for _ in range(3):
        turn = on_menu(CFG, params, "8", MORNING_CALL)
        turns.append(turn)
        if turn.outcome is None:
            params = _params(turn)
    assert [t.outcome for t in turns[:2]] == [None, None]
    assert "没有收到有效的按键" in _spoken(turns[0].steps)
    assert turns[2].outcome == OperatorHandoff("no valid choice after re-prompts")
    assert turns[2].steps[-1] == Enqueue("operators")


def test_silence_at_the_time_menu_reprompts_and_is_never_an_emergency():
    params = _params(on_menu(CFG, _params(answer(CFG, True, None)), "2", MORNING_CALL))
    first = on_time(CFG, params, "", MORNING_CALL, SHANGHAI)
    second = on_time(CFG, _params(first), None, MORNING_CALL, SHANGHAI)
    third = on_time(CFG, _params(second), "", MORNING_CALL, SHANGHAI)
    assert first.outcome is None and second.outcome is None
    assert isinstance(third.outcome, OperatorHandoff) and not third.outcome.emergency


def test_pressing_0_asks_for_an_operator():
    turn = on_menu(CFG, _params(answer(CFG, True, None)), "0", MORNING_CALL)
    assert turn.outcome == OperatorHandoff("caller asked for an operator")


@pytest.mark.parametrize(
    "digit,call,start,end,priority",
    [
        ("1", MORNING_CALL, MORNING_CALL, MORNING_CALL + timedelta(hours=2), Priority.ASAP),
        ("2", MORNING_CALL, MORNING_CALL, datetime(2026, 12, 1, 12, 0, tzinfo=SHANGHAI), Priority.ROUTINE),
        (
            "3",
            MORNING_CALL,
            datetime(2026, 12, 1, 13, tzinfo=SHANGHAI),
            datetime(2026, 12, 1, 17, tzinfo=SHANGHAI),
            Priority.ROUTINE,
        ),
        (
            "4",
            MORNING_CALL,
            datetime(2026, 12, 2, 8, tzinfo=SHANGHAI),
            datetime(2026, 12, 2, 17, tzinfo=SHANGHAI),
            Priority.ROUTINE,
        ),
        (
            "2",
            EVENING_CALL,
            datetime(2026, 12, 2, 8, tzinfo=SHANGHAI),
            datetime(2026, 12, 2, 12, tzinfo=SHANGHAI),
            Priority.ROUTINE,
        ),
    ],
)
def test_time_choices_become_concrete_windows_in_the_programme_time_zone(digit, call, start, end, priority):
    params = {"lang": "zh", "service": "cleaning", "try": "0"}
    choice = on_time(CFG, params, digit, call.astimezone(UTC), SHANGHAI).outcome
    assert (choice.window_start, choice.window_end, choice.priority) == (start, end, priority)
    assert choice.duration_minutes == 60 and choice.window_start.tzinfo is not None


def test_the_confirmation_tells_the_request_number_and_window_then_hangs_up():
    choice = on_time(CFG, {"lang": "zh", "service": "meal", "try": "0"}, "3", MORNING_CALL, SHANGHAI).outcome
    steps = confirm(CFG, choice, "1024", SHANGHAI)
    assert "请求号1 0 2 4" in steps[0].text and "12月1日13:00到17:00之间" in steps[0].text
    assert steps[-1] == Hangup()


def test_the_english_confirmation_is_in_english():
    choice = on_time(CFG, {"lang": "en", "service": "repair", "try": "0"}, "4", MORNING_CALL, SHANGHAI).outcome
    (say, _) = confirm(CFG, choice, "77", SHANGHAI)
    assert say.language == "en-US"
    assert (
        "home repair request is registered, number 7 7" in say.text and "December 2 between 08:00 and 17:00" in say.text
    )


def test_an_emergency_confirmation_puts_the_caller_through_to_the_emergency_queue():
    choice = on_menu(CFG, {"lang": "zh", "try": "0", "first": "1"}, "", MORNING_CALL).outcome
    steps = confirm(CFG, choice, "5", SHANGHAI)
    assert "紧急求助" in steps[0].text and steps[-1] == Enqueue("emergency")


def test_the_rating_call_takes_a_digit_from_1_to_5():
    prompt = rating_prompt(CFG, "zh-CN", "meal", 0, "R1")
    assert _params(prompt) == {"lang": "zh", "request_id": "R1", "try": "0"}
    turn, rating = on_rating(CFG, _params(prompt), "4", "meal")
    assert rating == 4 and turn.steps[-1] == Hangup()
    again, none = on_rating(CFG, _params(prompt), "9", "meal")
    assert none is None and _gather(again).action == "rating"
    _, given_up = on_rating(CFG, {"lang": "zh", "request_id": "R1", "try": "2"}, "", "meal")
    assert given_up is None


def test_a_hotline_file_with_a_bad_timeout_is_refused_naming_line_and_key(tmp_path):
    from config.ivr import IvrConfigError

    bad = tmp_path / "ivr.toml"
    bad.write_text(
        (REPO_ROOT / "config" / "ivr.toml")
        .read_text()
        .replace("prompt_timeout_seconds = 6", "prompt_timeout_seconds = -6")
    )
    with pytest.raises(IvrConfigError) as refused:
        load_ivr_config(bad)
    assert refused.value.field == "prompt_timeout_seconds"
    assert bad.read_text().splitlines()[refused.value.line - 1].startswith("prompt_timeout_seconds = -6")
