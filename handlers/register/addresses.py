"""Placing an elder (or caregiver, provider) from a Chinese address when the file has no coordinates.

``parse_address`` splits an address into province / city / district / street / community and
the rest; ``place_address`` puts it at the point cpca lists for the finest of province, city and
district it names (a district's centroid; for a province its capital), marked ``approximate`` with the level as ``precision``. Streets and
communities have no centroid offline, so a district is the finest placement; travel to an
approximate point is an estimate and the card says so.

Province, city and district come from ``cpca`` (Chinese Province City Area mapper, MIT; its
table ``adcodes.csv`` holds the national administrative division codes with a longitude and
latitude per division; it runs offline). The street (``…街道``, ``…镇``, ``…乡``) and
community (``…社区``, ``…村``, ``…居委会``) are read from what follows the district by those
suffixes, the forms of 乡级 and 村级 names in the civil-affairs division system; a name such as
``江南水乡花园`` or ``南园新村`` (housing estates) is not taken for a township or village.

Municipalities (北京, 上海, 天津, 重庆) have no separate city: the city level repeats the
province (``上海市/上海市/徐汇区``), as cpca's ``市辖区`` means. County-level cities directly under
a province (湖北 仙桃市) stand at both city and district level.

A district name found in two cities (朝阳区: 北京 and 长春) is resolved by ``hint``, the
center's own region (``江苏省/苏州市``): an address not placed within the hint is read again
with the hint in front, and that reading wins when it lies within the hint.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from handlers.operations import regions
from handlers.register.records import Location, Provenance

_ESTATE = "(?!花园|小区|苑|家园|公寓|大厦|广场|新村)"  # 江南水乡花园 is an estate, not a township
_STREET = re.compile(rf"^(?P<street>[^\d\s,，]{{1,12}}?(?:街道|镇{_ESTATE}|乡{_ESTATE}))(?P<rest>.*)$")
_COMMUNITY = re.compile(r"^(?P<community>[^\d\s,，]{1,14}?(?:社区|(?<!新)村|居委会))(?P<rest>.*)$")
_SAME_AS_PROVINCE = ("市辖区", "县")
_CITY_IS_DISTRICT = ("省直辖县级行政区划", "自治区直辖县级行政区划")


class AddressNotPlaced(ValueError):
    """An address in which no province, city or district is recognised."""


@dataclass(frozen=True)
class ParsedAddress:
    """The parts of an address (``""`` when absent) and the 6-digit division code found."""

    province: str = ""
    city: str = ""
    district: str = ""
    street: str = ""
    community: str = ""
    detail: str = ""
    adcode: str = ""

    @property
    def region_path(self) -> str:
        """The levels present from the province down, joined by ``/``, stopping at the first gap."""
        levels = []
        for part in (self.province, self.city, self.district, self.street, self.community):
            if not part:
                break
            levels.append(part)
        return regions.SEPARATOR.join(levels)


@dataclass(frozen=True)
class Placement:
    """Where an address was placed (``location.provenance`` is ``approximate``)."""

    location: Location
    address: ParsedAddress


def parse_address(text: str, hint: str = "") -> ParsedAddress:
    """The parts of the Chinese address ``text``; ``hint`` is the center's region path
    (e.g. ``江苏省/苏州市``) used for names found in several places. Never raises: parts
    not recognised are ``""``."""
    text = unicodedata.normalize("NFKC", text or "").strip()
    parsed = _parse(text)
    if hint and not regions.within(parsed.region_path, regions.normalise(hint)):
        hinted = _parse("".join(regions.parse(regions.normalise(hint))) + text)
        if regions.within(hinted.region_path, regions.normalise(hint)):
            return hinted
    return parsed


def place_address(text: str, hint: str = "") -> Placement:
    """``text`` placed at the centroid of the finest division it names (district, else city,
    else province). Raises ``AddressNotPlaced`` when none is recognised."""
    parsed = parse_address(text, hint)
    if not parsed.adcode:
        raise AddressNotPlaced(
            "no province, city or district recognised in the address; "
            "give coordinates or write the address with its district (e.g. 苏州市姑苏区…)"
        )
    code = parsed.adcode
    level, prefix = (
        ("district", code)
        if parsed.district
        else ("city", code[:4] + "00")
        if parsed.city
        else ("province", code[:2] + "0000")
    )
    centroid = _centroids().get(prefix)
    if centroid:
        return Placement(Location(centroid[0], centroid[1], Provenance.APPROXIMATE, level), parsed)
    raise AddressNotPlaced(f"no centroid known for division {code}")


def _parse(text: str) -> ParsedAddress:
    import cpca  # imported here: its division table loads on first use (about half a second)

    row = cpca.transform([text]).iloc[0]
    province, city, district, rest, adcode = (_text(row[k]) for k in ("省", "市", "区", "地址", "adcode"))
    if city in _SAME_AS_PROVINCE:
        city = province
    elif city in _CITY_IS_DISTRICT:
        city = district
    street = community = ""
    if district and (found := _STREET.match(rest)):
        street, rest = found["street"], found["rest"]
        if found := _COMMUNITY.match(rest):
            community, rest = found["community"], found["rest"]
    return ParsedAddress(province, city, district, street, community, rest.strip(), adcode)


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


@lru_cache(maxsize=1)
def _centroids() -> dict[str, tuple[float, float]]:
    """6-digit division code -> (latitude, longitude) from cpca's ``adcodes.csv``."""
    import cpca

    return {
        code[:6]: (float(info.latitude), float(info.longitude))
        for code, info in cpca.ad_2_addr_dict.items()
        if info.latitude and info.longitude
    }
