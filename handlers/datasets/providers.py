"""Contracted provider organisations read from the NYC Department for the Aging list.

Source: ``contracted_providers.csv`` (NYC DFTA contracted programs, city open data,
see ``shared/data/README.md``). One row is one contracted program, keyed by its
``DFTA ID``. Mapping of ``ProviderType`` to careline service types (why, in brackets):

    HOME DELIVERED MEAL SERVICE CONTRACTS              meal
    HOMECARE SERVICES CONTRACTS                        cleaning, bathing, companionship
    TRANSPORTATION SERVICES CONTRACTS                  medical_escort
    CAREGIVER SERVICES CONTRACTS                       companionship (respite for carers)
    CASE MANAGEMENT SERVICES CONTRACTS                 companionship (case worker home visits)
    OLDER ADULT CENTER CONTRACTS                       companionship (their meals are on site)
    NATURALLY OCCURING RETIREMENT COMMUNITY CONTRACTS  companionship (visits in the building)
    ELDER ABUSE SERVICES CONTRACTS                     none (office-hours protective casework)
    GERIATRIC MENTAL HEALTH SERVICES CONTRACTS         none (clinical counselling)
    LEGAL SERVICES CONTRACTS                           none (legal advice)
    NEW YORK CONNECTS CONTRACTS                        none (information and referral only)
    CITY MEALS ADMINISTRATIVE SERVICES CONTRACTS       none (administration, delivers nothing)

Rows of a type mapped to "none" are rejected ("no careline service"); rows of a type
not in the table are rejected ("unknown provider type"). No DFTA type offers
``repair`` or ``emergency``; those careline services need other providers.

Hours: spaces inside a time are ignored (``8 :00``); opening times are read as given,
closing times per ``parse_closing_time``. ``00:00``-``00:00``, a blank or a ``:`` pair
mean closed or unknown (no entry that day). A close not after its opening (open
``13:00`` close ``01:00``, or close at midnight) rejects the row rather than guessing.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import time
from itertools import chain
from typing import Any, Callable, Iterable, Iterator, TypeVar

import phonenumbers

SERVICE_TYPES = ("meal", "cleaning", "bathing", "medical_escort", "companionship", "repair", "emergency")

PROVIDER_TYPE_SERVICES: dict[str, tuple[str, ...]] = {
    "HOME DELIVERED MEAL SERVICE CONTRACTS": ("meal",),
    "HOMECARE SERVICES CONTRACTS": ("cleaning", "bathing", "companionship"),
    "TRANSPORTATION SERVICES CONTRACTS": ("medical_escort",),
    "CAREGIVER SERVICES CONTRACTS": ("companionship",),
    "CASE MANAGEMENT SERVICES CONTRACTS": ("companionship",),
    "OLDER ADULT CENTER CONTRACTS": ("companionship",),
    "NATURALLY OCCURING RETIREMENT COMMUNITY CONTRACTS": ("companionship",),
    "ELDER ABUSE SERVICES CONTRACTS": (),
    "GERIATRIC MENTAL HEALTH SERVICES CONTRACTS": (),
    "LEGAL SERVICES CONTRACTS": (),
    "NEW YORK CONNECTS CONTRACTS": (),
    "CITY MEALS ADMINISTRATIVE SERVICES CONTRACTS": (),
}

BOROUGHS = ("BRONX", "BROOKLYN", "MANHATTAN", "QUEENS", "STATEN ISLAND")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
REQUIRED_COLUMNS = (
    "ProviderType",
    "DFTA ID",
    "ProgramName",
    "SponsorName",
    "ProgramAddress",
    "Borough",
    "ProgramPhone",
    "Latitude",
    "Longitude",
    *(f"{day}Hour{kind}" for day in WEEKDAYS for kind in ("Open", "Close")),
)
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")


@dataclass(frozen=True)
class OpeningHours:
    """Opening hours of one weekday (0 = Monday .. 6 = Sunday), local New York time."""

    weekday: int
    opens: time
    closes: time


@dataclass(frozen=True)
class ProviderListing:
    """One DFTA contracted program that can serve careline requests.

    ``phone`` is E.164 (``+17189388453``) or None; ``latitude``/``longitude`` are WGS84
    degrees or both None when the source row has no coordinates; ``service_area`` is
    the borough in lower case (``"staten island"``).
    """

    provider_id: str
    name: str
    sponsor: str
    provider_type: str
    service_types: tuple[str, ...]
    address: str
    borough: str
    phone: str | None
    latitude: float | None
    longitude: float | None
    opening_hours: tuple[OpeningHours, ...]
    service_area: str

    @property
    def located(self) -> bool:
        """True when the provider has coordinates (no offline geocoding otherwise)."""
        return self.latitude is not None and self.longitude is not None


@dataclass(frozen=True)
class RejectedRow:
    """A source row not loaded: 1-based file line (header is line 1), column, why."""

    line: int
    field: str
    reason: str


class _RowError(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


def _parse_clock(text: str) -> time:
    match = _TIME.match(text.replace(" ", ""))
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"malformed time {text!r}, expected HH:MM")
    return time(int(match[1]), int(match[2]))


def parse_opening_time(text: str) -> time:
    """Read a DFTA opening time as given (``"8 :30"`` -> 08:30). Raises ValueError."""
    return _parse_clock(text)


def parse_closing_time(text: str) -> time:
    """Read a DFTA closing time written on a 12-hour clock without am/pm.

    Hours 1..11 are afternoon (``"05:00"`` -> 17:00), 12 stays noon (``"12:30"`` ->
    12:30), 13..23 are already 24-hour, 0 is midnight (``"00:00"`` -> 00:00; the
    caller treats an ``00:00``-``00:00`` day as closed). Rule source: DFTA file quirk
    documented in ``shared/data/README.md``. Raises ValueError on malformed text.
    """
    parsed = _parse_clock(text)
    if 1 <= parsed.hour <= 11:
        return parsed.replace(hour=parsed.hour + 12)
    return parsed


def _checked(field: str, parse: Callable[[str], time], text: str) -> time:
    try:
        return parse(text)
    except ValueError as error:
        raise _RowError(field, str(error)) from None


def _day_hours(weekday: int, row: dict[str, str]) -> OpeningHours | None:
    open_field = f"{WEEKDAYS[weekday]}HourOpen"
    close_field = f"{WEEKDAYS[weekday]}HourClose"
    raw_open, raw_close = row[open_field].strip(), row[close_field].strip()
    blank_open, blank_close = raw_open in ("", ":"), raw_close in ("", ":")
    if blank_open and blank_close:
        return None
    if blank_open or blank_close:
        field = open_field if blank_open else close_field
        raise _RowError(field, "blank while the other hour of the day is given")
    opens = _checked(open_field, parse_opening_time, raw_open)
    closes = _checked(close_field, parse_closing_time, raw_close)
    if opens == time(0) and closes == time(0):
        return None
    if closes <= opens:
        raise _RowError(close_field, f"closes at {closes:%H:%M}, not after opening at {opens:%H:%M}")
    return OpeningHours(weekday, opens, closes)


def _coordinate(row: dict[str, str], field: str, limit: float) -> float | None:
    text = row[field].strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise _RowError(field, f"not a number: {text!r}") from None
    if not -limit <= value <= limit:
        raise _RowError(field, f"{value} outside -{limit}..{limit} degrees")
    return value


def _phone(text: str) -> str | None:
    try:
        number = phonenumbers.parse(text, "US")
    except phonenumbers.NumberParseException:
        return None
    valid = phonenumbers.is_valid_number(number)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) if valid else None


#: longest text kept per column (characters), as the provider columns of ``db.tables`` hold
TEXT_LIMITS = {"DFTA ID": 120, "ProgramName": 300, "SponsorName": 300, "ProgramAddress": 300}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _text(row: dict[str, str], field: str) -> str:
    """A free-text cell, stripped; rejects the row when it is over ``TEXT_LIMITS`` or holds
    control characters (a NUL cannot be stored, the others are binary junk)."""
    text = row[field].strip()
    if len(text) > TEXT_LIMITS[field]:
        raise _RowError(field, f"longer than {TEXT_LIMITS[field]} characters")
    if _CONTROL.search(text):
        raise _RowError(field, "contains control characters")
    return text


def _provider(row: dict[str, str], provider_id: str) -> ProviderListing:
    provider_type = row["ProviderType"].strip()
    if provider_type not in PROVIDER_TYPE_SERVICES:
        raise _RowError("ProviderType", f"unknown provider type {provider_type!r}")
    services = PROVIDER_TYPE_SERVICES[provider_type]
    if not services:
        raise _RowError("ProviderType", f"no careline service for {provider_type!r}")
    borough = row["Borough"].strip().upper()
    if borough not in BOROUGHS:
        raise _RowError("Borough", f"{borough!r} is not a New York City borough: no service area")
    hours = tuple(h for day in range(7) if (h := _day_hours(day, row)) is not None)
    latitude = _coordinate(row, "Latitude", 90.0)
    longitude = _coordinate(row, "Longitude", 180.0)
    if (latitude is None) != (longitude is None):
        missing = "Latitude" if latitude is None else "Longitude"
        raise _RowError(missing, "blank while the other coordinate is given")
    return ProviderListing(
        provider_id,
        _text(row, "ProgramName"),
        _text(row, "SponsorName"),
        provider_type,
        services,
        _text(row, "ProgramAddress"),
        borough,
        _phone(row["ProgramPhone"]),
        latitude,
        longitude,
        hours,
        service_area=borough.lower(),
    )


def _without_bom(lines: Iterable[str]) -> Iterator[str]:
    iterator = iter(lines)
    return chain([next(iterator, "").removeprefix("\ufeff")], iterator)


R = TypeVar("R")


def _csv_checked(read: Callable[[], R], reader: csv.DictReader[str]) -> R:
    try:
        return read()
    except csv.Error as error:
        raise ValueError(f"line {reader.reader.line_num}: not CSV ({error})") from None


def _csv_rows(reader: csv.DictReader[str]) -> Iterator[dict[str, Any]]:
    while (row := _csv_checked(lambda: next(reader, None), reader)) is not None:
        yield row


def read_providers(lines: Iterable[str]) -> tuple[list[ProviderListing], list[RejectedRow]]:
    """Read DFTA contracted providers from CSV text lines (with or without a BOM).

    Columns are read by name; each row yields a provider or one ``RejectedRow`` naming
    the first offending column: blank ``DFTA ID``, duplicate ``DFTA ID`` (the first
    loaded row is kept, later ones are rejected even under another ProviderType: an ID
    is one contracted program, so rows are not merged), unknown or out-of-scope
    ``ProviderType``, ``Borough`` outside the five boroughs, malformed or inconsistent
    hours, coordinates not numeric or outside -90..90 / -180..180 or only one of the
    pair given, free text over ``TEXT_LIMITS`` or with control characters. Rows with no
    coordinates at all are kept with ``located`` False. Raises ValueError when the header
    lacks a required column or the text is not CSV (a field over the csv module's 128 KiB
    limit), naming the line.
    """
    reader = csv.DictReader(_without_bom(lines))
    header = _csv_checked(lambda: reader.fieldnames, reader) or ()
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise ValueError(f"provider CSV lacks columns: {', '.join(missing)}")
    providers: list[ProviderListing] = []
    rejected: list[RejectedRow] = []
    loaded_at: dict[str, tuple[int, str]] = {}
    for row in _csv_rows(reader):
        line = reader.line_num - sum(v.count("\n") for k, v in row.items() if k and v)
        try:
            if None in row or None in row.values():
                raise _RowError("row", f"field count differs from the header's {len(header)}")
            provider_id = _text(row, "DFTA ID")
            if not provider_id:
                raise _RowError("DFTA ID", "missing")
            if provider_id in loaded_at:
                first_line, first_type = loaded_at[provider_id]
                raise _RowError("DFTA ID", f"duplicate of line {first_line} ({first_type}); first row kept")
            provider = _provider(row, provider_id)
        except _RowError as error:
            rejected.append(RejectedRow(line, error.field, error.reason))
            continue
        loaded_at[provider_id] = (line, provider.provider_type)
        providers.append(provider)
    return providers, rejected
