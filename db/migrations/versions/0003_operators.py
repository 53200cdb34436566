"""Operator dashboard: service area regions, operators, audit log, emergency acknowledgements.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 10:00:00
"""
from alembic import op
import sqlalchemy as sa
import db.tables


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('service_area_regions',
    sa.Column('service_area', sa.String(length=120), nullable=False),
    sa.Column('region_path', sa.String(length=500), nullable=False),
    sa.PrimaryKeyConstraint('service_area', name=op.f('pk_service_area_regions'))
    )
    with op.batch_alter_table('service_area_regions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_area_regions_region_path'), ['region_path'], unique=False)

    op.create_table('operators',
    sa.Column('operator_id', sa.String(length=120), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('region_scope', sa.String(length=500), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('session_epoch', sa.Integer(), nullable=False),
    sa.Column('created_at', db.tables.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('operator_id', name=op.f('pk_operators'))
    )
    op.create_table('audit_log',
    sa.Column('seq', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('operator_id', sa.String(length=120), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=False),
    sa.Column('at', db.tables.UTCDateTime(), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_operator_id'), ['operator_id'], unique=False)

    op.create_table('emergency_acknowledgements',
    sa.Column('request_id', sa.String(length=120), nullable=False),
    sa.Column('operator_id', sa.String(length=120), nullable=False),
    sa.Column('acknowledged_at', db.tables.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['care_requests.request_id'],
                            name=op.f('fk_emergency_acknowledgements_request_id_care_requests')),
    sa.PrimaryKeyConstraint('request_id', name=op.f('pk_emergency_acknowledgements'))
    )


def downgrade() -> None:
    op.drop_table('emergency_acknowledgements')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_operator_id'))
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))
    op.drop_table('audit_log')
    op.drop_table('operators')
    with op.batch_alter_table('service_area_regions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_area_regions_region_path'))
    op.drop_table('service_area_regions')
