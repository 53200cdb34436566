"""Elders' preferred caregiver gender and excluded caregivers; caregivers' gender.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("elders") as batch_op:
        batch_op.add_column(sa.Column("preferred_gender", sa.String(8), nullable=True))
        batch_op.add_column(sa.Column("excluded_caregivers", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("caregivers") as batch_op:
        batch_op.add_column(sa.Column("gender", sa.String(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("caregivers") as batch_op:
        batch_op.drop_column("gender")
    with op.batch_alter_table("elders") as batch_op:
        batch_op.drop_column("excluded_caregivers")
        batch_op.drop_column("preferred_gender")
