"""Positions for the operator's map, drawn without tiles (the center may have no internet).

Where elders have latitude/longitude, points are projected equirectangularly
around the mean latitude (good to well under 1 % across a city). Where only a
``location_index`` into the area's travel-time matrix is known (UHHC
instances), a plane is recovered from the matrix by classical multidimensional
scaling (Torgerson 1952, Psychometrika 17(4)): travel minutes become map
distances, so nearby homes are drawn near each other. Output coordinates are
fractions of the drawing, 0..1, y growing downwards.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

Point = tuple[float, float]


def plane_from_travel_matrix(matrix: Sequence[Sequence[float]]) -> list[Point]:
    """A 2-D embedding of the locations of a travel-time matrix (minutes); an
    asymmetric matrix is symmetrised first. Empty for an empty matrix."""
    d = np.asarray(matrix, dtype=float)
    n = d.shape[0] if d.ndim == 2 else 0
    if n == 0:
        return []
    if n == 1:
        return [(0.0, 0.0)]
    d = (d + d.T) / 2.0
    centre = np.eye(n) - np.full((n, n), 1.0 / n)
    b = -0.5 * centre @ (d**2) @ centre
    values, vectors = np.linalg.eigh(b)
    top = np.argsort(values)[::-1][:2]
    coords = vectors[:, top] * np.sqrt(np.clip(values[top], 0.0, None))
    return [(float(x), float(y)) for x, y in coords]


def project_lat_lon(points: Mapping[str, tuple[float, float]]) -> dict[str, Point]:
    """Plane (east, north) in kilometres from {id: (latitude, longitude)} degrees."""
    if not points:
        return {}
    lat0 = math.radians(sum(lat for lat, _ in points.values()) / len(points))
    km = 6371.0 * math.pi / 180.0
    return {k: (lon * km * math.cos(lat0), lat * km) for k, (lat, lon) in points.items()}


def fit_to_view(points: Mapping[str, Point], margin: float = 0.06, flip_y: bool = True) -> dict[str, Point]:
    """Scale points uniformly into the unit square (keeping proportions), with a
    ``margin`` fraction on each side; north up when ``flip_y``."""
    if not points:
        return {}
    xs = [p[0] for p in points.values()]
    ys = [p[1] for p in points.values()]
    span = max(max(xs) - min(xs), max(ys) - min(ys)) or 1.0
    scale = (1.0 - 2 * margin) / span
    x_pad = (1.0 - (max(xs) - min(xs)) * scale) / 2
    y_pad = (1.0 - (max(ys) - min(ys)) * scale) / 2
    out = {}
    for k, (x, y) in points.items():
        fx = x_pad + (x - min(xs)) * scale
        fy = y_pad + (y - min(ys)) * scale
        out[k] = (round(fx, 4), round(1.0 - fy if flip_y else fy, 4))
    return out
