"""AMB-34: a service event may be a duplicate report of an open one

Revision ID: 0008_event_duplicates
Revises: 0007_inbox_indexes
"""
import sqlalchemy as sa
from alembic import op

revision = "0008_event_duplicates"
down_revision = "0007_inbox_indexes"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("intake_service_event") as batch:
        batch.add_column(sa.Column("duplicate_of_id", sa.Integer(), nullable=True))
        batch.create_index("ix_intake_service_event_duplicate_of_id", ["duplicate_of_id"])
        batch.create_foreign_key("fk_intake_service_event_duplicate_of", "intake_service_event",
                                 ["duplicate_of_id"], ["id"])


def downgrade():
    with op.batch_alter_table("intake_service_event") as batch:
        batch.drop_constraint("fk_intake_service_event_duplicate_of", type_="foreignkey")
        batch.drop_index("ix_intake_service_event_duplicate_of_id")
        batch.drop_column("duplicate_of_id")
