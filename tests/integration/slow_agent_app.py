"""A Faust app with careline's consumer settings (``streams.app.CONSUMER_SETTINGS``) and one
agent that takes batches the way careline's agents do (``streams.runtime.take_events``) and
handles each slowly, for ``test_consumer_stall``. Run as ``python -m tests.integration.slow_agent_app``.

Environment: ``SLOW_BROKER`` (host:port), ``SLOW_TOPIC``, ``SLOW_GROUP``, ``SLOW_DATADIR``,
``SLOW_SECONDS`` (per batch), ``SLOW_BATCH`` (records per batch), ``SLOW_POLL_INTERVAL``
(``broker_max_poll_interval``, seconds) and ``SLOW_SETTINGS`` (JSON, more overrides).
Prints ``batch <seconds since start> <size>`` per batch and, every second, ``state <seconds>
<partitions assigned> <flow active 0/1>``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

import faust

from streams import transport
from streams.app import CONSUMER_SETTINGS
from streams.runtime import ack_all, take_events

transport.install()
T0 = time.monotonic()
app = faust.App(
    os.environ["SLOW_GROUP"],
    broker=f"kafka://{os.environ['SLOW_BROKER']}",
    web_enabled=False,
    datadir=os.environ["SLOW_DATADIR"],
    **{
        **CONSUMER_SETTINGS,
        "broker_max_poll_interval": float(os.environ["SLOW_POLL_INTERVAL"]),
        **json.loads(os.environ.get("SLOW_SETTINGS", "{}")),
    },
)
source = app.topic(os.environ["SLOW_TOPIC"], key_type=None, value_type=None, value_serializer="raw")


@app.agent(source)
async def slowly(stream: faust.StreamT) -> None:
    async for events in take_events(stream, int(os.environ["SLOW_BATCH"]), 0.05):
        print(f"batch {time.monotonic() - T0:.1f} {len(events)}", flush=True)
        await asyncio.sleep(float(os.environ["SLOW_SECONDS"]))  # a slow database step
        await ack_all(stream, events)


@app.timer(1.0)
async def report() -> None:
    c = app.consumer
    print(f"state {time.monotonic() - T0:.1f} {len(c.assignment())} {int(c.flow_active)}", flush=True)


if __name__ == "__main__":
    sys.argv = ["slow-agent-app", "worker", "--loglevel", "warn", "--without-web"]
    app.main()
