"""Phone numbers: E.164 in the programme's region, masked in logs."""

from __future__ import annotations

import pytest

from handlers.channels.phone import InvalidPhoneNumber, mask, to_e164, try_e164


def test_a_chinese_mobile_number_without_country_code_gets_plus_86():
    assert to_e164("13800138000", "CN") == "+8613800138000"


def test_spaces_dashes_and_the_00_prefix_are_understood():
    assert to_e164("138-0013 8000", "CN") == "+8613800138000"
    assert to_e164("0086 138 0013 8000", "CN") == "+8613800138000"


def test_the_default_region_decides_how_a_national_number_is_read():
    assert to_e164("(212) 639-9675", "US") == "+12126399675"
    assert to_e164("+8613800138000", "US") == "+8613800138000"


def test_an_invalid_number_is_refused_with_a_reason():
    with pytest.raises(InvalidPhoneNumber):
        to_e164("12345", "CN")
    with pytest.raises(InvalidPhoneNumber):
        to_e164("not a number", "CN")
    assert try_e164("12345", "CN") is None
    assert try_e164(None) is None


def test_a_masked_number_keeps_only_country_code_and_last_four_digits():
    assert mask("+8613800138000") == "+86*******8000"
    assert mask("+12126399675") == "+1******9675"
    assert "0013" not in mask("+8613800138000")


def test_masking_never_reveals_more_than_four_characters_of_odd_input():
    assert mask("client:alice") == "********lice"
    assert mask("123") == "****"
    assert mask(None) == "<none>"
