"""Phone numbers in register files: every common form to E.164, mobile or landline, clear errors."""

from __future__ import annotations

import pytest

from handlers.channels.phone import InvalidPhoneNumber
from handlers.register.phones import PhoneError, PhoneKind, normalise_phone, parse_phone

MOBILE = "+8613800138000"
SUZHOU = "+8651265123456"


@pytest.mark.parametrize(
    "written",
    [
        "13800138000",
        "138 0013 8000",
        "138-0013-8000",
        "+86 138 0013 8000",
        "+86-13800138000",
        "0086 13800138000",
        "(+86) 138 0013 8000",
        "１３８００１３８０００",
        "１３８－００１３－８０００",
        " 13800138000 ",
    ],
)
def test_every_common_form_of_a_mobile_number_gives_the_same_e164(written):
    phone = parse_phone(written)
    assert phone.e164 == MOBILE and phone.kind is PhoneKind.MOBILE and phone.can_receive_sms


@pytest.mark.parametrize(
    "written",
    [
        "0512-65123456",
        "(0512) 6512 3456",
        "(0512)65123456",
        "0512 6512 3456",
        "051265123456",
        "+86 512 6512 3456",
        "0086-512-65123456",
        "０５１２－６５１２３４５６",
        "（0512）65123456",
    ],
)
def test_a_landline_with_its_area_code_is_a_landline_in_e164(written):
    phone = parse_phone(written)
    assert phone.e164 == SUZHOU and phone.kind is PhoneKind.LANDLINE and not phone.can_receive_sms


def test_a_beijing_landline_keeps_its_two_digit_area_code():
    assert normalise_phone("010-62345678") == "+861062345678"


def test_a_landline_without_area_code_takes_the_centers_code_or_is_refused():
    assert normalise_phone("65123456", area_code="0512") == SUZHOU
    assert normalise_phone("6512 3456", area_code="512") == SUZHOU
    with pytest.raises(PhoneError, match="needs its area code"):
        parse_phone("65123456")


def test_a_foreign_number_keeps_its_country_and_an_ambiguous_kind_says_so():
    phone = parse_phone("+1 212 639 9675")
    assert (phone.e164, phone.region, phone.kind) == ("+12126399675", "US", PhoneKind.LANDLINE_OR_MOBILE)
    assert parse_phone("(212) 639-9675", region="US").e164 == "+12126399675"


def test_a_service_number_is_neither_mobile_nor_landline():
    assert parse_phone("400-810-8888").kind is PhoneKind.OTHER


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("1380013800", "a mobile number has 11 digits, this one 10"),
        ("138001380001", "a mobile number has 11 digits, this one 12"),
        ("12345", "a mobile number has 11 digits, this one 5"),
        ("0512-651234567", "not a number in use: a mobile number has 11 digits starting with 1; a landline"),
        ("0512-6512345", "not a number in use"),
        ("abc", "'a' 'b' 'c' is not part of a phone number"),
        ("13800138000/13900139000", "'/' is not part of a phone number (one number per cell"),
        ("13800138000转123", "an extension"),
        ("0512-65123456 ext 12", "an extension"),
        ("+86 138+0013", "'+' may only start the number"),
        ("+999 1234 5678", "unknown country code"),
        ("", "empty phone number"),
    ],
)
def test_a_bad_number_is_refused_with_what_is_wrong(written, reason):
    with pytest.raises(PhoneError) as err:
        parse_phone(written)
    assert str(err.value).startswith(reason)


def test_errors_do_not_repeat_the_number():
    with pytest.raises(PhoneError) as err:
        parse_phone("1380013800")
    assert "1380013800" not in str(err.value)


def test_a_phone_error_is_the_channels_invalid_phone_number():
    with pytest.raises(InvalidPhoneNumber):
        parse_phone("12345")
