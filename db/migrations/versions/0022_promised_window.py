"""``care_requests.promised_start`` / ``promised_end``: the window the elder was last told.

Until now the window told was recomputed from the request's visits (the first accepted visit's
window, kept while each later start stayed inside it). A visit accepted while a planned day's
confirmation rounds were open was never told to the elder, yet it counted: a round that moved
the request to another caregiver left a history whose first window the elder never heard, and a
later re-dispatch was judged against it (a "rescheduled" notice sent or skipped wrongly; issue
18). The window is now stored when the elder is told it (``handlers.dispatch.offers``,
``handlers.dispatch.rounds``).

Rows written before this revision are filled from the event log: the last
``dispatch.offer.accepted`` that told a window (``promised_start``/``promised_end`` in its
envelope's ``data``) or ``dispatch.promise.told`` of each request, in the log's order.

Revision ID: 0022
Revises: 0021
"""

from datetime import datetime

import sqlalchemy as sa
from alembic import op

import db.tables

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

_utc = db.tables.UTCDateTime
TOLD = ("dispatch.offer.accepted", "dispatch.promise.told")


def upgrade() -> None:
    with op.batch_alter_table("care_requests") as batch:
        batch.add_column(sa.Column("promised_start", _utc(), nullable=True))
        batch.add_column(sa.Column("promised_end", _utc(), nullable=True))
    log = sa.table(
        "event_log", sa.column("seq"), sa.column("type"), sa.column("subject"), sa.column("payload", sa.JSON)
    )
    requests = sa.table(
        "care_requests", sa.column("request_id"), sa.column("promised_start", _utc()), sa.column("promised_end", _utc())
    )
    bind = op.get_bind()
    last: dict[str, tuple[datetime, datetime]] = {}
    rows = bind.execute(sa.select(log.c.subject, log.c.payload).where(log.c.type.in_(TOLD)).order_by(log.c.seq))
    for subject, payload in rows:
        data = (payload or {}).get("data") or {}  # the CloudEvents envelope (db.uow.envelope)
        start, end = data.get("promised_start"), data.get("promised_end")
        if isinstance(start, str) and isinstance(end, str):
            last[subject] = (datetime.fromisoformat(start), datetime.fromisoformat(end))
    for request_id, (start, end) in last.items():
        bind.execute(
            requests.update().where(requests.c.request_id == request_id).values(promised_start=start, promised_end=end)
        )


def downgrade() -> None:
    with op.batch_alter_table("care_requests") as batch:
        batch.drop_column("promised_end")
        batch.drop_column("promised_start")
