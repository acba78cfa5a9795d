"""Periodic report flows (§4.2, §4.4, §6): timer start events per profile, started by the worker exactly once
per project and period, approvals as user tasks, PDF and Excel output."""
from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import func, select

from app.extensions import db
from app.models.stats import Capa, PeriodicReport
from app.services.engine import get_engine
from app.services.reporting.reports import start_due_reports
from tests.app.conftest import browser_login
from tests.app.test_ui import form_spec
from tests.flows.helpers import complete, fire_timers, tasks
from workflows.models import HumanTask, Timer
from workflows.policy.reporting import parse_period, report_for, reports_for

from .conftest import CST, local
from .test_detection import _complaint


def _params(code):
    from workflows.policy.profiles import load_profiles

    return load_profiles()[code]


def test_report_schedules_per_profile():
    p1, ps, p3, p2 = (_params(c) for c in ("P000-1", "P001-S", "P003", "P000-2"))
    # P000-1: "before the 24th" (strict) → compiled on the 23rd; to the VP on the 25th; covers cut-off to cut-off
    summary = report_for(p1, "monthly_summary", "2024-03")
    assert (summary.covers_from, summary.covers_until) == (local(2024, 2, 23), local(2024, 3, 23))
    assert summary.opens_at == local(2024, 3, 23) and summary.due_at == local(2024, 3, 23, 23, 59, 59, 999999)
    assert summary.review_due == local(2024, 3, 24, 23, 59, 59, 999999) and summary.submit_at == local(2024, 3, 25)
    # P001-S: the previous calendar month, by the 5th (inclusive, AMB-43)
    rate = report_for(ps, "rate_report", "2024-02")
    assert (rate.covers_from, rate.covers_until, rate.opens_at) == (local(2024, 2, 1), local(2024, 3, 1),
                                                                    local(2024, 3, 1))
    assert rate.due_at == local(2024, 3, 5, 23, 59, 59, 999999)
    # P003: month, quarter and half-year; P000-2: quarter
    kinds = sorted((r.kind, r.period) for r in reports_for(p3, local(2024, 7, 3, 9)))
    assert kinds == [("statistics", "2024-06"), ("statistics", "2024-07"), ("statistics", "2024-H1"),
                     ("statistics", "2024-H2"), ("statistics", "2024-Q2"), ("statistics", "2024-Q3")]
    assert [r.period for r in reports_for(p3, local(2024, 7, 6, 9))] == ["2024-07", "2024-Q3", "2024-H2"]
    assert [(r.period, r.opens_at) for r in reports_for(p2, local(2024, 5, 1))] == [("2024-Q2", local(2024, 7, 1))]
    # the monthly summary after the cut-off is next month's; the one just closed is still listed until it is due
    assert [r.period for r in reports_for(p1, local(2024, 3, 23, 5))] == ["2024-04", "2024-03"]
    assert [r.period for r in reports_for(p1, local(2024, 3, 24, 0, 1))] == ["2024-04"]
    # February has no 30th: the cut-off clamps (P000-1 uses day 23; a day-31 profile would clamp to the 29th)
    assert report_for({**p1, "statistics": {**p1["statistics"], "report_due": {"day": 31}}}, "monthly_summary",
                      "2024-02").covers_until == local(2024, 2, 29)
    assert parse_period("2024-Q1").previous().label == "2023-Q4"


