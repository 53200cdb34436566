"""The evaluation loop closes: a provider that performs badly gets less work as the day goes on."""

import json
from datetime import UTC, datetime, timedelta

from config.evaluation import load_evaluation_config
from config.policy import load_policy
from handlers.datasets.day import build_day
from handlers.datasets.uhhc import parse_instance
from handlers.dispatch.scheduling import MatrixTravelTimes
from handlers.simulation.caregiver_model import CaregiverModel
from handlers.simulation.offline import ScoringLoop, run_day

START = datetime(2026, 11, 30, 7, tzinfo=UTC)


def poor_provider_share(shared_data, scoring: bool, seeds=range(4)) -> tuple[float, list]:
    instance = parse_instance(json.loads((shared_data / "uhhc/instances/rome-p44.json").read_text()), "rome")
    day = build_day(instance, START, 60, "x", twin_roster=True)
    provider_of = {c.caregiver_id: c.provider_id for c in day.caregivers}
    cfg = load_evaluation_config()
    shares, history = [], []
    for seed in seeds:
        loop = ScoringLoop(dict(cfg.weights), cfg.kpis, 30) if scoring else None
        run = run_day(
            day,
            MatrixTravelTimes(instance.distances),
            load_policy(),
            CaregiverModel(seed=seed, poor_providers=("x.prov2",)),
            {n.service_id for n in instance.needs},
            loop,
        )
        first = {}
        for offer in sorted(run.uow.offers.values(), key=lambda o: o.created_at):
            first.setdefault(offer.request_id, offer)
        later = [o for o in first.values() if o.created_at > START + timedelta(hours=2)]
        shares.append(sum(provider_of[o.caregiver_id] == "x.prov2" for o in later) / len(later))
        history += loop.history if loop else []
    return sum(shares) / len(shares), history


def test_a_poorly_performing_provider_is_offered_less_work_once_scores_feed_dispatch(shared_data):
    without, _ = poor_provider_share(shared_data, scoring=False)
    with_loop, history = poor_provider_share(shared_data, scoring=True)
    assert with_loop < 0.7 * without, (without, with_loop)
    assert with_loop > 0, "exploration keeps some work flowing to the low scorer"
    final = history[-1][1]
    assert final["x.prov2"] < final["x.prov1"] - 10
