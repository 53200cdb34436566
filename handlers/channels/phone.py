"""Phone numbers: E.164 normalisation and masking for logs.

E.164 (ITU-T Recommendation E.164) is the form Twilio sends in ``From``/``To``
and expects back: ``+``, the country code, the national number, at most 15
digits. Numbers written without a country code are read in the programme's
default region (ISO 3166-1 alpha-2, ``config.settings.Settings.default_phone_region``),
so in ``CN`` ``13800138000`` becomes ``+8613800138000``. Parsing and validity
follow Google's libphonenumber metadata (the ``phonenumbers`` package).

Logs never carry a whole number: ``mask`` keeps the country code and the last
four digits, enough to tell two callers apart in an incident, not to call them.
"""

from __future__ import annotations

import phonenumbers


class InvalidPhoneNumber(ValueError):
    """Raised for text that is not a valid phone number in the given region."""


def to_e164(raw: str, default_region: str = "CN") -> str:
    """The E.164 form of ``raw`` (``+8613800138000``).

    ``raw`` may carry spaces, dashes, brackets or a ``+``/``00`` international
    prefix; without one it is read as a national number of ``default_region``.
    Raises ``InvalidPhoneNumber`` when it cannot be parsed or is not a valid
    number for its region (libphonenumber's length and prefix rules).
    """
    try:
        parsed = phonenumbers.parse(raw, default_region.upper())
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"not a phone number: {exc.error_type}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber("not a valid number for its region")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def try_e164(raw: str | None, default_region: str = "CN") -> str | None:
    """``to_e164`` or None for missing or invalid input (never raises)."""
    if not raw:
        return None
    try:
        return to_e164(raw, default_region)
    except InvalidPhoneNumber:
        return None


def mask(number: str | None) -> str:
    """A number safe for logs: country code and last 4 digits, the rest as ``*``
    (``+8613800138000`` -> ``+86*******8000``). Text that is not a phone number
    keeps only its last 4 characters; None gives ``<none>``."""
    if not number:
        return "<none>"
    digits = "".join(ch for ch in number if ch.isdigit())
    try:
        country = str(phonenumbers.parse(number, None).country_code)
    except phonenumbers.NumberParseException:
        return "*" * max(len(number) - 4, 0) + number[-4:] if len(number) > 4 else "****"
    rest = digits[len(country) :]
    return f"+{country}" + "*" * max(len(rest) - 4, 0) + rest[-4:]


def takes_sms(number: str | None) -> bool:
    """Whether an E.164 number can receive SMS: False for a number libphonenumber
    knows as a fixed line (``+862583331234``: Nanjing landline), True for mobiles,
    numbers that may be either, and unknowns (try the SMS rather than say nothing).
    A landline is told by a voice call instead (``handlers.channels.notices``)."""
    if not number:
        return False
    try:
        kind = phonenumbers.number_type(phonenumbers.parse(number, None))
    except phonenumbers.NumberParseException:
        return True
    return kind != phonenumbers.PhoneNumberType.FIXED_LINE
