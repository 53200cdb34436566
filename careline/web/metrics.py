"""Prometheus metrics at ``/metrics``, read from the database at scrape time, so
any number of web replicas report the same numbers.

- ``careline_dispatch_latency_seconds`` (histogram): per request, event time
  from the first ``received`` status to the first ``dispatch.offer.created``,
  folded incrementally from ``event_log`` by ``seq`` (restarts rebuild it, a
  counter reset Prometheus handles).
- ``careline_queue_depth`` / ``careline_queue_oldest_wait_seconds`` per
  service type, area and priority; ``careline_requests`` by status;
  ``careline_offers`` by outcome (gauges: rows in the database now).
- ``careline_outbox_unsent`` and its oldest age (relay backlog),
  ``careline_event_log_seq``, ``careline_emergencies_unacknowledged``.
- With ``CARELINE_METRICS_BROKER=true``: ``careline_dead_letters`` (end offsets
  of the ``*.dlq.v1`` topics) and ``careline_consumer_lag`` of the Faust group
  ``careline`` per inbound topic, cached 15 s; ``careline_broker_up``.
Set ``CARELINE_METRICS_TOKEN`` to require ``Authorization: Bearer <token>``. The
numbers tell an outsider when the center is busiest and how many emergencies wait,
so production refuses to start with metrics on and no token
(``check_metrics_exposure``); ``CARELINE_METRICS_ENABLED=false`` turns the route off.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

from config import topics
from db import events
from db import metrics as counted
from db.session import Session, session_factory
from handlers.model import FINAL_STATUSES

router = APIRouter(tags=["ops"])


class MetricsExposed(RuntimeError):
    """Production with /metrics served and no ``CARELINE_METRICS_TOKEN``."""


def check_metrics_exposure(settings) -> None:  # noqa: ANN001 - config.settings.Settings
    """Raise ``MetricsExposed`` in production when /metrics is on without a token."""
    token = settings.metrics_token.get_secret_value() if settings.metrics_token is not None else ""
    if settings.environment == "production" and settings.metrics_enabled and not token:
        raise MetricsExposed(
            "/metrics shows unacknowledged emergencies and queue depth per area: in production "
            "set CARELINE_METRICS_TOKEN (Prometheus sends it as a bearer token) or "
            "CARELINE_METRICS_ENABLED=false; the web service will not start otherwise"
        )


BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
DLQ_TOPICS = (topics.INTAKE_DLQ.name, topics.DISPATCH_DLQ.name)
INBOUND_TOPICS = (
    topics.INTAKE.name,
    topics.REQUESTS.name,
    topics.CAREGIVER_EVENTS.name,
    topics.TIMERS.name,
    topics.LIFECYCLE.name,
)


class DispatchLatency:
    """Folds ``event_log`` rows into histogram buckets (seconds), remembering the
    last ``seq`` and requests received but not yet offered."""

    def __init__(self, remember: int = 200_000) -> None:
        self.last_seq, self.sum = 0, 0.0
        self.counts = [0] * (len(BUCKETS) + 1)
        self.waiting: dict[str, datetime] = {}
        self.done: OrderedDict[str, None] = OrderedDict()
        self.remember = remember
        self.lock = threading.Lock()

    def observe(self, seconds: float) -> None:
        index = next((i for i, b in enumerate(BUCKETS) if seconds <= b), len(BUCKETS))
        self.counts[index] += 1
        self.sum += seconds

    def fold(self, seq: int, type_: str, subject: str, time_: datetime, payload: dict) -> None:
        data = payload.get("data", {}) if isinstance(payload, dict) else {}
        self.last_seq = max(self.last_seq, seq)
        if subject in self.done:
            return
        if type_ == "care.request.status_changed":
            if data.get("status") == "received":
                self.waiting.setdefault(subject, time_)
            elif data.get("status") in {s.value for s in FINAL_STATUSES}:
                self.waiting.pop(subject, None)
        elif type_ == "dispatch.offer.created" and subject in self.waiting:
            self.observe(max(0.0, (time_ - self.waiting.pop(subject)).total_seconds()))
            self.done[subject] = None
            if len(self.done) > self.remember:
                self.done.popitem(last=False)

    def update(self, session: Session) -> None:
        with self.lock:
            while True:
                rows = events.events_after(
                    session, self.last_seq, 5000, ["care.request.status_changed", "dispatch.offer.created"]
                )
                for row in rows:
                    self.fold(row.seq, row.type, row.subject, row.time, row.payload)
                if len(rows) < 5000:
                    return

    def family(self) -> HistogramMetricFamily:
        cumulative, running = [], 0
        for bound, count in zip([*map(str, BUCKETS), "+Inf"], self.counts, strict=False):
            running += count
            cumulative.append((bound, running))
        return HistogramMetricFamily(
            "careline_dispatch_latency_seconds",
            "Seconds from a request's receipt to its first offer (event time)",
            buckets=cumulative,
            sum_value=self.sum,
        )


def kafka_offsets(bootstrap: str) -> dict:
    """End offsets of the dead-letter topics and lag of the Faust group per inbound topic."""
    from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

    quick = {"request_timeout_ms": 3000, "bootstrap_timeout_ms": 2000}
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **quick)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, **quick)
    try:
        parts = [
            TopicPartition(name, p)
            for name in DLQ_TOPICS + INBOUND_TOPICS
            for p in sorted(consumer.partitions_for_topic(name) or [])
        ]
        ends = consumer.end_offsets(parts)
        committed = admin.list_group_offsets({"careline": None}).get("careline", {})
    finally:
        consumer.close()
        admin.close()
    dead = {name: sum(v for tp, v in ends.items() if tp.topic == name) for name in DLQ_TOPICS}
    lag = {
        name: sum(
            max(0, v - (max(committed[tp].offset, 0) if tp in committed else 0))
            for tp, v in ends.items()
            if tp.topic == name
        )
        for name in INBOUND_TOPICS
    }
    return {"dead_letters": dead, "lag": lag}


class CarelineCollector:
    def __init__(self, database_url: str, broker: str | None, reader=kafka_offsets) -> None:  # noqa: ANN001
        self.factory = session_factory(database_url)
        self.latency = DispatchLatency()
        self.broker, self.reader = broker, reader
        self._broker_cache: tuple[float, dict | None] = (0.0, None)

    def _broker(self) -> dict | None:
        at, value = self._broker_cache
        if time.monotonic() - at > 15:
            try:
                value = self.reader(self.broker)
            except Exception:  # noqa: BLE001 - a broker outage is a metric, not a scrape failure
                value = None
            self._broker_cache = (time.monotonic(), value)
        return value

    def collect(self):  # noqa: ANN201
        now = datetime.now(UTC)
        with self.factory() as session:
            self.latency.update(session)
            held = counted.counts(session)
        yield self.latency.family()
        depth = GaugeMetricFamily(
            "careline_queue_depth",
            "Requests waiting for a caregiver",
            labels=["service_type", "service_area", "priority"],
        )
        age = GaugeMetricFamily(
            "careline_queue_oldest_wait_seconds",
            "Age of the oldest waiting request",
            labels=["service_type", "service_area", "priority"],
        )
        for stype, area, prio, count, first in held.waiting:
            labels = [stype, area, getattr(prio, "value", str(prio))]
            depth.add_metric(labels, count)
            first = first.replace(tzinfo=UTC) if first and first.tzinfo is None else first
            age.add_metric(labels, max(0.0, (now - first).total_seconds()) if first else 0.0)
        yield depth
        yield age
        yield _by_label("careline_requests", "Care requests by status", "status", held.requests_by_status)
        yield _by_label("careline_offers", "Offers (reservations) by outcome", "outcome", held.offers_by_status)
        yield GaugeMetricFamily("careline_outbox_unsent", "Outbox rows not yet relayed", value=held.outbox_unsent)
        oldest = held.outbox_oldest_unsent
        oldest = oldest.replace(tzinfo=UTC) if oldest and oldest.tzinfo is None else oldest
        yield GaugeMetricFamily(
            "careline_outbox_oldest_unsent_seconds",
            "Age of the oldest unrelayed row",
            value=(now - oldest).total_seconds() if oldest else 0.0,
        )
        yield GaugeMetricFamily("careline_event_log_seq", "Highest event_log sequence number", value=held.event_log_seq)
        yield GaugeMetricFamily(
            "careline_emergencies_unacknowledged",
            "Open emergencies nobody acknowledged",
            value=held.unacknowledged_emergencies,
        )
        if self.broker:
            yield from self._broker_families()

    def _broker_families(self):  # noqa: ANN202
        value = self._broker()
        yield GaugeMetricFamily(
            "careline_broker_up", "1 when the broker answered the last probe", value=1 if value else 0
        )
        if value:
            yield _by_label(
                "careline_dead_letters", "Records on each dead-letter topic", "topic", value["dead_letters"].items()
            )
            yield _by_label(
                "careline_consumer_lag", "Records the stream workers have not consumed", "topic", value["lag"].items()
            )


def _by_label(name: str, doc: str, label: str, rows) -> GaugeMetricFamily:  # noqa: ANN001
    family = GaugeMetricFamily(name, doc, labels=[label])
    for key, count in rows:
        family.add_metric([getattr(key, "value", str(key))], count)
    return family


def registry_for(request: Request) -> CollectorRegistry:
    state = request.app.state
    if getattr(state, "metrics_registry", None) is None:
        settings = state.settings
        registry = CollectorRegistry(auto_describe=False)
        reader = getattr(state, "metrics_broker_reader", None) or kafka_offsets  # tests set a fake
        registry.register(
            CarelineCollector(settings.database_url, settings.broker if settings.metrics_broker else None, reader)
        )
        state.metrics_registry = registry
    return state.metrics_registry


@router.get("/metrics")
def metrics(request: Request) -> Response:
    token = request.app.state.settings.metrics_token
    if token is not None and token.get_secret_value():
        sent = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(sent.encode(), token.get_secret_value().encode()):
            raise HTTPException(
                status_code=401, detail="metrics token required", headers={"WWW-Authenticate": "Bearer"}
            )
    return Response(generate_latest(registry_for(request)), media_type=CONTENT_TYPE_LATEST)
