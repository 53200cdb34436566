"""A day of a real city from open data: New York's aging-department providers, caregivers with
rotas, and elders asking for care where and when 311 calls came in.

``build_city(providers, calls, run)`` makes the register and the timed intake records of one
replay (pure; ``db.city.load_city`` stores it, ``tools.replay.city`` plays it). The rules:

* **Providers**: the DFTA contracted programs (``handlers.datasets.providers.read_providers``)
  of the home-care and related contract types, ``CITY_PROVIDER_TYPES``: homecare (housekeeping,
  personal care), home-delivered meals, caregiver services, case management (home visits) and
  transportation. Older adult centers, NORCs and the office-based types (legal, elder abuse,
  mental health, NY Connects) serve people who come to them, not at home, and are left out. A
  program without coordinates has no place to start from and is skipped (counted).
* **Service areas**: one per borough (``<run>.bronx`` … ``<run>.staten-island``), the
  borough the DFTA file gives; community districts are too small for five contract types
  (most districts have no homecare or transportation contract at all).
* **Caregivers**: ``caregivers_per_provider`` per program (``HOMECARE_FACTOR`` times as many
  for homecare contracts, home attendants being most of a home-care workforce), each able to
  do the program's service types, starting from the program's office, travelling by
  ``travel_mode_for`` its type. Rotas (``handlers.register.rota``, ``America/New_York``):
  caregiver ``k`` works ``SHIFTS[k % 3]`` (day, evening, night: a home-care agency covers the
  clock) five days in a row from weekday ``(3 * (k // 3) + k % 3) % 7`` (0 = Monday), so on
  any date about 5/7 of them are on, and two caregivers of one shift already cover the week.
* **Elders**: one per 311 call, at its coordinates (``given``). A call without coordinates is
  placed at the mean point of the extract's located calls in its community district, else its
  borough (``approximate``, precision ``community_board`` or ``borough``); with neither it is
  not placed, and counted. A call with coordinates but no borough belongs to the borough of
  the nearest selected program.
* **Requests**: submitted at the call's ``created_date``, for the call's service type and
  channel (``handlers.datasets.nyc311``), for ``DURATIONS`` minutes (``config/ivr.toml``'s
  menu). When, as the hotline menu's time options put it (``config/ivr.toml``): a hotline
  caller is asked and takes "as soon as possible" (priority ``asap``, to start within
  ``asap_minutes``, 120); an app or operator request is booked for the next daytime window,
  ``DAYTIME`` 08:00-17:00 New York time (routine; the same day for a call before 08:00, else
  the next day), the menu's "tomorrow" option — a night's 311 traffic asks for more than a
  night shift can do at once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, Callable, Iterable, Sequence
from zoneinfo import ZoneInfo

from handlers.datasets.day import Submission
from handlers.datasets.nyc311 import ServiceCall
from handlers.datasets.providers import ProviderListing
from handlers.model import Caregiver, Elder, ProviderOrganisation
from handlers.register.geo import distance_km
from handlers.register.records import Location, Provenance
from handlers.register.rota import format_rota
from handlers.register.rota import parse as parse_rota
from handlers.register.rota_grammar import ENGLISH_DAYS

TIME_ZONE = "America/New_York"
CITY_PROVIDER_TYPES = (
    "HOMECARE SERVICES CONTRACTS",
    "HOME DELIVERED MEAL SERVICE CONTRACTS",
    "CAREGIVER SERVICES CONTRACTS",
    "CASE MANAGEMENT SERVICES CONTRACTS",
    "TRANSPORTATION SERVICES CONTRACTS",
)
HOMECARE_FACTOR = 3
DAYTIME = (time(8), time(17))
SHIFTS = ("07:00-15:00", "15:00-23:00", "23:00-07:00")
#: minutes per service, as the hotline's menu books them (config/ivr.toml)
DURATIONS = {"meal": 30, "cleaning": 60, "bathing": 45, "medical_escort": 120, "companionship": 60}
DEFAULT_DURATION = 60


def travel_mode_for(provider_type: str) -> str:
    """``car`` for transportation contracts (they drive), else ``e-bike``: the register has no
    transit mode, and its e-bike speed (17 km/h) is near a New York subway-and-walk trip's."""
    return "car" if provider_type.startswith("TRANSPORTATION") else "e-bike"


def area_id(run: str, borough: str) -> str:
    """The service area of a borough in run ``run``: ``<run>.staten-island``."""
    return f"{run}.{borough.strip().lower().replace(' ', '-')}"


