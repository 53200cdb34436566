"""The register as files again: one row per record, with the English column names that
``handlers.register.columns`` reads (an export imports back unchanged), plus how each
location was obtained (``location_provenance``: given, geocoded, approximate).

Cells are written in the canonical forms the parsers read: phones in E.164, family
contacts as ``NAME(relation) +E164[ sms]``, rotas in the English canonical form, lists
separated by spaces.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from handlers.model import AlarmDevice, Caregiver, Elder, ProviderOrganisation
from handlers.register.columns import CAREGIVER_COLUMNS, DEVICE_COLUMNS, ELDER_COLUMNS, PROVIDER_COLUMNS
from handlers.register.contacts import format_contacts
from handlers.register.records import FamilyContact

ELDER_EXPORT = (
    "elder_id",
    "name",
    "gender",
    "birth_year",
    "phone",
    "landline",
    "family_contacts",
    "address",
    "latitude",
    "longitude",
    "location_provenance",
    "region_path",
    "service_area",
    "language",
    "notes",
    "access_notes",
    "preferred_caregiver_gender",
    "preferred_caregivers",
    "excluded_caregivers",
    "status",
)
CAREGIVER_EXPORT = (
    "caregiver_id",
    "provider_id",
    "name",
    "gender",
    "phone",
    "skills",
    "languages",
    "rota",
    "travel_mode",
    "max_visits_per_day",
    "active",
    "address",
    "latitude",
    "longitude",
    "location_provenance",
    "region_path",
    "service_area",
)
PROVIDER_EXPORT = (
    "provider_id",
    "name",
    "address",
    "latitude",
    "longitude",
    "location_provenance",
    "service_types",
    "region_path",
    "phone",
    "service_area",
)
DEVICE_EXPORT = ("device_id", "elder_id", "kind", "phone")


def header(kind: str) -> list[str]:
    """The English column names of an export of ``kind`` (providers, elders, caregivers, devices)."""
    keys, columns = _KINDS[kind]
    return [columns[k][0] for k in keys]


def chinese_names(kind: str) -> dict[str, str]:
    """Each export column of ``kind`` (its English name) -> the first Chinese name the import
    accepts for it (``handlers.register.columns``), for pages that show a file's columns."""
    keys, columns = _KINDS[kind]
    return {columns[k][0]: next((n for n in columns[k] if not n.isascii()), columns[k][0]) for k in keys}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _row(kind: str, values: Mapping[str, Any]) -> list[str]:
    keys, _ = _KINDS[kind]
    return [_text(values.get(k)) for k in keys]


def elder_row(e: Elder) -> list[str]:
    """The elder as cells in ``ELDER_EXPORT`` order: family contacts in their canonical text,
    ``location_provenance`` only when there is a point, None as an empty cell, booleans ``yes``/``no``."""
    contacts = [
        FamilyContact(
            str(c.get("name", "")), str(c.get("relation", "other")), str(c.get("phone", "")), bool(c.get("sms_opt_in"))
        )
        for c in e.family_contacts or []
    ]
    return _row(
        "elders",
        {
            **_fields(e, ELDER_EXPORT),
            "family_contacts": format_contacts(contacts),
            "preferred_caregiver_gender": e.preferred_gender,
            "location_provenance": e.location_provenance if e.latitude is not None else None,
        },
    )


def caregiver_row(
    c: Caregiver, latitude: float | None = None, longitude: float | None = None, provenance: str | None = None
) -> list[str]:
    """``latitude``/``longitude``/``provenance``: the caregiver's home base point."""
    return _row(
        "caregivers",
        {
            **_fields(c, CAREGIVER_EXPORT),
            "name": c.display_name,
            "skills": c.abilities,
            "languages": c.language,
            "address": c.home_address,
            "latitude": latitude,
            "longitude": longitude,
            "location_provenance": provenance if latitude is not None else None,
        },
    )


def provider_row(p: ProviderOrganisation) -> list[str]:
    """The provider as cells in ``PROVIDER_EXPORT`` order (None as an empty cell)."""
    return _row("providers", _fields(p, PROVIDER_EXPORT))


def device_row(d: AlarmDevice) -> list[str]:
    """The alarm device as cells in ``DEVICE_EXPORT`` order (None as an empty cell)."""
    return _row("devices", _fields(d, DEVICE_EXPORT))


def _fields(obj: object, keys: Iterable[str]) -> dict[str, Any]:
    return {k: getattr(obj, k, None) for k in keys}


_KINDS: dict[str, tuple[Sequence[str], Mapping[str, tuple[str, ...]]]] = {
    "elders": (ELDER_EXPORT, ELDER_COLUMNS),
    "caregivers": (CAREGIVER_EXPORT, CAREGIVER_COLUMNS),
    "providers": (PROVIDER_EXPORT, PROVIDER_COLUMNS),
    "devices": (DEVICE_EXPORT, DEVICE_COLUMNS),
}
