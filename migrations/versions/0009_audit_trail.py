"""audit trail: append-only, hash-chained; PostgreSQL refuses DELETE and all UPDATEs but sealing

Revision ID: 0009_audit_trail
Revises: 0008_event_duplicates
"""
import sqlalchemy as sa
from alembic import op

revision = "0009_audit_trail"
down_revision = "0008_event_duplicates"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UNSEALED = sa.text("seq IS NULL")
CONTENT = ("at", "actor", "action", "target_type", "target_id", "details::text", "ip", "request_id", "source",
           "source_id", "content_hash")

APPEND_ONLY = f"""
CREATE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit_entry is append-only: DELETE of entry % refused', OLD.id;
    END IF;
    IF OLD.seq IS NOT NULL OR NEW.seq IS NULL
       OR ({', '.join('NEW.' + c for c in CONTENT)}) IS DISTINCT FROM ({', '.join('OLD.' + c for c in CONTENT)}) THEN
        RAISE EXCEPTION 'audit_entry is append-only: entry % may only be sealed, once', OLD.id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry
    FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only();
"""


def upgrade():
    op.create_table(
        "audit_entry",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("target_type", sa.String(60)),
        sa.Column("target_id", sa.String(100)),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("ip", sa.String(64)),
        sa.Column("request_id", sa.String(64)),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("source_id", sa.BigInteger()),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger()),
        sa.Column("prev_hash", sa.String(64)),
        sa.Column("chain_hash", sa.String(64)),
        sa.UniqueConstraint("seq", name="uq_audit_entry_seq"),
        sa.UniqueConstraint("source", "source_id", name="uq_audit_entry_source"),
    )
    op.create_index("ix_audit_entry_at", "audit_entry", ["at"])
    op.create_index("ix_audit_entry_actor", "audit_entry", ["actor"])
    op.create_index("ix_audit_entry_action", "audit_entry", ["action"])
    op.create_index("ix_audit_entry_target", "audit_entry", ["target_type", "target_id"])
    op.create_index("ix_audit_entry_unsealed", "audit_entry", ["id"], postgresql_where=UNSEALED,
                    sqlite_where=UNSEALED)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY)
    else:  # SQLite reuses the id of a deleted row unless the table says AUTOINCREMENT
        for table in ("wf_event", "wf_process_instance"):
            with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": True}):
                pass


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_entry_append_only ON audit_entry")
        op.execute("DROP FUNCTION audit_entry_append_only()")
    op.drop_table("audit_entry")
