"""Replay a day of New York City through the running pipeline: the aging department's
home-care and related providers, caregivers with rotas, and elders asking for care where and
when a 311 extract's calls came in (``handlers.datasets.city`` has the rules).

``read_city`` reads the two files (by column name, rejected rows and rows without
coordinates reported); ``CityReplayDriver`` is the UHHC replay driver (``tools.replay.driver``)
on that day: the same broker, worker, timer service, database and caregiver model, with travel
from coordinates (``handlers.register.geo``) for dispatch and for the simulated caregivers.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from rich.console import Console

from db import runs
from db.city import load_city
from db.register import set_dispatch_mode
from db.session import Session, sessionmaker
from handlers.datasets.city import CityDay, build_city, slice_calls
from handlers.datasets.nyc311 import ExtractError, RejectedCall, ServiceCall, read_calls
from handlers.datasets.providers import RejectedRow, read_providers
from handlers.evaluation.city_summary import CitySummary, summarise_city
from handlers.register.geo import CoordinateTravelTimes
from handlers.simulation.caregiver_model import CaregiverFleet
from tools.replay.driver import ReplayDriver, ReplayOptions


class CityInputError(ValueError):
    """A city input file cannot be read (missing, not CSV, a needed column absent); names the file."""


@dataclass(frozen=True)
class CityInput:
    """What was read: the provider listings and calls, and every row not used, with why."""

    providers_file: Path
    calls_file: Path
    listings: list
    calls: list[ServiceCall]
    rejected_providers: list[RejectedRow]
    rejected_calls: list[RejectedCall]


def read_city(providers_file: Path, calls_file: Path) -> CityInput:
    """Read the DFTA provider list and a 311 extract. Raises ``CityInputError``."""
    try:
        with open(providers_file, encoding="utf-8-sig", newline="") as f:
            listings, rejected_providers = read_providers(f)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CityInputError(f"{providers_file}: {exc}") from None
    try:
        with open(calls_file, encoding="utf-8-sig", newline="") as f:
            calls, rejected_calls = read_calls(f)
    except (OSError, UnicodeDecodeError, ExtractError) as exc:
        raise CityInputError(f"{calls_file}: {exc}") from None
    return CityInput(providers_file, calls_file, listings, calls, rejected_providers, rejected_calls)


@dataclass
class CityResult:
    """A city day's run: its id, the day built from the files, its measures, the dead letters,
    the wall time (seconds), each request's final status, and the PNG map written (or None)."""

    run: str
    day: CityDay
    summary: CitySummary
    dead_letters: list[dict]
    wall_seconds: float
    final: dict[str, str]
    map_file: Path | None = None
    points: dict = field(default_factory=dict)


class CityReplayDriver(ReplayDriver):
    """``ReplayDriver`` on a city day; ``run()`` returns a ``CityResult``."""

    day: CityDay  # type: ignore[assignment]  # the base reads only what a CityDay has too (submissions, area)

    def __init__(
        self,
        bootstrap: str,
        factory: sessionmaker[Session],
        city: CityInput,
        options: ReplayOptions,
        console: Console | None = None,
        worker_alive: Callable[[], bool] = lambda: True,
        caregivers_per_provider: int = 6,
        hours: float | None = None,
        limit: int | None = None,
        asap_minutes: float = 120.0,
    ) -> None:
        self._setup(bootstrap, factory, options, console, worker_alive)
        self.city = city
        self.run_id = f"nyc311-{city.calls[0].created:%m%d}-{uuid.uuid4().hex[:6]}" if city.calls else "nyc311"
        calls = slice_calls(city.calls, hours, limit)
        self.day = build_city(city.listings, calls, self.run_id, caregivers_per_provider, asap_minutes)
        self._areas = {c.caregiver_id: c.service_area for c in self.day.caregivers}

    def _name(self) -> str:
        return f"New York City ({self.city.calls_file.name})"

    def _area_of(self, caregiver_id: str) -> str:
        return self._areas.get(caregiver_id, self.day.area)

    def _load(self) -> None:
        self.day = load_city(self.factory, self.day)
        offices = {p.provider_id: _point(p.latitude, p.longitude) for p in self.day.providers}
        #: stored location index -> (latitude, longitude): elders' homes and caregivers' home bases
        self.points: dict[int, tuple[float, float]] = {
            _index(e.location_index): _point(e.latitude, e.longitude) for e in self.day.elders
        }
        self.points.update({_index(c.home_base_index): offices[c.provider_id] for c in self.day.caregivers})
        self.travel = CoordinateTravelTimes(self.points)
        self.travel_of = {c.caregiver_id: self.travel.for_mode(c.travel_mode or "e-bike") for c in self.day.caregivers}
        self.fleet = CaregiverFleet(
            self.opt.model,
            self.travel,
            {c.caregiver_id: c.home_base_index for c in self.day.caregivers},
            {c.caregiver_id: c.provider_id for c in self.day.caregivers},
            self.travel_of,
        )
        for area in self.day.areas:
            set_dispatch_mode(self.factory, area, self.opt.mode)

    def run(self) -> CityResult:  # type: ignore[override]  # a city day ends with its own measures
        self._load()
        wall_seconds = self._play()
        with self.factory() as session:
            requests, offers, visits = runs.run_records(session, f"{self.run_id}.")
        roster = {c.caregiver_id: c for c in self.day.caregivers}
        summary = summarise_city(requests, offers, visits, roster, self.travel_of)
        return CityResult(self.run_id, self.day, summary, self.dead, wall_seconds, dict(self.final), None, self.points)


def _point(latitude: float | None, longitude: float | None) -> tuple[float, float]:
    if latitude is None or longitude is None:
        raise ValueError("a city point without coordinates")  # build_city places every one it keeps
    return (latitude, longitude)


def _index(index: int | None) -> int:
    if index is None:
        raise ValueError("a city place that was not stored")  # load_city stores every one
    return index
