"""EVV flag reviews and providers' ratings of the center.

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

import db.tables

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_utc = db.tables.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "evv_reviews",
        sa.Column("visit_id", sa.String(120), nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("operator_id", sa.String(120), nullable=False),
        sa.Column("reviewed_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(["visit_id"], ["visits.visit_id"], name=op.f("fk_evv_reviews_visit_id_visits")),
        sa.PrimaryKeyConstraint("visit_id", "code", name=op.f("pk_evv_reviews")),
    )
    with op.batch_alter_table("evv_reviews") as batch_op:
        batch_op.create_index(batch_op.f("ix_evv_reviews_reviewed_at"), ["reviewed_at"], unique=False)
    op.create_table(
        "center_ratings",
        sa.Column("visit_id", sa.String(120), nullable=False),
        sa.Column("request_id", sa.String(120), nullable=False),
        sa.Column("provider_id", sa.String(120), nullable=False),
        sa.Column("information_correct", sa.Boolean(), nullable=False),
        sa.Column("notice_sufficient", sa.Boolean(), nullable=False),
        sa.Column("stars", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("rated_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(["visit_id"], ["visits.visit_id"], name=op.f("fk_center_ratings_visit_id_visits")),
        sa.ForeignKeyConstraint(["request_id"], ["care_requests.request_id"],
                                name=op.f("fk_center_ratings_request_id_care_requests")),
        sa.PrimaryKeyConstraint("visit_id", name=op.f("pk_center_ratings")),
    )
    with op.batch_alter_table("center_ratings") as batch_op:
        batch_op.create_index(batch_op.f("ix_center_ratings_request_id"), ["request_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_center_ratings_provider_id"), ["provider_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("center_ratings") as batch_op:
        batch_op.drop_index(batch_op.f("ix_center_ratings_provider_id"))
        batch_op.drop_index(batch_op.f("ix_center_ratings_request_id"))
    op.drop_table("center_ratings")
    with op.batch_alter_table("evv_reviews") as batch_op:
        batch_op.drop_index(batch_op.f("ix_evv_reviews_reviewed_at"))
    op.drop_table("evv_reviews")
