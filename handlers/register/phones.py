"""Phone numbers in a register file: every common written form to E.164, mobile or landline.

Accepted forms (region ``CN`` by default): ``13800138000``, ``138 0013 8000``,
``138-0013-8000``, ``+86 138 0013 8000``, ``0086 13800138000``, full-width digits
(``１３８００１３８０００``, read through Unicode NFKC), landlines with their area code
``0512-65123456``, ``(0512) 6512 3456``, ``+86 512 6512 3456``. A landline written without
its area code (``65123456``) is completed with ``area_code`` when the caller gives one (a
center knows its own city's code, e.g. ``0512`` for Suzhou), else refused.

Validity and the kind of number follow Google's libphonenumber metadata (the
``phonenumbers`` package): lengths and number ranges per country, and whether a range is
mobile or fixed-line. Where the metadata cannot tell (North American numbers are
``landline_or_mobile``) the kind says so. Error messages say what is wrong without
repeating the number (register reports may be shown to people without personal-data rights).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType, ValidationResult

from handlers.channels.phone import InvalidPhoneNumber

_ALLOWED = re.compile(r"[\d\s+\-().]")
_EXTENSION = re.compile(r"(转|分机|ext\.?|x|#)\s*\d+\s*$", re.IGNORECASE)
_CN_HINT = (
    "a mobile number has 11 digits starting with 1; a landline is the area code "
    "(0 and 2-3 digits, e.g. 0512) and 7-8 digits"
)


class PhoneKind(StrEnum):
    """What a number is, by its numbering plan (libphonenumber's ``number_type``): only
    ``mobile`` and ``landline_or_mobile`` may receive SMS (``Phone.can_receive_sms``)."""

    MOBILE = "mobile"
    LANDLINE = "landline"
    LANDLINE_OR_MOBILE = "landline_or_mobile"  # the numbering plan does not tell (e.g. +1)
    OTHER = "other"  # toll-free, shared-cost, VoIP, pager, ...


class PhoneError(InvalidPhoneNumber):
    """A phone number that cannot be read; the message says why (not the number itself)."""


@dataclass(frozen=True)
class Phone:
    """A valid number: ``e164`` (``+8613800138000``), its ``kind`` and ISO 3166 ``region``."""

    e164: str
    kind: PhoneKind
    region: str | None

    @property
    def can_receive_sms(self) -> bool:
        """False for landlines and service numbers; True for mobiles and numbers that may be."""
        return self.kind in (PhoneKind.MOBILE, PhoneKind.LANDLINE_OR_MOBILE)


_KINDS = {
    PhoneNumberType.MOBILE: PhoneKind.MOBILE,
    PhoneNumberType.FIXED_LINE: PhoneKind.LANDLINE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE: PhoneKind.LANDLINE_OR_MOBILE,
}
_PARSE_ERRORS = {
    NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
    NumberParseException.NOT_A_NUMBER: "not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short after the international prefix",
    NumberParseException.TOO_SHORT_NSN: "too short",
    NumberParseException.TOO_LONG: "too long",
}
_LENGTH_ERRORS = {
    ValidationResult.TOO_SHORT: "too short",
    ValidationResult.TOO_LONG: "too long",
    ValidationResult.INVALID_LENGTH: "wrong number of digits",
    ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
}


def parse_phone(raw: str, region: str = "CN", area_code: str | None = None) -> Phone:
    """The number written in ``raw``, read in ``region`` (ISO 3166-1 alpha-2) when it has no
    ``+``/``00`` prefix; ``area_code`` (``"0512"`` or ``"512"``) completes a CN landline
    written without one. Raises ``PhoneError`` (a ``ValueError``) naming the problem."""
    text = unicodedata.normalize("NFKC", raw or "").strip()
    if not text:
        raise PhoneError("empty phone number")
    if _EXTENSION.search(text):
        raise PhoneError("an extension (转/ext) cannot be dialled automatically: give the direct number")
    bad = sorted({ch for ch in text if not _ALLOWED.match(ch)})
    if bad:
        raise PhoneError(
            f"{' '.join(repr(ch) for ch in bad)} is not part of a phone number "
            "(one number per cell; digits, spaces, + - ( ) only)"
        )
    if "+" in text.lstrip("( ")[1:]:
        raise PhoneError("'+' may only start the number")
    digits = re.sub(r"\D", "", text)
    region = region.upper()
    if (
        region == "CN"
        and not text.lstrip("( ").startswith(("+", "0"))
        and len(digits) in (7, 8)
        and digits[0] in "2345678"
    ):
        if not area_code:
            raise PhoneError("a landline needs its area code, e.g. 0512-65123456")
        text = "0" + area_code.lstrip("0") + digits
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        raise PhoneError(_PARSE_ERRORS.get(exc.error_type, "not a phone number")) from None
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason in _LENGTH_ERRORS:
        raise PhoneError(_explain(_LENGTH_ERRORS[reason], number))
    if not phonenumbers.is_valid_number(number):
        raise PhoneError(_explain("not a number in use", number))
    kind = _KINDS.get(phonenumbers.number_type(number), PhoneKind.OTHER)
    return Phone(
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        kind,
        phonenumbers.region_code_for_number(number),
    )


def normalise_phone(raw: str, region: str = "CN", area_code: str | None = None) -> str:
    """The E.164 form of ``raw`` (see ``parse_phone``); raises ``PhoneError``."""
    return parse_phone(raw, region, area_code).e164


def _explain(problem: str, number: phonenumbers.PhoneNumber) -> str:
    if number.country_code == 86:
        national = phonenumbers.national_significant_number(number)
        if national.startswith("1") and len(national) != 11:
            return f"a mobile number has 11 digits, this one {len(national)}"
        return f"{problem}: {_CN_HINT}"
    region = phonenumbers.region_code_for_country_code(number.country_code or 0)
    return f"{problem} for +{number.country_code} ({region})"
