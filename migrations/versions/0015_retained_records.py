"""AMB-10: retention classes beyond visits (sign-out sheets, monthly summaries, former customers' files,
call recordings); the destruction register names either a visit or such a record

Revision ID: 0015_retained_records
Revises: 0014_task_drafts
"""
import sqlalchemy as sa
from alembic import op

revision = "0015_retained_records"
down_revision = "0014_task_drafts"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "retention_record",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("record_class", sa.String(30), nullable=False),
        sa.Column("reference", sa.String(200), nullable=False),
        sa.Column("project_key", sa.String(50)),
        sa.Column("title", sa.String(300)),
        sa.Column("filed_by", sa.String(100), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retain_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("legal_hold", sa.Boolean(), nullable=False),
        sa.Column("legal_hold_reason", sa.String(500)),
        sa.Column("destroyed_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("record_class", "reference", name="uq_retention_record_class_reference"),
    )
    op.create_index("ix_retention_record_record_class", "retention_record", ["record_class"])
    op.create_index("ix_retention_record_retain_until", "retention_record", ["retain_until"])
    with op.batch_alter_table("destruction_register") as batch:
        batch.alter_column("visit_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("record_id", sa.Integer()))
        batch.create_index("ix_destruction_register_record_id", ["record_id"])


def downgrade():
    with op.batch_alter_table("destruction_register") as batch:
        batch.drop_index("ix_destruction_register_record_id")
        batch.drop_column("record_id")
    op.drop_table("retention_record")
