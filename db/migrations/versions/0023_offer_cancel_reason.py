"""``offers.cancel_reason``: why an offer ended ``canceled`` (``handlers.model.CancelReason``).

A caregiver who called an accepted visit off, one who did not show up, one whose visit a
confirmation round moved to someone else, one who ran late and handed over, and a request an
operator withdrew all left the offer ``canceled`` alike; a confirmation round then offered a
visit back to the caregiver who had just called it off (issue 18, docs/NOTES.md). Offers
canceled before this revision keep NULL: the reason was not recorded.

Revision ID: 0023
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("offers") as batch:
        batch.add_column(sa.Column("cancel_reason", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("offers") as batch:
        batch.drop_column("cancel_reason")
