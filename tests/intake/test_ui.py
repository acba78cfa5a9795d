"""Intake admin pages: the service-event form validates and announces; complete via the list action."""
from __future__ import annotations

from app.extensions import db
from app.models.intake import Household, ServiceEvent

from .conftest import browser_login


def form(project, **values):
    household = db.session.query(Household).filter_by(building="2", room="102").one()
    return {"project": str(project.id), "household": str(household.id), "category": "repair", "severity": "",
            "source": "d", "subject": "漏水", "content": "厨房漏水 kitchen leak", "received_at": "2024-03-04 09:00:00",
            "contract_start": "", "contract_end": "", "work_order_no": "", **values}


def test_form_records_an_event_and_sends_the_signal(app_ctx, project, signals):
    client = browser_login(app_ctx.test_client(), "agent")
    assert client.get("/serviceeventview/add").status_code == 200
    response = client.post("/serviceeventview/add", data=form(project))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    event = db.session.query(ServiceEvent).one()
    assert (event.category, event.routed_to, event.received_by, event.status) == (
        "repair", "engineering", "agent", "received")
    assert event.received_at.replace(tzinfo=None).isoformat() == "2024-03-04T01:00:00"  # 09:00 Beijing in UTC
    assert signals["recorded"] == [(event.id, "received")]


def test_form_rejects_a_complaint_without_severity_and_a_contract_without_dates(app_ctx, project, signals):
    client = browser_login(app_ctx.test_client(), "agent")
    html = client.post("/serviceeventview/add", data=form(project, category="complaint")).get_data(as_text=True)
    assert "A complaint needs a severity." in html or "投诉必须填写严重程度" in html
    html = client.post("/serviceeventview/add", data=form(project, category="special_service")).get_data(as_text=True)
    assert "A special-service contract needs its start and end." in html or "特约服务合同需要起止日期" in html
    assert db.session.query(ServiceEvent).count() == 0 and signals["recorded"] == []


def test_major_complaint_by_form_notifies_and_routes_to_project_head(app_ctx, project, signals):
    client = browser_login(app_ctx.test_client(), "agent")
    response = client.post("/serviceeventview/add", data=form(project, category="complaint", severity="MAJOR"))
    assert response.status_code == 302
    event = db.session.query(ServiceEvent).one()
    assert event.routed_to == "project_head" and event.severity == "MAJOR"
    assert signals["notify"][0]["roles"] == ["Supervisor", "Manager"]


def test_complete_action_and_who_may_use_it(app_ctx, project, signals):
    client = browser_login(app_ctx.test_client(), "agent")
    client.post("/serviceeventview/add", data=form(project))
    event = db.session.query(ServiceEvent).one()
    response = client.post("/serviceeventview/action_post", data={"action": "complete", "rowid": [str(event.id)]})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(ServiceEvent, event.id).status == "completed"
    assert signals["recorded"][-1] == (event.id, "completed")
    auditor = browser_login(app_ctx.test_client(), "auditor")
    assert auditor.get("/serviceeventview/list/").status_code == 200
    denied = auditor.get("/serviceeventview/add")
    assert denied.status_code == 403  # signed in, but auditors record nothing
    client.post("/serviceeventview/add", data=form(project, content="第二件 second"))
    second = db.session.query(ServiceEvent).filter(ServiceEvent.id != event.id).one()
    auditor.post("/serviceeventview/action_post", data={"action": "complete", "rowid": [str(second.id)]})
    db.session.expire_all()
    assert db.session.get(ServiceEvent, second.id).status == "received"


def test_household_form_sets_file_no_ret09(app_ctx, project):
    client = browser_login(app_ctx.test_client(), "agent")
    response = client.post("/householdview/add", data={"project": str(project.id), "building": "8", "room": "0801",
                                                        "unit": "1", "key_customer": "y"})
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    created = db.session.query(Household).filter_by(building="8").one()
    assert (created.file_no, created.key_customer, created.former_customer) == ("CY-8-0801", True, False)
