"""Rows of register files into typed records, every rejected row reported as ``line N, column C: reason``.

``parse_elders(table)``, ``parse_caregivers``, ``parse_providers`` and ``parse_devices`` take a
``files.Table`` (from ``read_table``) and return ``ParseResult(records, errors, ignored_columns)``:
a record per valid row, a ``RowError`` per problem (a row with several problems gets several),
and the header cells that name no known column. Nothing is dropped silently: a data row is
either a record or has at least one error. An id on two rows rejects both rows, each error
naming the other line. A file that cannot be read at all raises ``RegisterFileError``.

Locations: latitude and longitude both given are ``given``; neither given places the address
at its division's centroid (``approximate``, ``addresses.place_address``); an address that
cannot be placed rejects the row, since travel to an unknown place cannot be estimated. A
region path not given is filled from the address.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Callable, Mapping, NamedTuple, TypeVar, cast

from handlers.operations import regions
from handlers.register import services
from handlers.register.addresses import AddressNotPlaced, parse_address, place_address
from handlers.register.columns import (
    CAREGIVER_COLUMNS,
    DEVICE_COLUMNS,
    ELDER_COLUMNS,
    PROVIDER_COLUMNS,
    Header,
    find_header,
)
from handlers.register.contacts import parse_contacts
from handlers.register.files import RawRow, Table
from handlers.register.phones import parse_phone
from handlers.register.records import (
    CaregiverRecord,
    DeviceRecord,
    ElderRecord,
    Location,
    Provenance,
    ProviderRecord,
    RowError,
)
from handlers.register.rota import parse as parse_rota

T = TypeVar("T")
_TRUE = {"1", "true", "yes", "y", "active", "是", "在职", "有效"}
_FALSE = {"0", "false", "no", "n", "inactive", "否", "离职", "停用", "无效"}


@dataclass(frozen=True)
class RegisterContext:
    """What a center knows about itself: time zone of its rotas (IANA), the phone region
    (ISO 3166) and area code for landlines written without one, its region path (resolves
    district names found in several cities), and the abilities its policy defines."""

    tz: str = "Asia/Shanghai"
    phone_region: str = "CN"
    area_code: str | None = None
    region_hint: str = ""
    abilities: tuple[str, ...] = services.ABILITIES


class ParseResult(NamedTuple):
    """One file's outcome: the records of its valid rows in file order, a ``RowError`` per bad cell
    (line and column as the file writes them), and the header's columns careline does not read."""

    records: tuple[Any, ...]
    errors: tuple[RowError, ...]
    ignored_columns: tuple[str, ...]
    #: column key -> its name as the file's header writes it (for errors found later, on import)
    columns: Mapping[str, str] = {}


class _Cells:
    """One data row: cell text by column key, and the errors found in it."""

    def __init__(self, raw: RawRow, header: Header) -> None:
        self.raw, self.header = raw, header
        self.errors: list[RowError] = []

    def text(self, key: str) -> str:
        i = self.header.index.get(key)
        return self.raw.cells[i].strip() if i is not None and i < len(self.raw.cells) else ""

    def error(self, key: str, reason: str) -> None:
        self.errors.append(RowError(self.raw.line, self.header.written.get(key, key), reason))
        self.errors.sort(key=lambda e: self.header.position(e.column))

    def read(self, key: str, parse: Callable[[str], T], required: bool = False) -> T | None:
        text = self.text(key)
        if not text:
            if required:
                self.error(key, "required")
            return None
        try:
            return parse(text)
        except ValueError as exc:
            self.error(key, str(exc))
            return None


def parse_elders(table: Table, context: RegisterContext = RegisterContext()) -> ParseResult:
    """Elder records of ``table`` (columns ``columns.ELDER_COLUMNS``)."""
    return _parse(table, ELDER_COLUMNS, ("elder_id", "name"), "elder_id", lambda c: _elder(c, context))


def parse_caregivers(table: Table, context: RegisterContext = RegisterContext()) -> ParseResult:
    """Caregiver records of ``table`` (columns ``columns.CAREGIVER_COLUMNS``)."""
    required = ("caregiver_id", "provider_id", "name", "phone", "skills", "rota", "travel_mode")
    return _parse(table, CAREGIVER_COLUMNS, required, "caregiver_id", lambda c: _caregiver(c, context))


