"""Feedback keeps the visit it is about, fixed when it was received: a request
re-dispatched after a no-show has two visits, and joining feedback to the
request's visits counted its rating once per visit, for both caregivers.

Existing rows get the visit ``handlers.evaluation.feedback.visit_concerned`` picks today:
the request's live visit, else its latest no-show.

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feedback") as batch_op:
        batch_op.add_column(sa.Column("visit_id", sa.String(120), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_feedback_visit_id_visits"), "visits", ["visit_id"], ["visit_id"])
        batch_op.create_index(batch_op.f("ix_feedback_visit_id"), ["visit_id"])
    op.execute("""
        UPDATE feedback SET visit_id = (
            SELECT v.visit_id FROM visits v
            WHERE v.request_id = feedback.request_id AND v.status <> 'cancelled'
            ORDER BY CASE WHEN v.status = 'no-show' THEN 1 ELSE 0 END, v.planned_start DESC, v.visit_id DESC
            LIMIT 1)
    """)


def downgrade() -> None:
    with op.batch_alter_table("feedback") as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_visit_id"))
        batch_op.drop_constraint(batch_op.f("fk_feedback_visit_id_visits"), type_="foreignkey")
        batch_op.drop_column("visit_id")
