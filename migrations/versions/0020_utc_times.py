"""One time model: the policy tables' times become timestamps with time zone like every other moment (their
values were written as naive UTC).

Revision ID: 0020_utc_times
Revises: 0019_expect_rows
"""
import sqlalchemy as sa
from alembic import op

revision = "0020_utc_times"
down_revision = "0019_expect_rows"
branch_labels = None
depends_on = None

COLUMNS = [("policy_profile_version", "effective_from"), ("policy_profile_version", "created_at"),
           ("policy_project_version", "created_at")]


def upgrade():
    for table, column in COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, type_=sa.DateTime(timezone=True), existing_type=sa.DateTime(),
                               postgresql_using=f"{column} AT TIME ZONE 'UTC'")


def downgrade():
    for table, column in COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, type_=sa.DateTime(), existing_type=sa.DateTime(timezone=True),
                               postgresql_using=f"{column} AT TIME ZONE 'UTC'")
