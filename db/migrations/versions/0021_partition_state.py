"""The state a worker owns for its service areas (issue 19): ``area_versions`` (one counter
per area, raised by every transaction that changes the area's dispatch state, so the worker
holding it in memory sees another writer), and the indexes that load one area's live state
without reading the whole history: requests by (area, status), visits by (caregiver, planned
end) and by (elder, planned start).

Revision ID: 0021
Revises: 0020 (numbered after main's 0019_timer_service_lease and 0020_planned_visit_windows,
which main deployed first; it was 0018 on branch issue-19, then 0020, and is renumbered so the
chain keeps one head)
"""
import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "area_versions",
        sa.Column("service_area", sa.String(120), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_care_requests_area_status", "care_requests", ["service_area", "status"])
    op.create_index("ix_visits_caregiver_end", "visits", ["caregiver_id", "planned_end"])
    op.create_index("ix_visits_elder_start", "visits", ["elder_id", "planned_start"])


def downgrade() -> None:
    op.drop_index("ix_visits_elder_start", table_name="visits")
    op.drop_index("ix_visits_caregiver_end", table_name="visits")
    op.drop_index("ix_care_requests_area_status", table_name="care_requests")
    op.drop_table("area_versions")
