"""Deadlines: scheduled from outbox rows, fired as events on ``care.timers.v1``.

A firing is only a fact ("offer X expired at T"); the dispatch handler
ignores it when the offer has moved on, so a late or repeated firing is
harmless.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from handlers.clock import SimClock


def schedule(timer_event: dict, clock: SimClock) -> None:
    """Add (or replace) the job for a ``timer.requested`` event, at the wall
    time the deadline maps to plus ``timer_grace_seconds``: replies sent
    before the deadline but still in flight are handled first (the firing
    carries the deadline as its event time)."""
    from config.settings import get_settings
    from streams.runtime import scheduler

    data = timer_event["data"]
    due = datetime.fromisoformat(data["due"])
    grace = timedelta(seconds=get_settings().timer_grace_seconds)
    run_at = max(clock.to_wall(due) + grace, datetime.now(timezone.utc))
    scheduler().add_job(fire, "date", run_date=run_at, id=f"{data['kind']}:{data['target_id']}",
                        replace_existing=True,
                        kwargs={"kind": data["kind"], "target_id": data["target_id"],
                                "service_area": data["service_area"], "due": data["due"]})


async def fire(kind: str, target_id: str, service_area: str, due: str) -> None:
    """Publish the firing; runs inside the worker's event loop."""
    from streams.app import timers_topic

    await timers_topic.send(key=service_area.encode(), value={
        "specversion": "1.0", "id": str(uuid.uuid4()), "source": "careline/timers",
        "type": "timer.fired", "subject": target_id, "time": due, "schema_version": 1,
        "data": {"kind": kind, "target_id": target_id, "service_area": service_area, "due": due},
    })
