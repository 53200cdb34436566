"""Revision 0022 stores the window an elder was last told on her request; requests stored before
it get theirs from the event log, so an upgrade does not make a later re-dispatch forget what
the elder heard (and tell her a "rescheduled" window wrongly)."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from db import tables
from db.migrate import upgrade
from db.session import engine_for
from db.uow import envelope
from handlers.model import DomainEvent


def _request(rid: str) -> dict:
    at = datetime(2026, 11, 30, 9)
    return dict(
        request_id=rid, elder_id="e1", service_type="meal", duration_minutes=30.0, window_start=at,
        window_end=at, service_area="gulou", submitted_at=at, priority="routine", channel="app",
        window_hard=False, window_at_service_end=False, sync_is_follower=False, sync_min_gap=0.0,
        sync_max_gap=0.0, escalation_step=0, status="accepted", version=1,
    )  # fmt: skip


def _told(seq: int, kind: str, rid: str, start: str | None, end: str | None) -> dict:
    """An event log row as the unit of work writes it: the CloudEvents envelope of the event."""
    data = {"request_id": rid} | ({"promised_start": start, "promised_end": end} if start else {})
    event = DomainEvent(kind, rid, datetime(2026, 11, 29, 22, tzinfo=UTC), "offers", rid, data)
    return dict(
        seq=seq, event_id=f"e{seq}", type=kind, subject=rid, time=event.time, payload=envelope(event, f"e{seq}")
    )


def test_requests_stored_before_the_revision_get_the_last_window_told_from_the_event_log(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0021")
    engine = engine_for(url)
    old = sa.MetaData()
    requests, log = (sa.Table(name, old, autoload_with=engine) for name in ("care_requests", "event_log"))
    with engine.connect() as c:
        c.exec_driver_sql("PRAGMA foreign_keys=OFF")  # no register: the requests' elders are not the point
        c.execute(requests.insert(), [_request(r) for r in ("told-twice", "deferred", "round", "never")])
        c.execute(
            log.insert(),
            [
                _told(
                    1, "dispatch.offer.accepted", "told-twice", "2026-11-30T09:00:00+00:00", "2026-11-30T09:45:00+00:00"
                ),
                _told(
                    2, "dispatch.offer.accepted", "told-twice", "2026-11-30T10:05:00+00:00", "2026-11-30T11:00:00+00:00"
                ),
                _told(3, "dispatch.offer.accepted", "deferred", None, None),  # accepted while the rounds were open
                _told(4, "dispatch.offer.accepted", "round", None, None),
                _told(5, "dispatch.promise.told", "round", "2026-11-30T09:15:00+00:00", "2026-11-30T10:00:00+00:00"),
                _told(6, "dispatch.offer.created", "never", "2026-11-30T09:00:00+00:00", "2026-11-30T09:45:00+00:00"),
            ],
        )
        c.commit()
    upgrade(url)
    r = tables.care_requests.c
    with engine.connect() as c:
        rows = dict(
            (rid, (s and s.isoformat(), e and e.isoformat()))
            for rid, s, e in c.execute(sa.select(r.request_id, r.promised_start, r.promised_end))
        )
    assert rows == {
        "told-twice": ("2026-11-30T10:05:00+00:00", "2026-11-30T11:00:00+00:00"),  # the last one told
        "deferred": (None, None),  # accepted but never told
        "round": ("2026-11-30T09:15:00+00:00", "2026-11-30T10:00:00+00:00"),  # told after the last round
        "never": (None, None),  # an offer tells the elder nothing
    }
