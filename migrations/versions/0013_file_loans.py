"""RET-18…21: the file borrowing/copying register

Revision ID: 0013_file_loans
Revises: 0012_sop
"""
import sqlalchemy as sa
from alembic import op

revision = "0013_file_loans"
down_revision = "0012_sop"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "intake_file_loan",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("household_id", sa.Integer(), sa.ForeignKey("intake_household.id",
                                                              name="fk_intake_file_loan_household"), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("party", sa.String(10), nullable=False),
        sa.Column("requester", sa.String(100), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("credentials", sa.String(300)),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("approver", sa.String(100)),
        sa.Column("decision_note", sa.Text()),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("returned_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_intake_file_loan_household_id", "intake_file_loan", ["household_id"])
    op.create_index("ix_intake_file_loan_status", "intake_file_loan", ["status"])


def downgrade():
    op.drop_table("intake_file_loan")
