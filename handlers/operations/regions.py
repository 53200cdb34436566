"""The region hierarchy: province → city → district → street → community.

China's civil administration nests 省 / 市 / 区(县) / 街道(乡镇) / 社区(村); a service
area sits at one node of that tree and is written as a path of names joined by
``/``, e.g. ``江苏省/南京市/鼓楼区/宁海路街道/西康社区``. Operators are scoped to a
prefix of such a path and every statistic filters by one; ``""`` is the root
(everywhere). Matching is by whole segments, so ``江苏省/南京市`` covers
``江苏省/南京市/鼓楼区`` but not ``江苏省/南京市区``.
"""

from __future__ import annotations

from typing import Iterable, Mapping

LEVELS = ("province", "city", "district", "street", "community")
SEPARATOR = "/"


class InvalidRegion(ValueError):
    """A region path that is empty in the middle, too deep, or padded with spaces."""


def parse(path: str) -> tuple[str, ...]:
    """The segments of ``path`` (``""`` gives ``()``); raises ``InvalidRegion``."""
    if path == "":
        return ()
    parts = tuple(path.split(SEPARATOR))
    if len(parts) > len(LEVELS):
        raise InvalidRegion(f"at most {len(LEVELS)} levels ({' / '.join(LEVELS)}), got {len(parts)}")
    if any(p == "" or p != p.strip() for p in parts):
        raise InvalidRegion(f"empty or padded segment in {path!r}")
    return parts


def normalise(path: str) -> str:
    """``path`` stripped of outer spaces and slashes, validated."""
    cleaned = path.strip().strip(SEPARATOR)
    parse(cleaned)
    return cleaned


def within(path: str, prefix: str) -> bool:
    """True when ``path`` lies in the region ``prefix`` (segment-wise; ``""`` holds all)."""
    if prefix == "":
        return True
    return path == prefix or path.startswith(prefix + SEPARATOR)


def areas_within(area_regions: Mapping[str, str], areas: Iterable[str], prefix: str) -> set[str]:
    """The service areas of ``areas`` inside ``prefix``. An area with no region row is
    visible only at the root: a scoped operator never sees what was never placed."""
    if prefix == "":
        return set(areas)
    return {a for a in areas if a in area_regions and within(area_regions[a], prefix)}


def child_regions(paths: Iterable[str], prefix: str) -> list[str]:
    """The next level below ``prefix`` that holds any of ``paths``, sorted (for drill-down)."""
    depth = len(parse(prefix))
    children = {SEPARATOR.join(parse(p)[: depth + 1]) for p in paths if within(p, prefix) and len(parse(p)) > depth}
    return sorted(children)


def narrower(scope: str, wanted: str | None) -> str:
    """The region to show: ``wanted`` if it lies within the operator's ``scope``, else
    ``scope`` itself. Raises ``PermissionError`` for a region outside the scope."""
    if not wanted:
        return scope
    wanted = normalise(wanted)
    if not within(wanted, scope):
        raise PermissionError(f"region {wanted!r} is outside the operator's scope")
    return wanted
