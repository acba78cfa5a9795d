"""wf_expect_rows: the server-side row count check of an engine step sent as one statement (PostgreSQL only;
see workflows/statements.py)

Revision ID: 0019_expect_rows
Revises: 0018_shred
"""
from alembic import op

revision = "0019_expect_rows"
down_revision = "0018_shred"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
CREATE OR REPLACE FUNCTION wf_expect_rows(actual bigint, expected integer, changed_table text, statement_no integer)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF actual <> expected THEN
        RAISE EXCEPTION 'wf_expect_rows: % rows of % changed, % expected', actual, changed_table, expected
            USING ERRCODE = 'HF409', DETAIL = 'statement ' || statement_no;
    END IF;
END
$$""")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS wf_expect_rows(bigint, integer, text, integer)")
