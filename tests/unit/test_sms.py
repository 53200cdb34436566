"""SMS: segments, one-segment texts, long addresses split at a sensible point, and the
forgiving reading of caregivers' and elders' replies (property tests with hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.locale import get_texts
from handlers.channels.replies import WORDS
from handlers.channels.sms import (
    Reply,
    ReplyKind,
    confirmed_texts,
    count_segments,
    fit_sms,
    is_alarm_text,
    offer_text,
    parse_rating,
    parse_reply,
    split_at_breaks,
    window_text,
)

TEXTS = get_texts()
SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
END = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
LONG_ADDRESS = "江苏省南京市鼓楼区湖南路街道青岛路社区青岛路12号金鼎花园小区3栋2单元1403室(进门左转电梯)"


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
    assert count_segments("a" * 152 + "€" + "a" * 8).segments == 2


def test_chinese_text_is_ucs2_with_70_then_67_per_part():
    assert count_segments("好" * 70) == count_segments("好" * 70).__class__("UCS-2", 70, 1)
    assert count_segments("好" * 71).segments == 2
    assert count_segments("好" * 134).segments == 2
    assert count_segments("好" * 135).segments == 3


def test_an_emoji_takes_two_ucs2_units():
    assert count_segments("😀" * 35).units == 70
    assert count_segments("😀" * 36).segments == 2


def test_the_chinese_offer_names_service_area_window_and_code_in_one_segment():
    text = offer_text(TEXTS, "meal", "鼓楼区", START, END, "4821", "zh-CN", SHANGHAI, "关爱")
    assert "送餐" in text and "鼓楼区" in text and "12/01 09:00-10:00" in text and "4821" in text
    assert count_segments(text).segments == 1


def test_the_english_offer_is_plain_gsm7_in_one_segment():
    text = offer_text(TEXTS, "medical_escort", "Gulou", START, END, "4821", "en", SHANGHAI, "careline")
    assert count_segments(text).encoding == "GSM-7" and count_segments(text).segments == 1
    assert "Reply 1 to accept" in text


def test_a_long_area_name_is_shortened_rather_than_costing_a_second_segment():
    area = "南京市鼓楼区湖南路街道青岛路社区居委会第三网格" * 2
    text = offer_text(TEXTS, "bathing", area, START, END, "0007", "zh", SHANGHAI, "关爱")
    assert count_segments(text).segments == 1 and "0007" in text and "助浴" in text


@settings(max_examples=60, deadline=None)
@given(area=st.text(max_size=120), service=st.text(min_size=1, max_size=60), language=st.sampled_from(["zh-CN", "en"]))
def test_every_offer_fits_one_segment_whatever_the_area_or_service(area, service, language):
    brand = "关爱" if language == "zh-CN" else "careline"
    text = offer_text(TEXTS, service, area, START, END, "1234", language, SHANGHAI, brand)
    assert count_segments(text).segments == 1 and "1234" in text


def test_a_short_address_and_the_check_in_words_go_in_as_few_one_segment_texts_as_they_fit():
    texts = confirmed_texts(TEXTS, "meal", "青岛路12号3单元401", START, END, "4821", "zh", SHANGHAI, "关爱")
    assert all(count_segments(t).segments == 1 for t in texts)
    assert "青岛路12号3单元401" in texts[0] and any("到4821" in t and "完4821" in t for t in texts)


def test_a_long_address_is_split_after_a_part_of_the_address_never_inside_a_word():
    texts = confirmed_texts(TEXTS, "meal", LONG_ADDRESS, START, END, "4821", "zh", SHANGHAI, "关爱")
    assert len(texts) >= 2 and all(count_segments(t).segments == 1 for t in texts)
    joined = "".join(texts)
    assert "金鼎花园小区3栋2单元1403室" in joined.replace(" ", "")
    first_cut = texts[0][-1]
    assert first_cut in "路街巷号弄栋幢座楼元层室户区村 ,，;；:：、。)）", texts[0]


def test_an_english_text_with_a_chinese_address_is_split_into_ucs2_segments():
    texts = confirmed_texts(TEXTS, "meal", LONG_ADDRESS, START, END, "4821", "en", SHANGHAI, "careline")
    assert all(count_segments(t).segments == 1 for t in texts) and "Address:" in texts[0]


@given(st.text(min_size=1, max_size=400))
@settings(max_examples=80, deadline=None)
def test_split_pieces_each_fit_one_segment_and_keep_every_character_in_order(text):
    pieces = split_at_breaks(text)
    assert all(count_segments(p).segments == 1 for p in pieces)
    visible = lambda t: "".join(ch for ch in t if not ch.isspace())  # noqa: E731
    assert visible("".join(pieces)) == visible(text)


def test_paragraphs_that_fit_together_are_joined_into_one_text():
    assert fit_sms(["【关爱】你好。", "请回复1。"]) == ["【关爱】你好。 请回复1。"]


def test_the_window_an_elder_hears_is_widened_to_quarter_hours():
    start, end = datetime(2026, 12, 1, 1, 22, tzinfo=UTC), datetime(2026, 12, 1, 3, 7, tzinfo=UTC)
    assert window_text(TEXTS, "zh", start, end, SHANGHAI) == "12月1日09:15-11:15"
    assert window_text(TEXTS, "en", start, end, SHANGHAI) == "on Dec 1, 09:15-11:15"


# --- replies --------------------------------------------------------------------------------

FULL_WIDTH = {ord(c): ord(c) + 0xFEE0 for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"}
QUOTES = ["", '"', "“", "「", "'", "《"]
CLOSING = {"": "", '"': '"', "“": "”", "「": "」", "'": "'", "《": "》"}


@pytest.mark.parametrize(
    "text,kind,code",
    [
        ("到", "check_in", None),
        ("已到", "check_in", None),
        ("到了。", "check_in", None),
        ("我到了", "check_in", None),
        ("“到4821”", "check_in", "4821"),
        ("到 ４８２１", "check_in", "4821"),
        ("4821到", "check_in", "4821"),
        ("arrived", "check_in", None),
        ("完成", "check_out", None),
        ("done 4821", "check_out", "4821"),
        ("签退4821", "check_out", "4821"),
        ("好的", "accept", None),
        ("可以", "accept", None),
        ("OK", "accept", None),
        ("１", "accept", None),
        ("接4821", "accept", "4821"),
        ("不行", "decline", None),
        ("没空", "decline", None),
        ("no", "decline", None),
        ("24821", "decline", "4821"),
        ("10001", "accept", "0001"),
    ],
)
def test_common_chinese_and_english_words_are_read_with_or_without_the_code(text, kind, code):
    assert parse_reply(text) == Reply(ReplyKind(kind), code)


@given(
    kind=st.sampled_from(list(WORDS)),
    data=st.data(),
    code=st.one_of(st.none(), st.text("0123456789", min_size=4, max_size=4)),
    code_first=st.booleans(),
    wide=st.booleans(),
    quote=st.sampled_from(QUOTES),
    gaps=st.lists(st.sampled_from(["", " ", "\u3000", "\t", "-"]), min_size=3, max_size=3),
    tail=st.sampled_from(["", ".", "!", "。", "！", "?", "，"]),
)
def test_any_reply_word_reads_the_same_in_any_width_quoting_spacing_or_order(
    kind, data, code, code_first, wide, quote, gaps, tail
):
    word = data.draw(st.sampled_from(WORDS[kind]))
    if code is not None and word[-1].isdecimal() and not code_first:
        code_first = False  # "1" then "4821" reads as 1 with code 4821 either way
    if code is None:
        body = word
    elif code_first and not word[0].isdecimal():
        body = code + gaps[1] + word
    else:
        body = word + gaps[1] + code
    text = gaps[0] + quote + body + CLOSING[quote] + tail + gaps[2]
    if wide:
        text = text.translate(FULL_WIDTH)
    assert parse_reply(text) == Reply(kind, code), text


@given(st.text(max_size=60))
def test_any_text_gets_a_reading_and_a_code_is_always_four_ascii_digits(text):
    reply = parse_reply(text)
    assert reply.kind in ReplyKind
    assert reply.code is None or (len(reply.code) == 4 and reply.code.isascii() and reply.code.isdecimal())


def test_a_number_that_is_no_code_and_chatter_get_the_help_text():
    for text in ("hello", "3", "", "我明天有空", "12", "１２３４", "到4821 1234"):
        assert parse_reply(text).kind == ReplyKind.HELP, text


def test_stop_and_tuiding_opt_out():
    for text in ("STOP", "退订", "stop", "ＳＴＯＰ"):
        assert parse_reply(text).kind == ReplyKind.OPT_OUT


def test_a_complaint_keeps_the_elders_own_words():
    assert parse_reply("投诉 护理员迟到了一个小时") == Reply(ReplyKind.COMPLAINT, text="护理员迟到了一个小时")
    assert parse_reply("Complaint: the helper was rude") == Reply(ReplyKind.COMPLAINT, text="the helper was rude")
    assert parse_reply("投诉") == Reply(ReplyKind.COMPLAINT)


def test_elder_ratings_accept_digits_full_width_and_chinese_numerals():
    assert [parse_rating(t) for t in ("5", "４", "三", "4分", "0", "6", "good")] == [5, 4, 3, 4, None, None, None]


def test_alarm_keywords_are_matched_case_and_width_insensitively():
    keywords = frozenset({"SOS", "救命"})
    assert is_alarm_text(" sos ", keywords) and is_alarm_text("救命！", keywords)
    assert not is_alarm_text("so", keywords)
