import pytest

from handlers.operations.regions import InvalidRegion, areas_within, child_regions, narrower, normalise, within

GULOU = "江苏省/南京市/鼓楼区"
AREAS = {
    "xikang": f"{GULOU}/宁海路街道/西康社区",
    "qingyun": f"{GULOU}/湖南路街道/青云巷社区",
    "meiyuan": "江苏省/南京市/玄武区/梅园新村街道/大悲巷社区",
}


def test_a_district_prefix_covers_its_communities_and_nothing_else():
    assert areas_within(AREAS, AREAS, GULOU) == {"xikang", "qingyun"}
    assert areas_within(AREAS, AREAS, "") == set(AREAS)


def test_prefixes_match_whole_names_not_the_start_of_a_name():
    assert within("江苏省/南京市/鼓楼区", "江苏省/南京市")
    assert not within("江苏省/南京市区", "江苏省/南京市")


def test_an_area_never_placed_is_seen_only_from_the_root():
    assert areas_within(AREAS, ["nowhere"], GULOU) == set()
    assert areas_within(AREAS, ["nowhere"], "") == {"nowhere"}


def test_drill_down_offers_the_next_level():
    assert child_regions(AREAS.values(), GULOU) == [f"{GULOU}/宁海路街道", f"{GULOU}/湖南路街道"]
    assert child_regions(AREAS.values(), "") == ["江苏省"]


def test_an_operator_may_narrow_the_view_but_not_leave_the_scope():
    assert narrower(GULOU, None) == GULOU
    assert narrower(GULOU, f"{GULOU}/湖南路街道/") == f"{GULOU}/湖南路街道"
    with pytest.raises(PermissionError):
        narrower(GULOU, "江苏省/南京市/玄武区")


def test_a_path_deeper_than_community_or_with_gaps_is_refused():
    with pytest.raises(InvalidRegion):
        normalise("a/b/c/d/e/f")
    with pytest.raises(InvalidRegion):
        normalise("江苏省//鼓楼区")
