"""Periodic reports (SOP_RULES §4.2, §4.4, §6; issue 6): the 月回访汇总表, the period statistics and the
P001-S 回访率报表/客户满意度得分统计表, each a BPMN flow with a timer start event, started by the worker once per
project and period, with its content as PDF (WeasyPrint) and Excel (openpyxl).

Exactly once: a ``stats_report`` row (unique kind + project + period) is inserted in the same transaction as
the flow's instance; a second worker racing for the same period fails on the unique key and starts nothing.
The instance is started while the period runs and waits on its timer start event (``opens_at``); a worker that
was down when a period began still starts it while its report is not yet due (workflows.policy.reporting).
"""
from __future__ import annotations

import io
from datetime import datetime

from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from weasyprint import HTML

from workflows import clock
from workflows.actor import Actor
from workflows.errors import Conflict, NotFound
from workflows.localtime import utc
from workflows.models import EngineEvent, ProcessInstance
from workflows.policy.reporting import Report, parse_period, reports_for

from ...extensions import db
from ...models.intake import Project
from ...models.stats import PeriodicReport
from ..engine import get_engine
from ..records import retained_records
from ..records.retention import filings
from . import detection, kpis
from .capa import start_capa
from .dashboard import column
from .kpis import profile_params

SYSTEM = Actor("system", frozenset({"Supervisor"}))
PROCESSES = ("monthly_summary", "rate_report", "period_statistics")


def start_due_reports(now: datetime | None = None) -> list[PeriodicReport]:
    """What ``flask huifang worker`` calls on every sweep (idempotent)."""
    now = now or clock.now()
    started = []
    for key in db.session.scalars(select(Project.key).order_by(Project.key)).all():
        params = profile_params(key)
        for report in reports_for(params, now):
            if db.session.scalar(select(PeriodicReport.id).where(
                    PeriodicReport.kind == report.kind, PeriodicReport.project_key == key,
                    PeriodicReport.period == report.period)):
                continue
            row = report_row(report, key, now)
            try:
                db.session.add(row)
                db.session.flush()  # another worker's row for this period: IntegrityError (PG waits for it)
                instance = get_engine().start(report.process, SYSTEM, {**report.start_data(), "project": key,
                                                                        "report_id": row.id},
                                              business_key=f"{report.kind}:{key}:{report.period}")
            except IntegrityError:
                db.session.rollback()
                continue
            row.instance_id = instance.id
            db.session.commit()
            started.append(row)
    return started


def report_row(report: Report, project: str, now: datetime) -> PeriodicReport:
    kind = "month" if report.kind != "statistics" else _period_kind(report.period)
    return PeriodicReport(kind=report.kind, period_kind=kind, project_key=project, period=report.period,
                          covers_from=utc(report.covers_from), covers_until=utc(report.covers_until),
                          opens_at=utc(report.opens_at), due_at=utc(report.due_at), created_at=now)


def _period_kind(label: str) -> str:
    return parse_period(label).kind


def after_report_step(process: str, bpmn_id: str, instance_id: int, actor: Actor, data: dict) -> None:
    """FLOW-13/18: the manager's decision starts a CAPA for each finding named (those already acted on are
    skipped). Export and print of the content are audited in the views."""
    report = db.session.scalar(select(PeriodicReport).where(PeriodicReport.instance_id == instance_id))
    if report is None:
        return
    if process == "monthly_summary":
        _file_when_done(report, instance_id, actor)
    if process != "period_statistics" or bpmn_id != "decide":
        return
    for key in data.get("capa_findings") or []:
        try:
            start_capa(key, report.period, actor, project=report.project_key)
        except (Conflict, NotFound):
            db.session.rollback()


def _file_when_done(report: PeriodicReport, instance_id: int, actor: Actor) -> None:
    """RET-01/AMB-10: a finished 月回访汇总表 is filed; its two years run from today."""
    if db.session.scalar(select(ProcessInstance.status).where(ProcessInstance.id == instance_id)) != "completed":
        return
    retained_records.file_record("monthly_summary", f"{report.project_key}:{report.period}",
                                  project_key=report.project_key,
                                  title=f"月回访汇总表 {report.project_key} {report.period}", filed_by=actor.username)
    db.session.commit()


def get_report(report_id: int) -> PeriodicReport:
    report = db.session.get(PeriodicReport, report_id)
    if report is None:
        raise NotFound(f"report {report_id} does not exist")
    return report


# ---------------------------------------------------------------- content (PDF and Excel)

