"""Intake fixtures: the app fixtures, plus a demo project and a signal recorder."""
from __future__ import annotations

import weakref
from contextlib import contextmanager

import pytest
from flask_appbuilder import Model

from app.extensions import db
from app.models.intake import Customer, Household, Project, ServiceEvent, WorkOrder
from app.signals import notify, service_event_recorded
from tests.app.conftest import (PASSWORD, RequestClient, _admin_password, app, app_ctx, auth,  # noqa: F401
                                browser_login, client, token_for)


@contextmanager
def _only_test_receivers():
    """Intake tests check what intake sends; the flows' and notifications' receivers (other slices,
    tested in tests/flows and tests/notify) are disconnected meanwhile and reconnected afterwards."""
    saved = []
    for sig in (service_event_recorded, notify):
        for ref in list(sig.receivers.values()):
            receiver = ref() if isinstance(ref, weakref.ref) else ref
            if receiver is not None:
                saved.append((sig, receiver))
                sig.disconnect(receiver)
    try:
        yield
    finally:
        for sig, receiver in saved:
            sig.connect(receiver, weak=False)


@pytest.fixture
def project(app_ctx):
    """翠苑小区 with its households; every intake row is removed afterwards."""
    from app.services.intake.events import ensure_demo_project

    project = ensure_demo_project()
    with _only_test_receivers():
        yield project
    db.session.rollback()
    # Rows of other slices that point at intake rows (e.g. visits started by the flows) go first.
    intake = {m.__table__ for m in (WorkOrder, ServiceEvent, Customer, Household, Project)}
    dependent = set(intake)
    for table in Model.metadata.sorted_tables:
        if any(fk.column.table in dependent for fk in table.foreign_keys):
            dependent.add(table)
    for table in reversed(Model.metadata.sorted_tables):
        if table in dependent:
            db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture
def signals(project):
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
