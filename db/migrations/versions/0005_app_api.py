"""App channel: per-user bearer tokens, app submissions, caregivers.display_name.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

import db.tables

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_utc = db.tables.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("caregivers") as batch_op:
        batch_op.add_column(sa.Column("display_name", sa.String(200), nullable=True))
    op.create_table(
        "app_tokens",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("subject_kind", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.String(120), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("revoked_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_app_tokens")),
    )
    with op.batch_alter_table("app_tokens") as batch_op:
        batch_op.create_index("ix_app_tokens_subject", ["subject_kind", "subject_id"], unique=False)
    op.create_table(
        "app_submissions",
        sa.Column("request_id", sa.String(120), nullable=False),
        sa.Column("elder_id", sa.String(120), nullable=False),
        sa.Column("idempotency_key", sa.String(120), nullable=True),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        sa.Column("service_type", sa.String(60), nullable=False),
        sa.Column("priority", sa.String(20), nullable=False),
        sa.Column("duration_minutes", sa.Float(), nullable=False),
        sa.Column("window_start", _utc(), nullable=False),
        sa.Column("window_end", _utc(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("submitted_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(["elder_id"], ["elders.elder_id"], name=op.f("fk_app_submissions_elder_id_elders")),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_app_submissions")),
    )
    with op.batch_alter_table("app_submissions") as batch_op:
        batch_op.create_index(batch_op.f("ix_app_submissions_elder_id"), ["elder_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("app_submissions") as batch_op:
        batch_op.drop_index(batch_op.f("ix_app_submissions_elder_id"))
    op.drop_table("app_submissions")
    with op.batch_alter_table("app_tokens") as batch_op:
        batch_op.drop_index("ix_app_tokens_subject")
    op.drop_table("app_tokens")
    with op.batch_alter_table("caregivers") as batch_op:
        batch_op.drop_column("display_name")
