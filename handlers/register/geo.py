"""Travel time from coordinates: geodesic distance × circuity ÷ the travel mode's speed.

``travel_minutes(a, b, mode)`` is the embedded default for every day that is not a benchmark
replay (UHHC replays keep their matrices, ``handlers.dispatch.scheduling.MatrixTravelTimes``).

* Distance: the geodesic on the WGS-84 ellipsoid (Karney's algorithm, through
  ``geopy.distance.geodesic``), in kilometres.
* Circuity: roads are longer than the straight line. ``DEFAULT_CIRCUITY = 1.3``: Ballou,
  Rahardja & Sakai (2002), "Selected country circuity factors for road travel distance
  estimation", Transportation Research Part A 36(9):843-848, report country averages from
  1.12 to 2.10, about 1.2 for the United States; Boscoe, Henry & Zdeb (2012), "A nationwide
  comparison of driving distance versus straight-line distance to hospitals", Professional
  Geographer 64(2):188-196, found 1.4 for trips to hospitals. Short urban trips through
  lanes and estates sit between the two.
* Speed: per travel mode, ``handlers.register.services.TRAVEL_SPEED_KMH`` (sources there).

``CoordinateTravelTimes`` satisfies the dispatch ``TravelTimes`` protocol (``minutes(origin,
destination)`` over location indexes) with one ``(latitude, longitude)`` or ``Location`` per
index: a sequence, or a mapping from index to point (the register's ``locations`` rows,
``db.locations.LocationBook``, which reads a row it has not seen yet). A location that is unknown (``None`` index, an index with no point) raises
``UnknownLocation``: it is never 0 minutes away. An approximate point (a district centroid)
is used as given; its record says it is approximate.

Travel mode: ``for_mode(mode)`` returns a view sharing the points and the cache of
distances, with that mode's speed. Dispatch is meant to adopt it as
``travel.for_mode(caregiver.travel_mode)`` per caregiver when ``travel`` is a
``ModalTravelTimes``, and use ``travel`` unchanged otherwise (a benchmark matrix).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Protocol, Sequence, runtime_checkable

from geopy.distance import geodesic

from handlers.register.records import Location
from handlers.register.services import TRAVEL_SPEED_KMH, TravelMode

DEFAULT_CIRCUITY = 1.3
Point = tuple[float, float]
Points = Sequence[Point | Location | None] | Mapping[int, Point | Location | None]


class UnknownLocation(LookupError):
    """A location index with no point, or ``None``: travel to it cannot be estimated."""


class TravelTimes(Protocol):
    """Travel minutes between two location indexes (the dispatch ``TravelTimes`` protocol)."""

    def minutes(self, origin: int | None, destination: int | None) -> float:
        """Minutes (>= 0) from ``origin`` to ``destination``; raises ``UnknownLocation`` for an index
        with no point (never 0 minutes for an unknown place)."""


@runtime_checkable
class ModalTravelTimes(Protocol):
    """Travel times that depend on the caregiver's travel mode."""

    def minutes(self, origin: int | None, destination: int | None) -> float:
        """Minutes at the default mode's speed, as ``TravelTimes.minutes``."""

    def for_mode(self, mode: TravelMode | str) -> TravelTimes:
        """The same places at ``mode``'s speed; raises ``ValueError`` for an unknown mode."""


def distance_km(a: Point, b: Point) -> float:
    """Geodesic distance in km between two ``(latitude, longitude)`` points in degrees
    (WGS-84). Raises ``ValueError`` for a latitude outside -90..90."""
    return float(geodesic(a, b).km)


def travel_minutes(a: Point, b: Point, mode: TravelMode | str, circuity: float = DEFAULT_CIRCUITY) -> float:
    """Minutes from ``a`` to ``b`` for ``mode`` (``walk``, ``e-bike``, ``car``): geodesic km ×
    ``circuity`` ÷ the mode's km/h × 60. Raises ``ValueError`` for an unknown mode."""
    return distance_km(a, b) * circuity / _speed(mode) * 60.0


@dataclass(frozen=True)
class CoordinateTravelTimes:
    """Travel minutes between location indexes from their coordinates.

    ``points[i]`` is the ``(latitude, longitude)`` or ``Location`` of location index ``i``, or
    None when unknown; ``mode`` the travel mode (default ``e-bike``, the commonest among
    Chinese home-care workers); ``circuity`` the road/straight-line ratio.
    """

    points: Points
    mode: TravelMode | str = TravelMode.E_BIKE
    circuity: float = DEFAULT_CIRCUITY
    _km: dict[tuple[int, int], float] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        _speed(self.mode)
        if self.circuity < 1.0:
            raise ValueError(f"circuity {self.circuity} < 1: a road is never shorter than the geodesic")

    def minutes(self, origin: int | None, destination: int | None) -> float:
        """Minutes from location ``origin`` to ``destination``; raises ``UnknownLocation``."""
        i, j = self._known(origin), self._known(destination)
        key = (i, j) if i <= j else (j, i)
        km = self._km.get(key)
        if km is None:
            km = self._km[key] = distance_km(self._point(i), self._point(j))
        return km * self.circuity / _speed(self.mode) * 60.0

    def for_mode(self, mode: TravelMode | str) -> CoordinateTravelTimes:
        """The same points and distance cache at ``mode``'s speed."""
        return CoordinateTravelTimes(self.points, mode, self.circuity, self._km)

    def _known(self, index: int | None) -> int:
        if point_at(self.points, index) is None:
            raise UnknownLocation(f"location {index} has no coordinates")
        assert index is not None  # point_at found it
        return index

    def _point(self, index: int) -> Point:
        point = point_at(self.points, index)
        assert point is not None  # _known checked it
        return point


def point_at(points: Points, index: int | None) -> Point | None:
    """The ``(latitude, longitude)`` of location ``index`` in ``points``, None when unknown."""
    if index is None or index < 0:
        return None
    try:
        point = points[index]
    except (IndexError, KeyError):
        return None
    if point is None:
        return None
    if isinstance(point, Location):
        return (point.latitude, point.longitude)
    return (float(point[0]), float(point[1]))


def _speed(mode: TravelMode | str) -> float:
    try:
        return TRAVEL_SPEED_KMH[TravelMode(mode)]
    except ValueError:
        raise ValueError(f"unknown travel mode {mode!r}: one of {', '.join(m.value for m in TravelMode)}") from None
