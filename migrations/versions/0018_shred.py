"""crypto-shredding of the trail's personal values: one data key per subject (visit, household file, retained
record), destroyed with the record; the destruction register notes the key

Entries written before this migration stay as they are (in clear); see docs/DECISIONS.md.

Revision ID: 0018_shred
Revises: 0017_stats
"""
import sqlalchemy as sa
from alembic import op

revision = "0018_shred"
down_revision = "0017_stats"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "audit_trail_key",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("subject_type", sa.String(20), nullable=False),
        sa.Column("subject_id", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.LargeBinary()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("destroyed_at", sa.DateTime(timezone=True)),
        sa.Column("destroyed_in", sa.String(40)),
        sa.UniqueConstraint("subject_type", "subject_id", name="uq_audit_trail_key_subject"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("destruction_register") as batch:
        batch.add_column(sa.Column("trail_subject", sa.String(60)))
        batch.add_column(sa.Column("trail_key_destroyed", sa.Boolean()))


def downgrade():
    with op.batch_alter_table("destruction_register") as batch:
        batch.drop_column("trail_key_destroyed")
        batch.drop_column("trail_subject")
    op.drop_table("audit_trail_key")
