"""Dispatch reads the rota: never an offer outside a caregiver's shift, leave respected,
the daily maximum respected, overtime only as the policy allows, travel at each
caregiver's own speed from coordinates, and an unknown place is never 0 minutes away."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from handlers.dispatch import offers
from handlers.dispatch.scheduling import DispatchPolicy, MatrixTravelTimes, best_insertion, rank_caregivers
from handlers.dispatch.shifts import on_shift
from handlers.model import Booking, Caregiver, CareRequest, OfferStatus, RequestStatus
from handlers.operations.queues import Activity, caregiver_activity
from handlers.register.geo import CoordinateTravelTimes
from handlers.register.rota import format_rota, parse
from handlers.simulation.memory import InMemoryUnitOfWork
from tests.unit.factories import AREA, line_travel

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2026, 11, 30, tzinfo=SHANGHAI)  # a Monday


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """Monday 30 November 2026 + ``day`` days, at ``hour``:``minute`` Shanghai time, in UTC."""
    return (MONDAY + timedelta(days=day, hours=hour, minutes=minute)).astimezone(UTC)


def rota_caregiver(cid: str, rota: str, home: int = 0, **kw) -> Caregiver:
    text = format_rota(parse(rota, "Asia/Shanghai"))
    return Caregiver(cid, "p1", AREA, "meal bathing", home, None, None, rota=text, time_zone="Asia/Shanghai", **kw)


def fixed_caregiver(cid: str, start: datetime, end: datetime, home: int = 0) -> Caregiver:
    return Caregiver(cid, "p1", AREA, "meal bathing", home, start, end)


def visit_request(rid: str, start: datetime, minutes: float = 60, location: int = 1, **kw) -> CareRequest:
    return CareRequest(
        rid,
        f"e{location}",
        "meal",
        30,
        start,
        start + timedelta(minutes=minutes),
        AREA,
        start,
        location_index=location,
        **kw,
    )


def test_a_morning_caregiver_is_not_ranked_for_an_evening_visit_nor_for_the_next_morning():
    """The issue's example: an 08:00-12:00 caregiver was ranked for a 20:00 visit and for the next morning."""
    morning = fixed_caregiver("cg-am", local(0, 8), local(0, 12))
    travel = line_travel()
    for rid, start in (("evening", local(0, 20)), ("next-morning", local(1, 9))):
        ranking = rank_caregivers(
            visit_request(rid, start), [morning], {}, travel, local(0, 7), DispatchPolicy(), set()
        )
        assert ranking.candidates == ()
        assert ranking.exclusions["cg-am"] == "off shift during the time window"


def test_the_same_caregiver_on_a_weekday_rota_is_offered_the_next_morning_inside_its_shift():
    morning = rota_caregiver("cg-am", "mon-fri 08:00-12:00")
    travel = line_travel()
    evening = best_insertion(visit_request("r", local(0, 20)), morning, [], travel, local(0, 7), DispatchPolicy())
    assert evening == "off shift during the time window"
    tomorrow = best_insertion(visit_request("r", local(1, 9)), morning, [], travel, local(0, 21), DispatchPolicy())
    assert not isinstance(tomorrow, str)
    assert tomorrow.start == local(1, 9)


def test_no_offer_is_ever_made_outside_a_shift_and_the_request_goes_to_an_operator():
    uow = InMemoryUnitOfWork()
    uow.caregivers.add(fixed_caregiver("cg-am", local(0, 8), local(0, 12)))
    request = visit_request("R-20", local(0, 20))
    offers.receive_request(request, uow, local(0, 19), DispatchPolicy(), line_travel())
    assert uow.offers.for_request("R-20") == []
    assert uow.requests.get("R-20").status == RequestStatus.FAILED
    decided = next(e for e in uow.events if e.type == "dispatch.decided")
    assert decided.payload["excluded"] == {"cg-am": "off shift during the time window"}


def test_a_weekend_rota_is_off_on_monday_and_a_night_shift_runs_past_midnight():
    weekend = rota_caregiver("cg-we", "sat,sun 09:00-17:00")
    night = rota_caregiver("cg-night", "mon-sun 22:00-06:00")
    assert not on_shift(weekend, local(0, 10))
    assert on_shift(weekend, local(5, 10))
    assert on_shift(night, local(1, 3))  # Tuesday 03:00 belongs to Monday's night shift
    assert not on_shift(night, local(1, 12))
    fit = best_insertion(visit_request("r", local(1, 2)), night, [], line_travel(), local(1, 0), DispatchPolicy())
    assert not isinstance(fit, str) and fit.start == local(1, 2)


def test_leave_and_sick_days_take_the_caregiver_out_with_the_reason():
    caregiver = rota_caregiver("cg", "mon-fri 08:00-16:00; leave 2026-12-01; sick 2026-12-03")
    travel, policy = line_travel(), DispatchPolicy()
    assert best_insertion(visit_request("r", local(1, 9)), caregiver, [], travel, local(1, 7), policy) == (
        "on leave on 2026-12-01"
    )
    assert best_insertion(visit_request("r", local(3, 9)), caregiver, [], travel, local(3, 7), policy) == (
        "on sick on 2026-12-03"
    )
    assert not isinstance(
        best_insertion(visit_request("r", local(2, 9)), caregiver, [], travel, local(2, 7), policy), str
    )


