"""Intake fixtures: the app fixtures, plus a demo project and a signal recorder."""
from __future__ import annotations

import pytest
from sqlalchemy import delete

from app.extensions import db
from app.models.intake import Customer, Household, Project, ServiceEvent, WorkOrder
from app.signals import notify, service_event_recorded
from tests.app.conftest import (PASSWORD, RequestClient, _admin_password, app, app_ctx, auth,  # noqa: F401
                                browser_login, client, token_for)


@pytest.fixture
def project(app_ctx):
    """翠苑小区 with its households; every intake row is removed afterwards."""
    from app.services.intake import ensure_demo_project

    project = ensure_demo_project()
    yield project
    db.session.rollback()
    for model in (WorkOrder, ServiceEvent, Customer, Household, Project):
        db.session.execute(delete(model))
    db.session.commit()


@pytest.fixture
def signals(app_ctx):
    """Everything sent on service_event_recorded and notify during the test."""
    seen = {"recorded": [], "notify": []}

    def on_recorded(sender, event, **_):
        seen["recorded"].append((event.id, event.status))

    def on_notify(sender, **kwargs):
        seen["notify"].append(kwargs)

    service_event_recorded.connect(on_recorded)
    notify.connect(on_notify)
    yield seen
    service_event_recorded.disconnect(on_recorded)
    notify.disconnect(on_notify)
