"""The Faust app object ``app`` and its topics, built from ``config``.

Consumer settings are chosen for small brokers (single-node Apache Kafka and
the embedded Tansu): a 6 s session (Tansu answers a group join after about
half the session timeout: 3 s instead of 30 s with Faust's default), and
offsets start at the earliest record so nothing sent before the worker
started is skipped. The app has no Faust table: the live KPI windows
(``streams.live_kpis``) are rebuilt from the database, not recovered from a
changelog (a restarted worker's table came back empty once, issue 13).
"""

from __future__ import annotations

from typing import Any

import faust

from config import topics
from config.settings import get_settings
from streams import transport, watchdog

settings = get_settings()
transport.install()

#: the consumer and stream settings of careline's worker (also the bench's Faust loop,
#: ``tools.bench.faust_loop``, so that it measures Faust as careline runs it). Against the
#: stalling consumer (faust-streaming#175; ``streams.transport`` has the mechanism and the rest
#: of the fix, docs/NOTES.md the story): a poll takes at most ``broker_max_poll_records``
#: (faust's default takes all that was fetched, up to 1 MiB a partition, and waits while a
#: full queue takes it), and ``broker_max_poll_interval`` is faust's default again (it was
#: 30 s), above the 600 s an agent may wait for its database (``DATABASE_WAIT_SECONDS``).
CONSUMER_SETTINGS: dict[str, Any] = dict(
    store="memory://",
    topic_allow_declare=False,
    consumer_auto_offset_reset="earliest",
    broker_session_timeout=6.0,
    broker_heartbeat_interval=1.0,
    broker_max_poll_interval=1000.0,
    broker_max_poll_records=200,
    stream_buffer_maxsize=4096,
    stream_wait_empty=False,
)

app = faust.App(
    "careline",
    broker=settings.faust_broker,
    topic_partitions=settings.topic_partitions,
    web_enabled=settings.worker_web_port > 0,
    web_port=settings.worker_web_port or 6066,
    web_host="127.0.0.1",
    datadir=str(settings.var_dir / "faust"),
    **CONSUMER_SETTINGS,
)


def topic(spec: topics.TopicSpec, value_serializer: str = "json") -> faust.TopicT:
    """A declared topic; inbound topics use ``raw`` values so that a record
    that is not JSON reaches the agent (and its dead-letter topic) instead of
    being skipped by the decoder."""
    return app.topic(
        spec.name,
        key_type=None,
        value_type=None,
        key_serializer="raw",
        value_serializer=value_serializer,
        partitions=spec.partitions or settings.topic_partitions,
    )


intake_topic = topic(topics.INTAKE, "raw")
intake_dlq_topic = topic(topics.INTAKE_DLQ)
requests_topic = topic(topics.REQUESTS)
caregiver_topic = topic(topics.CAREGIVER_EVENTS)
timers_topic = topic(topics.TIMERS)
repairs_topic = topic(topics.REPAIRS, "raw")
rounds_topic = topic(topics.ROUNDS, "raw")
dispatch_dlq_topic = topic(topics.DISPATCH_DLQ)
lifecycle_topic = topic(topics.LIFECYCLE)
dispatch_inbox = app.topic(
    topics.REQUESTS.name,
    topics.CAREGIVER_EVENTS.name,
    topics.TIMERS.name,
    key_type=None,
    value_type=None,
    key_serializer="raw",
    value_serializer="raw",
)

watchdog.install(
    app,
    settings.broker,
    (topics.INTAKE.name, topics.REQUESTS.name, topics.CAREGIVER_EVENTS.name, topics.TIMERS.name),
    settings.worker_stall_exit_seconds,
)
