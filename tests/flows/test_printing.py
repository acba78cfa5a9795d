"""The paper forms as PDF (REC-01, REC-02): text extracted from the PDFs carries the Chinese
titles, the serial on every page, the fields; every print is in the audit trail."""
from __future__ import annotations

import io
import re

from pypdf import PdfReader
from sqlalchemy import select

from app.extensions import db
from app.models.audit import AuditEntry
from app.models.intake import Customer, Household, Project
from app.models.visit import Visit
from app.services.flows import printing

from .helpers import PLAN, VISIT, complete, start, tasks
from tests.app.conftest import browser_login


def _pages(pdf: bytes) -> list[str]:
    reader = PdfReader(io.BytesIO(pdf))
    return [re.sub(r"\s+", " ", page.extract_text()) for page in reader.pages]


def _household(project_key: str) -> Household:
    project_id = db.session.scalar(select(Project.id).where(Project.key == project_key))
    household = Household(project_id=project_id, building="5", unit="1", room="502", file_no=f"{project_key}-5-502")
    db.session.add(household)
    db.session.flush()
    db.session.add(Customer(household_id=household.id, name="王秀英", role="owner", phone="13800001234"))
    db.session.commit()
    return household


def _planned_visit(client, sup, project_key, **extra):
    household = _household(project_key)
    v = start(client, sup, category="repair", project=project_key, household="5栋-502", **extra)
    db.session.get(Visit, v["id"]).household_id = household.id  # as intake links a visit to its household
    db.session.commit()
    complete(client, sup, tasks(client, sup, v["instance_id"])["plan"], PLAN)
    return client.get(f"/api/v1/visits/{v['id']}", headers=sup).json["result"]


def test_blank_and_filled_visit_record_forms(project, client, auth, app_ctx):
    sup, agent = auth("supervisor"), auth("agent")
    key = project("print1", "P000-3")
    v = _planned_visit(client, sup, key)
    serial = v["serial"]
    assert serial.startswith(f"{key}-")

    blank = printing.visit_record(v["id"], blank=True, username="agent")
    [page] = _pages(blank.pdf)
    assert "回访记录表" in page and f"编号 No. {serial}" in page
    assert "5栋-502" in page and "王秀英" in page and "维修" in page
    assert "维修质量 repair quality" in page  # the plan's points to cover
    assert "业主满意" not in page and "第 1 页 / 共 1 页" in page

    long_summary = "业主反映厨房下水已修好，表示满意。" * 120  # several pages: the serial must be on each
    complete(client, agent, tasks(client, agent, v["instance_id"])["visit"], {**VISIT, "summary": long_summary[:2000]})
    filled = printing.visit_record(v["id"], blank=False, username="agent")
    pages = _pages(filled.pdf)
    assert len(pages) >= 2
    for number, text in enumerate(pages, 1):
        assert f"编号 No. {serial}" in text, f"page {number} lacks the serial"
        assert f"第 {number} 页 / 共 {len(pages)} 页" in text
    whole = " ".join(pages)
    assert "业主反映厨房下水已修好" in whole and "上门" in whole and "2026-03-05 10:00" in whole
    assert "是 Yes" in whole and "已联系上 reached" in whole  # satisfied, reached (the flow keeps it as last_outcome)

    # the trail outlives the tests' visit rows (their ids repeat on SQLite): this project's serial is unique
    # the API prints the same document
    r = client.get(f"/api/v1/visit-forms/record/{v['id']}.pdf?blank=1", headers=agent)
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert f"编号 No. {serial}" in " ".join(_pages(r.data))
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "print.visit_record",
                                                          AuditEntry.target_id == str(v["id"]))
                                 .order_by(AuditEntry.at, AuditEntry.id)).all()
    assert [(e.actor, e.details["blank"]) for e in entries if e.details["serial"] == serial] == [
        ("agent", True), ("agent", False), ("agent", True)]


def test_signout_sheet_lists_the_months_forms(project, client, auth, app_ctx, flows):
    sup = auth("supervisor")
    key = project("print2", "P000-3")
    a = _planned_visit(client, sup, key)
    month = flows.now().strftime("%Y-%m")
    sheet = printing.signout_sheet(key, month, username="supervisor")
    text = " ".join(_pages(sheet.pdf))
    assert "回访记录签收表" in text and a["serial"] in text and "5栋-502" in text and "agent" in text
    assert "共 1 份" in text
    other = printing.signout_sheet(key, "2001-01", username="supervisor")
    assert "本期无签出表单" in " ".join(_pages(other.pdf))
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "print.signout_sheet")
                               .order_by(AuditEntry.id.desc())).first()
    assert entry.details["period"] == "2001-01" and entry.details["serials"] == []


def test_bad_print_requests_name_the_problem_and_change_nothing(project, client, auth, app_ctx):
    sup = auth("supervisor")
    key = project("print3", "P000-3")
    browser = browser_login(app_ctx.test_client(), "supervisor")
    browser.get("/lang/en")
    unplanned = start(client, sup, category="help", project=key, household="1栋-1")
    before = db.session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))
    r = browser.get(f"/print/signout.pdf?project={key}&period=2024-13", follow_redirects=True)
    assert "period: a month as YYYY-MM" in r.get_data(as_text=True)
    r = browser.get("/print/signout.pdf?project=nope&period=2024-01", follow_redirects=True)
    assert "project: no project with key" in r.get_data(as_text=True)
    r = browser.get("/print/visit/999999.pdf", follow_redirects=True)
    assert "visit 999999 does not exist" in r.get_data(as_text=True)
    # a visit that is not planned yet has no number: no form to print
    r = browser.get(f"/print/visit/{unplanned['id']}.pdf?blank=1", follow_redirects=True)
    assert "has no 回访记录表 number yet" in r.get_data(as_text=True)
    assert db.session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1)) == before

    r = browser.get(f"/print/signout.pdf?project={key}&period=2024-01")
    assert r.status_code == 200 and r.mimetype == "application/pdf" and r.data.startswith(b"%PDF")
    assert "signout-sheet-print3-2024-01.pdf" in r.headers["Content-Disposition"]
    # an auditor reads but does not print
    assert browser_login(app_ctx.test_client(), "auditor").get(
        f"/print/signout.pdf?project={key}&period=2024-01").status_code in (302, 403)
