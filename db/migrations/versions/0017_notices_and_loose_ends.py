"""Issue 16, nobody left uninformed and nothing hidden from the operator: every notice sent
(``notices``: to whom, channel, text, status; the app's inbox too), the outcome an operator
records to close an unserved request or an emergency (``request_outcomes``), the loose ends
of the channels (``loose_ends``: menu hang-ups, unknown callers, check-ins from unknown
phones), each complaint's follow-up deadline and closure (``feedback.followup_*``) and the
time a late visit is now expected (``visits.expected_at``).

Revision ID: 0017
Revises: 0016
"""
import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("notice_id", sa.String(length=300), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=120), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("recipient_role", sa.String(length=16), nullable=False),
        sa.Column("recipient_id", sa.String(length=120), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("to_phone", sa.String(length=32), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("sid", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("notice_id", name=op.f("pk_notices")),
    )
    op.create_index("ix_notices_request_id", "notices", ["request_id"])
    op.create_index("ix_notices_recipient", "notices", ["recipient_role", "recipient_id", "channel"])
    op.create_index("ix_notices_created_at", "notices", ["created_at"])
    op.create_table(
        "request_outcomes",
        sa.Column("request_id", sa.String(length=120), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("operator_id", sa.String(length=120), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["care_requests.request_id"], name=op.f("fk_request_outcomes_request_id_care_requests")
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_request_outcomes")),
    )
    op.create_table(
        "loose_ends",
        sa.Column("loose_end_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("subject", sa.String(length=120), nullable=True),
        sa.Column("service_area", sa.String(length=120), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_by", sa.String(length=120), nullable=True),
        sa.Column("outcome", sa.String(length=40), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("loose_end_id", name=op.f("pk_loose_ends")),
    )
    op.create_index("ix_loose_ends_open", "loose_ends", ["closed_at", "opened_at"])
    with op.batch_alter_table("feedback") as batch_op:
        batch_op.add_column(sa.Column("followup_due_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("followup_closed_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("followup_closed_by", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("followup_note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("channel", sa.String(length=16), nullable=True))
    with op.batch_alter_table("visits") as batch_op:
        batch_op.add_column(sa.Column("expected_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("evv_method", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("visits") as batch_op:
        batch_op.drop_column("evv_method")
        batch_op.drop_column("expected_at")
    with op.batch_alter_table("feedback") as batch_op:
        for column in ("channel", "followup_note", "followup_closed_by", "followup_closed_at", "followup_due_at"):
            batch_op.drop_column(column)
    op.drop_index("ix_loose_ends_open", table_name="loose_ends")
    op.drop_table("loose_ends")
    op.drop_table("request_outcomes")
    op.drop_index("ix_notices_created_at", table_name="notices")
    op.drop_index("ix_notices_recipient", table_name="notices")
    op.drop_index("ix_notices_request_id", table_name="notices")
    op.drop_table("notices")
