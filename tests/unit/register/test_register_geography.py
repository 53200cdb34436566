"""Travel from coordinates and placing Chinese addresses without coordinates."""

from __future__ import annotations

import pytest

from handlers.dispatch.scheduling import TravelTimes
from handlers.register.addresses import AddressNotPlaced, parse_address, place_address
from handlers.register.geo import (
    DEFAULT_CIRCUITY,
    CoordinateTravelTimes,
    ModalTravelTimes,
    UnknownLocation,
    distance_km,
    travel_minutes,
)
from handlers.register.records import Location, Provenance

GUANQIAN = (31.3100, 120.6200)  # 观前街, Suzhou
PINGJIANG = (31.3213, 120.6290)  # 平江路
SUZHOU_STATION = (31.3300, 120.6100)


def test_the_geodesic_between_two_points_in_suzhou_is_about_1_5_km():
    # by hand: 0.0113 deg of latitude x 110.9 km = 1.253 km; 0.009 deg of longitude x 95.1 km (at 31.3 N) = 0.856 km
    assert distance_km(GUANQIAN, PINGJIANG) == pytest.approx((1.253**2 + 0.856**2) ** 0.5, abs=0.005)
    assert distance_km(GUANQIAN, GUANQIAN) == 0


def test_minutes_are_distance_times_circuity_over_the_mode_speed():
    km = distance_km(GUANQIAN, PINGJIANG)
    assert travel_minutes(GUANQIAN, PINGJIANG, "walk") == pytest.approx(km * DEFAULT_CIRCUITY / 4.7 * 60)
    assert travel_minutes(GUANQIAN, PINGJIANG, "e-bike", circuity=1.0) == pytest.approx(km / 17.0 * 60)
    with pytest.raises(ValueError, match="unknown travel mode 'horse'"):
        travel_minutes(GUANQIAN, PINGJIANG, "horse")


def test_coordinate_travel_times_serve_dispatch_by_location_index():
    travel: TravelTimes = CoordinateTravelTimes([GUANQIAN, PINGJIANG, SUZHOU_STATION])
    assert travel.minutes(0, 1) == pytest.approx(travel_minutes(GUANQIAN, PINGJIANG, "e-bike"))
    assert travel.minutes(0, 1) == travel.minutes(1, 0)
    assert travel.minutes(2, 2) == 0


def test_a_walking_caregiver_takes_longer_than_one_on_an_e_bike_or_in_a_car():
    travel = CoordinateTravelTimes([GUANQIAN, PINGJIANG])
    assert isinstance(travel, ModalTravelTimes)
    walk, bike, car = (travel.for_mode(m).minutes(0, 1) for m in ("walk", "e-bike", "car"))
    assert walk > bike > car > 0
    assert walk == pytest.approx(bike * 17.0 / 4.7)


def test_an_unknown_location_is_never_zero_minutes_away():
    travel = CoordinateTravelTimes([GUANQIAN, None])
    for origin, destination in ((0, 1), (1, 0), (0, None), (None, 0), (0, 7), (0, -1)):
        with pytest.raises(UnknownLocation):
            travel.minutes(origin, destination)


def test_an_approximate_location_is_used_as_given():
    centroid = Location(31.33565, 120.617369, Provenance.APPROXIMATE, "district")
    travel = CoordinateTravelTimes([GUANQIAN, centroid])
    assert travel.minutes(0, 1) == pytest.approx(travel_minutes(GUANQIAN, (31.33565, 120.617369), "e-bike"))


def test_a_circuity_below_one_is_refused():
    with pytest.raises(ValueError, match="circuity"):
        CoordinateTravelTimes([GUANQIAN], circuity=0.9)


def test_a_full_address_parses_into_five_levels_and_the_rest():
    parsed = parse_address("江苏省苏州市姑苏区平江街道平江路社区钮家巷3号")
    assert (parsed.province, parsed.city, parsed.district, parsed.street, parsed.community, parsed.detail) == (
        "江苏省",
        "苏州市",
        "姑苏区",
        "平江街道",
        "平江路社区",
        "钮家巷3号",
    )
    assert parsed.region_path == "江苏省/苏州市/姑苏区/平江街道/平江路社区"


def test_a_short_address_gets_its_province_and_city_from_the_district():
    assert parse_address("姑苏区双塔街道定慧寺巷12号").region_path == "江苏省/苏州市/姑苏区/双塔街道"
    assert parse_address("吴中区木渎镇天平村5组").region_path == "江苏省/苏州市/吴中区/木渎镇/天平村"
    assert parse_address("上海市徐汇区湖南路街道武康路100弄").region_path == "上海市/上海市/徐汇区/湖南路街道"


def test_a_housing_estate_name_is_not_taken_for_a_township():
    assert parse_address("苏州市姑苏区江南水乡花园3幢").region_path == "江苏省/苏州市/姑苏区"
    assert parse_address("苏州市姑苏区南园新村12幢").street == ""


def test_the_centers_region_decides_a_district_name_found_in_two_cities():
    assert parse_address("朝阳区望京街道").city == "长春市"  # cpca's first reading
    assert parse_address("朝阳区望京街道", hint="北京市").region_path == "北京市/北京市/朝阳区/望京街道"


def test_an_address_is_placed_at_its_district_centroid_marked_approximate():
    placed = place_address("苏州市姑苏区平江街道钮家巷3号")
    assert placed.location == Location(31.33565, 120.617369, Provenance.APPROXIMATE, "district")
    assert distance_km((placed.location.latitude, placed.location.longitude), PINGJIANG) < 5


def test_an_address_naming_only_a_city_or_province_is_placed_more_coarsely():
    assert place_address("苏州市").location.precision == "city"
    assert place_address("江苏省").location.precision == "province"


def test_an_address_with_no_known_division_is_refused():
    with pytest.raises(AddressNotPlaced, match="no province, city or district recognised"):
        place_address("平江路12号")
