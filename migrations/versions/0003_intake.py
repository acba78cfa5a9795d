"""projects, households, customers, service events and work orders

Revision ID: 0003_intake
Revises: 0002_policy
"""
from alembic import op
import sqlalchemy as sa

revision = "0003_intake"
down_revision = "0002_policy"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('intake_project',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=50), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('property_type', sa.String(length=50), nullable=False),
    sa.Column('property_code', sa.String(length=20), nullable=False),
    sa.Column('policy_profile', sa.String(length=20), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    op.create_table('intake_household',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('building', sa.String(length=20), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=True),
    sa.Column('room', sa.String(length=20), nullable=False),
    sa.Column('file_no', sa.String(length=60), nullable=False),
    sa.Column('key_customer', sa.Boolean(), nullable=False),
    sa.Column('former_customer', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['intake_project.id'], name='fk_intake_household_project'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('file_no'),
    sa.UniqueConstraint('project_id', 'building', 'room', name='uq_intake_household_room')
    )
    with op.batch_alter_table('intake_household', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intake_household_project_id'), ['project_id'], unique=False)

    op.create_table('intake_customer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('phone', sa.String(length=30), nullable=True),
    sa.Column('id_number', sa.String(length=30), nullable=True),
    sa.Column('contact_notes', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['household_id'], ['intake_household.id'], name='fk_intake_customer_household'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('intake_customer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intake_customer_household_id'), ['household_id'], unique=False)

    op.create_table('intake_service_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=True),
    sa.Column('category', sa.String(length=30), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=True),
    sa.Column('source', sa.String(length=1), nullable=False),
    sa.Column('subject', sa.String(length=100), nullable=True),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_by', sa.String(length=100), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('routed_to', sa.String(length=30), nullable=True),
    sa.Column('contract_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('contract_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('work_order_no', sa.String(length=50), nullable=True),
    sa.Column('extra', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['household_id'], ['intake_household.id'], name='fk_intake_service_event_household'),
    sa.ForeignKeyConstraint(['project_id'], ['intake_project.id'], name='fk_intake_service_event_project'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('intake_service_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intake_service_event_category'), ['category'], unique=False)
        batch_op.create_index(batch_op.f('ix_intake_service_event_household_id'), ['household_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_intake_service_event_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_intake_service_event_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_intake_service_event_subject'), ['subject'], unique=False)

    op.create_table('intake_work_order',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=50), nullable=False),
    sa.Column('service_type', sa.String(length=30), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('assigned_staff', sa.String(length=100), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sampled', sa.Boolean(), nullable=False),
    sa.Column('service_event_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['household_id'], ['intake_household.id'], name='fk_intake_work_order_household'),
    sa.ForeignKeyConstraint(['project_id'], ['intake_project.id'], name='fk_intake_work_order_project'),
    sa.ForeignKeyConstraint(['service_event_id'], ['intake_service_event.id'], name='fk_intake_work_order_service_event'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('project_id', 'number', name='uq_intake_work_order_number')
    )
    with op.batch_alter_table('intake_work_order', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intake_work_order_household_id'), ['household_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_intake_work_order_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_intake_work_order_service_event_id'), ['service_event_id'], unique=False)



def downgrade():
    with op.batch_alter_table('intake_work_order', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intake_work_order_service_event_id'))
        batch_op.drop_index(batch_op.f('ix_intake_work_order_project_id'))
        batch_op.drop_index(batch_op.f('ix_intake_work_order_household_id'))

    op.drop_table('intake_work_order')
    with op.batch_alter_table('intake_service_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intake_service_event_subject'))
        batch_op.drop_index(batch_op.f('ix_intake_service_event_status'))
        batch_op.drop_index(batch_op.f('ix_intake_service_event_project_id'))
        batch_op.drop_index(batch_op.f('ix_intake_service_event_household_id'))
        batch_op.drop_index(batch_op.f('ix_intake_service_event_category'))

    op.drop_table('intake_service_event')
    with op.batch_alter_table('intake_customer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intake_customer_household_id'))

    op.drop_table('intake_customer')
    with op.batch_alter_table('intake_household', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intake_household_project_id'))

    op.drop_table('intake_household')
    op.drop_table('intake_project')

