"""Security (issue 12): login throttle state shared by every web replica, the region of
each audit row (so supervisors and admins read only their own region's), and each
elder's latest emergency (a second alarm within minutes joins the open one).

Older audit rows get no region: only unscoped auditors see them, as before.

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.add_column(sa.Column("region_path", sa.String(500), nullable=True))
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(), nullable=False),
        sa.Column("blocked_until", sa.DateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )
    op.create_table(
        "elder_emergencies",
        sa.Column("elder_id", sa.String(length=120), nullable=False),
        sa.Column("request_id", sa.String(length=120), nullable=False),
        sa.Column("raised_at", sa.DateTime(), nullable=False),
        sa.Column("last_press_at", sa.DateTime(), nullable=False),
        sa.Column("presses", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("elder_id", name=op.f("pk_elder_emergencies")),
    )


def downgrade() -> None:
    op.drop_table("elder_emergencies")
    op.drop_table("login_throttle")
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.drop_column("region_path")
