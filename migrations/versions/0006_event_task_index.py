"""index engine events by task, so a late completion learns who completed the task first

Revision ID: 0006_event_task_index
Revises: 0005_notifications
"""
from alembic import op

revision = "0006_event_task_index"
down_revision = "0005_notifications"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("wf_event") as batch:
        batch.create_index("ix_wf_event_task_id", ["task_id"], unique=False)


def downgrade():
    with op.batch_alter_table("wf_event") as batch:
        batch.drop_index("ix_wf_event_task_id")
