"""Family contacts opted in to SMS on assignment, arrival and completion.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("elders") as batch_op:
        batch_op.add_column(sa.Column("family_updates", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("elders") as batch_op:
        batch_op.drop_column("family_updates")
