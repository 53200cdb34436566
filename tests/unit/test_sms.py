"""Caregiver SMS: segments, one-segment offers, replies."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.channels.sms import (
    ReplyKind,
    accepted_text,
    count_segments,
    is_alarm_text,
    offer_text,
    parse_rating,
    parse_reply,
    rescinded_text,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
END = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def test_plain_text_up_to_160_characters_is_one_gsm7_segment():
    assert count_segments("a" * 160) == count_segments("a" * 160).__class__("GSM-7", 160, 1)
    assert count_segments("a" * 161).segments == 2


def test_concatenated_gsm7_parts_hold_153_characters_each():
    assert count_segments("a" * 306).segments == 2
    assert count_segments("a" * 307).segments == 3


def test_gsm7_extension_characters_count_twice_and_are_never_split():
    assert count_segments("€" * 80).units == 160
    assert count_segments("€" * 80).segments == 1
    assert count_segments("€" * 81).segments == 2
    # 152 plain + one escape pair would need 154 septets in part one: the pair moves to part two
    assert count_segments("a" * 152 + "€" + "a" * 8).segments == 2


def test_chinese_text_is_ucs2_with_70_then_67_per_part():
    assert count_segments("好" * 70) == count_segments("好" * 70).__class__("UCS-2", 70, 1)
    assert count_segments("好" * 71).segments == 2
    assert count_segments("好" * 134).segments == 2
    assert count_segments("好" * 135).segments == 3


def test_one_non_gsm_character_turns_the_whole_message_into_ucs2():
    assert count_segments("a" * 69 + "好").segments == 1
    assert count_segments("a" * 70 + "好").segments == 2


def test_an_emoji_takes_two_ucs2_units():
    assert count_segments("😀" * 35).units == 70
    assert count_segments("😀" * 35).segments == 1
    assert count_segments("😀" * 36).segments == 2


def test_the_chinese_offer_names_service_area_window_and_code_in_one_segment():
    text = offer_text("meal", "鼓楼区", START, END, "4821", "zh-CN", SHANGHAI, "关爱")
    assert "送餐" in text and "鼓楼区" in text and "12/01 09:00-10:00" in text and "4821" in text
    assert count_segments(text).segments == 1


def test_the_english_offer_is_plain_gsm7_in_one_segment():
    text = offer_text("medical_escort", "Gulou", START, END, "4821", "en", SHANGHAI, "careline")
    assert count_segments(text).encoding == "GSM-7"
    assert count_segments(text).segments == 1
    assert "Reply 1 to accept" in text


def test_a_long_area_name_is_shortened_rather_than_costing_a_second_segment():
    text = offer_text(
        "bathing", "南京市鼓楼区湖南路街道青岛路社区居委会第三网格" * 2, START, END, "0007", "zh", SHANGHAI, "关爱"
    )
    assert count_segments(text).segments == 1
    assert "0007" in text and "助浴" in text


@settings(max_examples=60, deadline=None)
@given(area=st.text(max_size=120), service=st.text(min_size=1, max_size=60), language=st.sampled_from(["zh-CN", "en"]))
def test_every_offer_fits_one_segment_whatever_the_area_or_service(area, service, language):
    brand = "关爱" if language == "zh-CN" else "careline"
    text = offer_text(service, area, START, END, "1234", language, SHANGHAI, brand)
    assert count_segments(text).segments == 1
    assert "1234" in text


def test_the_address_is_sent_only_in_the_acceptance_text():
    offer = offer_text("meal", "鼓楼区", START, END, "4821", "zh", SHANGHAI, "关爱")
    accepted = accepted_text("meal", "青岛路12号3单元401", START, END, "4821", "zh", SHANGHAI, "关爱")
    assert "青岛路12号" not in offer
    assert "青岛路12号3单元401" in accepted and "到4821" in accepted and "完4821" in accepted


def test_an_english_offer_with_a_chinese_area_name_still_fits_one_segment():
    text = offer_text("meal", "鼓楼区", START, END, "4821", "en", SHANGHAI, "careline")
    assert count_segments(text).segments == 1
    assert "鼓楼区" in text and "4821" in text


def test_a_rescinded_offer_gets_a_short_notice():
    assert count_segments(rescinded_text("4821", "zh", "关爱")).segments == 1
    assert "4821" in rescinded_text("4821", "en", "careline")


def test_accept_replies_in_every_form_a_caregiver_may_type():
    for text in ("1", " y ", "Y", "yes", "接", "１", "1 4821", "接4821"):
        assert parse_reply(text).kind == ReplyKind.ACCEPT, text
    assert parse_reply("1 4821").code == "4821"


def test_decline_replies():
    for text in ("2", "N", "no", "拒", "２"):
        assert parse_reply(text).kind == ReplyKind.DECLINE, text


def test_check_in_and_check_out_need_the_code():
    assert parse_reply("到 4821") == parse_reply("ARRIVE 4821")
    assert parse_reply("到4821").kind == ReplyKind.CHECK_IN and parse_reply("到4821").code == "4821"
    assert parse_reply("done 4821").kind == ReplyKind.CHECK_OUT
    assert parse_reply("完 4821。").code == "4821"
    assert parse_reply("到").kind == ReplyKind.HELP


def test_stop_and_tuiding_opt_out():
    assert parse_reply("STOP").kind == ReplyKind.OPT_OUT
    assert parse_reply("退订").kind == ReplyKind.OPT_OUT
    assert parse_reply("stop").kind == ReplyKind.OPT_OUT


def test_anything_else_gets_the_help_reply():
    for text in ("hello", "3", "", "我明天有空", "12"):
        assert parse_reply(text).kind == ReplyKind.HELP, text


def test_elder_ratings_accept_digits_full_width_and_chinese_numerals():
    assert [parse_rating(t) for t in ("5", "４", "三", "4分", "0", "6", "good")] == [5, 4, 3, 4, None, None, None]


def test_alarm_keywords_are_matched_case_and_width_insensitively():
    keywords = frozenset({"SOS", "救命"})
    assert is_alarm_text(" sos ", keywords) and is_alarm_text("救命！", keywords)
    assert not is_alarm_text("so", keywords)
