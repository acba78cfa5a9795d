"""Modeler drafts: a process owner's unfinished diagram, one per model and owner (issue 7)

Revision ID: 0016_modeler
Revises: 0015_retained_records
"""
import sqlalchemy as sa
from alembic import op

revision = "0016_modeler"
down_revision = "0015_retained_records"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "modeler_draft",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("model_key", sa.String(100), nullable=False),
        sa.Column("owner", sa.String(100), nullable=False),
        sa.Column("base_version_id", sa.Integer()),
        sa.Column("bpmn_xml", sa.Text(), nullable=False),
        sa.Column("forms", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("model_key", "owner", name="uq_modeler_draft_model_key_owner"),
    )


def downgrade():
    op.drop_table("modeler_draft")