def parse_providers(table: Table, context: RegisterContext = RegisterContext()) -> ParseResult:
    """Provider records of ``table`` (columns ``columns.PROVIDER_COLUMNS``)."""
    return _parse(
        table,
        PROVIDER_COLUMNS,
        ("provider_id", "name", "service_types"),
        "provider_id",
        lambda c: _provider(c, context),
    )


def parse_devices(table: Table, context: RegisterContext = RegisterContext()) -> ParseResult:
    """Alarm-device records of ``table`` (columns ``columns.DEVICE_COLUMNS``)."""
    return _parse(table, DEVICE_COLUMNS, ("device_id", "elder_id", "kind"), "device_id", lambda c: _device(c, context))


def _parse(
    table: Table,
    columns: Mapping[str, tuple[str, ...]],
    required: tuple[str, ...],
    id_key: str,
    build: Callable[[_Cells], Any],
) -> ParseResult:
    header = find_header(table, columns, required)
    lines_of: dict[str, list[int]] = {}
    for raw in header.rows:
        row_id = _Cells(raw, header).text(id_key)
        if row_id:
            lines_of.setdefault(row_id, []).append(raw.line)
    records, errors = [], []
    for raw in header.rows:
        cells = _Cells(raw, header)
        others = [n for n in lines_of.get(cells.text(id_key), []) if n != raw.line]
        if others:
            cells.error(
                id_key,
                f"{cells.text(id_key)} is also on line {', '.join(map(str, others))}: an id may appear once in a file",
            )
        record = build(cells)
        if cells.errors or record is None:
            errors += cells.errors
        else:
            records.append(record)
    return ParseResult(tuple(records), tuple(errors), header.ignored, dict(header.written))


def _elder(c: _Cells, ctx: RegisterContext) -> ElderRecord | None:
    location, region_path = _place(c, ctx)
    phone = c.read("phone", lambda t: parse_phone(t, ctx.phone_region, ctx.area_code).e164)
    landline = c.read("landline", lambda t: parse_phone(t, ctx.phone_region, ctx.area_code).e164)
    contacts = c.read("family_contacts", lambda t: parse_contacts(t, ctx.phone_region, ctx.area_code))
    gender, birth_year = c.read("gender", services.parse_gender), c.read("birth_year", _birth_year)
    preferred_gender = c.read("preferred_caregiver_gender", services.parse_gender)
    preferred = tuple(c.read("preferred_caregivers", services.split_list) or ())
    excluded = tuple(c.read("excluded_caregivers", services.split_list) or ())
    status = c.read("status", services.parse_status) or services.ElderStatus.ACTIVE
    elder_id, name = c.read("elder_id", str, required=True), c.read("name", str, required=True)
    if c.errors or elder_id is None or name is None or location is None:
        return None
    return ElderRecord(
        elder_id,
        name,
        c.raw.line,
        address=c.text("address"),
        location=location,
        region_path=region_path,
        service_area=c.text("service_area") or None,
        gender=gender,
        birth_year=birth_year,
        phone=phone,
        landline=landline,
        family_contacts=contacts or (),
        language=c.text("language") or None,
        preferred_caregiver_gender=preferred_gender,
        preferred_caregivers=preferred,
        excluded_caregivers=excluded,
        notes=c.text("notes"),
        access_notes=c.text("access_notes"),
        status=status,
    )


def _caregiver(c: _Cells, ctx: RegisterContext) -> CaregiverRecord | None:
    location, region_path = _place(c, ctx, required=False)
    values = dict(
        caregiver_id=c.read("caregiver_id", str, required=True),
        provider_id=c.read("provider_id", str, required=True),
        name=c.read("name", str, required=True),
        phone=c.read("phone", lambda t: _mobile(t, ctx), required=True),
        skills=c.read("skills", lambda t: services.parse_skills(t, ctx.abilities), required=True),
        rota=c.read("rota", lambda t: parse_rota(t, ctx.tz), required=True),
        travel_mode=c.read("travel_mode", services.parse_travel_mode, required=True),
    )
    extra = dict(
        gender=c.read("gender", services.parse_gender),
        languages=tuple(c.read("languages", services.split_list) or ()),
        max_visits_per_day=c.read("max_visits_per_day", _positive_int),
        active=c.read("active", _flag) if c.text("active") else True,
        service_area=c.text("service_area") or None,
    )
    if c.errors or any(v is None for v in values.values()):
        return None
    return CaregiverRecord(
        line=c.raw.line,
        home_address=c.text("address"),
        home_location=location,
        region_path=region_path,
        **cast(dict[str, Any], values | extra),  # every required value was read (checked above)
    )


