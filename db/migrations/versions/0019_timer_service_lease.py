"""``service_leases``: the timer service's claim on its database. APScheduler 3's job store
takes one scheduler; a second ``careline scheduler`` (a replay's own beside a running one)
fired the same jobs and failed removing them (``JobLookupError``). The holder renews its row
every few seconds; another refuses to start while the row is fresh (``careline.scheduler``).

Revision ID: 0019
Revises: 0016 on the register's branch (issue 15); 0018 once the register (0016), notices (0017)
and partition state (0018) are merged before it
"""
import sqlalchemy as sa
from alembic import op

import db.tables

revision = "0019"
down_revision = "0017"
branch_labels = None
depends_on = None

_utc = db.tables.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "service_leases",
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("broker", sa.Text(), nullable=False),
        sa.Column("acquired_at", _utc(), nullable=False),
        sa.Column("renewed_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_service_leases")),
    )


def downgrade() -> None:
    op.drop_table("service_leases")
