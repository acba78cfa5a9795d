"""RET-14: legal hold and tombstones on visits; the destruction register (append-only)

Revision ID: 0011_destruction
Revises: 0010_visit_retention
"""
import sqlalchemy as sa
from alembic import op

revision = "0011_destruction"
down_revision = "0010_visit_retention"
branch_labels = None
depends_on = None

APPEND_ONLY = """
CREATE FUNCTION destruction_register_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the destruction register is kept permanently: % of entry % refused', TG_OP, OLD.id;
END $$;
CREATE TRIGGER destruction_register_append_only BEFORE UPDATE OR DELETE ON destruction_register
    FOR EACH ROW EXECUTE FUNCTION destruction_register_append_only();
"""


def upgrade():
    with op.batch_alter_table("visit") as batch:
        batch.add_column(sa.Column("legal_hold", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("legal_hold_reason", sa.String(500), nullable=True))
        batch.add_column(sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("visit") as batch:
        batch.alter_column("legal_hold", server_default=None)
    op.create_table(
        "destruction_register",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("batch", sa.String(40), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("serials", sa.JSON(), nullable=False),
        sa.Column("category", sa.String(30)),
        sa.Column("archived_at", sa.DateTime(timezone=True)),
        sa.Column("retain_until", sa.DateTime(timezone=True)),
        sa.Column("proposed_by", sa.String(100), nullable=False),
        sa.Column("approved_by", sa.String(100), nullable=False),
        sa.Column("witnessed_by", sa.String(100), nullable=False),
        sa.Column("method", sa.String(30), nullable=False),
        sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
    )
    op.create_index("ix_destruction_register_batch", "destruction_register", ["batch"])
    op.create_index("ix_destruction_register_visit_id", "destruction_register", ["visit_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER destruction_register_append_only ON destruction_register")
        op.execute("DROP FUNCTION destruction_register_append_only()")
    op.drop_table("destruction_register")
    with op.batch_alter_table("visit") as batch:
        batch.drop_column("destroyed_at")
        batch.drop_column("legal_hold_reason")
        batch.drop_column("legal_hold")
