"""/metrics reads dead letters and consumer lag from the real broker (CARELINE_METRICS_BROKER):
the reader talks to Apache Kafka with the kafka-python the project pins."""

import pytest

from careline.web.metrics import DLQ_TOPICS, INBOUND_TOPICS, kafka_offsets

pytestmark = pytest.mark.integration


def test_the_broker_reader_counts_dead_letters_and_the_workers_lag(pipeline):
    read = kafka_offsets(pipeline.bootstrap)
    assert set(read["dead_letters"]) == set(DLQ_TOPICS)
    assert set(read["lag"]) == set(INBOUND_TOPICS)
    assert all(isinstance(n, int) and n >= 0 for n in [*read["dead_letters"].values(), *read["lag"].values()])
