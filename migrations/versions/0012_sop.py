"""Repair samples are drawn per month (SMP-01, P002) or per day (fixed-rate profiles): month → period

Revision ID: 0012_sop
Revises: 0011_destruction
"""
import sqlalchemy as sa
from alembic import op

revision = "0012_sop"
down_revision = "0011_destruction"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("visit_repair_sample") as batch:
        batch.drop_constraint("uq_visit_repair_sample_month", type_="unique")
        batch.alter_column("month", new_column_name="period", existing_type=sa.String(7), type_=sa.String(10),
                           existing_nullable=False)
    with op.batch_alter_table("visit_repair_sample") as batch:  # SQLite: the renamed column exists from here on
        batch.create_unique_constraint("uq_visit_repair_sample_period", ["project_key", "period"])


def downgrade():
    # a daily draw (YYYY-MM-DD) has no month-sized key: those rows cannot go back
    op.execute("DELETE FROM visit_repair_sample WHERE LENGTH(period) > 7")
    with op.batch_alter_table("visit_repair_sample") as batch:
        batch.drop_constraint("uq_visit_repair_sample_period", type_="unique")
        batch.alter_column("period", new_column_name="month", existing_type=sa.String(10), type_=sa.String(7),
                           existing_nullable=False)
    with op.batch_alter_table("visit_repair_sample") as batch:
        batch.create_unique_constraint("uq_visit_repair_sample_month", ["project_key", "month"])
