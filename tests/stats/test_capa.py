"""CAPA (FLOW-13/14, REC-22): started from a real finding only, once; run through every lane of the flow,
sent back and repeated where the SOP says so; printed as the 纠正与预防措施实施表 (A4, page x of y)."""
from __future__ import annotations

import io

from pypdf import PdfReader
from sqlalchemy import select

from app.extensions import db
from app.models.audit import AuditEntry
from app.models.stats import Capa
from tests.app.conftest import browser_login
from tests.flows.helpers import complete, tasks

from .conftest import local
from .test_detection import _complaint


def _finding(stats):
    stats.project("kp1", "P000-1", households=3)
    _complaint(stats, "kp1", 1, "噪音", 2)
    _complaint(stats, "kp1", 1, "噪音", 10)
    return "repeat_complaint:kp1:{}:噪音:2024-03".format(stats.household("kp1", 1))


def test_a_capa_runs_every_step_and_prints_its_sheet(stats, client, auth, app_ctx):
    key = _finding(stats)
    manager, supervisor, dept, agent = (auth(u) for u in ("manager", "supervisor", "departmenthead", "agent"))
    r = client.post("/api/v1/stats/capa", json={"finding_key": key, "period": "2024-03"}, headers=manager)
    assert r.status_code == 201, r.json
    capa = r.json["result"]
    assert capa["number"].startswith("CAPA-") and len(capa["visit_ids"]) == 2
    # once per finding; only real findings; the agent may not start one
    assert client.post("/api/v1/stats/capa", json={"finding_key": key, "period": "2024-03"},
                       headers=manager).status_code == 409
    r = client.post("/api/v1/stats/capa", json={"finding_key": key, "period": "2024-04"}, headers=manager)
    assert r.status_code == 404
    r = client.post("/api/v1/stats/capa", json={"finding_key": "", "period": "2024-03"}, headers=manager)
    assert r.status_code == 422 and "finding_key" in str(r.json)
    r = client.post("/api/v1/stats/capa", json={"finding_key": key, "period": "March"}, headers=manager)
    assert r.status_code == 422 and "period" in str(r.json)
    assert client.post("/api/v1/stats/capa", json={"finding_key": key, "period": "2024-03"},
                       headers=agent).status_code == 403

    iid = capa["instance_id"]
    open_ = tasks(client, manager, iid)
    assert set(open_) == {"analysis"} and open_["analysis"]["role"] == "DepartmentHead"
    # the form names its field: not at fault needs an explanation
    complete(client, dept, open_["analysis"], {"cause": "夜间施工", "project_at_fault": False}, status=422)
    complete(client, dept, open_["analysis"], {"cause": "夜间装修施工噪音管理不到位", "project_at_fault": True})
    complete(client, dept, tasks(client, dept, iid)["measures"], {
        "corrective": "约谈装修户，限定施工时间", "preventive": "装修巡查增加夜间班次", "owner": "王工",
        "due_date": "2024-04-15"})
    # the supervisor sends it back: analysis again
    complete(client, supervisor, tasks(client, supervisor, iid)["review"], {"approved": False,
                                                                            "review_comment": "原因不具体"})
    assert set(tasks(client, dept, iid)) == {"analysis"}
    complete(client, dept, tasks(client, dept, iid)["analysis"], {"cause": "装修管理规定未执行夜间禁噪",
                                                                  "project_at_fault": True})
    complete(client, dept, tasks(client, dept, iid)["measures"], {
        "corrective": "约谈装修户，限定施工时间", "preventive": "装修巡查增加夜间班次", "owner": "王工",
        "due_date": "2024-04-15"})
    complete(client, supervisor, tasks(client, supervisor, iid)["review"], {"approved": True,
                                                                            "review_comment": "同意"})
    complete(client, manager, tasks(client, manager, iid)["approve"], {"approved": True, "approve_comment": "批准"})
    implement = tasks(client, dept, iid)["implement"]
    assert implement["due_at"].startswith("2024-04-15T15:59:59")  # 24:00 of the due date, local (UTC+8)
    complete(client, dept, implement, {"implementation": "已约谈", "completed_at": "2024-04-10T10:00:00+08:00"})
    # not effective: implement again
    complete(client, supervisor, tasks(client, supervisor, iid)["verify"], {"effective": False,
                                                                            "verify_comment": "仍有投诉"})
    complete(client, dept, tasks(client, dept, iid)["implement"], {"implementation": "已约谈并处罚",
                                                                   "completed_at": "2024-04-14T10:00:00+08:00"})
    complete(client, supervisor, tasks(client, supervisor, iid)["verify"], {"effective": True,
                                                                            "verify_comment": "两周无投诉"})
    revisit = tasks(client, agent, iid)["revisit"]
    assert revisit["role"] == "Agent"
    assert db.session.scalar(select(Capa.status).where(Capa.id == capa["id"])) == "in_progress"
    complete(client, agent, revisit, {"visited_at": "2024-04-20T10:00:00+08:00", "method": "HOME", "satisfied": True,
                                      "summary": "业主表示理解，满意"})
    assert tasks(client, agent, iid) == {}
    db.session.expire_all()
    row = db.session.get(Capa, capa["id"])
    assert row.status == "closed" and row.closed_at is not None

    browser = browser_login(app_ctx.test_client(), "manager")
    r = browser.get(f"/stats/capa/{capa['id']}.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(r.data))
    text = "".join(page.extract_text() for page in reader.pages)
    assert reader.pages[0].mediabox.width == 595 or round(float(reader.pages[0].mediabox.width)) == 595  # A4
    for expected in ("纠正与预防措施实施表", capa["number"], "装修管理规定未执行夜间禁噪", "装修巡查增加夜间班次",
                     "已约谈并处罚", "两周无投诉", "业主表示理解", "departmenthead", "第 1 页 / 共"):
        assert expected in text, expected
    assert db.session.scalar(select(AuditEntry.id).where(AuditEntry.action == "print.pdf",
                                                         AuditEntry.target_id == capa["number"]))
    # the register lists it
    assert capa["number"] in browser.get("/stats/capa-register/list/").get_data(as_text=True)


def test_a_capa_from_the_dashboard_and_without_a_customer_no_revisit(stats, app_ctx, auth, client):
    stats.project("kp1", "P000-1", households=3)
    for day in (1, 2):
        _complaint(stats, "kp1", 1, None, day, month=2)
    for day in (1, 2, 3):
        _complaint(stats, "kp1", 2, None, day)
    browser = browser_login(app_ctx.test_client(), "qualitydept")
    html = browser.get("/stats/?period=2024-03&project=kp1").get_data(as_text=True)
    key = "rising_complaints:previous:kp1:2024-03"
    assert f'value="{key}"' in html
    r = browser.post("/stats/capa", data={"finding_key": key, "period": "2024-03", "project": "kp1"})
    assert r.status_code == 302
    capa = db.session.scalar(select(Capa).where(Capa.finding_key == key))
    assert capa is not None and capa.created_by == "qualitydept" and capa.rule == "rising_complaints"
    flow = app_ctx.extensions["huifang_engine"].workflow_data(capa.instance_id)
    assert flow["revisit_needed"] is False  # a trend has no one customer to re-visit
    html = browser.get("/stats/?period=2024-03&project=kp1").get_data(as_text=True)
    assert capa.number in html  # the finding now links its CAPA instead of offering a new one
