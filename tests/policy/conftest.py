"""The app fixtures of tests/app (migrated, initialised app on each backend, one user per role)."""
from __future__ import annotations

import pytest
from sqlalchemy import delete

from app.extensions import db
from tests.app.conftest import app, app_ctx, auth, client  # noqa: F401


@pytest.fixture
def policy_clean(app_ctx):
    """Drop versions a test added (bulk deletes skip the immutability guard, as a DBA would)."""
    from app.models.policy import PolicyProfileVersion, ProjectPolicyVersion
    yield app_ctx
    db.session.rollback()
    db.session.execute(delete(PolicyProfileVersion).where(PolicyProfileVersion.number > 1))
    db.session.execute(delete(ProjectPolicyVersion))
    db.session.commit()
