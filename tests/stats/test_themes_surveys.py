"""Quarterly visit themes (GOV-01) and satisfaction surveys whose unsatisfied items become visits (§2.10);
the flows fill the visit columns the KPIs count (visited_at, success, scores, review, SLA times)."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models.visit import Visit
from app.services.engine import get_engine
from tests.flows.helpers import PLAN, VISIT, complete, start, tasks

from workflows.policy.reporting import period_containing

from .conftest import CST


def test_theme_goes_into_every_visit_of_its_quarter(stats, client, auth):
    stats.project("kp1", "P000-1", households=2)
    manager, agent = auth("manager"), auth("agent")
    quarter = period_containing(stats.clock.now(), "quarter", CST).label
    r = client.post("/api/v1/stats/themes", json={"quarter": quarter, "theme": "冬季供暖"}, headers=manager)
    assert r.status_code == 201, r.json
    assert client.post("/api/v1/stats/themes", json={"quarter": quarter, "theme": "x"},
                       headers=manager).status_code == 409
    r = client.post("/api/v1/stats/themes", json={"quarter": "2024-13", "theme": ""}, headers=manager)
    assert r.status_code == 422 and {"quarter", "theme"} <= {p["field"] for p in r.json["problems"]}
    assert client.post("/api/v1/stats/themes", json={"quarter": quarter, "theme": "x"},
                       headers=agent).status_code == 403
    visit = start(client, auth("supervisor"), category="help", project="kp1")
    assert get_engine().workflow_data(visit["instance_id"])["theme"] == "冬季供暖"


def test_survey_dissatisfaction_items_flow_back_into_visits(stats, client, auth):
    stats.project("k3", "P003", households=3)
    supervisor, agent = auth("supervisor"), auth("agent")
    r = client.post("/api/v1/stats/surveys", json={"project": "k3", "period": "2026-H2",
                                                   "items": ["维修质量", "保洁", "安保"]}, headers=supervisor)
    assert r.status_code == 201, r.json
    survey = r.json["result"]["id"]
    # half-yearly by default (AMB-11): a quarter is refused, naming the period
    r = client.post("/api/v1/stats/surveys", json={"project": "k3", "period": "2026-Q4", "items": ["保洁"]},
                    headers=supervisor)
    assert r.status_code == 422 and r.json["problems"][0]["field"] == "period" and "2024-H1" in str(r.json)
    r = client.post("/api/v1/stats/surveys", json={"project": "nope", "period": "H2", "items": []},
                    headers=supervisor)
    assert r.status_code == 422 and {"project", "period", "items"} <= {p["field"] for p in r.json["problems"]}
    household = stats.household("k3", 1)
    # CAT-SV-01: "unsatisfied" needs its specific reason; nothing is recorded otherwise
    r = client.post(f"/api/v1/stats/surveys/{survey}/responses", headers=agent, json={
        "household_id": household, "answers": [{"item": "保洁", "satisfied": False}, {"item": "绿化", "satisfied": True}]})
    assert r.status_code == 422
    fields = {p["field"] for p in r.json["problems"]}
    assert {"answers[0].reason", "answers[1].item"} <= fields
    assert db.session.scalar(select(Visit.id).where(Visit.category == "survey_item")) is None
    r = client.post(f"/api/v1/stats/surveys/{survey}/responses", headers=agent, json={
        "household_id": household, "answers": [{"item": "维修质量", "satisfied": True},
                                               {"item": "保洁", "satisfied": False, "reason": "楼道三天未拖"},
                                               {"item": "安保", "satisfied": False, "reason": "夜间巡逻少"}]})
    assert r.status_code == 201, r.json
    visit_ids = r.json["result"]["visit_ids"]
    assert len(visit_ids) == 2
    visits = db.session.scalars(select(Visit).where(Visit.id.in_(visit_ids))).all()
    assert {v.category for v in visits} == {"survey_item"} and {v.household for v in visits} == {"1-001"}
    flow = get_engine().workflow_data(visits[0].instance_id)
    assert flow["survey_item"] in ("保洁", "安保") and flow["visitor_role"] == ["DepartmentHead"]  # P003 3.2.5.2
    assert client.post(f"/api/v1/stats/surveys/{survey}/responses", headers=agent, json={
        "household_id": household, "answers": [{"item": "保洁", "satisfied": True}]}).status_code == 409
    summary = client.get(f"/api/v1/stats/surveys/{survey}", headers=supervisor).json["result"]
    assert {i["item"]: i["satisfaction"] for i in summary["items"]} == {"维修质量": 1.0, "保洁": 0.0, "安保": 0.0}


def test_flows_fill_the_columns_the_kpis_count(stats, client, auth):
    stats.project("ks", "P001-S")
    supervisor, agent = auth("supervisor"), auth("agent")
    visit = start(client, supervisor, category="other", project="ks")
    iid = visit["instance_id"]
    complete(client, supervisor, tasks(client, supervisor, iid)["plan"], {**PLAN, "method": "PHONE"})
    # KPI-01: a reached visit of a scoring profile needs both scores, 1–10, named by field
    r = client.post(f"/api/v1/tasks/{tasks(client, agent, iid)['visit']['id']}/complete", headers=agent,
                    json={"data": {**VISIT, "method": "PHONE", "score_market": 11}})
    assert r.status_code == 422 and {"score_market", "score_operating"} & {p.get("field") for p in r.json["problems"]}
    # unreachable first (an actual, unsuccessful visit), then reached with scores
    complete(client, agent, tasks(client, agent, iid)["visit"], {
        "visited_at": "2026-03-05T09:00:00+08:00", "satisfied": False, "summary": "无人接听",
        "outcome": "unreachable", "outcome_reason": "电话无人接听", "method": "PHONE"})
    row = db.session.get(Visit, visit["id"])
    db.session.refresh(row)
    assert (row.success, row.visited_at is not None, row.trigger_at is not None) == (False, True, True)
    complete(client, agent, tasks(client, agent, iid)["visit"], {**VISIT, "method": "PHONE", "score_market": 9,
                                                                 "score_operating": 8})
    complete(client, supervisor, tasks(client, supervisor, iid)["review"], {"qualified": True, "comment": "好"})
    db.session.refresh(row)
    assert (row.success, row.satisfied, row.score_market, row.score_operating, row.qualified) == (True, True, 9, 8,
                                                                                                   True)


def test_complaint_cases_record_their_sla_times(stats, client, auth):
    from datetime import timedelta

    from app.services.reporting import kpis

    stats.project("k3", "P003", households=1)
    supervisor, dept = auth("supervisor"), auth("departmenthead")
    received = stats.clock.now()
    case = start(client, supervisor, category="complaint", severity="MAJOR", project="k3",
                 trigger=received.isoformat())
    row = db.session.get(Visit, case["id"])
    assert row.reply_due is not None and row.due_at is not None  # §5.2: 2 hours / 3 working days
    stats.clock.advance(hours=1)
    complete(client, supervisor, tasks(client, supervisor, case["instance_id"])["reply"],
             {"replied_at": (received + timedelta(minutes=30)).isoformat(), "reply": "已受理"})
    stats.clock.advance(hours=2)
    complete(client, dept, tasks(client, dept, case["instance_id"])["resolve"], {"resolution": "已处理"})
    db.session.refresh(row)
    assert row.replied_at.replace(tzinfo=None) == (received + timedelta(minutes=30)).replace(tzinfo=None)
    assert row.resolved_at is not None
    start_, end = received - timedelta(days=1), received + timedelta(days=1)
    [major] = kpis.sla_compliance(start_, end, project="k3")
    assert (major["severity"], major["reply_on_time"], major["resolve_on_time"]) == ("MAJOR", 1, 1)


def test_the_worker_issues_each_projects_survey_once_per_period_with_its_last_items(stats, client, auth):
    from app.models.stats import Survey
    from app.services.reporting.surveys import DEFAULT_ITEMS, issue_due_surveys

    stats.project("ks1", "P003", households=1)
    stats.project("ks2", "P003", households=1)
    half = period_containing(stats.clock.now(), "half_year", CST)
    r = client.post("/api/v1/stats/surveys", json={"project": "ks1", "period": half.previous().label,
                                                   "items": ["维修质量", "保洁"]}, headers=auth("supervisor"))
    assert r.status_code == 201, r.json
    issued = {(s.project_key, s.period): s.items for s in issue_due_surveys() if s.project_key in ("ks1", "ks2")}
    assert issued == {("ks1", half.label): ["维修质量", "保洁"], ("ks2", half.label): DEFAULT_ITEMS}
    assert [s for s in issue_due_surveys() if s.project_key in ("ks1", "ks2")] == []  # once per period
    from datetime import datetime, time

    stats.clock.set(datetime.combine(half.shifted(1).first, time(9), CST))  # the next half-year begins
    assert [s.period for s in issue_due_surveys() if s.project_key == "ks1"] == [half.shifted(1).label]
    assert db.session.scalar(select(Survey.issued_by).where(Survey.project_key == "ks2")) == "system"
