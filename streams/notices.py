"""The one agent that tells people: ``tell_people`` reads ``dispatch.offers.v1`` and
``care.lifecycle.v1`` and sends the notices each event calls for
(``channels.notices.tell``: the decision is ``handlers.channels.notices``). No other
agent or handler sends a notice; the ``notify.outbound.v1`` topic is gone.

Most records tell nobody anything (decisions, deadlines, status changes): the agent
skips them from the record alone (``channels.notices.wanted``), without a thread hop
or a database session, which kept its predecessor from falling hours behind under
load (docs/benchmarks.md). A record it cannot read is logged and skipped: both
topics are internal, written by careline, so nothing is dead-lettered.
"""

from __future__ import annotations

import logging

from faust.types import StreamT

from channels import notices
from config import topics
from streams import steps
from streams.app import app
from streams.runtime import current, db_call

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


@app.agent(notice_inbox)
async def tell_people(stream: StreamT) -> None:
    """Offers and lifecycle events -> SMS, app notices and calls to the people they concern."""
    async for raw in stream:
        try:
            if notices.wanted(steps.decode(raw)):
                await db_call(tell, raw)
        except Exception:
            log.exception("a notice could not be sent; the record is skipped")
