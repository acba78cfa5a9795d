"""The dashboard's tables (issue 6): every KPI of a period as a table with labelled columns, each count
drillable to its visits (the same predicate, kpis.measure_visits), every table exportable to Excel.

A table is ``{"id", "title", "columns": [{"key", "label", "measure"?}], "rows": [{…, "_filters": {…}}]}``;
a column with a ``measure`` links each cell to ``/stats/visits?measure=…&period=…&<the row's filters>``.
"""
from __future__ import annotations

import io
from datetime import datetime

from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font

from workflows.policy.reporting import Period

from . import detection, kpis

PCT = "pct"


def column(key, label, measure=None, kind=None):
    return {"key": key, "label": label, "measure": measure, "kind": kind}


def tables(period_label: str, *, project: str | None = None, by: str = "project",
           now: datetime | None = None) -> tuple[Period, list[dict]]:
    period, start, end = kpis.period_bounds(period_label)
    kpis.slice_column(by)
    out = []

    cube = kpis.measure_cube(start, end, project=project, now=now)  # one scan for the next three tables
    rates = kpis.visit_rates(start, end, project=project, now=now, cube=cube)
    out.append({"id": "rates", "title": _("Visit rate per category (KPI-12)"), "columns": [
        column("project", _("Project")), column("category", _("Category")), column("eligible", _("Eligible events")),
        column("due", _("Visits planned"), "due"), column("visited", _("Visited"), "visited"),
        column("rate", _("Visit rate"), kind=PCT), column("required_rate", _("Required rate"), kind=PCT),
        column("rate_met", _("Rate met")), column("home", _("HOME visits"), "home"),
        column("home_share", _("HOME share"), kind=PCT), column("min_home_share", _("Minimum HOME share"), kind=PCT),
        column("on_time", _("On time"), "on_time"), column("late", _("Late"), "late"),
        column("on_time_rate", _("On-time rate"), kind=PCT)],
        "rows": [{**r, "_filters": {"project": r["project"], "category": r["category"]}} for r in rates]})

    measures = kpis.rollup(cube, by) if by in kpis.CUBE else kpis.visit_measures(start, end, by=by, project=project,
                                                                                   category=False, now=now)
    out.append({"id": "slices", "title": _("Visits by %(by)s", by=_(by)), "columns": [
        column("slice", _(by.capitalize())), column("due", _("Visits planned"), "due"),
        column("attempted", _("Actual visits"), "attempted"), column("visited", _("Successful"), "visited"),
        column("unsuccessful", _("Unsuccessful"), "unsuccessful"), column("on_time", _("On time"), "on_time"),
        column("late", _("Late"), "late"), column("satisfied", _("Satisfied"), "satisfied"),
        column("unsatisfied", _("Unsatisfied"), "unsatisfied"), column("unqualified", _("Unqualified"), "unqualified")],
        "rows": [{**r, "_filters": {"project": project, "by": by, "value": r["slice"]}} for r in measures]})

    cov = kpis.coverage(start, end, by="team", project=project, now=now, cube=cube)
    out.append({"id": "coverage", "title": _("Coverage and success per business unit (KPI-04/05/07)"), "columns": [
        column("slice", _("Team")), column("due", _("Visits due"), "due"), column("attempted", _("Actual visits"), "attempted"),
        column("visited", _("Successful"), "visited"), column("coverage", _("Coverage"), kind=PCT),
        column("success_rate", _("Success rate"), kind=PCT), column("valid", _("Valid (≥80%)"))],
        "rows": [{**r, "_filters": {"project": project, "by": "team", "value": r["slice"]}} for r in cov]})

    sat = kpis.satisfaction(start, end, project=project)
    out.append({"id": "satisfaction", "title": _("Satisfaction score per business unit (KPI-08)"), "columns": [
        column("unit", _("Team")), column("scores", _("Scores")), column("total", _("Total score")),
        column("average", _("Average")), column("success_rate", _("Success rate"), kind=PCT), column("valid", _("Valid"))],
        "rows": [{**r, "_filters": {}} for r in sat]})

    if period.kind == "year":  # KPI-09 is a year's figure: shown when a year is chosen
        grades = kpis.annual_grades(period.first.year, project=project)
        out.append({"id": "grades", "title": _("Annual grade %(year)s (KPI-09)", year=period.first.year),
                    "columns": [column("unit", _("Team")), column("months", _("Months scored")),
                                column("average", _("Average of months")), column("grade_zh", _("Grade"))],
                    "rows": [{**r, "_filters": {}} for r in grades]})

    comp = kpis.complaint_rates(start, end, project=project)
    out.append({"id": "complaints", "title": _("Complaint rate (KPI-13)"), "columns": [
        column("project", _("Project")), column("complaints", _("Complaints")), column("households", _("Households")),
        column("rate", _("Complaint rate"), kind=PCT), column("target", _("Target"), kind=PCT), column("met", _("Met"))],
        "rows": [{**r, "_filters": {}} for r in comp]})

    sla = kpis.sla_compliance(start, end, project=project, now=now)
    out.append({"id": "sla", "title": _("Complaint SLA compliance per severity (KPI-15)"), "columns": [
        column("severity", _("Severity")), column("cases", _("Cases"), "cases"),
        column("reply_on_time", _("Replied on time"), "reply_on_time"),
        column("reply_breached", _("Reply breached"), "reply_breached"),
        column("reply_compliance", _("Reply compliance"), kind=PCT),
        column("resolve_on_time", _("Resolved on time"), "resolve_on_time"),
        column("resolve_breached", _("Resolve breached"), "resolve_breached"),
        column("resolve_compliance", _("Resolve compliance"), kind=PCT)],
        "rows": [{**r, "_filters": {"project": project, "severity": r["severity"]}} for r in sla]})

    found = detection.findings(period, project=project, now=now)
    out.append({"id": "findings", "title": _("Findings (§4.4)"), "columns": [
        column("rule_title", _("Rule")), column("project", _("Project")), column("title", _("Finding")),
        column("count", _("Count")), column("visits", _("Visits"))],
        "rows": [{**f, "visits": len(f["visit_ids"]), "_filters": {}} for f in found]})
    return period, out


def cell(value, kind=None) -> str:
    if value is None:
        return "—"
    if value is True:
        return "✓"
    if value is False:
        return "✗"
    if kind == PCT and isinstance(value, (int, float)):
        return f"{value * 100:.1f}%"
    return str(value)


def xlsx(title: str, columns: list[dict], rows: list[dict]) -> bytes:
    """One table as an .xlsx workbook: a title row, a bold header, values as numbers (rates as %)."""
    book = Workbook()
    sheet = book.active
    sheet.title = "data"
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=12)
    sheet.append([c["label"] for c in columns])
    for c in sheet[2]:
        c.font = Font(bold=True)
    for row in rows:
        values = []
        for c in columns:
            v = row.get(c["key"])
            if isinstance(v, bool):
                v = "✓" if v else "✗"
            elif isinstance(v, datetime):
                v = v.replace(tzinfo=None)
            elif isinstance(v, (list, dict)):
                v = str(v)
            values.append(v)
        sheet.append(values)
        for c, col in zip(sheet[sheet.max_row], columns):
            if col.get("kind") == PCT and isinstance(c.value, (int, float)):
                c.number_format = "0.0%"
    for i, col in enumerate(columns, start=1):
        sheet.column_dimensions[sheet.cell(row=2, column=i).column_letter].width = max(10, len(str(col["label"])) + 4)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
