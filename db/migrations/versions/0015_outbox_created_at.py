"""Index ``outbox.created_at``: a worker given a partition of the live KPI fold rebuilds
its windows from the outbox rows of the last day (``db.live_kpis.stored_events``), and the
outbox keeps every row it ever relayed, so without the index that read scans all of them.

Revision ID: 0015
Revises: 0014
"""
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_created_at", "outbox", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_created_at", table_name="outbox")