def _provider(c: _Cells, ctx: RegisterContext) -> ProviderRecord | None:
    location, region_path = _place(c, ctx, required=False)
    provider_id, name = c.read("provider_id", str, required=True), c.read("name", str, required=True)
    service_types = c.read("service_types", services.parse_service_types, required=True)
    phone = c.read("phone", lambda t: parse_phone(t, ctx.phone_region, ctx.area_code).e164)
    if c.errors or provider_id is None or name is None or service_types is None:
        return None
    return ProviderRecord(
        provider_id,
        name,
        service_types,
        c.raw.line,
        address=c.text("address"),
        location=location,
        region_path=region_path,
        service_area=c.text("service_area") or None,
        phone=phone,
    )


def _device(c: _Cells, ctx: RegisterContext) -> DeviceRecord | None:
    device_id, elder_id = c.read("device_id", str, required=True), c.read("elder_id", str, required=True)
    kind = c.read("kind", services.parse_device_kind, required=True)
    phone = c.read("phone", lambda t: parse_phone(t, ctx.phone_region, ctx.area_code).e164)
    if c.errors or device_id is None or elder_id is None or kind is None:
        return None
    return DeviceRecord(device_id, elder_id, kind, c.raw.line, phone)


def _place(c: _Cells, ctx: RegisterContext, required: bool = True) -> tuple[Location | None, str]:
    """The row's location and region path (given, else from the address)."""
    address = c.text("address")
    region_path = c.read("region_path", regions.normalise) or ""
    lat, lon = c.read("latitude", lambda t: _degrees(t, 90)), c.read("longitude", lambda t: _degrees(t, 180))
    if bool(c.text("latitude")) != bool(c.text("longitude")):
        c.error("longitude" if c.text("latitude") else "latitude", "latitude and longitude go together")
        return None, region_path
    if not region_path and address:
        region_path = parse_address(address, ctx.region_hint).region_path
    if lat is not None and lon is not None:
        provenance = c.read("location_provenance", _provenance) or Provenance.GIVEN
        return Location(lat, lon, provenance), region_path
    if c.text("latitude"):
        return None, region_path  # a bad coordinate, already reported
    if not address:
        if required:
            c.error("address", "an address or latitude and longitude are required")
        return None, region_path
    try:
        return place_address(address, ctx.region_hint).location, region_path
    except AddressNotPlaced as exc:
        c.error("address", str(exc))
        return None, region_path


def _provenance(text: str) -> Provenance:
    """How exported coordinates were obtained (``given``, ``geocoded``, ``approximate``), so
    an export read back keeps an approximate point approximate."""
    try:
        return Provenance(text.strip().lower())
    except ValueError:
        raise ValueError(f"not one of {', '.join(p.value for p in Provenance)}: {text!r}") from None


def _mobile(text: str, ctx: RegisterContext) -> str:
    phone = parse_phone(text, ctx.phone_region, ctx.area_code)
    if not phone.can_receive_sms:
        raise ValueError(f"a caregiver's phone must receive SMS offers; this is a {phone.kind} number")
    return phone.e164


def _degrees(text: str, limit: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"not a number of degrees: {text!r}") from None
    if not -limit <= value <= limit:
        raise ValueError(f"{value} is outside -{limit:g}..{limit:g} degrees")
    return value


def _birth_year(text: str) -> int:
    found = re.fullmatch(r"(\d{4})年?", text)
    if not found or not 1890 <= int(found[1]) <= date.today().year:
        raise ValueError(f"not a birth year like 1942: {text!r}")
    return int(found[1])


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"not a whole number above 0: {text!r}")
    return int(text)


def _flag(text: str) -> bool:
    key = text.strip().lower()
    if key in _TRUE or key in _FALSE:
        return key in _TRUE
    raise ValueError(f"not yes/no: {text!r} (active/在职/是 or inactive/离职/否)")
