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
    pass


def downgrade():
    pass
