"""Live KPIs (counters kept in event-time windows) give the monthly report's
numbers: the same events folded through ``handlers.evaluation.live_kpis`` and the same
outcomes through ``handlers.evaluation.kpis`` agree, and a few values by hand; the
windows count a tally delivered again once."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta

import pytest

from handlers.evaluation.kpis import Complaint, KpiPolicy, OfferOutcome, Rating, VisitOutcome, provider_kpis
from handlers.evaluation.live_kpis import (
    ACCEPT_BUCKETS_SECONDS,
    Counts,
    Windows,
    bucket_name,
    histogram_median,
    kpis_from_counts,
    split_key,
    subject_key,
    tallies,
)
from tests.unit.factories import at

POLICY = KpiPolicy()


def event(type_, minute, **data):
    return {"type": type_, "time": at(minute).isoformat(), "data": data}


def offer_events():
    """p1: c1 accepts after 30 s and 90 s, c2 after 60 s, c2 rejects, c2 times out;
    a rescinded offer (not the caregiver's choice); p2: c3 accepts after 120 s."""

    def accepted(p, c, seconds):
        return event(
            "dispatch.offer.accepted", 10 + seconds / 60, provider_id=p, caregiver_id=c, offered_at=at(10).isoformat()
        )

    return [
        accepted("p1", "c1", 30),
        accepted("p1", "c1", 90),
        accepted("p1", "c2", 60),
        event("dispatch.offer.rejected", 11, provider_id="p1", caregiver_id="c2"),
        event("dispatch.offer.timeout", 25, provider_id="p1", caregiver_id="c2"),
        event("dispatch.offer.rescinded", 12, provider_id="p1", caregiver_id="c1"),
        accepted("p2", "c3", 120),
    ]


def visit_events():
    def done(p, c, lateness=0.0, flags=()):
        return event(
            "care.visit.completed",
            120,
            provider_id=p,
            caregiver_id=c,
            check_in_at=at(61).isoformat(),
            lateness_minutes=lateness,
            evv_flags=[{"code": f, "detail": ""} for f in flags],
        )

    return [
        done("p1", "c1"),
        done("p1", "c1", 5, ("too_early",)),
        done("p1", "c2", 12),
        event("care.visit.no_show", 90, provider_id="p1", caregiver_id="c2"),
        done("p2", "c3"),
        done("p2", "c3", 2),
    ]


def feedback_events():
    return [
        event("care.feedback.rating", 200, provider_id="p1", caregiver_id="c1", stars=5),
        event("care.feedback.rated", 201, provider_id="p1", caregiver_id="c1", rating=4, channel="voice"),
        event("care.feedback.rating", 202, provider_id="p1", caregiver_id="c2", stars=2),
        event("care.feedback.complaint", 203, provider_id="p1", caregiver_id="c2", category="late"),
    ]


def fold(events):
    counts: dict[str, Counts] = {}
    for e in events:
        for t in tallies(e, POLICY.on_time_minutes):
            counts[t.key] = counts.get(t.key, Counts()) + t.counts
    return counts


def the_same_outcomes():
    def offer(p, c, status, seconds=None):
        return OfferOutcome(p, c, at(10), at(10) + timedelta(seconds=seconds) if seconds else None, status)

    def visit(p, c, lateness=0.0, no_show=False, flags=()):
        return VisitOutcome(p, c, at(60), None if no_show else at(61), lateness, not no_show, no_show, flags)

    offers = [
        offer("p1", "c1", "accepted", 30),
        offer("p1", "c1", "accepted", 90),
        offer("p1", "c2", "accepted", 60),
        offer("p1", "c2", "rejected", 60),
        offer("p1", "c2", "timeout"),
        offer("p1", "c1", "rescinded"),
        offer("p2", "c3", "accepted", 120),
    ]
    visits = [
        visit("p1", "c1"),
        visit("p1", "c1", 5, flags=("too_early",)),
        visit("p1", "c2", 12),
        visit("p1", "c2", no_show=True),
        visit("p2", "c3"),
        visit("p2", "c3", 2),
    ]
    ratings = [Rating("p1", "c1", 5), Rating("p1", "c1", 4), Rating("p1", "c2", 2)]
    return offers, visits, ratings, [Complaint("p1", "late", "c2")]


def test_live_counters_give_the_monthly_reports_kpis_but_the_median():
    live = fold(offer_events() + visit_events() + feedback_events())
    batch = provider_kpis(*the_same_outcomes(), POLICY)
    for provider in ("p1", "p2"):
        got = asdict(kpis_from_counts(provider, live[subject_key("provider", provider)], POLICY))
        want = asdict(batch[provider])
        got.pop("median_seconds_to_accept"), want.pop("median_seconds_to_accept")
        assert got == pytest.approx(want)


def test_hand_computed_live_kpis_of_a_provider_and_a_caregiver():
    live = fold(offer_events() + visit_events() + feedback_events())
    p1 = kpis_from_counts("p1", live["provider:p1"], POLICY)
    assert (p1.offers, p1.acceptance_rate) == (5, pytest.approx(3 / 5))
    assert p1.on_time_rate == pytest.approx(2 / 3)  # 0 and 5 min late on time, 12 late; the no-show never arrived
    assert p1.completion_rate == pytest.approx(3 / 4) and p1.no_shows == 1
    assert p1.evv_compliance_rate == pytest.approx(2 / 3)  # one arrival flagged too early
    assert p1.mean_stars == pytest.approx(11 / 3)
    assert p1.satisfaction == pytest.approx((5 * 3.0 + 11) / (5 + 3))
    assert p1.complaints_per_100_visits == pytest.approx(25.0)
    c2 = kpis_from_counts("c2", live["caregiver:c2"], POLICY)
    assert (c2.offers, c2.acceptance_rate, c2.visits, c2.no_shows, c2.complaints) == (3, pytest.approx(1 / 3), 2, 1, 1)


def test_median_time_to_accept_is_interpolated_inside_its_histogram_bucket():
    live = fold(offer_events())
    # answers after 30, 90, 60 s: buckets <=30, <=60, <=120; the median (rank 1.5) is in <=60, halfway
    assert histogram_median(live["provider:p1"]) == pytest.approx(45.0)
    assert 30 <= histogram_median(live["provider:p1"]) <= 60  # the true median, 60 s, is in the same bucket
    assert histogram_median(live["provider:p2"]) == pytest.approx(90.0)  # one answer at 120 s: middle of (60, 120]
    assert histogram_median({}) is None
    assert histogram_median({bucket_name(ACCEPT_BUCKETS_SECONDS[-1]): 3}) == ACCEPT_BUCKETS_SECONDS[-2]


def test_a_correcting_evv_review_makes_the_arrival_compliant_again():
    flagged = visit_events()[1]
    review = event(
        "care.visit.evv_reviewed",
        300,
        provider_id="p1",
        caregiver_id="c1",
        code="too_early",
        outcome="corrected",
        evv_cleared=True,
    )
    accepted = event(
        "care.visit.evv_reviewed",
        300,
        provider_id="p1",
        caregiver_id="c1",
        code="too_early",
        outcome="accepted",
        evv_cleared=False,
    )
    assert kpis_from_counts("p1", fold([flagged])["provider:p1"], POLICY).evv_compliance_rate == 0.0
    assert kpis_from_counts("p1", fold([flagged, accepted])["provider:p1"], POLICY).evv_compliance_rate == 0.0
    assert kpis_from_counts("p1", fold([flagged, review])["provider:p1"], POLICY).evv_compliance_rate == 1.0


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "dispatch.offer.accepted", "data": {"provider_id": "p1"}},  # no time
        {"type": "dispatch.offer.accepted", "time": "2026-11-30T08:00:00", "data": {"provider_id": "p1"}},  # no zone
        {"type": "dispatch.offer.accepted", "time": at(0).isoformat(), "data": "p1"},  # data not an object
        {"type": "care.feedback.rating", "time": at(0).isoformat(), "data": {"provider_id": "p1", "stars": 9}},
        {"type": "care.feedback.rating", "time": at(0).isoformat(), "data": {"provider_id": "p1", "stars": True}},
        {"type": "care.request.status_changed", "time": at(0).isoformat(), "data": {"provider_id": "p1"}},
        {"type": "dispatch.offer.accepted", "time": at(0).isoformat(), "data": {"provider_id": ""}},
    ],
)
def test_events_that_count_for_nothing_add_nothing(bad):
    assert tallies(bad, 5.0) == []