def test_an_extra_shift_on_a_saturday_makes_the_caregiver_available_that_day_only():
    caregiver = rota_caregiver("cg", "mon-fri 08:00-16:00; extra 2026-12-05 09:00-13:00")
    travel, policy = line_travel(), DispatchPolicy()
    assert not isinstance(
        best_insertion(visit_request("r", local(5, 10)), caregiver, [], travel, local(5, 8), policy), str
    )
    assert isinstance(best_insertion(visit_request("r", local(6, 10)), caregiver, [], travel, local(6, 8), policy), str)


def test_the_end_of_a_shift_is_hard_unless_the_policy_allows_overtime_at_a_cost():
    caregiver = rota_caregiver("cg", "mon-fri 08:00-12:00", home=0)
    late = visit_request("r", local(0, 11, 30), location=2)  # 30 min visit, 20 min back: ends 12:20 at home
    travel = line_travel()
    hard = DispatchPolicy(shift_end_hard=True)
    assert best_insertion(late, caregiver, [], travel, local(0, 8), hard) == (
        "would not be back at the home base by the end of the shift"
    )
    allowed = DispatchPolicy(shift_end_hard=True, overtime_minutes=30, overtime_weight=2.0)
    fit = best_insertion(late, caregiver, [], travel, local(0, 8), allowed)
    assert not isinstance(fit, str)
    no_overtime = best_insertion(
        visit_request("r", local(0, 9), location=2), caregiver, [], travel, local(0, 8), allowed
    )
    assert fit.cost - no_overtime.cost == 2.0 * 20  # 20 minutes past 12:00, at 2 per minute


def test_a_visit_never_starts_after_the_shift_even_with_a_soft_end():
    caregiver = rota_caregiver("cg", "mon-fri 08:00-12:00")
    busy = [Booking("other", 1, local(0, 8), local(0, 12))]  # the whole morning is taken
    fit = best_insertion(
        visit_request("r", local(0, 11)), caregiver, busy, line_travel(), local(0, 7), DispatchPolicy()
    )
    assert fit == "would start after the end of the shift"


def test_the_daily_maximum_of_visits_counts_the_local_day():
    caregiver = rota_caregiver("cg", "daily 08:00-20:00", max_visits_per_day=2)
    held = {"cg": [Booking("a", 1, local(0, 8), local(0, 9)), Booking("b", 1, local(0, 9), local(0, 10))]}
    ranking = rank_caregivers(
        visit_request("r", local(0, 15)), [caregiver], held, line_travel(), local(0, 7), DispatchPolicy(), set()
    )
    assert ranking.exclusions["cg"] == "daily maximum of 2 visits reached"
    tomorrow = rank_caregivers(
        visit_request("r", local(1, 15)), [caregiver], held, line_travel(), local(0, 7), DispatchPolicy(), set()
    )
    assert [c.caregiver_id for c in tomorrow.candidates] == ["cg"]


def test_each_caregiver_travels_at_its_own_speed_from_coordinates():
    # home bases at index 0 and 1, the elder 3 km east of them (about 0.027 degrees of longitude at 31 N)
    points = [(31.3, 120.60), (31.3, 120.60), (31.3, 120.6315)]
    travel = CoordinateTravelTimes(points)
    walker = rota_caregiver("walker", "daily 06:00-22:00", home=0, travel_mode="walk")
    driver = rota_caregiver("driver", "daily 06:00-22:00", home=1, travel_mode="car")
    ranking = rank_caregivers(
        visit_request("r", local(0, 8), location=2), [walker, driver], {}, travel, local(0, 7), DispatchPolicy(), set()
    )
    by_id = {c.caregiver_id: c for c in ranking.candidates}
    assert by_id["walker"].travel_added_minutes > 4 * by_id["driver"].travel_added_minutes
    assert ranking.candidates[0].caregiver_id == "driver"


def test_an_elder_without_a_known_place_is_never_zero_minutes_away():
    travel = CoordinateTravelTimes([(31.3, 120.6), None])
    caregiver = rota_caregiver("cg", "daily 06:00-22:00", home=0)
    for location in (1, None):
        request = visit_request("r", local(0, 9), location=1)
        request.location_index = location
        fit = best_insertion(request, caregiver, [], travel, local(0, 7), DispatchPolicy())
        assert isinstance(fit, str) and fit.startswith("travel time unknown")


def test_the_board_shows_a_caregiver_off_shift_by_its_rota_as_offline():
    caregiver = rota_caregiver("cg", "mon-fri 08:00-12:00")
    assert caregiver_activity(caregiver, [], [], local(0, 9)) == Activity.AVAILABLE
    assert caregiver_activity(caregiver, [], [], local(0, 13)) == Activity.OFFLINE


def test_a_uhhc_day_keeps_its_fixed_shift_and_matrix():
    caregiver = fixed_caregiver("c1", local(0, 7), local(0, 17))
    uow = InMemoryUnitOfWork()
    uow.caregivers.add(caregiver)
    request = visit_request("R-1", local(0, 9))
    offers.receive_request(request, uow, local(0, 8), DispatchPolicy(), MatrixTravelTimes([[0, 10], [10, 0]]))
    [offer] = uow.offers.for_request("R-1")
    assert offer.status == OfferStatus.PENDING and offer.caregiver_id == "c1"
