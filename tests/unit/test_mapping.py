import math

import pytest

from handlers.operations.mapping import fit_to_view, plane_from_travel_matrix, project_lat_lon


def test_a_travel_matrix_becomes_a_map_where_travel_times_are_distances():
    grid = [(x, y) for y in range(3) for x in range(3)]
    matrix = [[10 * math.dist(a, b) for b in grid] for a in grid]
    plane = plane_from_travel_matrix(matrix)
    for i, a in enumerate(grid):
        for j, b in enumerate(grid):
            assert math.dist(plane[i], plane[j]) == pytest.approx(10 * math.dist(a, b), abs=1e-6)


def test_points_fill_the_drawing_and_keep_north_up():
    fitted = fit_to_view(project_lat_lon({"south": (32.05, 118.78), "north": (32.07, 118.78)}))
    assert fitted["north"][1] < fitted["south"][1]
    assert all(0 <= v <= 1 for p in fitted.values() for v in p)


def test_an_empty_area_draws_nothing():
    assert plane_from_travel_matrix([]) == [] and fit_to_view({}) == {}
