"""App fixtures: a migrated, initialised Huifang on each backend, with one user per role."""
from __future__ import annotations

import pytest
from flask_migrate import upgrade
from sqlalchemy import delete

from app import create_app
from app.cli import init
from app.extensions import db
from app.security import ROLES
from workflows.models import EngineEvent, HumanTask, ProcessInstance, Timer

PASSWORD = "test-password-1"
# One user per role, named after it: "agent" holds Agent, "auditor" holds Auditor …
ROLE_USERS = {role: role.lower() for role in ROLES}


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": database_url,
        "TESTING": True,
        "WTF_CSRF_ENABLED": False,
        "FAB_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",  # fast hashing in tests only
    })
    with app.app_context():
        upgrade()
        result = app.test_cli_runner().invoke(init, [])
        assert result.exit_code == 0, result.output
        sm = app.appbuilder.sm
        for role, username in ROLE_USERS.items():
            if sm.find_user(username=username) is None:
                sm.add_user(username, username, "test", f"{username}@test.local", sm.find_role(role), PASSWORD)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app_ctx(app):
    with app.app_context():
        yield app
        db.session.rollback()
        for model in (EngineEvent, Timer, HumanTask, ProcessInstance):
            db.session.execute(delete(model))
        db.session.commit()
        app.extensions["huifang_engine"]._workflows.clear() if "huifang_engine" in app.extensions else None


@pytest.fixture
def client(app_ctx):
    return app_ctx.test_client()


_tokens: dict[tuple[int, str], str] = {}


def token_for(client, username: str) -> dict:
    """Authorization headers for a user, via FAB's JWT login."""
    key = (id(client.application), username)
    if key not in _tokens:
        response = client.post("/api/v1/security/login",
                               json={"username": username, "password": PASSWORD, "provider": "db"})
        assert response.status_code == 200, response.json
        _tokens[key] = response.json["access_token"]
    return {"Authorization": f"Bearer {_tokens[key]}"}


@pytest.fixture
def auth(client):
    return lambda username: token_for(client, username)