def test_counts_add_onto_plain_dicts():
    assert {"offers": 2} + Counts(offers=1, accepted=1) == {"offers": 3, "accepted": 1}
    assert Counts(offers=1) + {"offers": 1} == {"offers": 2}
    assert split_key(subject_key("caregiver", "c:1")) == ("caregiver", "c:1")
    with pytest.raises(ValueError, match="scope"):
        subject_key("region", "x")


def test_an_acceptance_that_overturns_a_timeout_counts_the_offer_once():
    # answered in time, processed after the expiry (handlers.dispatch.offers.accept_offer): stored as accepted
    timeout = event("dispatch.offer.timeout", 25, provider_id="p1", caregiver_id="c1", offered_at=at(10).isoformat())
    late = event(
        "dispatch.offer.accepted",
        26,
        provider_id="p1",
        caregiver_id="c1",
        offered_at=at(10).isoformat(),
        supersedes="timeout",
    )
    p1 = kpis_from_counts("p1", fold([timeout, late])["provider:p1"], POLICY)
    assert (p1.offers, p1.acceptance_rate) == (1, 1.0)


HOUR = 3600.0


def test_a_tally_read_again_after_a_restart_counts_once_and_one_without_an_id_always_counts():
    w = Windows(HOUR, 24)
    assert w.add("provider:p1", "e1|provider:p1", {"offers": 1}, 10 * HOUR)
    assert not w.add("provider:p1", "e1|provider:p1", {"offers": 1}, 10 * HOUR)  # re-read, re-sent, rebuilt
    assert w.add("provider:p1", "e2|provider:p1", {"offers": 1, "accepted": 1}, 10.5 * HOUR)
    assert w.add("provider:p1", None, {"offers": 1}, 11 * HOUR) and w.add("provider:p1", None, {"offers": 1}, 11 * HOUR)
    assert w.total("provider:p1", 11 * HOUR) == {"offers": 4, "accepted": 1}


