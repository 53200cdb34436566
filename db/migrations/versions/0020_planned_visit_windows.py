"""``planned_visits`` keeps what the plan knew of a request before it arrived: the service, the
on-time start range, whether the window is hard and whether the slot is half of a synchronised
pair. Without them a slot read back from the database stayed put in a repair
(``handlers.dispatch.repair``): only the offline day could move a planned slot whose request
had not arrived yet. Rows stored before this revision keep NULLs and stay put, as before.

Revision ID: 0020
Revises: 0019
"""
import sqlalchemy as sa
from alembic import op

import db.tables

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_utc = db.tables.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("planned_visits") as batch:
        batch.add_column(sa.Column("service_type", sa.String(60), nullable=True))
        batch.add_column(sa.Column("window_start", _utc(), nullable=True))
        batch.add_column(sa.Column("latest_start", _utc(), nullable=True))
        batch.add_column(sa.Column("window_hard", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("synchronised", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("planned_visits") as batch:
        for name in ("synchronised", "window_hard", "latest_start", "window_start", "service_type"):
            batch.drop_column(name)
