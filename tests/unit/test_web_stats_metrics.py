"""The statistics API and the Prometheus metrics on a seeded center."""

from datetime import UTC

from fastapi.testclient import TestClient

from careline.web import metrics
from careline.web.app import create_app
from tests.unit.web_client import _seeded, app, center, login, settings_for  # noqa: F401 - fixtures


def test_realtime_statistics_use_taskrouter_names_and_the_operators_region(app):
    stats = login(app, "op").get("/api/stats/realtime").json()
    areas = {q["queue"]["service_area"] for q in stats["queues"]}
    assert areas == {"gulou-xikang", "gulou-qingyun"}
    bathing = next(
        q
        for q in stats["queues"]
        if q["queue"]
        == {
            "service_type": "bathing",
            "service_area": "gulou-xikang",
            "priority": "urgent",
            "region": "江苏省/南京市/鼓楼区/宁海路街道/西康社区",
        }
    )
    assert bathing["longest_task_waiting_age"] >= 30 * 60 and bathing["tasks_by_status"] == {"received": 1}
    assert {a["friendly_name"] for a in stats["workspace"]["activity_statistics"]} == {"available", "busy", "offline"}


def test_a_region_outside_the_scope_is_refused_and_a_narrower_one_is_served(app):
    op = login(app, "op")
    assert op.get("/api/stats/realtime", params={"region": "江苏省/南京市/玄武区"}).status_code == 403
    narrow = op.get("/api/stats/realtime", params={"region": "江苏省/南京市/鼓楼区/湖南路街道"}).json()
    assert {q["queue"]["service_area"] for q in narrow["queues"]} == {"gulou-qingyun"}


def test_cumulative_statistics_count_the_last_hour_per_queue_and_caregiver(app):
    stats = login(app, "sup").get("/api/stats/cumulative", params={"minutes": 60}).json()
    ws = stats["workspace"]
    assert ws["tasks_entered"] == 6 and ws["reservations_accepted"] == 1 and ws["tasks_escalated"] == 1
    assert ws["wait_duration_until_accepted"]["max"] == 120.0
    li = next(w for w in stats["workers"] if w["worker_sid"] == "cg-li")
    assert li["reservations_accepted"] == 1
    only_meal = login(app, "sup").get("/api/stats/cumulative", params={"service_type": "meal"}).json()
    assert {q["queue"]["service_type"] for q in only_meal["queues"]} == {"meal"}


def test_metrics_expose_dispatch_latency_queue_depth_and_offers(app):
    text = TestClient(app).get("/metrics").text
    assert "careline_dispatch_latency_seconds_count 5.0" in text  # R-1004 never got an offer
    assert 'careline_queue_depth{priority="urgent",service_area="gulou-xikang",service_type="bathing"} 1.0' in text
    assert 'careline_offers{outcome="accepted"} 1.0' in text
    assert "careline_emergencies_unacknowledged 1.0" in text


def test_dead_letters_and_consumer_lag_come_from_the_broker_when_asked(center):
    app = create_app(settings_for(center, metrics_broker=True))
    app.state.metrics_broker_reader = lambda bootstrap: {
        "dead_letters": {"care.intake.dlq.v1": 3},
        "lag": {"care.intake.v1": 7},
    }
    text = TestClient(app).get("/metrics").text
    assert 'careline_dead_letters{topic="care.intake.dlq.v1"} 3.0' in text
    assert 'careline_consumer_lag{topic="care.intake.v1"} 7.0' in text and "careline_broker_up 1.0" in text


def test_a_broker_that_does_not_answer_is_reported_down_not_as_an_error(center):
    app = create_app(settings_for(center, metrics_broker=True))
    app.state.metrics_broker_reader = lambda bootstrap: (_ for _ in ()).throw(OSError("no route"))
    answer = TestClient(app).get("/metrics")
    assert answer.status_code == 200 and "careline_broker_up 0.0" in answer.text


def test_metrics_can_require_a_token(center):
    client = TestClient(create_app(settings_for(center, metrics_token="scrape-me")))
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer scrape-me"}).status_code == 200


def test_the_latency_histogram_counts_only_the_first_offer_of_a_request():
    from datetime import datetime, timedelta

    t0 = datetime(2026, 11, 30, 8, tzinfo=UTC)
    hist = metrics.DispatchLatency()
    hist.fold(1, "care.request.status_changed", "r", t0, {"data": {"status": "received"}})
    hist.fold(2, "dispatch.offer.created", "r", t0 + timedelta(seconds=4), {"data": {}})
    hist.fold(3, "dispatch.offer.created", "r", t0 + timedelta(seconds=200), {"data": {}})
    assert sum(hist.counts) == 1 and hist.sum == 4.0
