"""Flow tests drive the shipped diagrams through the REST API on both backends."""
from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from app import signals
from app.extensions import db
from app.models.visit import RepairSample, Visit, VisitForm, VisitSerial
from tests.app.conftest import _admin_password, app, app_ctx, auth, client  # noqa: F401  (shared fixtures)
from workflows import clock


@pytest.fixture
def flows(app_ctx):  # noqa: F811
    """The app context, with the visit tables emptied afterwards and a frozen clock."""
    # other suites (intake) record events whose flows leave Visit rows: start from empty tables
    for model in (VisitForm, Visit, VisitSerial, RepairSample):
        db.session.execute(delete(model))
    db.session.commit()
    frozen = clock.FrozenClock()
    with clock.using(frozen):
        yield frozen
    db.session.rollback()
    for model in (VisitForm, Visit, VisitSerial, RepairSample):
        db.session.execute(delete(model))
    db.session.commit()


@pytest.fixture
def notified():
    """Every app.signals.notify sent during the test."""
    sent = []

    def receiver(sender, **kwargs):
        sent.append(kwargs)

    signals.notify.connect(receiver)
    yield sent
    signals.notify.disconnect(receiver)


@pytest.fixture
def project(flows):
    """An intake project on a given policy profile, removed afterwards."""
    from app.models.intake import Project

    made = []

    def make(key: str, profile: str) -> str:
        db.session.add(Project(key=key, name=f"项目 {key}", property_code=key.upper(), policy_profile=profile))
        db.session.commit()
        made.append(key)
        return key

    yield make
    from app.models.intake import Customer, Household, ServiceEvent, WorkOrder

    db.session.rollback()
    for key in made:
        project_id = db.session.scalar(select(Project.id).where(Project.key == key))
        households = select(Household.id).where(Household.project_id == project_id)
        # Their filed files go with them: SQLite hands a deleted household's id to the next one.
        from app.models.retention import RetainedRecord

        files = [f"household:{hid}" for hid in db.session.scalars(households)]
        db.session.execute(delete(RetainedRecord).where(RetainedRecord.reference.in_(files)))
        db.session.execute(delete(WorkOrder).where(WorkOrder.project_id == project_id))
        db.session.execute(delete(ServiceEvent).where(ServiceEvent.project_id == project_id))
        db.session.execute(delete(Customer).where(Customer.household_id.in_(households)))
        db.session.execute(delete(Household).where(Household.project_id == project_id))
        db.session.execute(delete(Project).where(Project.id == project_id))
    db.session.commit()
