"""(c) of ``careline bench throughput``: the raw loop's work as a Faust agent, with careline's
consumer settings and batches, and nothing of careline's own.

It sits between the raw aiokafka loop (a) and the pipeline (b), so that their ratio splits in
two measured parts: what Faust costs (a : c) and what careline's agents cost on top (c : b).
One agent reads the records the raw loop produced (``src``), takes them a batch at a time the
way careline's agents do (``streams.runtime.take_batches``: ``noack_take``, up to
``batch_max_records`` or ``batch_wait_ms``), wraps each in the validated envelope (the raw
loop's transform), sends the batch to ``dst``, waits for the broker's acknowledgements
(``streams.runtime.deliver_many``), then acknowledges its records so that Faust commits them.

Run by the bench as a child process: ``python -m tools.bench.faust_loop`` with the
environment ``BENCH_FAUST_BROKER`` (host:port), ``BENCH_FAUST_SRC``, ``BENCH_FAUST_DST``,
``BENCH_FAUST_RECORDS`` (how many to wait for) and ``BENCH_FAUST_OUT`` (a JSON file written
once they are all acknowledged: ``records``, ``seconds`` from the first record read to the
last acknowledged, ``cpu_seconds`` of the process meanwhile). ``BENCH_FAUST_SETTINGS`` (JSON)
overrides faust settings for an experiment, e.g. ``{"producer_linger": 0.005}``
(docs/benchmarks.md, "What Faust costs").
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path

import faust

from streams import transport
from streams.app import CONSUMER_SETTINGS
from streams.runtime import ack_all, deliver_many, no_spinner, take_batches
from tools.bench.throughput import validated

transport.install()

SRC, DST = os.environ.get("BENCH_FAUST_SRC", "bench.faust.in"), os.environ.get("BENCH_FAUST_DST", "bench.faust.out")
RECORDS = int(os.environ.get("BENCH_FAUST_RECORDS", "0"))
OUT = Path(os.environ.get("BENCH_FAUST_OUT", "faust-loop.json"))

app = faust.App(
    f"bench-faust-{SRC}",
    broker=f"kafka://{os.environ.get('BENCH_FAUST_BROKER', '127.0.0.1:9092')}",
    web_enabled=False,
    datadir=str(OUT.parent / f"faust-{SRC}"),
    **{**CONSUMER_SETTINGS, **json.loads(os.environ.get("BENCH_FAUST_SETTINGS", "{}"))},
)
src = app.topic(SRC, key_type=None, value_type=None, key_serializer="raw", value_serializer="raw")
dst = app.topic(DST, key_type=None, value_type=None, key_serializer="raw", value_serializer="raw")


@app.agent(src)
async def transform(stream: faust.StreamT) -> None:
    no_spinner(logging.getLogger())  # as careline's worker does (``streams.agents.no_debug_records``)
    done, first, cpu = 0, None, 0.0
    async for events in take_batches(stream):
        if first is None:
            first, cpu = time.perf_counter(), time.process_time()
        await deliver_many(
            dst, [(e.message.key, json.dumps(validated(json.loads(e.message.value or b"{}"))).encode()) for e in events]
        )
        await ack_all(stream, events)
        done += len(events)
        if done >= RECORDS and not OUT.exists():
            seconds = time.perf_counter() - first
            part = OUT.with_suffix(".part")  # renamed into place: the bench never reads half of it
            part.write_text(json.dumps({"records": done, "seconds": seconds, "cpu_seconds": time.process_time() - cpu}))
            part.replace(OUT)


if __name__ == "__main__":
    sys.argv = ["bench-faust-loop", "worker", "--loglevel", "warn", "--without-web"]
    app.main()
