"""The register (issue 15): every field a center keeps about elders, caregivers, providers
and alarm devices, and the points of the register with how each was obtained.

Elders gain gender, birth year, landline, family contacts, address, region path, location
provenance, notes, access notes, preferred caregivers and status; caregivers a weekly rota in
a time zone (their fixed shift becomes optional: a UHHC day keeps it), travel mode, daily
maximum, home address and region path, and room for several languages; providers a region
path, location provenance and an active flag; alarm devices a kind, a SIM number and the
last heartbeat (a device read from a file has no token until one is issued).

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

import db.tables

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "locations",
        sa.Column("location_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("provenance", sa.String(length=16), nullable=False),
        sa.Column("precision", sa.String(length=16), nullable=True),
        sa.Column("created_at", db.tables.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("location_id", name=op.f("pk_locations")),
    )
    with op.batch_alter_table("elders") as batch_op:
        batch_op.add_column(sa.Column("preferred_caregivers", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("gender", sa.String(8), nullable=True))
        batch_op.add_column(sa.Column("birth_year", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("landline", sa.String(32), nullable=True))
        batch_op.add_column(sa.Column("family_contacts", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("address", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("region_path", sa.String(500), nullable=True))
        batch_op.add_column(sa.Column("location_provenance", sa.String(16), nullable=True))
        batch_op.add_column(sa.Column("location_precision", sa.String(16), nullable=True))
        batch_op.add_column(sa.Column("notes", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("access_notes", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("status", sa.String(20), nullable=False, server_default="active"))
        batch_op.create_index(batch_op.f("ix_elders_landline"), ["landline"], unique=False)
        batch_op.create_index(batch_op.f("ix_elders_region_path"), ["region_path"], unique=False)
    with op.batch_alter_table("caregivers") as batch_op:
        batch_op.alter_column("shift_start", existing_type=db.tables.UTCDateTime(), nullable=True)
        batch_op.alter_column("shift_end", existing_type=db.tables.UTCDateTime(), nullable=True)
        batch_op.alter_column("language", existing_type=sa.String(16), type_=sa.String(120))
        batch_op.add_column(sa.Column("rota", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("time_zone", sa.String(64), nullable=False, server_default="UTC"))
        batch_op.add_column(sa.Column("travel_mode", sa.String(10), nullable=True))
        batch_op.add_column(sa.Column("max_visits_per_day", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("home_address", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("region_path", sa.String(500), nullable=True))
        batch_op.create_index(batch_op.f("ix_caregivers_region_path"), ["region_path"], unique=False)
    with op.batch_alter_table("provider_organisations") as batch_op:
        batch_op.add_column(sa.Column("region_path", sa.String(500), nullable=True))
        batch_op.add_column(sa.Column("location_provenance", sa.String(16), nullable=True))
        batch_op.add_column(sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.create_index(
            batch_op.f("ix_provider_organisations_region_path"), ["region_path"], unique=False
        )
    with op.batch_alter_table("alarm_devices") as batch_op:
        batch_op.alter_column("token_sha256", existing_type=sa.String(64), nullable=True)
        batch_op.add_column(sa.Column("kind", sa.String(20), nullable=True))
        batch_op.add_column(sa.Column("phone", sa.String(32), nullable=True))
        batch_op.add_column(sa.Column("last_heartbeat_at", db.tables.UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f("ix_alarm_devices_phone"), ["phone"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("alarm_devices") as batch_op:
        batch_op.drop_index(batch_op.f("ix_alarm_devices_phone"))
        for column in ("last_heartbeat_at", "phone", "kind"):
            batch_op.drop_column(column)
    with op.batch_alter_table("provider_organisations") as batch_op:
        batch_op.drop_index(batch_op.f("ix_provider_organisations_region_path"))
        for column in ("active", "location_provenance", "region_path"):
            batch_op.drop_column(column)
    with op.batch_alter_table("caregivers") as batch_op:
        batch_op.drop_index(batch_op.f("ix_caregivers_region_path"))
        for column in ("region_path", "home_address", "max_visits_per_day", "travel_mode", "time_zone", "rota"):
            batch_op.drop_column(column)
    with op.batch_alter_table("elders") as batch_op:
        batch_op.drop_index(batch_op.f("ix_elders_region_path"))
        batch_op.drop_index(batch_op.f("ix_elders_landline"))
        for column in (
            "status",
            "access_notes",
            "notes",
            "location_precision",
            "location_provenance",
            "region_path",
            "address",
            "family_contacts",
            "landline",
            "birth_year",
            "gender",
            "preferred_caregivers",
        ):
            batch_op.drop_column(column)
    op.drop_table("locations")
