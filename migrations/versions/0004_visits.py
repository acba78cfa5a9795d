"""visits, serial-numbered visit forms, samples and merges

Revision ID: 0004_visits
Revises: 0003_intake
"""
from alembic import op
import sqlalchemy as sa

revision = "0004_visits"
down_revision = "0003_intake"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