def _count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_monthly_summary_flow_exactly_once_with_pdf_and_excel(stats, client, auth, app_ctx):
    stats.project("kp1", "P000-1", households=5)
    stats.clock._now = local(2027, 1, 10, 9).astimezone(stats.clock._now.tzinfo)
    # records of the summary month (from the 23rd of December to the 22nd of January)
    stats.visit("kp1", "repair", local(2026, 12, 23, 1), process="repair_followup", visited=local(2026, 12, 24),
                method="HOME", satisfied=False, household="1-001", visitor="agent")
    stats.visit("kp1", "repair", local(2027, 1, 23, 1), process="repair_followup")  # next month's

    [row] = start_due_reports()
    assert (row.kind, row.period, row.project_key) == ("monthly_summary", "2027-01", "kp1")
    assert start_due_reports() == [] and _count(PeriodicReport) == 1  # exactly once
    # the flow waits on its timer start event: no task yet, one timer at 00:00 of the 23rd
    assert _count(HumanTask, HumanTask.instance_id == row.instance_id) == 0
    timer = db.session.scalar(select(Timer).where(Timer.instance_id == row.instance_id))
    fire_at = timer.fire_at if timer.fire_at.tzinfo else timer.fire_at.replace(tzinfo=timezone.utc)
    assert fire_at == local(2027, 1, 23)

    runner = app_ctx.test_cli_runner()
    stats.clock.advance(days=13, hours=6)  # 2027-01-23 15:00 local
    result = runner.invoke(args=["huifang", "worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "report flow started: monthly_summary kp1 2027-02" in result.output  # the next month's, waiting
    assert _count(PeriodicReport) == 2
    manager, supervisor, vp, qa = (auth(u) for u in ("manager", "supervisor", "vp", "qualitydept"))
    iid = row.instance_id
    compile_ = tasks(client, supervisor, iid)["compile"]
    assert compile_["role"] == "Supervisor" and compile_["due_at"].startswith("2027-01-23T15:59:59")

    browser = browser_login(app_ctx.test_client(), "supervisor")
    r = browser.get(f"/stats/reports/{row.id}.pdf")
    assert r.status_code == 200
    reader = PdfReader(io.BytesIO(r.data))
    text = "".join(p.extract_text() for p in reader.pages)
    for expected in ("月回访汇总表", "kp1", "2027-01", "1-001", f"第 1 页 / 共 {len(reader.pages)} 页"):
        assert expected in text, expected
    assert float(reader.pages[0].mediabox.width) > float(reader.pages[0].mediabox.height)  # A4 landscape
    r = browser.get(f"/stats/reports/{row.id}.xlsx")
    book = load_workbook(io.BytesIO(r.data))
    assert "rates" in book.sheetnames and "issues" in book.sheetnames
    rates = list(book["rates"].iter_rows(values_only=True))
    assert rates[2][0] == "repair" and rates[2][2] == 1  # one repair visit in the summary month

    complete(client, supervisor, compile_, {"checked": True, "remarks": "本月回访正常"})
    complete(client, manager, tasks(client, manager, iid)["review"], {"analysis": "维修满意度下降",
                                                                      "work_plan": "加强维修回访"})
    assert tasks(client, vp, iid) == {}  # waits for the 25th
    stats.clock._now = local(2027, 1, 25, 0, 0, 1).astimezone(stats.clock._now.tzinfo)
    assert fire_timers() >= 1
    approve = tasks(client, vp, iid)["approve"]
    assert approve["role"] == "VP"
    complete(client, vp, approve, {"approved": False, "instruction": "补充维修分析"})
    complete(client, supervisor, tasks(client, supervisor, iid)["compile"], {"checked": True, "remarks": "已补充"})
    complete(client, manager, tasks(client, manager, iid)["review"], {"analysis": "维修返修率 3%", "work_plan": "培训"})
    stats.clock.advance(days=1)
    fire_timers()
    complete(client, vp, tasks(client, vp, iid)["approve"], {"approved": True, "instruction": "同意，品质部跟进"})
    complete(client, qa, tasks(client, qa, iid)["implement"], {"followup": "已组织工程部培训"})
    assert get_engine()._instance(iid).status == "completed"
    from app.models.retention import RetainedRecord  # AMB-10: the finished summary is filed for two years

    filed = db.session.scalar(select(RetainedRecord).where(RetainedRecord.reference == f"kp1:{row.period}"))
    assert filed.record_class == "monthly_summary" and filed.filed_by == "qualitydept"
    assert filed.retain_until.year == stats.clock.now().year + 2
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(browser.get(f"/stats/reports/{row.id}.pdf").data))
                   .pages)
    assert "同意，品质部跟进" in text and "维修返修率 3%" in text


