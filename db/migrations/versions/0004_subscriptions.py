"""Recurring services: care_subscriptions.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "care_subscriptions",
        sa.Column("subscription_id", sa.String(120), nullable=False),
        sa.Column("elder_id", sa.String(120), nullable=False),
        sa.Column("service_type", sa.String(60), nullable=False),
        sa.Column("days", sa.String(60), nullable=False),
        sa.Column("at_time", sa.String(5), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("duration_minutes", sa.Float(), nullable=False),
        sa.Column("window_minutes", sa.Float(), nullable=False),
        sa.Column("lead_minutes", sa.Float(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["elder_id"], ["elders.elder_id"],
                                name=op.f("fk_care_subscriptions_elder_id_elders")),
        sa.PrimaryKeyConstraint("subscription_id", name=op.f("pk_care_subscriptions")),
    )
    with op.batch_alter_table("care_subscriptions") as batch_op:
        batch_op.create_index(batch_op.f("ix_care_subscriptions_elder_id"), ["elder_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("care_subscriptions") as batch_op:
        batch_op.drop_index(batch_op.f("ix_care_subscriptions_elder_id"))
    op.drop_table("care_subscriptions")
