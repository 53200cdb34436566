"""Dispatch mode per service area (online, batched, planned) and the day plan.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

import db.tables

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("service_areas") as batch_op:
        batch_op.add_column(sa.Column("dispatch_mode", sa.String(16), nullable=False, server_default="online"))
        batch_op.add_column(sa.Column("batch_interval_seconds", sa.Float(), nullable=False, server_default="60"))
    op.create_table(
        "planned_visits",
        sa.Column("request_id", sa.String(120), nullable=False),
        sa.Column("caregiver_id", sa.String(120), nullable=False),
        sa.Column("planned_start", db.tables.UTCDateTime(), nullable=False),
        sa.Column("planned_end", db.tables.UTCDateTime(), nullable=False),
        sa.Column("location_index", sa.Integer(), nullable=True),
        sa.Column("announced_at", db.tables.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["caregiver_id"], ["caregivers.caregiver_id"],
                                name=op.f("fk_planned_visits_caregiver_id_caregivers")),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_planned_visits")),
    )


def downgrade() -> None:
    op.drop_table("planned_visits")
    with op.batch_alter_table("service_areas") as batch_op:
        batch_op.drop_column("batch_interval_seconds")
        batch_op.drop_column("dispatch_mode")