def test_the_rolling_window_holds_the_last_day_and_older_windows_are_forgotten_with_their_ids():
    w = Windows(HOUR, 24)
    w.add("caregiver:c1", "old|caregiver:c1", {"visits": 1}, 0.5 * HOUR)
    w.add("caregiver:c1", "new|caregiver:c1", {"visits": 1}, 23.5 * HOUR)
    assert w.total("caregiver:c1", 23.9 * HOUR) == {"visits": 2}
    assert w.total("caregiver:c1", 24.1 * HOUR) == {"visits": 1}  # the first hour left the window
    w.add("caregiver:c1", "later|caregiver:c1", {"visits": 1}, 30 * HOUR)
    assert sorted(w.counts["caregiver:c1"]) == [23 * HOUR, 30 * HOUR]


def test_a_subject_dropped_with_its_partition_is_counted_afresh_when_rebuilt():
    w = Windows(HOUR, 24)
    w.add("provider:p1", "e1|provider:p1", {"offers": 1}, HOUR)
    w.drop(["provider:p1"])
    assert w.subjects() == [] and w.total("provider:p1", HOUR) == {}
    assert w.add("provider:p1", "e1|provider:p1", {"offers": 1}, HOUR)  # the rebuild counts it again, once
    assert w.total("provider:p1", HOUR) == {"offers": 1}
