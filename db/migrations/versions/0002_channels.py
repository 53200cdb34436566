"""Channels: caregiver and elder contact columns, addresses, SMS opt-outs, delivery
status, hotline calls, one-key alarm devices, callback surveys.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 09:00:00
"""
from alembic import op
import sqlalchemy as sa
import db.tables


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

_utc = db.tables.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table('caregivers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('language', sa.String(length=16), nullable=True))
        batch_op.create_index('ix_caregivers_phone', ['phone'], unique=False)
    with op.batch_alter_table('elders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('family_phones', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('language', sa.String(length=16), nullable=True))
        batch_op.create_index('ix_elders_phone', ['phone'], unique=False)

    op.create_table('elder_addresses',
    sa.Column('elder_id', sa.String(length=120), nullable=False),
    sa.Column('address', sa.Text(), nullable=False),
    sa.Column('neighbourhood', sa.String(length=120), nullable=True),
    sa.ForeignKeyConstraint(['elder_id'], ['elders.elder_id'], name=op.f('fk_elder_addresses_elder_id_elders')),
    sa.PrimaryKeyConstraint('elder_id', name=op.f('pk_elder_addresses'))
    )
    op.create_table('sms_opt_outs',
    sa.Column('phone', sa.String(length=32), nullable=False),
    sa.Column('opted_out_at', _utc(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.PrimaryKeyConstraint('phone', name=op.f('pk_sms_opt_outs'))
    )
    op.create_table('message_status',
    sa.Column('sid', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('error_code', sa.String(length=10), nullable=True),
    sa.Column('to_phone', sa.String(length=32), nullable=True),
    sa.Column('purpose', sa.String(length=20), nullable=True),
    sa.Column('request_id', sa.String(length=120), nullable=True),
    sa.Column('updated_at', _utc(), nullable=False),
    sa.PrimaryKeyConstraint('sid', name=op.f('pk_message_status'))
    )
    op.create_table('hotline_calls',
    sa.Column('seq', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('call_sid', sa.String(length=64), nullable=False),
    sa.Column('from_phone', sa.String(length=32), nullable=True),
    sa.Column('elder_id', sa.String(length=120), nullable=True),
    sa.Column('language', sa.String(length=16), nullable=True),
    sa.Column('started_at', _utc(), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('reason', sa.String(length=120), nullable=True),
    sa.Column('service_type', sa.String(length=60), nullable=True),
    sa.Column('priority', sa.String(length=20), nullable=True),
    sa.Column('window_start', _utc(), nullable=True),
    sa.Column('window_end', _utc(), nullable=True),
    sa.Column('request_id', sa.String(length=120), nullable=True),
    sa.Column('completed_at', _utc(), nullable=True),
    sa.ForeignKeyConstraint(['elder_id'], ['elders.elder_id'], name=op.f('fk_hotline_calls_elder_id_elders')),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_hotline_calls')),
    sa.UniqueConstraint('call_sid', name=op.f('uq_hotline_calls_call_sid'))
    )
    with op.batch_alter_table('hotline_calls', schema=None) as batch_op:
        batch_op.create_index('ix_hotline_calls_unfinished', ['outcome', 'started_at'], unique=False)

    op.create_table('alarm_devices',
    sa.Column('device_id', sa.String(length=120), nullable=False),
    sa.Column('elder_id', sa.String(length=120), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', _utc(), nullable=False),
    sa.Column('last_alarm_at', _utc(), nullable=True),
    sa.ForeignKeyConstraint(['elder_id'], ['elders.elder_id'], name=op.f('fk_alarm_devices_elder_id_elders')),
    sa.PrimaryKeyConstraint('device_id', name=op.f('pk_alarm_devices'))
    )
    with op.batch_alter_table('alarm_devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alarm_devices_elder_id'), ['elder_id'], unique=False)

    op.create_table('callback_surveys',
    sa.Column('request_id', sa.String(length=120), nullable=False),
    sa.Column('elder_id', sa.String(length=120), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=True),
    sa.Column('service_type', sa.String(length=60), nullable=False),
    sa.Column('due_at', _utc(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('call_sid', sa.String(length=64), nullable=True),
    sa.Column('sms_sid', sa.String(length=64), nullable=True),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('updated_at', _utc(), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['care_requests.request_id'], name=op.f('fk_callback_surveys_request_id_care_requests')),
    sa.PrimaryKeyConstraint('request_id', name=op.f('pk_callback_surveys'))
    )
    with op.batch_alter_table('callback_surveys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_callback_surveys_phone'), ['phone'], unique=False)


def downgrade() -> None:
    for table in ('callback_surveys', 'alarm_devices', 'hotline_calls', 'message_status', 'sms_opt_outs',
                  'elder_addresses'):
        op.drop_table(table)
    with op.batch_alter_table('elders', schema=None) as batch_op:
        batch_op.drop_index('ix_elders_phone')
        batch_op.drop_column('language')
        batch_op.drop_column('family_phones')
    with op.batch_alter_table('caregivers', schema=None) as batch_op:
        batch_op.drop_index('ix_caregivers_phone')
        batch_op.drop_column('language')
        batch_op.drop_column('phone')
