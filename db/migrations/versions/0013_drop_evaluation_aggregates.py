"""Drop ``evaluation_aggregates``: per-visit totals from the walking skeleton that
nothing read once live KPIs (``live_kpis``, migration 0011) and the monthly
report took over; folding them cost a database round trip per completed visit.

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("evaluation_aggregates")


def downgrade() -> None:
    op.create_table(
        "evaluation_aggregates",
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.String(length=120), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("on_time", sa.Integer(), nullable=False),
        sa.Column("travel_minutes", sa.Float(), nullable=False),
        sa.Column("lateness_minutes", sa.Float(), nullable=False),
        sa.Column("max_lateness_minutes", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "subject_id", name=op.f("pk_evaluation_aggregates")),
    )