def test_catch_up_and_statistics_decide_starts_capas(stats, client, auth, app_ctx):
    stats.project("k3", "P003", households=5)
    stats.project("ks", "P001-S")
    stats.clock._now = local(2027, 1, 3, 9).astimezone(stats.clock._now.tzinfo)
    started = {(r.project_key, r.kind, r.period) for r in start_due_reports()}
    assert started == {("k3", "statistics", p) for p in ("2027-01", "2026-12", "2027-Q1", "2026-Q4", "2027-H1",
                                                        "2026-H2")} | {("ks", "rate_report", p)
                                                                      for p in ("2027-01", "2026-12")}
    # the periods that already ended open at once (the worker was down on the 1st); the running ones wait
    fire_timers()
    open_ = db.session.scalars(select(HumanTask.business_key).where(HumanTask.bpmn_id == "compile")).all()
    assert sorted(open_) == ["rate_report:ks:2026-12", "statistics:k3:2026-12", "statistics:k3:2026-H2",
                             "statistics:k3:2026-Q4"]

    # December: three complaints about the same matter (P003: ≥3) → the manager sends the finding to CAPA
    for day in (2, 9, 16):
        _complaint(stats, "k3", 1, "噪音", day, month=12, year=2026)
    key = f"repeat_complaint:k3:{stats.household('k3', 1)}:噪音:2026-12"
    row = db.session.scalar(select(PeriodicReport).where(PeriodicReport.period == "2026-12",
                                                         PeriodicReport.project_key == "k3"))
    agent, supervisor, manager = auth("agent"), auth("supervisor"), auth("manager")
    complete(client, agent, tasks(client, agent, row.instance_id)["compile"], {"analysis": "噪音投诉集中"})
    complete(client, supervisor, tasks(client, supervisor, row.instance_id)["review"], {
        "approved": True, "review_comment": "同意"})
    # the manager decides in the inbox: one finding per line
    decide = tasks(client, manager, row.instance_id)["decide"]
    browser = browser_login(app_ctx.test_client(), "manager")
    page = browser.get(f"/inbox/task/{decide['id']}").get_data(as_text=True)
    spec = form_spec(page)  # the browser draws the field from the schema: an array, one finding a line
    assert spec["schema"]["properties"]["capa_findings"]["type"] == "array"
    r = browser.post(f"/inbox/task/{decide['id']}", data={"decision": "按纠正预防程序处理",
                                                          "capa_findings": f"{key}\nunqualified:k3:1999-01\n"})
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    capa = db.session.scalar(select(Capa).where(Capa.finding_key == key))
    assert capa is not None and capa.period == "2026-12" and capa.created_by == "manager"
    assert _count(Capa) == 1  # the unknown finding started nothing
    assert start_due_reports() == []  # a second sweep starts nothing new
    stats.clock.advance(timedelta(days=3))  # past the 5th: December's reports are due, nothing is re-created
    assert start_due_reports() == []


def test_a_worker_that_loses_the_race_for_a_period_starts_nothing(stats, monkeypatch):
    """Two workers see no report for the period; the second one's insert fails on the unique key and it rolls
    back without starting a flow (exactly once)."""
    from app.services.reporting import reports
    from workflows.models import ProcessInstance

    stats.project("kp1", "P000-1")
    stats.clock._now = local(2027, 1, 10, 9).astimezone(stats.clock._now.tzinfo)
    original = reports.report_row

    def other_worker_first(report, project, now):
        row = original(report, project, now)
        with db.engine.begin() as conn:  # another worker, its own connection, commits first
            conn.execute(PeriodicReport.__table__.insert().values(
                kind=row.kind, period_kind=row.period_kind, project_key=row.project_key, period=row.period,
                covers_from=row.covers_from, covers_until=row.covers_until, opens_at=row.opens_at,
                due_at=row.due_at, created_at=now))
        return row

    monkeypatch.setattr(reports, "report_row", other_worker_first)
    assert start_due_reports() == []
    assert _count(PeriodicReport) == 1
    assert _count(ProcessInstance, ProcessInstance.business_key.like("monthly_summary:%")) == 0


def test_the_statistics_report_shows_late_and_overdue_filing(stats, client, auth, app_ctx):
    """AMB-09 (issue 5): filing deadlines are tasks; a late filing shows in the period's statistics report."""
    from app.models.stats import PeriodicReport
    from app.services.reporting.reports import content
    from app.services.records.retention import filings, start_due_filings

    stats.project("kf", "P003", households=1)
    stats.clock._now = local(2027, 1, 15, 9).astimezone(stats.clock._now.tzinfo)
    start_due_filings()
    [january] = [f for f in filings() if f["project"] == "kf"]
    due = datetime.fromisoformat(january["filing_due"])
    stats.clock._now = (due + timedelta(days=1)).astimezone(stats.clock._now.tzinfo)  # a day late
    archivist = auth("archivist")
    complete(client, archivist, tasks(client, archivist, january["instance_id"])["file"],
             {"filed": True, "forms_filed": 7})
    month = due.astimezone(CST)
    first = local(month.year, month.month, 1)
    report = PeriodicReport(kind="statistics", period_kind="month", project_key="kf", period=f"{month:%Y-%m}",
                            covers_from=first, covers_until=local(month.year + month.month // 12,
                                                                  month.month % 12 + 1, 1),
                            opens_at=first, due_at=first, instance_id=None, created_at=first)
    [table] = [t for t in content(report)["tables"] if t["id"] == "filings"]
    [row] = table["rows"]
    assert row["state"] == "逾期归档 filed late" and row["forms_filed"] == 7
    assert row["period"].startswith("2027-01-01")