def content(report: PeriodicReport, now: datetime | None = None) -> dict:
    """The report's tables over exactly the span it covers, plus the flow's answers and signatures."""
    start, end, project = utc(report.covers_from), utc(report.covers_until), report.project_key
    tables = []
    rates = kpis.visit_rates(start, end, project=project, now=now)
    tables.append({"id": "rates", "title": _("Visits per category"), "columns": [
        column("category", _("Category")), column("eligible", _("Eligible events")), column("due", _("Visits planned")),
        column("visited", _("Visited")), column("rate", _("Visit rate"), kind="pct"),
        column("required_rate", _("Required rate"), kind="pct"), column("rate_met", _("Rate met")),
        column("home", _("HOME visits")), column("on_time", _("On time")), column("late", _("Late")),
        column("unsatisfied", _("Unsatisfied")), column("unqualified", _("Unqualified"))], "rows": rates})
    if report.kind == "rate_report":
        cov = kpis.coverage(start, end, by="team", project=project, now=now)
        tables.append({"id": "rate_report", "title": "回访率报表 Visit rate report", "columns": [
            column("slice", _("Team")), column("due", _("Visits due")), column("attempted", _("Actual visits")),
            column("coverage", _("Coverage"), kind="pct"), column("visited", _("Successful")),
            column("success_rate", _("Success rate"), kind="pct"), column("valid", _("Valid (≥80%)"))], "rows": cov})
        sat = kpis.satisfaction(start, end, project=project)
        tables.append({"id": "scores", "title": "客户满意度得分统计表 Satisfaction score table", "columns": [
            column("unit", _("Team")), column("total", _("Total score")), column("scores", _("Scores")),
            column("average", _("Average")), column("valid", _("Valid"))], "rows": sat})
    issues, _total = kpis.measure_visits("unsatisfied", start, end, project=project, now=now)
    unqualified, _total = kpis.measure_visits("unqualified", start, end, project=project, now=now)
    seen = set()
    rows = []
    for visit in issues + unqualified:
        if visit["id"] in seen:
            continue
        seen.add(visit["id"])
        rows.append({"serial": visit["serial"] or f"#{visit['id']}", "household": visit["household"],
                     "category": visit["category"],
                     "visitor": " · ".join(x for x in (visit["visitor"], visit["method"]) if x),
                     "visited_at": visit["visited_at"],
                     "result": "不合格 unqualified" if visit["qualified"] is False else "不满意 unsatisfied"})
    tables.append({"id": "issues", "title": _("Unsatisfied and unqualified visits"), "columns": [
        column("serial", _("Form no.")), column("household", _("Household")), column("category", _("Category")),
        column("visitor", _("Visitor")), column("visited_at", _("Visited at")), column("result", _("Result"))],
        "rows": rows})
    if report.kind == "statistics":
        found = detection.findings(parse_period(report.period), project=project, now=now)
        tables.append({"id": "findings", "title": _("Findings (§4.4)"), "columns": [
            column("rule_title", _("Rule")), column("title", _("Finding")), column("count", _("Count")),
            column("key", _("Key"))], "rows": found})
        tables.append({"id": "filings", "title": _("Filing of visit records (RET-02)"), "columns": [
            column("period", _("Period")), column("filing_due", _("Deadline")), column("filed_at", _("Filed")),
            column("forms_filed", _("Forms")), column("state", _("State"))], "rows": _filings(project, start, end)})
    data = get_engine().workflow_data(report.instance_id) if report.instance_id else {}
    signed = {}
    if report.instance_id:
        for bpmn_id, actor, at in db.session.execute(
                select(EngineEvent.detail["bpmn_id"].as_string(), EngineEvent.actor, EngineEvent.at)
                .where(EngineEvent.instance_id == report.instance_id, EngineEvent.kind == "task_completed")
                .order_by(EngineEvent.id)):
            signed[bpmn_id] = {"by": actor, "at": at}
    return {"report": report, "tables": tables, "data": data, "signed": signed}


TITLES = {"monthly_summary": "月回访汇总表", "rate_report": "回访率报表及客户满意度得分统计表",
          "statistics": "回访统计分析报告"}


def _filings(project: str, start: datetime, end: datetime) -> list[dict]:
    """AMB-09: the project's filing periods whose deadline falls in the span, late and overdue ones marked."""
    rows = []
    for row in filings():
        due = datetime.fromisoformat(row["filing_due"]) if row.get("filing_due") else None
        if row["project"] != project or due is None or not start <= utc(due) < end:
            continue
        state = ("逾期归档 filed late" if row["late"] else "已按期归档 filed on time") if row["filed_at"] else (
            "逾期未归档 overdue" if row["overdue"] else "待归档 open")
        rows.append({"period": f"{row['period_start'][:10]} — {row['period_end'][:10]}",
                     "filing_due": row["filing_due"][:10], "filed_at": (row["filed_at"] or "")[:16].replace("T", " "),
                     "forms_filed": row["forms_filed"], "state": state})
    return rows


def pdf(report: PeriodicReport, render) -> bytes:
    """``render(template, **context)`` is the view's renderer (templates need the request's locale)."""
    template = "print/monthly_summary.html" if report.kind == "monthly_summary" else "print/statistics_report.html"
    html = render(template, **content(report), title=TITLES[report.kind])
    return HTML(string=html).write_pdf()


def xlsx(report: PeriodicReport) -> bytes:
    """One sheet per table, a title row naming the report, project and period covered."""
    doc = content(report)
    book = Workbook()
    book.remove(book.active)
    for table in doc["tables"]:
        sheet = book.create_sheet(table["id"][:31])
        sheet.append([f"{TITLES[report.kind]} {report.project_key} {report.period}: {table['title']}"])
        sheet["A1"].font = Font(bold=True)
        sheet.append([c["label"] for c in table["columns"]])
        for cell in sheet[2]:
            cell.font = Font(bold=True)
        for row in table["rows"]:
            values = []
            for c in table["columns"]:
                value = row.get(c["key"])
                if isinstance(value, bool):
                    value = "✓" if value else "✗"
                elif isinstance(value, datetime):
                    value = value.replace(tzinfo=None)
                values.append(value)
            sheet.append(values)
            for cell, col in zip(sheet[sheet.max_row], table["columns"]):
                if col.get("kind") == "pct" and isinstance(cell.value, (int, float)):
                    cell.number_format = "0.0%"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
