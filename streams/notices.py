"""The one agent that tells people: ``tell_people`` reads ``dispatch.offers.v1`` and
``care.lifecycle.v1`` and sends the notices each event calls for
(``channels.notices.tell``: the decision is ``handlers.channels.notices``). No other
agent or handler sends a notice; the ``notify.outbound.v1`` topic is gone.

Most records tell nobody anything (decisions, deadlines, status changes): the agent
skips them from the record alone (``channels.notices.wanted``), without a thread hop
or a database session, which kept its predecessor from falling hours behind under
load (docs/benchmarks.md). The records it keeps are told a batch at a time (``tell_batch``).
A record it cannot read is logged and skipped: both topics are internal, written by
careline, so nothing is dead-lettered.
"""

from __future__ import annotations

import logging

from faust.types import StreamT

from channels import notices
from config import topics
from streams import steps
from streams.app import app
from streams.runtime import ack_all, current, db_call, take_batches

log = logging.getLogger("careline.notices")

notice_inbox = app.topic(
    topics.OFFERS.name,
    topics.LIFECYCLE.name,
    key_type=None,
    value_type=None,
    key_serializer="raw",
    value_serializer="raw",
)


def tell(raw: bytes | str | dict) -> int:
    """One record: the notices it calls for, stored and sent; how many (runs in a worker thread)."""
    return len(notices.tell(current().channels, steps.decode(raw)))


def tell_batch(values: list[dict]) -> int:
    """Many records' notices in one transaction (``channels.notices.tell_many``); how many."""
    return len(notices.tell_many(current().channels, values))


@app.agent(notice_inbox)
async def tell_people(stream: StreamT) -> None:
    """Offers and lifecycle events -> SMS, app notices and calls to the people they concern, a
    batch at a time: the batch's notices are decided and stored in one transaction (one per
    record, each a thread hop and a session, kept this agent busy for a tenth of the worker's
    time in the lifecycle bench). A batch that fails is told again record by record, so a bad
    record costs only its own notices; the records are acknowledged after that."""
    async for events in take_batches(stream):
        values = []
        for event in events:
            try:
                value = steps.decode(event.value)
                if notices.wanted(value):
                    values.append(value)
            except Exception:
                log.exception("a record could not be read; skipped")
        if values:
            try:
                await db_call(tell_batch, values)
            except Exception:  # noqa: BLE001 - any failure: each record on its own below
                log.warning("notices of a batch of %d failed; one record at a time", len(values))
                for value in values:
                    try:
                        await db_call(tell, value)
                    except Exception:
                        log.exception("a notice could not be sent; the record is skipped")
        await ack_all(stream, events)
