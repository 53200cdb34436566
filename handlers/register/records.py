"""Typed records of the register, one per valid row of a register file, and row errors.

Phones are E.164 (``+8613800138000``); coordinates WGS84 decimal degrees; ``region_path`` the
5-level path of ``handlers.operations.regions`` (``江苏省/苏州市/姑苏区/平江街道/平江路社区``,
possibly shorter); ``line`` the file line the record came from. A ``Location`` says how it was
obtained: ``given`` (in the file), ``geocoded`` (by a geocoding service, for the wiring step)
or ``approximate`` (the centroid of the finest region the address names).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from handlers.register.rota import Rota
from handlers.register.services import DeviceKind, ElderStatus, Gender, TravelMode


class Provenance(StrEnum):
    """How a point was obtained (module docstring); stored with it as ``location_provenance``."""

    GIVEN = "given"
    GEOCODED = "geocoded"
    APPROXIMATE = "approximate"


@dataclass(frozen=True)
class Location:
    """A point (degrees) and how it was obtained; ``precision`` names the region level of an
    approximate point (``district``, ``city``, ``province``), None otherwise."""

    latitude: float
    longitude: float
    provenance: Provenance = Provenance.GIVEN
    precision: str | None = None

    @property
    def approximate(self) -> bool:
        """True for a region centroid standing in for an address (``precision`` says which level)."""
        return self.provenance is Provenance.APPROXIMATE


@dataclass(frozen=True)
class FamilyContact:
    """A relative or neighbour to call: ``relation`` an English key of ``services.RELATIONS``;
    ``sms_opt_in`` only when the cell says so (consent is explicit)."""

    name: str
    relation: str
    phone: str
    sms_opt_in: bool = False


@dataclass(frozen=True)
class RowError:
    """Why one row (or one cell) was rejected; ``column`` as the file's header writes it."""

    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.reason}"


@dataclass(frozen=True)
class ElderRecord:
    """An elder as a register row gives it (``handlers.register.rows``; every field as given, blank
    ones empty): phones E.164, ``birth_year`` a 4-digit year, ``language`` as written (first
    language first), preferred and excluded caregivers as caregiver ids, ``service_area`` None to
    take the district of ``region_path`` (``handlers.register.changes``)."""

    elder_id: str
    name: str
    line: int
    address: str = ""
    location: Location | None = None
    region_path: str = ""
    service_area: str | None = None
    gender: Gender | None = None
    birth_year: int | None = None
    phone: str | None = None
    landline: str | None = None
    family_contacts: tuple[FamilyContact, ...] = ()
    language: str | None = None
    preferred_caregiver_gender: Gender | None = None
    preferred_caregivers: tuple[str, ...] = ()
    excluded_caregivers: tuple[str, ...] = ()
    notes: str = ""
    access_notes: str = ""
    status: ElderStatus = ElderStatus.ACTIVE


@dataclass(frozen=True)
class CaregiverRecord:
    """A caregiver as a register row gives it: ``phone`` E.164 (a mobile: offers come by SMS),
    ``skills`` service types or abilities (``services.parse_skills``), ``rota`` parsed in the
    center's time zone, ``max_visits_per_day`` None for no cap, ``home_location`` None to start
    from the provider's office; area and region default to the provider's."""

    caregiver_id: str
    provider_id: str
    name: str
    phone: str
    skills: tuple[str, ...]
    rota: Rota
    travel_mode: TravelMode
    line: int
    gender: Gender | None = None
    languages: tuple[str, ...] = ()
    home_address: str = ""
    home_location: Location | None = None
    region_path: str = ""
    service_area: str | None = None
    max_visits_per_day: int | None = None
    active: bool = True


@dataclass(frozen=True)
class ProviderRecord:
    """A contracted provider organisation as a register row gives it: the ``service_types`` it is
    contracted for (``services.SERVICE_TYPES``), its office ``location`` (the home base of its
    caregivers without one), ``phone`` E.164 or None."""

    provider_id: str
    name: str
    service_types: tuple[str, ...]
    line: int
    address: str = ""
    location: Location | None = None
    region_path: str = ""
    service_area: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class DeviceRecord:
    """An alarm device of an elder; ``phone`` the E.164 number its SIM calls from, if any."""

    device_id: str
    elder_id: str
    kind: DeviceKind
    line: int
    phone: str | None = None
