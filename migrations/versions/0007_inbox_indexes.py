"""inbox indexes cover the whole inbox order (due_at, created_at, id)

Revision ID: 0007_inbox_indexes
Revises: 0006_event_task_index
"""
import sqlalchemy as sa
from alembic import op

revision = "0007_inbox_indexes"
down_revision = "0006_event_task_index"
branch_labels = None
depends_on = None

UNCLAIMED = sa.text("assignee IS NULL")


def upgrade():
    with op.batch_alter_table("wf_human_task") as batch:
        batch.drop_index("ix_wf_human_task_role_open")
        batch.drop_index("ix_wf_human_task_assignee_due")
        # "assignee IS NULL" in the key does not keep due order, so the pool index is partial.
        batch.create_index("ix_wf_human_task_role_open", ["role", "due_at", "created_at", "id"],
                           postgresql_where=UNCLAIMED, sqlite_where=UNCLAIMED)
        batch.create_index("ix_wf_human_task_assignee_due", ["assignee", "due_at", "created_at", "id"])


def downgrade():
    with op.batch_alter_table("wf_human_task") as batch:
        batch.drop_index("ix_wf_human_task_role_open")
        batch.drop_index("ix_wf_human_task_assignee_due")
        batch.create_index("ix_wf_human_task_role_open", ["role", "assignee", "due_at"])
        batch.create_index("ix_wf_human_task_assignee_due", ["assignee", "due_at"])
