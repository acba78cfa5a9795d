"""Inbox: drafts of half-filled task forms

Revision ID: 0014_task_drafts
Revises: 0013_file_loans
"""
import sqlalchemy as sa
from alembic import op

revision = "0014_task_drafts"
down_revision = "0013_file_loans"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "inbox_task_draft",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("task_id", sa.String(36), nullable=False),
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("task_id", "username", name="uq_inbox_task_draft_task_user"),
    )
    op.create_index("ix_inbox_task_draft_task_id", "inbox_task_draft", ["task_id"])


def downgrade():
    op.drop_table("inbox_task_draft")
