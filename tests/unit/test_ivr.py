"""The hotline menu for a caller of 80: emergency first (silence calls for help), at most four
choices per prompt, * repeats, the request read back and confirmed with one key, times in
quarter hours; complaints; a caregiver's check-in code; re-prompts and the operator."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from config.ivr import load_ivr_config
from config.settings import REPO_ROOT
from handlers.channels.ivr import (
    CaregiverCode,
    ComplaintChoice,
    Enqueue,
    Gather,
    Hangup,
    OperatorHandoff,
    Say,
    ServiceChoice,
    answer,
    confirm,
    on_checkin,
    on_complaint,
    on_confirm,
    on_menu,
    on_rating,
    on_service,
    on_time,
    rating_prompt,
)
from handlers.model import Priority

SHANGHAI = ZoneInfo("Asia/Shanghai")
CFG = load_ivr_config(REPO_ROOT / "config" / "ivr.toml")
MORNING_CALL = datetime(2026, 12, 1, 9, 22, tzinfo=SHANGHAI)  # 09:22 local
EVENING_CALL = datetime(2026, 12, 1, 18, 0, tzinfo=SHANGHAI)
FIRST = {"lang": "zh", "try": "0", "first": "1"}


def _gather(turn) -> Gather:
    (step,) = [s for s in turn.steps if isinstance(s, Gather)]
    return step


def _params(turn) -> dict[str, str]:
    return dict(_gather(turn).params)


def _spoken(steps) -> str:
    return " ".join(s.text for s in steps if isinstance(s, Say)) + " ".join(
        p.text for s in steps if isinstance(s, Gather) for p in s.prompts
    )


def _choices(text: str) -> set[str]:
    """The keys a prompt offers ("…请按1", "press 2", "按星号键" for *)."""
    return set(re.findall(r"(?:请按|press )([0-9])", text))


def _read_back(digit: str = "3", service_key: str = "1", lang: str = "zh", call: datetime = MORNING_CALL):
    page = on_menu(CFG, dict(FIRST, lang=lang), "2", call)
    time_menu = on_service(CFG, _params(page), service_key)
    return on_time(CFG, _params(time_menu), digit, call, SHANGHAI)


def test_the_first_prompt_offers_emergency_first_and_says_that_silence_calls_for_help():
    turn = answer(CFG, caller_known=True, language=None)
    gather = _gather(turn)
    greeting, menu, repeat = gather.prompts
    assert greeting.language == "cmn-CN" and "关爱热线" in greeting.text
    assert menu.text.startswith("紧急求助请按1，或者不要挂机，不按键我们也会马上为您呼叫帮助")
    assert "重听请按星号键" in repeat.text
    assert gather.timeout_seconds == 8 and _params(turn)["first"] == "1"
    assert turn.outcome is None


@pytest.mark.parametrize("language", ["zh", "en"])
def test_no_prompt_of_the_hotline_offers_more_than_four_choices(language):
    first = answer(CFG, True, language)
    prompts = [first, on_menu(CFG, _params(first), "2", MORNING_CALL)]
    prompts.append(on_service(CFG, _params(prompts[-1]), "4"))  # the second page of services
    prompts.append(on_service(CFG, _params(prompts[-1]), "1"))  # the time menu
    prompts.append(on_menu(CFG, _params(first), "3", MORNING_CALL))  # complaints
    for turn in prompts:
        assert 1 <= len(_choices(_spoken(turn.steps))) <= 4, _spoken(turn.steps)


def test_an_unknown_caller_goes_to_the_operator_queue():
    turn = answer(CFG, caller_known=False, language=None)
    assert turn.steps[-1] == Enqueue("operators")
    assert turn.outcome == OperatorHandoff("unknown caller")


def test_silence_at_the_first_prompt_is_an_emergency():
    turn = on_menu(CFG, FIRST, "", MORNING_CALL)
    assert isinstance(turn.outcome, ServiceChoice)
    assert turn.outcome.service_type == "emergency" and turn.outcome.priority == Priority.STAT
    assert turn.outcome.window_start == MORNING_CALL


def test_pressing_1_is_an_emergency_at_once_without_a_read_back():
    turn = on_menu(CFG, FIRST, "1", MORNING_CALL)
    assert turn.outcome.priority == Priority.STAT and turn.steps == ()


def test_star_repeats_the_prompt_and_is_no_wrong_answer():
    again = on_menu(CFG, FIRST, "*", MORNING_CALL)
    assert _gather(again).action == "menu" and _params(again)["try"] == "0"
    assert "紧急求助请按1" in _spoken(again.steps) and "没有收到有效的按键" not in _spoken(again.steps)
    time_menu = on_service(CFG, _params(on_menu(CFG, FIRST, "2", MORNING_CALL)), "1")
    assert "今天上午请按2" in _spoken(on_time(CFG, _params(time_menu), "*", MORNING_CALL, SHANGHAI).steps)


def test_pressing_9_repeats_the_menu_in_english_though_the_menu_does_not_read_it_out():
    turn = on_menu(CFG, FIRST, "9", MORNING_CALL)
    gather = _gather(turn)
    assert gather.prompts[0].language == "en-US" and "For an emergency, press 1" in gather.prompts[0].text
    assert _params(turn)["lang"] == "en" and "first" not in _params(turn)
    assert "9" not in _choices(_spoken(answer(CFG, True, None).steps))


def test_the_services_come_three_a_page_with_other_services_on_4():
    page = on_menu(CFG, FIRST, "2", MORNING_CALL)
    assert "送餐请按1，保洁请按2，助浴请按3，其他服务请按4" in _spoken(page.steps)
    second = on_service(CFG, _params(page), "4")
    assert "陪同就医请按1，陪伴聊天请按2，家电维修请按3，从头再听请按4" in _spoken(second.steps)
    assert _params(on_service(CFG, _params(second), "2"))["service"] == "companionship"


def test_a_service_leads_to_the_time_menu_then_the_request_is_read_back_in_quarter_hours():
    turn = _read_back("1")  # as soon as possible, called at 09:22
    assert turn.outcome is None and _gather(turn).action == "confirm"
    said = _spoken(turn.steps)
    assert "您预约的是送餐，12月1日09:15到11:30之间上门。确认请按1，重新选择请按2" in said


def test_confirming_with_1_submits_the_request_read_back():
    choice = on_confirm(CFG, _params(_read_back("3")), "1", SHANGHAI).outcome
    assert isinstance(choice, ServiceChoice) and choice.service_type == "meal"
    assert choice.window_start == datetime(2026, 12, 1, 13, tzinfo=SHANGHAI)
    assert choice.priority == Priority.ROUTINE and choice.duration_minutes == 30


def test_pressing_2_at_the_read_back_chooses_again_from_the_services():
    again = on_confirm(CFG, _params(_read_back("3")), "2", SHANGHAI)
    assert again.outcome is None and _gather(again).action == "service"


def test_an_invalid_key_reprompts_twice_then_the_operator_takes_the_call():
    params = dict(FIRST)
    turns = []
    for _ in range(3):
        turn = on_menu(CFG, params, "7", MORNING_CALL)
        turns.append(turn)
        if turn.outcome is None:
            params = _params(turn)
    assert [t.outcome for t in turns[:2]] == [None, None]
    assert "没有收到有效的按键" in _spoken(turns[0].steps)
    assert turns[2].outcome == OperatorHandoff("no valid choice after re-prompts")
    assert turns[2].steps[-1] == Enqueue("operators")


def test_silence_after_the_first_prompt_reprompts_and_is_never_an_emergency():
    time_menu = on_service(CFG, _params(on_menu(CFG, FIRST, "2", MORNING_CALL)), "2")
    first = on_time(CFG, _params(time_menu), "", MORNING_CALL, SHANGHAI)
    second = on_time(CFG, _params(first), None, MORNING_CALL, SHANGHAI)
    third = on_time(CFG, _params(second), "", MORNING_CALL, SHANGHAI)
    assert first.outcome is None and second.outcome is None
    assert isinstance(third.outcome, OperatorHandoff) and not third.outcome.emergency


def test_pressing_0_asks_for_an_operator():
    assert on_menu(CFG, FIRST, "0", MORNING_CALL).outcome == OperatorHandoff("caller asked for an operator")


@pytest.mark.parametrize(
    "digit,call,start,end,priority",
    [
        (
            "1",
            MORNING_CALL,
            datetime(2026, 12, 1, 9, 15, tzinfo=SHANGHAI),
            datetime(2026, 12, 1, 11, 30, tzinfo=SHANGHAI),
            Priority.ASAP,
        ),
        ("2", MORNING_CALL, datetime(2026, 12, 1, 9, 15, tzinfo=SHANGHAI), datetime(2026, 12, 1, 12, tzinfo=SHANGHAI), Priority.ROUTINE),
        ("3", MORNING_CALL, datetime(2026, 12, 1, 13, tzinfo=SHANGHAI), datetime(2026, 12, 1, 17, tzinfo=SHANGHAI), Priority.ROUTINE),
        ("4", MORNING_CALL, datetime(2026, 12, 2, 8, tzinfo=SHANGHAI), datetime(2026, 12, 2, 17, tzinfo=SHANGHAI), Priority.ROUTINE),
        ("2", EVENING_CALL, datetime(2026, 12, 2, 8, tzinfo=SHANGHAI), datetime(2026, 12, 2, 12, tzinfo=SHANGHAI), Priority.ROUTINE),
    ],
)  # fmt: skip
def test_time_choices_become_windows_in_the_programme_time_zone_on_quarter_hours(digit, call, start, end, priority):
    choice = on_confirm(CFG, _params(_read_back(digit, "2", call=call.astimezone(UTC))), "1", SHANGHAI).outcome
    assert (choice.window_start, choice.window_end, choice.priority) == (start, end, priority)
    assert choice.duration_minutes == 60 and choice.window_start.tzinfo is not None


def test_the_confirmation_tells_the_request_number_and_window_then_hangs_up():
    choice = on_confirm(CFG, _params(_read_back("3")), "1", SHANGHAI).outcome
    steps = confirm(CFG, choice, "1024", SHANGHAI)
    assert "请求号1 0 2 4" in steps[0].text and "12月1日13:00到17:00之间" in steps[0].text
    # the asked-for window is not promised: the time comes once a helper accepts (handlers.dispatch.promise)
    assert "您要的时间是12月1日13:00到17:00之间" in steps[0].text and "短信告诉您具体上门时间" in steps[0].text
    assert steps[-1] == Hangup()


def test_the_english_confirmation_is_in_english():
    page2 = on_service(CFG, _params(on_menu(CFG, dict(FIRST, lang="en"), "2", MORNING_CALL)), "4")
    time_menu = on_service(CFG, _params(page2), "3")  # home repair
    choice = on_confirm(CFG, _params(on_time(CFG, _params(time_menu), "4", MORNING_CALL, SHANGHAI)), "1", SHANGHAI)
    (say, _) = confirm(CFG, choice.outcome, "77", SHANGHAI)
    assert say.language == "en-US"
    assert "home repair request is registered, number 7 7" in say.text
    assert "December 2 between 08:00 and 17:00" in say.text
    assert "Once a helper is arranged we will text you the time they come" in say.text


def test_an_emergency_confirmation_puts_the_caller_through_to_the_emergency_queue():
    choice = on_menu(CFG, FIRST, "", MORNING_CALL).outcome
    steps = confirm(CFG, choice, "5", SHANGHAI)
    assert "紧急求助" in steps[0].text and steps[-1] == Enqueue("emergency")


def test_the_complaint_menu_offers_four_kinds_and_records_the_one_keyed():
    menu = on_menu(CFG, FIRST, "3", MORNING_CALL)
    assert "迟到请按1" in _spoken(menu.steps) and "其他问题请按4" in _spoken(menu.steps)
    assert on_complaint(CFG, _params(menu), "2").outcome == ComplaintChoice("no-show", "zh")
    assert on_complaint(CFG, _params(menu), "*").outcome is None


def test_a_caregiver_keys_a_four_digit_job_code_after_the_unannounced_8():
    prompt = on_menu(CFG, FIRST, "8", MORNING_CALL)
    assert _gather(prompt).num_digits == 4 and _gather(prompt).action == "checkin"
    assert on_checkin(CFG, _params(prompt), "4821").outcome == CaregiverCode("4821", "zh")
    assert on_checkin(CFG, _params(prompt), "48").outcome is None


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


def test_a_hotline_file_with_a_fifth_time_option_is_refused(tmp_path):
    from config.ivr import IvrConfigError

    bad = tmp_path / "ivr.toml"
    text = (REPO_ROOT / "config" / "ivr.toml").read_text()
    bad.write_text(
        text.replace(
            '"4" = { key = "tomorrow"',
            '"5" = { key = "later", start = "18:00", end = "20:00" }\n"4" = { key = "tomorrow"',
        )
    )
    with pytest.raises(IvrConfigError) as refused:
        load_ivr_config(bad)
    assert refused.value.field == "time_options"


def test_the_window_a_caller_hears_a_minute_before_a_quarter_still_holds_the_real_one():
    choice = on_confirm(CFG, _params(_read_back("1", call=MORNING_CALL + timedelta(minutes=7))), "1", SHANGHAI)
    assert choice.outcome.window_start <= MORNING_CALL + timedelta(minutes=7)
    assert choice.outcome.window_end >= MORNING_CALL + timedelta(minutes=7, hours=2)
