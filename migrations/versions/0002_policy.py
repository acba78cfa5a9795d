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
    pass


def downgrade():
    pass
