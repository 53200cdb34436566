"""Travel times over a real road network with Valhalla, for centers that configure one.

The embedded default is ``handlers.register.geo.CoordinateTravelTimes`` (geodesic × circuity ÷
speed). With a road network, ``ValhallaTravelTimes`` answers the same ``TravelTimes`` protocol
(``minutes(origin, destination)`` over location indexes, ``for_mode(mode)`` per caregiver)
from Valhalla's time-distance matrix on OpenStreetMap data, through its Python bindings
(PyPI ``pyvalhalla-weekly``, the build of the Valhalla project that ships CPython 3.11 wheels
with the ``valhalla_build_tiles`` executable; nothing is downloaded at run time).

* ``build_graph(pbf, folder)`` cuts routing tiles from an OpenStreetMap ``.osm.pbf`` extract
  into ``folder`` and returns the Valhalla configuration file (about 1 s for a city-centre
  extract of 0.7 MB; see docs/NOTES.md "Road-network travel times").
* Travel modes map to Valhalla costings: ``walk`` → ``pedestrian`` (Valhalla's default
  5.1 km/h), ``e-bike`` → ``bicycle`` with ``cycling_speed`` 17 km/h and ``car`` → ``auto``
  (speeds from the road classes and OSM speed limits). The e-bike speed is careline's, with
  its source in ``handlers.register.services``.
* One request per origin computes its row to every known location (cached); a row that
  Valhalla refuses (a point off the network or beyond its distance limit) is retried pair by
  pair so one bad point does not hide the others. A pair with no route raises ``NoRoute``; an
  unknown location raises ``UnknownLocation``: never 0 minutes.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from handlers.register.geo import Points, UnknownLocation, point_at
from handlers.register.services import TravelMode

COSTINGS: dict[TravelMode, tuple[str, dict[str, Any]]] = {
    TravelMode.WALK: ("pedestrian", {}),
    TravelMode.E_BIKE: ("bicycle", {"bicycle_type": "hybrid", "cycling_speed": 17.0}),
    TravelMode.CAR: ("auto", {}),
}


class RoadNetworkError(RuntimeError):
    """Valhalla could not build a graph or answer a request; the message carries its reason."""


class NoRoute(RoadNetworkError, LookupError):
    """No route between two known points (off the network, or beyond Valhalla's limits)."""


def build_graph(pbf: Path, folder: Path) -> Path:
    """Build Valhalla routing tiles from the OpenStreetMap extract ``pbf`` into ``folder``
    (created if missing) and return the path of the Valhalla configuration (JSON) that
    ``ValhallaTravelTimes`` opens. Raises ``RoadNetworkError`` with the tool's last output."""
    import valhalla
    from valhalla._scripts import PYVALHALLA_BIN_DIR

    if not Path(pbf).is_file():
        raise RoadNetworkError(f"no OpenStreetMap extract at {pbf}")
    tiles = Path(folder) / "tiles"
    tiles.mkdir(parents=True, exist_ok=True)
    config = valhalla.get_config(tile_extract="", tile_dir=str(tiles), verbose=False)
    config_path = Path(folder) / "valhalla.json"
    config_path.write_text(json.dumps(config, indent=1))
    done = subprocess.run(
        [str(PYVALHALLA_BIN_DIR / "valhalla_build_tiles"), "-c", str(config_path), str(pbf)],
        capture_output=True,
        text=True,
        check=False,
        cwd=folder,
    )  # it writes duplicateways.txt
    if done.returncode != 0 or not any(tiles.rglob("*.gph")):
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise RoadNetworkError(f"valhalla_build_tiles failed ({done.returncode}): {' / '.join(tail)}")
    return config_path


@dataclass(frozen=True)
class ValhallaTravelTimes:
    """Road travel minutes between location indexes.

    ``config`` the Valhalla configuration (from ``build_graph``); ``points[i]`` the ``(lat,
    lon)`` or ``Location`` of index ``i`` or None; ``mode`` the travel mode (``e-bike`` by
    default, as ``CoordinateTravelTimes``).
    """

    config: Path
    points: Points
    mode: TravelMode | str = TravelMode.E_BIKE
    _actor: Any = field(default=None, repr=False, compare=False)
    _seconds: dict[tuple[str, int, int], float] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        TravelMode(self.mode)
        if self._actor is None:
            from valhalla import Actor

            object.__setattr__(self, "_actor", Actor(str(self.config)))

    def minutes(self, origin: int | None, destination: int | None) -> float:
        """Minutes by road from ``origin`` to ``destination`` (may differ from the way back:
        one-way streets). Raises ``UnknownLocation`` or ``NoRoute``."""
        i, j = self._known(origin), self._known(destination)
        if i == j:
            return 0.0
        costing = COSTINGS[TravelMode(self.mode)][0]
        if (costing, i, j) not in self._seconds:
            self._row(i, [j])
        seconds = self._seconds[(costing, i, j)]
        if seconds < 0:
            raise NoRoute(f"no {costing} route from location {i} to location {j}")
        return seconds / 60.0

    def for_mode(self, mode: TravelMode | str) -> ValhallaTravelTimes:
        """The same graph, points and cache for ``mode``."""
        return ValhallaTravelTimes(self.config, self.points, mode, self._actor, self._seconds)

    def _row(self, origin: int, wanted: list[int]) -> None:
        costing, options = COSTINGS[TravelMode(self.mode)]
        known = range(len(self.points)) if isinstance(self.points, Sequence) else list(self.points)
        targets = [k for k in known if point_at(self.points, k) is not None and k != origin]
        try:
            self._store(costing, origin, targets, self._matrix(costing, options, origin, targets))
        except RuntimeError:
            for target in wanted:  # one bad point refuses the whole row: ask for this pair alone
                try:
                    self._store(costing, origin, [target], self._matrix(costing, options, origin, [target]))
                except RuntimeError as exc:
                    raise NoRoute(f"no {costing} route from location {origin} to location {target}: {exc}") from None

    def _matrix(self, costing: str, options: dict[str, Any], origin: int, targets: list[int]) -> list[Any]:
        request = {
            "sources": [self._where(origin)],
            "targets": [self._where(t) for t in targets],
            "costing": costing,
            "costing_options": {costing: options} if options else {},
        }
        answer = self._actor.matrix(request)
        return list(answer["sources_to_targets"][0])

    def _store(self, costing: str, origin: int, targets: list[int], cells: list[Any]) -> None:
        for target, cell in zip(targets, cells, strict=True):
            seconds = cell.get("time") if isinstance(cell, dict) else None
            self._seconds[(costing, origin, target)] = float(seconds) if seconds is not None else -1.0

    def _where(self, index: int) -> dict[str, float]:
        point = point_at(self.points, index)
        assert point is not None  # _known checked it
        return {"lat": point[0], "lon": point[1]}

    def _known(self, index: int | None) -> int:
        if index is None or point_at(self.points, index) is None:
            raise UnknownLocation(f"location {index} has no coordinates")
        return index
