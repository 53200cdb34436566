from handlers.dispatch.scheduling import DispatchPolicy, best_insertion, rank_caregivers
from handlers.model import Booking
from tests.unit.factories import at, caregiver, line_travel, request

TRAVEL = line_travel()
POLICY = DispatchPolicy()


def test_visit_goes_into_a_gap_without_moving_a_promised_visit():
    held = [Booking("other", 3, at(100), at(130))]
    fit = best_insertion(request("r", 1, start=0, end=200), caregiver("c"), held, TRAVEL, at(0), POLICY)
    # 2 minutes to answer the offer (its timeout), 10 minutes' travel, 30 minutes' service
    assert fit.start == at(12) and fit.end == at(42)
    assert held[0].start == at(100)


def test_a_hard_window_reachable_only_by_setting_off_before_answering_is_not_offered():
    # the caregiver may say yes as late as the offer's expiry (120 s): leaving at once would
    # arrive at minute 10, just inside the window, but a slow yes would arrive after it
    tight = request("r", 1, start=0, end=11, window_hard=True)
    assert "hard window" in best_insertion(tight, caregiver("c"), [], TRAVEL, at(0), POLICY)
    roomy = request("r", 1, start=0, end=12, window_hard=True)
    assert best_insertion(roomy, caregiver("c"), [], TRAVEL, at(0), POLICY).start == at(12)


def test_a_gap_too_short_for_travel_and_service_is_not_used():
    held = [Booking("other", 5, at(40), at(70))]
    fit = best_insertion(request("r", 4, start=0, end=200), caregiver("c"), held, TRAVEL, at(0), POLICY)
    assert fit.start >= at(70 + 10)


def test_caregiver_without_the_ability_is_excluded_with_the_reason():
    ranking = rank_caregivers(
        request("r", 1, service="bathing"), [caregiver("c", "meal")], {}, TRAVEL, at(0), POLICY, set()
    )
    assert ranking.candidates == ()
    assert ranking.exclusions["c"] == "lacks the ability bathing"


def test_hard_window_excludes_a_caregiver_who_would_be_late():
    busy = {"c": [Booking("x", 5, at(0), at(100))]}
    ranking = rank_caregivers(
        request("r", 1, start=0, end=60, window_hard=True), [caregiver("c")], busy, TRAVEL, at(0), POLICY, set()
    )
    assert ranking.candidates == ()
    assert "hard window" in ranking.exclusions["c"]


def test_soft_window_accepts_lateness_and_reports_it():
    busy = {"c": [Booking("x", 5, at(0), at(100))]}
    ranking = rank_caregivers(request("r", 1, start=0, end=60), [caregiver("c")], busy, TRAVEL, at(0), POLICY, set())
    assert ranking.candidates[0].lateness_minutes == 100 + 40 - 60


def test_a_shift_that_ends_before_the_return_excludes_the_caregiver_when_shift_end_is_hard():
    policy = DispatchPolicy(shift_end_hard=True)
    ranking = rank_caregivers(
        request("r", 5, start=0, end=300), [caregiver("c", end=90)], {}, TRAVEL, at(0), policy, set()
    )
    assert "end of the shift" in ranking.exclusions["c"]


def test_the_caregiver_with_less_added_travel_ranks_first():
    near, far = caregiver("near", home=2), caregiver("far", home=0)
    ranking = rank_caregivers(request("r", 3, start=0, end=200), [far, near], {}, TRAVEL, at(0), POLICY, set())
    assert [c.caregiver_id for c in ranking.candidates] == ["near", "far"]


def test_a_follower_starts_within_the_synchronisation_gap_after_its_anchor():
    from handlers.model import SyncType

    r = request(
        "r",
        1,
        start=0,
        end=300,
        sync_type=SyncType.SEQUENTIAL,
        sync_partner_id="a",
        sync_is_follower=True,
        sync_min_gap=60,
        sync_max_gap=90,
        sync_anchor_start=at(20),
    )
    fit = best_insertion(r, caregiver("c"), [], TRAVEL, at(0), POLICY)
    assert fit.start == at(80) and fit.sync_deviation_minutes == 0