def weekly_rota(k: int) -> str:
    """The canonical rota text of a program's ``k``-th caregiver (rule in the module docstring)."""
    first = (3 * (k // 3) + k % 3) % 7
    days = f"{ENGLISH_DAYS[first]}-{ENGLISH_DAYS[(first + 4) % 7]}"
    return format_rota(parse_rota(f"{days} {SHIFTS[k % 3]}", TIME_ZONE))


@dataclass(frozen=True)
class Placement:
    """How the calls became elders: ``given`` at their coordinates, ``approximate`` (placed at
    a district or borough mean point, by precision), ``unplaced`` (no coordinates, no district
    or borough: no elder, no request)."""

    given: int = 0
    approximate: dict[str, int] = field(default_factory=dict)
    unplaced: tuple[ServiceCall, ...] = ()


@dataclass(frozen=True)
class CityDay:
    """One replay's register and requests. ``points[i]`` is the place of location ``i`` that
    elders' ``location_index`` and caregivers' ``home_base_index`` name until ``db.city``
    stores them; ``areas`` the service areas (id -> borough); ``skipped_providers`` the selected
    programs left out for lack of coordinates."""

    run: str
    start: datetime
    areas: dict[str, str]
    providers: tuple[ProviderOrganisation, ...]
    caregivers: tuple[Caregiver, ...]
    elders: tuple[Elder, ...]
    submissions: tuple[Submission, ...]
    points: tuple[Location, ...]
    placement: Placement
    skipped_providers: tuple[ProviderListing, ...] = ()

    @property
    def area(self) -> str:
        """The first service area (the driver keys caregiver events by area; each event
        carries its own ``service_area`` too)."""
        return next(iter(self.areas))


def slice_calls(
    calls: Iterable[ServiceCall], hours: float | None = None, limit: int | None = None
) -> list[ServiceCall]:
    """The calls in time order from the first: those within ``hours`` of it, at most ``limit``
    (a short replay of the busiest part of an extract, for tests and the demo)."""
    ordered = sorted(calls, key=lambda c: c.created)
    if hours is not None and ordered:
        end = ordered[0].created + timedelta(hours=hours)
        ordered = [c for c in ordered if c.created <= end]
    return ordered[:limit] if limit is not None else ordered


def select_providers(listings: Iterable[ProviderListing]) -> list[ProviderListing]:
    """The programs of ``CITY_PROVIDER_TYPES``, in file order."""
    return [p for p in listings if p.provider_type in CITY_PROVIDER_TYPES]


def build_city(
    listings: Sequence[ProviderListing],
    calls: Sequence[ServiceCall],
    run: str,
    caregivers_per_provider: int = 6,
    asap_minutes: float = 120.0,
) -> CityDay:
    """The city day of ``calls`` (in time order) served by the selected ``listings``.
    Raises ValueError when no selected program has coordinates or there are no calls."""
    chosen = select_providers(listings)
    located = [p for p in chosen if p.located]
    if not located:
        raise ValueError("no selected provider has coordinates: nobody could start a visit")
    if not calls:
        raise ValueError("no service calls to replay")
    points: list[Location] = []

    def place(location: Location) -> int:
        points.append(location)
        return len(points) - 1

    providers: list[ProviderOrganisation] = []
    caregivers: list[Caregiver] = []
    areas: dict[str, str] = {}
    for p in located:
        area = area_id(run, p.borough)
        areas.setdefault(area, p.borough)
        providers.append(_provider(p, run, area))
        office = place(Location(p.latitude or 0.0, p.longitude or 0.0))
        count = caregivers_per_provider * (HOMECARE_FACTOR if p.provider_type.startswith("HOMECARE") else 1)
        caregivers += [_caregiver(p, run, area, k, office) for k in range(count)]
    elders, submissions, placement = _elders_and_requests(calls, located, run, asap_minutes, place)
    for e in elders:
        areas.setdefault(e.service_area, e.service_area.removeprefix(f"{run}.").replace("-", " ").upper())
    start = min(s.at for s in submissions) if submissions else calls[0].created
    return CityDay(
        run,
        start,
        areas,
        tuple(providers),
        tuple(caregivers),
        tuple(elders),
        tuple(submissions),
        tuple(points),
        placement,
        tuple(p for p in chosen if not p.located),
    )


def _provider(p: ProviderListing, run: str, area: str) -> ProviderOrganisation:
    return ProviderOrganisation(
        f"{run}.{p.provider_id}",
        p.name,
        area,
        " ".join(p.service_types),
        provider_type=p.provider_type,
        sponsor=p.sponsor,
        address=p.address,
        phone=p.phone,
        latitude=p.latitude,
        longitude=p.longitude,
        location_provenance=Provenance.GIVEN.value,
    )


def _caregiver(p: ProviderListing, run: str, area: str, k: int, office: int) -> Caregiver:
    return Caregiver(
        f"{run}.{p.provider_id}.c{k + 1}",
        f"{run}.{p.provider_id}",
        area,
        " ".join(p.service_types),
        office,
        None,
        None,
        rota=weekly_rota(k),
        time_zone=TIME_ZONE,
        travel_mode=travel_mode_for(p.provider_type),
        home_address=p.address,
    )


def _means(calls: Iterable[ServiceCall], key: str) -> dict[str, tuple[float, float]]:
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for c in calls:
        name = getattr(c, key)
        if c.point is not None and name:
            s = sums[name]
            s[0], s[1], s[2] = s[0] + c.point[0], s[1] + c.point[1], s[2] + 1
    return {name: (s[0] / s[2], s[1] / s[2]) for name, s in sums.items()}


def _elders_and_requests(
    calls: Sequence[ServiceCall],
    providers: Sequence[ProviderListing],
    run: str,
    asap_minutes: float,
    place: Callable[[Location], int],
) -> tuple[list[Elder], list[Submission], Placement]:
    districts, boroughs = _means(calls, "community_board"), _means(calls, "borough")
    elders, submissions, unplaced = [], [], []
    given, approximate = 0, {"community_board": 0, "borough": 0}
    keys: set[str] = set()
    for call in sorted(calls, key=lambda c: c.created):
        key = call.key if call.key not in keys else f"{call.key}-line{call.line}"
        keys.add(key)
        if call.point is not None:
            location, given = Location(*call.point), given + 1
        elif call.community_board in districts:
            location = Location(*districts[call.community_board], Provenance.APPROXIMATE, "community_board")
        elif call.borough in boroughs:
            location = Location(*boroughs[call.borough], Provenance.APPROXIMATE, "borough")
        else:
            unplaced.append(call)
            continue
        if location.precision is not None:
            approximate[location.precision] += 1
        borough = call.borough or _nearest(providers, (location.latitude, location.longitude)).borough
        elder = Elder(
            f"{run}.e{key}",
            area_id(run, borough),
            place(location),
            latitude=location.latitude,
            longitude=location.longitude,
            location_provenance=location.provenance.value,
            location_precision=location.precision,
            language="en",
        )
        elders.append(elder)
        submissions.append(Submission(call.created, _record(call, key, elder, run, asap_minutes)))
    return elders, submissions, Placement(given, {k: v for k, v in approximate.items() if v}, tuple(unplaced))


def _nearest(providers: Sequence[ProviderListing], point: tuple[float, float]) -> ProviderListing:
    return min(providers, key=lambda p: distance_km(point, (p.latitude or 0.0, p.longitude or 0.0)))


def daytime_window(at: datetime) -> tuple[datetime, datetime]:
    """The next ``DAYTIME`` window (aware, UTC) for a call at ``at``: the same New York day when
    the call came before its start, else the next day."""
    zone = ZoneInfo(TIME_ZONE)
    local = at.astimezone(zone)
    day = local.date() if local.time() < DAYTIME[0] else local.date() + timedelta(days=1)
    start, end = (datetime.combine(day, t, zone) for t in DAYTIME)
    return start.astimezone(at.tzinfo), end.astimezone(at.tzinfo)


def _record(call: ServiceCall, key: str, elder: Elder, run: str, asap_minutes: float) -> dict[str, Any]:
    rid = f"{run}.r{key}"
    if call.channel_kind == "hotline":
        priority, start, end = "asap", call.created, call.created + timedelta(minutes=asap_minutes)
    else:
        priority, (start, end) = "routine", daytime_window(call.created)
    return {
        "intake_id": rid,
        "request_id": rid,
        "channel": call.channel_kind,
        "elder_id": elder.elder_id,
        "service_type": call.service_type,
        "duration_minutes": DURATIONS.get(call.service_type, DEFAULT_DURATION),
        "window": {"start": start.isoformat(), "end": end.isoformat()},
        "priority": priority,
        "submitted_at": call.created.isoformat(),
    }
