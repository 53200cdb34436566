"""Live KPIs read model, written by the worker from its Faust windowed table.

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

import db.tables

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_utc = db.tables.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "live_kpis",
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.String(120), nullable=False),
        sa.Column("window_start", _utc(), nullable=False),
        sa.Column("window_end", _utc(), nullable=False),
        sa.Column("kpis", sa.JSON(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "subject_id", name=op.f("pk_live_kpis")),
    )


def downgrade() -> None:
    op.drop_table("live_kpis")
