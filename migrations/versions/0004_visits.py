"""visits, serial-numbered visit forms, samples and merges

Revision ID: 0004_visits
Revises: 0003_intake
"""
from alembic import op
import sqlalchemy as sa

revision = "0004_visits"
down_revision = "0003_intake"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade():
    op.create_table(
        "visit",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("category", sa.String(30), nullable=False),
        sa.Column("project_key", sa.String(50), nullable=True),
        sa.Column("household_id", sa.Integer(), nullable=True),
        sa.Column("household", sa.String(100), nullable=True),
        sa.Column("service_event_id", sa.Integer(), nullable=True),
        sa.Column("severity", sa.String(10), nullable=True),
        sa.Column("window_opens", TZ, nullable=True),
        sa.Column("due_at", TZ, nullable=True),
        sa.Column("profile_version_id", sa.Integer(), nullable=True),
        sa.Column("process_key", sa.String(100), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("serial", sa.String(40), nullable=True),
        sa.Column("visitor", sa.String(100), nullable=True),
        sa.Column("method", sa.String(20), nullable=True),
        sa.Column("result", sa.String(20), nullable=True),
        sa.Column("revisits", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("status_reason", sa.String(500), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.UniqueConstraint("instance_id", name="uq_visit_instance_id"),
    )
    for column in ("category", "project_key", "household_id", "household", "service_event_id", "status"):
        op.create_index(f"ix_visit_{column}", "visit", [column])
    op.create_table(
        "visit_serial",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("project_key", sa.String(50), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.UniqueConstraint("project_key", "year", name="uq_visit_serial_project_year"),
    )
    op.create_table(
        "visit_form",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("visit_id", sa.Integer(), sa.ForeignKey("visit.id", name="fk_visit_form_visit"), nullable=False),
        sa.Column("project_key", sa.String(50), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(40), nullable=False),
        sa.Column("signed_out_by", sa.String(100), nullable=False),
        sa.Column("signed_out_at", TZ, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("void_reason", sa.Text(), nullable=True),
        sa.Column("voided_by", sa.String(100), nullable=True),
        sa.Column("voided_at", TZ, nullable=True),
        sa.UniqueConstraint("project_key", "year", "number", name="uq_visit_form_number"),
    )
    op.create_index("ix_visit_form_visit_id", "visit_form", ["visit_id"])
    op.create_table(
        "visit_repair_sample",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("project_key", sa.String(50), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("seed", sa.String(64), nullable=False),
        sa.Column("population", sa.JSON(), nullable=False),
        sa.Column("sample", sa.JSON(), nullable=False),
        sa.Column("home", sa.JSON(), nullable=False),
        sa.Column("rate", sa.String(20), nullable=True),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("project_key", "month", name="uq_visit_repair_sample_month"),
    )


def downgrade():
    op.drop_table("visit_repair_sample")
    op.drop_index("ix_visit_form_visit_id", "visit_form")
    op.drop_table("visit_form")
    op.drop_table("visit_serial")
    for column in ("category", "project_key", "household_id", "household", "service_event_id", "status"):
        op.drop_index(f"ix_visit_{column}", "visit")
    op.drop_table("visit")
