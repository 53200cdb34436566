"""The consumer that stopped fetching (faust-streaming#175, docs/NOTES.md): an agent slower
than its input, with a backlog, must not make the worker leave its group and stall for good.

Before the fix (``streams.app.CONSUMER_SETTINGS``: a poll of at most
``broker_max_poll_records``), faust handed all a fetch held to the agent's queue and waited
while the queue was full; aiokafka counted that wait as idle, left the group after
``broker_max_poll_interval``, revoked the partitions and refused to rejoin: no batch came
again. Here the interval is shortened to 8 s so the test sees three of them in 40 s.

With 12 partitions the queue fills before faust has paused every partition (each may bring a
poll of up to 200 records after the queue passed 80 %), faust's fetch waits for room, and the
consumer still leaves after the interval; it must rejoin within a few seconds
(``streams.transport`` polls "empty" every second while faust waits for its partitions back,
then the group rebalances) and the batches must not stop.
"""

from __future__ import annotations

import os
import re
import time
import uuid

import pytest
from kafka import KafkaProducer

from careline.brokers import ensure_topics
from config import topics
from tools.replay.stack import module_process

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

POLL_INTERVAL = 8.0
SLOW_SECONDS = 2.0
RUN_SECONDS = 40.0
#: longest a consumer that left may stay out (its empty poll comes every second, then a rebalance)
REJOIN_SECONDS = 4.0


@pytest.mark.parametrize("partitions", [3, 12])
def test_a_slow_agent_with_a_backlog_keeps_its_partitions_and_its_batches_coming(services, tmp_path, partitions):
    name = f"stall-{uuid.uuid4().hex[:8]}"
    ensure_topics(services.bootstrap, [topics.ResolvedTopic(name, partitions, {})])
    producer = KafkaProducer(bootstrap_servers=services.bootstrap, linger_ms=20)
    # more records on each partition than the agent's whole queue (4,096): every partition still
    # has records when faust pauses it, so all of them end up paused at once
    for i in range(5_000 * partitions):
        producer.send(name, key=str(i % 30).encode(), value=b"x" * 200, partition=i % partitions)
    producer.flush(30)
    producer.close()
    env = dict(
        os.environ,
        SLOW_BROKER=services.bootstrap,
        SLOW_TOPIC=name,
        SLOW_GROUP=name,
        SLOW_DATADIR=str(tmp_path / "faust"),
        SLOW_SECONDS=str(SLOW_SECONDS),
        SLOW_BATCH="10",
        SLOW_POLL_INTERVAL=str(POLL_INTERVAL),
    )
    log = tmp_path / "app.log"
    with module_process("tests.integration.slow_agent_app", env, log):
        time.sleep(RUN_SECONDS)
    lines = log.read_text(errors="replace").splitlines()
    batches = [float(m[1]) for m in (re.search(r"\bbatch ([\d.]+) \d+", line) for line in lines) if m]
    states = [m.groups() for m in (re.search(r"\bstate ([\d.]+) (\d+) (\d)", line) for line in lines) if m]
    assert batches, "\n".join(lines[-40:])
    first = batches[0]
    # a batch every SLOW_SECONDS from the first to the end, well past three poll intervals
    late = [t for t in batches if t > first + 3 * POLL_INTERVAL]
    assert len(late) >= 3, f"batches stopped at {batches[-1]:.1f} s (first at {first:.1f} s):\n" + "\n".join(
        lines[-40:]
    )
    gaps = [b - a for a, b in zip(batches, batches[1:], strict=False)]
    assert max(gaps) < POLL_INTERVAL, f"a gap of {max(gaps):.1f} s between batches:\n" + "\n".join(lines[-40:])
    assert states and all(p == str(partitions) for _, p, _ in states[-3:]), f"at the end: {states[-3:]}"
    if partitions <= 4:  # a poll of 200 never fills the queue's last 20 %: the consumer never left
        assert all(flow == "1" for _, _, flow in states[2:]), f"the flow stopped: {states}"
    else:  # several polls may fill it, the fetch waits, the consumer leaves: it must rejoin
        # out of the group from the first sample with the flow stopped to the next with it running
        # (sampled every second): it rejoins within a few seconds, never stays out
        out, since = [], None
        for t, _, flow in states:
            if flow == "0" and since is None:
                since = float(t)
            elif flow == "1" and since is not None:
                out.append(float(t) - since)
                since = None
        if since is not None:  # out at the last sample: judged by how long so far (a full run of
            # 9ee7dac saw it leave at 38.1 s, its batches still coming, and the run end at 40 s)
            out.append(float(states[-1][0]) - since)
        assert max(out, default=0.0) <= REJOIN_SECONDS, f"out of the group for {max(out):.1f} s: {states}"
        print(f"left and rejoined {len(out)} times, out for at most {max(out, default=0.0):.1f} s")
