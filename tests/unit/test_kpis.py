"""Provider and caregiver KPIs against values worked out by hand.

The month below: provider p1 (caregivers c1, c2) and provider p2 (caregiver c3).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from config.evaluation import DEFAULT_PATH, EvaluationConfigError, load_evaluation_config, parse_evaluation_config
from handlers.evaluation.kpis import (
    DEFAULT_WEIGHTS,
    CenterRating,
    Complaint,
    KpiPolicy,
    OfferOutcome,
    Rating,
    VisitOutcome,
    bayesian_average,
    caregiver_kpis,
    center_score,
    composite_score,
    provider_kpis,
    ranking,
)
from tests.unit.factories import at

POLICY = KpiPolicy()


def offer(provider, caregiver, status, seconds=None):
    responded = at(0) + timedelta(seconds=seconds) if seconds is not None else None
    return OfferOutcome(provider, caregiver, at(0), responded, status)


def visit(provider, caregiver, lateness=0.0, completed=True, no_show=False, flags=()):
    check_in = None if no_show else at(60 + lateness)
    return VisitOutcome(provider, caregiver, at(60), check_in, lateness, completed, no_show, flags)


OFFERS = [
    offer("p1", "c1", "accepted", 30),
    offer("p1", "c1", "accepted", 90),
    offer("p1", "c2", "accepted", 60),
    offer("p1", "c2", "rejected", 20),
    offer("p1", "c2", "timeout"),
    offer("p1", "c1", "rescinded"),
    offer("p2", "c3", "accepted", 120),
]
VISITS = [
    visit("p1", "c1"),
    visit("p1", "c1", lateness=5, flags=("too_early",)),
    visit("p1", "c2", lateness=12),
    visit("p1", "c2", completed=False, no_show=True),
    visit("p1", "c1", completed=False),
    visit("p2", "c3"),
    visit("p2", "c3", lateness=2),
]
RATINGS = [Rating("p1", "c1", 5), Rating("p1", "c1", 4), Rating("p1", "c2", 2)]
COMPLAINTS = [Complaint("p1", "late", "c2")]


@pytest.fixture
def providers():
    return provider_kpis(OFFERS, VISITS, RATINGS, COMPLAINTS, POLICY)


def test_acceptance_counts_answered_and_timed_out_offers_but_not_rescinded_ones(providers):
    assert providers["p1"].offers == 5
    assert providers["p1"].acceptance_rate == pytest.approx(3 / 5)
    assert providers["p2"].acceptance_rate == 1.0


def test_median_time_to_accept_is_over_accepted_offers_in_seconds(providers):
    assert providers["p1"].median_seconds_to_accept == 60.0  # median of 30, 90, 60
    assert providers["p2"].median_seconds_to_accept == 120.0


def test_on_time_rate_counts_arrivals_up_to_five_minutes_late(providers):
    assert providers["p1"].on_time_rate == pytest.approx(3 / 4)  # 0, 5, 0 on time; 12 late; no-show not arrived


def test_completion_rate_and_no_shows_count_every_visit_due(providers):
    assert providers["p1"].visits == 5
    assert providers["p1"].completion_rate == pytest.approx(3 / 5)
    assert providers["p1"].no_shows == 1
    assert providers["p2"].no_shows == 0


def test_evv_compliance_is_the_share_of_arrivals_without_a_flag(providers):
    assert providers["p1"].evv_compliance_rate == pytest.approx(3 / 4)
    assert providers["p2"].evv_compliance_rate == 1.0


def test_satisfaction_is_the_bayesian_average_of_stars(providers):
    assert providers["p1"].mean_stars == pytest.approx(11 / 3)
    assert providers["p1"].satisfaction == pytest.approx((5 * 3.0 + 11) / (5 + 3))  # 3.25
    assert providers["p2"].mean_stars is None
    assert providers["p2"].satisfaction == 3.0  # no ratings: the prior


def test_three_five_star_ratings_do_not_outrank_three_hundred_averaging_4_8():
    many = [5] * 240 + [4] * 60
    assert bayesian_average(many, 3.0, 5.0) == pytest.approx((15 + 1440) / 305)
    assert bayesian_average([5, 5, 5], 3.0, 5.0) == pytest.approx(30 / 8)
    assert bayesian_average(many, 3.0, 5.0) > bayesian_average([5, 5, 5], 3.0, 5.0)


def test_complaint_rate_is_per_hundred_visits(providers):
    assert providers["p1"].complaints == 1
    assert providers["p1"].complaints_per_100_visits == pytest.approx(20.0)
    assert providers["p2"].complaints_per_100_visits == 0.0


def test_composite_score_weights_the_normalised_kpis(providers):
    # p1: on time .75*.25 + completion .6*.2 + satisfaction (3.25-1)/4*.2 + EVV .75*.15
    #     + acceptance .6*.1 + complaints 0 (20/100 visits is above the ceiling of 10)
    assert composite_score(providers["p1"], DEFAULT_WEIGHTS, POLICY) == pytest.approx(59.25)
    # p2: perfect except satisfaction at the prior, (3-1)/4 = .5
    assert composite_score(providers["p2"], DEFAULT_WEIGHTS, POLICY) == pytest.approx(90.0)


def test_a_provider_with_one_rating_and_nothing_else_scores_neutral_on_the_missing_kpis():
    lone = provider_kpis([], [], [Rating("p3", None, 5)], [], POLICY)["p3"]
    assert lone.on_time_rate is None and lone.complaints_per_100_visits is None
    # 0.8 of the weight at the neutral 0.5; satisfaction (15+5)/6 = 3.333 -> 0.5833
    assert composite_score(lone, DEFAULT_WEIGHTS, POLICY) == pytest.approx(100 * (0.8 * 0.5 + 0.2 * (20 / 6 - 1) / 4))


def test_other_weights_change_the_score(providers):
    assert composite_score(providers["p1"], {"on_time": 1.0}, POLICY) == pytest.approx(75.0)


def test_weights_that_do_not_sum_to_one_are_refused(providers):
    with pytest.raises(ValueError, match="sum to 1"):
        composite_score(providers["p1"], {"on_time": 0.5, "completion": 0.4}, POLICY)
    with pytest.raises(ValueError, match="unknown KPI weights"):
        composite_score(providers["p1"], {"punctuality": 1.0}, POLICY)


def test_the_ranking_puts_the_better_provider_first(providers):
    assert [p for p, _ in ranking(providers, DEFAULT_WEIGHTS, POLICY)] == ["p2", "p1"]


def test_caregiver_kpis_split_the_providers_numbers():
    cg = caregiver_kpis(OFFERS, VISITS, RATINGS, COMPLAINTS, POLICY)
    assert (cg["c1"].acceptance_rate, cg["c1"].median_seconds_to_accept) == (1.0, 60.0)
    assert (cg["c1"].on_time_rate, cg["c1"].completion_rate) == (1.0, pytest.approx(2 / 3))
    assert cg["c1"].evv_compliance_rate == pytest.approx(2 / 3)
    assert cg["c1"].satisfaction == pytest.approx(24 / 7)
    assert cg["c2"].acceptance_rate == pytest.approx(1 / 3)
    assert (cg["c2"].on_time_rate, cg["c2"].no_shows) == (0.0, 1)
    assert cg["c2"].complaints_per_100_visits == pytest.approx(50.0)
    assert cg["c2"].satisfaction == pytest.approx(17 / 6)


def test_the_center_score_is_the_mean_share_of_yes_answers():
    score = center_score(
        [
            CenterRating("p1", True, True),
            CenterRating("p1", True, False),
            CenterRating("p2", False, False),
            CenterRating("p2", True, True),
        ]
    )
    assert (score.ratings, score.information_right_rate, score.notice_enough_rate) == (4, 0.75, 0.5)
    assert score.score == pytest.approx(62.5)
    assert center_score([]).score is None


def test_ratings_outside_one_to_five_stars_and_unknown_complaints_are_refused():
    with pytest.raises(ValueError, match="1..5"):
        Rating("p1", "c1", 6)
    with pytest.raises(ValueError, match="category"):
        Complaint("p1", "smelly")


def test_the_shipped_config_holds_the_documented_defaults():
    cfg = load_evaluation_config()
    assert cfg.kpis == KpiPolicy()
    assert cfg.weights == pytest.approx(dict(DEFAULT_WEIGHTS))
    assert cfg.exploration_share == 0.1


def test_a_config_whose_weights_do_not_sum_to_one_names_the_key():
    text = DEFAULT_PATH.read_text().replace("acceptance = 0.10", "acceptance = 0.30")
    with pytest.raises(EvaluationConfigError, match=r"kpis\.weights: .*sum to 1"):
        parse_evaluation_config(text)


def test_a_misspelt_config_key_is_named():
    text = DEFAULT_PATH.read_text().replace("geofence_metres", "geofence_meters")
    with pytest.raises(EvaluationConfigError, match=r"evv\.geofence_meters"):
        parse_evaluation_config(text)


def test_an_accepted_offer_whose_visit_fell_through_still_counts_as_accepted():
    from handlers.evaluation.kpis import counted_offer_status

    assert counted_offer_status("canceled", has_visit=True) == "accepted"  # no-show or call-off after accepting
    assert counted_offer_status("canceled", has_visit=False) == "canceled"  # withdrawn by an operator while pending
    assert counted_offer_status("timeout", has_visit=False) == "timeout"
