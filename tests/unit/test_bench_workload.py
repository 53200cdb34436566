"""The throughput and scale benches' day can be offered at any hour the bench starts.

The bench's worker keeps offers open for a day (``tools.bench.stack.BENCH_ENV``) and a caregiver
sets off only once an offer could be answered. With the visits booked for tomorrow, a bench
started after about 07:00 UTC found no caregiver for the morning's hard windows: CI saw every
request fail ("no eligible caregiver") and not one offer.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from handlers.channels.intake import validate_intake
from handlers.datasets.uhhc import load_instance
from handlers.dispatch.scheduling import DispatchPolicy, MatrixTravelTimes, rank_caregivers
from tools.bench.stack import BENCH_ENV
from tools.bench.workload import bench_day_start, build_workload


@pytest.fixture(scope="module")
def instance(shared_data):
    path = shared_data / "uhhc" / "instances" / "bazirha-F1.json"
    return load_instance(path.read_bytes(), name=path.stem)


@pytest.mark.parametrize("hour", [0, 6, 9, 15, 23])
def test_every_request_of_the_bench_day_has_a_caregiver_whenever_the_bench_starts(instance, hour):
    now = datetime(2026, 12, 6, hour, 59, tzinfo=UTC)
    workload = build_workload(instance, 65, "bt", day_start=bench_day_start(now))
    (day,) = workload.days
    elders = {e.elder_id: e for e in day.elders}
    policy = replace(DispatchPolicy(), offer_timeout_seconds=float(BENCH_ENV["CARELINE_OFFER_TIMEOUT_SECONDS"]))
    travel = MatrixTravelTimes(instance.distances)
    unserved = {}
    for submission in day.submissions:
        request = validate_intake(submission.record, elders.get)
        ranking = rank_caregivers(request, day.caregivers, {}, travel, now, policy, set())
        if not ranking.candidates:
            unserved[request.request_id] = sorted(set(ranking.exclusions.values()))
    assert unserved == {}


def test_the_bench_day_is_more_than_the_offer_timeout_ahead():
    timeout = timedelta(seconds=float(BENCH_ENV["CARELINE_OFFER_TIMEOUT_SECONDS"]))
    for hour in range(24):
        now = datetime(2026, 12, 6, hour, 59, tzinfo=UTC)
        assert bench_day_start(now) - now > timeout + timedelta(hours=6)
