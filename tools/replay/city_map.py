"""The map of a city day as a PNG (matplotlib, drawn off screen): the providers' offices, each
elder's home coloured by how the request ended, and every caregiver's route as it happened
(home base -> visits in check-in order -> home base)."""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib.figure import Figure

from handlers.datasets.city import CityDay
from handlers.evaluation.city_summary import Leg

STATE_COLOURS = {"completed": "#1a9850", "failed": "#d73027", "dead-letter": "#7b3294"}
OTHER_COLOUR = "#fdae61"
ATTRIBUTION = (
    "Data: NYC Department for the Aging contracted providers; NYC 311 service requests "
    "(NYC Open Data). Travel: geodesic x 1.3 / mode speed."
)


def draw_city_map(
    day: CityDay,
    final: dict[str, str],
    legs: tuple[Leg, ...],
    points: dict[int, tuple[float, float]],
    path: Path,
    title: str,
) -> Path:
    """Write the map to ``path`` (PNG, about 1500 px square) and return it."""
    fig = Figure(figsize=(10, 10), dpi=160)
    ax = fig.add_subplot()
    for leg in legs:
        a, b = points.get(leg.origin or -1), points.get(leg.destination or -1)
        if a is not None and b is not None:
            ax.plot([a[1], b[1]], [a[0], b[0]], color="#4575b4", linewidth=0.5, alpha=0.45, zorder=1)
    homes = {e.elder_id: (e.latitude, e.longitude, e.location_provenance) for e in day.elders}
    groups: dict[str, list[tuple[float, float]]] = {}
    for s in day.submissions:
        lat, lon, _ = homes[s.record["elder_id"]]
        state = final.get(s.record["request_id"], "not final")
        groups.setdefault(state, []).append((lat or 0.0, lon or 0.0))
    for state, spots in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        ax.scatter(
            [p[1] for p in spots],
            [p[0] for p in spots],
            s=10,
            color=STATE_COLOURS.get(state, OTHER_COLOUR),
            label=f"elder's request {state} ({len(spots)})",
            zorder=2,
        )
    offices = [(p.latitude or 0.0, p.longitude or 0.0) for p in day.providers]
    ax.scatter(
        [p[1] for p in offices],
        [p[0] for p in offices],
        marker="^",
        s=46,
        color="black",
        label=f"provider office ({len(offices)})",
        zorder=3,
    )
    ax.plot([], [], color="#4575b4", linewidth=1, label=f"caregiver route legs ({len(legs)})")
    lats = [p[0] for spots in groups.values() for p in spots] + [p[0] for p in offices]
    ax.set_aspect(1 / math.cos(math.radians(sum(lats) / len(lats))))
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    fig.text(0.01, 0.005, ATTRIBUTION, fontsize=7, color="#555555")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", bbox_inches="tight")
    return path
