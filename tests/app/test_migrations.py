"""The Alembic migrations build exactly the schema the models describe, on both backends."""
from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from app.extensions import TARGET_METADATA, db
from workflows.models import EXPECT_ROWS

from .conftest import make_app


def _differences(engine) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": False})
        return compare_metadata(context, TARGET_METADATA)


def _tables(engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def _functions(engine) -> dict[str, str]:
    """The engine's functions in the schema (PostgreSQL), name -> body; autogenerate does not compare these."""
    if engine.dialect.name != "postgresql":
        return {}
    with engine.connect() as conn:
        return dict(conn.execute(sa.text(
            "SELECT p.proname, p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = current_schema() AND p.proname LIKE 'wf\\_%'")).all())


def _model_functions(engine) -> dict[str, str]:
    """The functions the models create with their tables (workflows/models.py), as the migrations must."""
    if engine.dialect.name != "postgresql":
        return {}
    body = EXPECT_ROWS.statement.replace("%%", "%").split("$$")[1]
    return {"wf_expect_rows": body}


def test_upgrade_matches_the_models_and_downgrade_round_trips(fresh_database_url):
    app = make_app(fresh_database_url)
    with app.app_context():
        engine = db.engine
        assert _tables(engine) == set()
        upgrade()
        model_tables = {t.name for md in TARGET_METADATA for t in md.sorted_tables}
        assert model_tables <= _tables(engine)
        assert _differences(engine) == []
        assert _functions(engine) == _model_functions(engine)

        downgrade(revision="base")
        assert _tables(engine) <= {"alembic_version"}
        assert _functions(engine) == {}

        upgrade()
        assert _differences(engine) == []
        with engine.connect() as conn:
            heads = conn.execute(sa.text("select version_num from alembic_version")).scalars().all()
        assert len(heads) == 1
        db.session.remove()
        engine.dispose()
