"""EVV checks at check-in and check-out: what an operator finds to review."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from geopy.distance import geodesic

from handlers.visits.evv import EvvFlagCode, EvvPolicy, EvvRecord, verify_check_in, verify_check_out
from tests.unit.factories import at

HOME = (32.0617, 118.7778)  # an elder's home in Gulou, Nanjing
LANDLINE = "+86 25 8331 2045"
POLICY = EvvPolicy()
PLANNED = at(60)


def metres_north(metres: float) -> tuple[float, float]:
    p = geodesic(meters=metres).destination(HOME, bearing=0)
    return p.latitude, p.longitude


def codes(flags) -> list[str]:
    return [f.code for f in flags]


def gps_check_in(position, minutes=60.0):
    return verify_check_in("app_gps", at(minutes), PLANNED, position, HOME, None, [LANDLINE], POLICY)


def test_an_app_check_in_200_metres_from_home_is_flagged_outside_the_geofence():
    flags = gps_check_in(metres_north(200))
    assert codes(flags) == [EvvFlagCode.OUTSIDE_GEOFENCE]
    assert "200 m" in flags[0].detail


def test_an_app_check_in_100_metres_from_home_verifies():
    assert gps_check_in(metres_north(100)) == []


def test_the_geofence_follows_the_policy():
    tight = EvvPolicy(geofence_metres=50)
    flags = verify_check_in("app_gps", PLANNED, PLANNED, metres_north(100), HOME, None, [], tight)
    assert codes(flags) == [EvvFlagCode.OUTSIDE_GEOFENCE]


def test_clocking_in_20_minutes_early_is_flagged():
    assert codes(gps_check_in(HOME, minutes=40)) == [EvvFlagCode.TOO_EARLY]


def test_clocking_in_10_minutes_early_or_late_verifies():
    assert gps_check_in(HOME, minutes=50) == []
    assert gps_check_in(HOME, minutes=75) == []


def test_an_app_check_in_without_a_position_is_flagged_missing_location():
    assert codes(gps_check_in(None)) == [EvvFlagCode.MISSING_LOCATION]


def test_an_sms_check_in_from_the_caregivers_registered_phone_on_time_verifies():
    mobile = "+86 138 0000 0012"
    assert verify_check_in("sms_code", PLANNED, PLANNED, None, HOME, "+8613800000012", [mobile], POLICY) == []


def test_an_sms_check_in_from_another_phone_is_flagged_wrong_phone():
    flags = verify_check_in("sms_code", PLANNED, PLANNED, None, HOME, "+8613900001111", ["+8613800000012"], POLICY)
    assert codes(flags) == [EvvFlagCode.WRONG_PHONE] and "caregiver" in flags[0].detail


def test_an_sms_check_in_too_early_is_flagged_even_from_the_right_phone():
    early = PLANNED - timedelta(minutes=40)
    flags = verify_check_in("sms_code", early, PLANNED, None, HOME, "+8613800000012", ["+8613800000012"], POLICY)
    assert codes(flags) == [EvvFlagCode.TOO_EARLY]


def test_a_landline_call_from_the_elders_registered_phone_verifies_whatever_its_formatting():
    assert verify_check_in("landline", PLANNED, PLANNED, None, HOME, "+86-25-83312045", [LANDLINE], POLICY) == []


def test_a_landline_call_from_an_unregistered_number_is_flagged_wrong_phone():
    flags = verify_check_in("landline", PLANNED, PLANNED, None, HOME, "+86 139 0000 1111", [LANDLINE], POLICY)
    assert codes(flags) == [EvvFlagCode.WRONG_PHONE]
    assert "+86 139 0000 1111" in flags[0].detail


def test_a_landline_call_with_withheld_caller_id_is_flagged_wrong_phone():
    flags = verify_check_in("landline", PLANNED, PLANNED, None, HOME, None, [LANDLINE], POLICY)
    assert codes(flags) == [EvvFlagCode.WRONG_PHONE]


def test_an_early_check_in_far_from_home_gets_both_flags():
    flags = gps_check_in(metres_north(500), minutes=30)
    assert set(codes(flags)) == {EvvFlagCode.TOO_EARLY, EvvFlagCode.OUTSIDE_GEOFENCE}


def test_an_unknown_check_in_method_is_an_error_not_a_flag():
    with pytest.raises(ValueError, match="fax"):
        verify_check_in("fax", PLANNED, PLANNED, None, HOME, None, [], POLICY)


MEAL_DONE = {"delivered": "done", "eaten": "done"}


def test_a_visit_under_half_its_planned_time_is_flagged_short():
    flags = verify_check_out(at(60), at(60 + 14), 30, "meal", MEAL_DONE, POLICY)
    assert codes(flags) == [EvvFlagCode.SHORT_VISIT]
    assert "14 min of 30 min" in flags[0].detail


def test_a_visit_of_half_its_planned_time_verifies():
    assert verify_check_out(at(60), at(75), 30, "meal", MEAL_DONE, POLICY) == []


def test_a_bath_without_the_skin_check_reported_is_flagged_incomplete():
    flags = verify_check_out(at(60), at(100), 40, "bathing", {"assist": "done"}, POLICY)
    assert codes(flags) == [EvvFlagCode.INCOMPLETE_CHECKLIST]
    assert "skin_check" in flags[0].detail


def test_a_task_the_elder_refused_counts_as_reported():
    assert verify_check_out(at(60), at(100), 40, "bathing", {"assist": "done", "skin_check": "refused"}, POLICY) == []


def test_a_service_without_a_checklist_is_not_checked_for_tasks():
    assert verify_check_out(at(60), at(100), 40, "haircut", {}, POLICY) == []


def test_a_task_outcome_other_than_done_or_refused_is_an_error():
    with pytest.raises(ValueError, match="done or refused"):
        verify_check_out(at(60), at(100), 40, "meal", {"delivered": "maybe"}, POLICY)


def test_an_evv_record_needs_a_location_and_ends_after_it_starts():
    record = EvvRecord("meal", "e1", date(2026, 11, 30), "cg1", at(60), at(90), location_index=3)
    assert record.compliant
    with pytest.raises(ValueError, match="location"):
        EvvRecord("meal", "e1", date(2026, 11, 30), "cg1", at(60), at(90))
    with pytest.raises(ValueError, match="ends before"):
        EvvRecord("meal", "e1", date(2026, 11, 30), "cg1", at(60), at(60) - timedelta(minutes=1), position=HOME)


def test_the_shipped_config_holds_the_documented_evv_defaults():
    from config.evaluation import load_evaluation_config

    assert load_evaluation_config().evv == EvvPolicy()
