"""policy profiles, versions and project choices

Revision ID: 0002_policy
Revises: 8bf18fdf123a
"""
from alembic import op
import sqlalchemy as sa

revision = "0002_policy"
down_revision = "8bf18fdf123a"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('policy_profile',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('domain', sa.String(length=50), nullable=False),
    sa.Column('source', sa.String(length=300), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_table('policy_profile_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('profile_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('effective_from', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['profile_id'], ['policy_profile.id'], name='fk_policy_profile_version_profile'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('profile_id', 'number', name='uq_policy_profile_version_number')
    )
    with op.batch_alter_table('policy_profile_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_profile_version_profile_id'), ['profile_id'], unique=False)
    op.create_table('policy_project_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_key', sa.String(length=50), nullable=False),
    sa.Column('profile_code', sa.String(length=20), nullable=False),
    sa.Column('overrides', sa.JSON(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('project_key', 'number', name='uq_policy_project_version_number')
    )
    with op.batch_alter_table('policy_project_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_project_version_project_key'), ['project_key'], unique=False)


def downgrade():
    with op.batch_alter_table('policy_project_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_project_version_project_key'))
    op.drop_table('policy_project_version')
    with op.batch_alter_table('policy_profile_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_profile_version_profile_id'))
    op.drop_table('policy_profile_version')
    op.drop_table('policy_profile')
