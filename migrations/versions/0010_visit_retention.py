"""RET-01: archived visits carry their filing time and the end of their retention period

Revision ID: 0010_visit_retention
Revises: 0009_audit_trail
"""
import sqlalchemy as sa
from alembic import op

revision = "0010_visit_retention"
down_revision = "0009_audit_trail"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("visit") as batch:
        batch.add_column(sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("retain_until", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_visit_retain_until", ["retain_until"])


def downgrade():
    with op.batch_alter_table("visit") as batch:
        batch.drop_index("ix_visit_retain_until")
        batch.drop_column("retain_until")
        batch.drop_column("archived_at")
