"""in-app notifications and e-mail outbox

Revision ID: 0005_notifications
Revises: 0004_visits
"""
from alembic import op
import sqlalchemy as sa

revision = "0005_notifications"
down_revision = "0004_visits"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
