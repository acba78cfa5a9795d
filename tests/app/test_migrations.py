"""The Alembic migrations build exactly the schema the models describe, on both backends."""
from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from app.extensions import TARGET_METADATA, db

from .conftest import make_app


def _differences(engine) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": False})
        return compare_metadata(context, TARGET_METADATA)


def _tables(engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_upgrade_matches_the_models_and_downgrade_round_trips(fresh_database_url):
    app = make_app(fresh_database_url)
    with app.app_context():
        engine = db.engine
        assert _tables(engine) == set()
        upgrade()
        model_tables = {t.name for md in TARGET_METADATA for t in md.sorted_tables}
        assert model_tables <= _tables(engine)
        assert _differences(engine) == []

        downgrade(revision="base")
        assert _tables(engine) <= {"alembic_version"}

        upgrade()
        assert _differences(engine) == []
        with engine.connect() as conn:
            heads = conn.execute(sa.text("select version_num from alembic_version")).scalars().all()
        assert len(heads) == 1
        db.session.remove()
        engine.dispose()
