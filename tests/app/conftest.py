"""App fixtures: a migrated, initialised Huifang on each backend, with one user per role."""
from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import delete

from app import create_app
from app.cli import init
from app.extensions import db
from app.security import ROLES
from workflows.models import EngineEvent, HumanTask, ProcessInstance, Timer

PASSWORD = "test-password-1"


class RequestClient(FlaskClient):
    """Each request in its own app context, as in production.

    Without this a request reuses the test's pushed app context, and with it ``g``: Flask-Login
    caches the first request's user there, so a second user's JWT would act as the first user.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)
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
    app.test_client_class = RequestClient
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
        # Visit rows point at instances by id; SQLite reuses the ids of deleted instances (FLOWS).
        from app.models.audit import TrailKey
        from app.models.visit import RepairSample, Visit, VisitForm, VisitSerial
        # trail keys are per visit id, and SQLite hands the next test's visits the same ids
        for model in (VisitForm, Visit, VisitSerial, RepairSample, TrailKey):
            db.session.execute(delete(model))
        for model in (EngineEvent, Timer, HumanTask, ProcessInstance):
            db.session.execute(delete(model))
        # Trail keys belong to subjects by id; SQLite hands deleted visits' and households' ids to new ones,
        # which must not inherit an old (possibly destroyed) key.
        from app.models.audit import TrailKey
        db.session.execute(delete(TrailKey))
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


# ---------------------------------------------------------------- helpers shared by the app tests

@pytest.fixture(scope="session", autouse=True)
def _admin_password(app):
    """`flask huifang init` made "admin" with a generated password; give it the test password."""
    with app.app_context():
        sm = app.appbuilder.sm
        sm.reset_password(sm.find_user(username="admin").id, PASSWORD)
        db.session.remove()


def browser_login(client, username: str):
    """Log a test client in through FAB's /login/ form (a session cookie, like a browser)."""
    response = client.post("/login/", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.data[:500]
    assert "/login" not in response.headers["Location"], f"login as {username} failed"
    return client


def start_visit(client, headers, business_key: str = "1栋-101", **data):
    response = client.post("/api/v1/instances/", headers=headers, json={
        "process": "followup_visit", "business_key": business_key, "data": {"household": business_key, **data}})
    assert response.status_code == 201, response.json
    return response.json["result"]


def open_tasks(client, headers, instance_id: int) -> list[dict]:
    response = client.get(f"/api/v1/instances/{instance_id}", headers=headers)
    assert response.status_code == 200, response.json
    return response.json["result"]["tasks"]


PLAN = {"visitor": "agent", "method": "HOME", "window_days": 3, "content": "维修质量"}
VISIT = {"visited_at": "2024-03-05T10:00:00+08:00", "satisfied": True, "customer_signed": True,
         "visitor_signed": True,
         "summary": "业主满意 satisfied"}


@pytest.fixture
def fresh_database_url(database_url, tmp_path):
    """An empty database of the session's backend, separate from the session app's, dropped afterwards."""
    from tests.conftest import _create_pg_database, _drop_pg_database

    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    url = _create_pg_database()
    yield url
    _drop_pg_database(url)


def make_app(url: str):
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "WTF_CSRF_ENABLED": False,
        "FAB_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    })
    app.test_client_class = RequestClient
    return app
