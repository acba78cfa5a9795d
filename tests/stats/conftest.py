"""Statistics tests: a crafted data set of projects, households, service events and visits with known answers.

Rows are inserted directly (the flows that normally write them are tested elsewhere); every table this suite
writes is emptied afterwards, so other suites see what they expect.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select

from app.extensions import db
from tests.app.conftest import _admin_password, app, app_ctx, auth, client  # noqa: F401  (shared fixtures)
from workflows import clock

CST = ZoneInfo("Asia/Shanghai")


def local(*args) -> datetime:
    """A local (Asia/Shanghai) time, aware."""
    return datetime(*args, tzinfo=CST)


def _cleanup():
    from app.models.intake import Customer, Household, Project, ServiceEvent, WorkOrder
    from app.models.stats import Capa, PeriodicReport, Survey, SurveyResponse, VisitTheme
    from app.models.visit import RepairSample, Visit, VisitForm, VisitSerial
    from workflows.models import EngineEvent, HumanTask, ProcessInstance, Timer

    db.session.rollback()
    for model in (SurveyResponse, Survey, VisitTheme, Capa, PeriodicReport, VisitForm, Visit, VisitSerial,
                  RepairSample, WorkOrder):
        db.session.execute(delete(model))
    db.session.execute(delete(ServiceEvent).where(ServiceEvent.duplicate_of_id.is_not(None)))
    db.session.execute(delete(ServiceEvent))
    for model in (Customer, Household):
        db.session.execute(delete(model))
    db.session.execute(delete(Project))
    for model in (EngineEvent, Timer, HumanTask, ProcessInstance):
        db.session.execute(delete(model))
    db.session.commit()


@pytest.fixture
def stats(app_ctx):  # noqa: F811
    """An empty domain with a frozen clock; everything this test wrote is removed afterwards."""
    _cleanup()
    frozen = clock.FrozenClock()  # now: the seeded profile versions are in effect
    with clock.using(frozen):
        yield Data(frozen)
    _cleanup()


class Data:
    """Builders for the crafted data set."""

    def __init__(self, clock_):
        self.clock = clock_
        self.households: dict[tuple[str, str], int] = {}

    def project(self, key: str, profile: str, households: int = 0) -> str:
        from app.models.intake import Household, Project

        project = Project(key=key, name=f"项目 {key}", property_code=key.upper(), policy_profile=profile)
        db.session.add(project)
        db.session.flush()
        for i in range(households):
            h = Household(project_id=project.id, building="1", room=f"{i + 1:03d}", file_no=f"{key.upper()}-1-{i + 1:03d}")
            db.session.add(h)
            db.session.flush()
            self.households[(key, f"1-{i + 1:03d}")] = h.id
        db.session.commit()
        return key

    def household(self, project: str, room: int) -> int:
        return self.households[(project, f"1-{room:03d}")]

    def event(self, project: str, category: str, received: datetime, *, completed: datetime | None = None,
              room: int | None = None, subject: str | None = None, duplicate_of: int | None = None,
              severity: str | None = None) -> int:
        from app.models.intake import Project, ServiceEvent

        project_id = db.session.scalar(select(Project.id).where(Project.key == project))
        status = ("closed" if category == "complaint" else "completed") if completed else "received"
        if duplicate_of:
            status = "duplicate"
        e = ServiceEvent(project_id=project_id, household_id=self.household(project, room) if room else None,
                         category=category, severity=severity or ("MINOR" if category == "complaint" else None),
                         source="a", subject=subject, content="内容", received_at=received.astimezone(timezone.utc),
                         received_by="agent", completed_at=completed.astimezone(timezone.utc) if completed else None,
                         status=status, duplicate_of_id=duplicate_of)
        db.session.add(e)
        db.session.commit()
        return e.id

    def visit(self, project: str, category: str, trigger: datetime, *, process: str = "followup_visit",
              due: datetime | None = None, visited: datetime | None = None, success: bool | None = None,
              satisfied: bool | None = None, qualified: bool | None = None, method: str | None = None,
              visitor: str | None = None, team: str | None = None, market_team: str | None = None,
              score_market: int | None = None, score_operating: int | None = None, event: int | None = None,
              severity: str | None = None, status: str = "archived", reply_due=None, replied=None,
              resolved=None, household: str | None = None) -> int:
        from app.models.visit import Visit

        def utc(value):
            return value.astimezone(timezone.utc) if value is not None else None

        if visited is not None and success is None:
            success = True
        v = Visit(category=category, project_key=project, process_key=process, status=status, revisits=0,
                  created_at=utc(trigger), updated_at=utc(trigger), trigger_at=utc(trigger),
                  due_at=utc(due if due is not None else (trigger + timedelta(days=3) if process != "complaint_case"
                                                          else None)),
                  visited_at=utc(visited), success=success, satisfied=satisfied, qualified=qualified, method=method,
                  visitor=visitor, team=team, market_team=market_team, score_market=score_market,
                  score_operating=score_operating, service_event_id=event, severity=severity,
                  reply_due=utc(reply_due), replied_at=utc(replied), resolved_at=utc(resolved), household=household)
        db.session.add(v)
        db.session.commit()
        return v.id
