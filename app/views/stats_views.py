"""Statistics pages (issue 6): the KPI dashboard with charts and drill-down, Excel exports, CAPA register and
sheet (PDF), periodic reports (PDF/Excel), quarterly themes and satisfaction surveys. Views are thin: the
numbers come from app/services/kpis.py and detection.py; every export and print is audited."""
from __future__ import annotations

from flask import Response, abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, ModelView, expose
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import select
from weasyprint import HTML

from workflows import clock, localtime
from workflows.errors import EngineError
from workflows.policy.reporting import period_containing

from ..extensions import db
from ..models.intake import Project
from ..models.stats import Capa, PeriodicReport, Survey, VisitTheme
from ..models.visit import Visit
from ..services.engine import current_actor
from ..services.records.audit import record
from ..services.reporting import dashboard, kpis, reports, surveys
from ..services.reporting.capa import capa_sheet, start_capa

ROW_LIMIT = 200  # rows per table on the page; the Excel export has them all
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _args():
    zone = localtime.zone()
    period = (request.args.get("period") or "").strip() or period_containing(clock.now(), "month", zone).label
    return period, (request.args.get("project") or None), (request.args.get("by") or "project")


def _xlsx_response(data: bytes, name: str) -> Response:
    return Response(data, mimetype=XLSX, headers={"Content-Disposition": f"attachment; filename={name}"})


class StatsView(BaseView):
    route_base = "/stats"
    class_permission_name = "Statistics"
    method_permission_name = {"index": "read", "visits": "read", "export": "export", "visits_export": "export",
                              "capa_start": "capa", "capa_pdf": "read", "report_pdf": "read", "report_xlsx": "export",
                              "theme": "manage", "survey": "manage"}
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        period, project, by = _args()
        try:
            period_obj, tables = dashboard.tables(period, project=project, by=by)
        except EngineError as err:
            flash(str(err), "danger")
            return redirect(url_for("StatsView.index"))
        months = [period_obj.months()[-1].shifted(-i) for i in range(11, -1, -1)]
        series = kpis.monthly_series(months, project=project)
        projects = db.session.scalars(select(Project.key).order_by(Project.key)).all()
        quarter = period_containing(clock.now(), "quarter", localtime.zone()).label
        themes = db.session.scalars(select(VisitTheme).order_by(VisitTheme.quarter.desc()).limit(8)).all()
        surveys = db.session.scalars(select(Survey).order_by(Survey.id.desc()).limit(8)).all()
        capas = {c.finding_key: c for c in db.session.scalars(select(Capa))}
        reports = db.session.scalars(select(PeriodicReport).order_by(PeriodicReport.id.desc()).limit(12)).all()
        def drill(measure, filters):
            params = {k: v for k, v in (filters or {}).items() if v not in (None, "")}
            return url_for("StatsView.visits", measure=measure, period=period, **params)

        return self.render_template("stats_dashboard.html", tables=tables, period=period, project=project, by=by,
                                    drill=drill, row_limit=ROW_LIMIT,
                                    series=series, projects=projects, slices=list(kpis.SLICES), cell=dashboard.cell,
                                    quarter=quarter, themes=themes, surveys=surveys, capas=capas, reports=reports,
                                    title=_("Dashboard"))

    def _drill(self):
        period, project, by = _args()
        _period, start, end = kpis.period_bounds(period)
        measure = request.args.get("measure") or "due"
        rows, total = kpis.measure_visits(measure, start, end, project=project, by=request.args.get("by") or None,
                                          value=request.args.get("value"), category=request.args.get("category"),
                                          severity=request.args.get("severity"), limit=2000)
        return period, measure, rows, total

    @expose("/visits")
    @has_access
    def visits(self):
        try:
            period, measure, rows, total = self._drill()
        except EngineError as err:
            flash(str(err), "danger")
            return redirect(url_for("StatsView.index"))
        return self.render_template("stats_visits.html", rows=rows, total=total, period=period, measure=measure,
                                    query=request.query_string.decode(), title=_("Visits behind the number"))

    @expose("/visits.xlsx")
    @has_access
    def visits_export(self):
        try:
            period, measure, rows, total = self._drill()
        except EngineError as err:
            return Response(str(err), status=422, mimetype="text/plain")
        columns = [dashboard.column(k, k) for k in ("id", "serial", "project_key", "category", "household", "visitor",
                                                  "method", "trigger_at", "due_at", "visited_at", "status", "result")]
        record("export.xlsx", target_type="visit", details={"measure": measure, "period": period, "rows": total})
        db.session.commit()
        return _xlsx_response(dashboard.xlsx(f"{measure} {period}", columns, rows), f"visits-{measure}-{period}.xlsx")

    @expose("/export.xlsx")
    @has_access
    def export(self):
        period, project, by = _args()
        try:
            _period, tables = dashboard.tables(period, project=project, by=by)
        except EngineError as err:
            return Response(str(err), status=422, mimetype="text/plain")
        table = next((t for t in tables if t["id"] == request.args.get("table")), None)
        if table is None:
            return Response(f"table: one of {', '.join(t['id'] for t in tables)}", status=422, mimetype="text/plain")
        record("export.xlsx", target_type="statistics", target_id=table["id"],
               details={"period": period, "project": project, "by": by, "rows": len(table["rows"])})
        db.session.commit()
        return _xlsx_response(dashboard.xlsx(f"{table['title']} {period}", table["columns"], table["rows"]),
                              f"{table['id']}-{period}.xlsx")

    @expose("/capa", methods=["POST"])
    @has_access
    def capa_start(self):
        try:
            capa = start_capa(request.form.get("finding_key", ""), request.form.get("period", ""), current_actor(),
                              project=request.form.get("project") or None)
        except EngineError as err:
            db.session.rollback()
            flash(str(err), "danger")
        else:
            flash(_("CAPA %(number)s started", number=capa.number), "success")
        return redirect(url_for("StatsView.index", period=request.form.get("period"),
                                project=request.form.get("project") or None))

    @expose("/capa/<int:capa_id>.pdf")
    @has_access
    def capa_pdf(self, capa_id):
        try:
            sheet = capa_sheet(capa_id)
        except EngineError:
            abort(404)
        visits = db.session.scalars(select(Visit).where(Visit.id.in_(sheet["capa"].visit_ids or [])).order_by(
            Visit.id)).all()
        pdf = HTML(string=self.render_template("print/capa.html", sheet=sheet, visits=visits)).write_pdf()
        record("print.pdf", target_type="capa", target_id=sheet["capa"].number)
        db.session.commit()
        return Response(pdf, mimetype="application/pdf",
                        headers={"Content-Disposition": f"inline; filename={sheet['capa'].number}.pdf"})

    @expose("/reports/<int:report_id>.pdf")
    @has_access
    def report_pdf(self, report_id):
        report = db.session.get(PeriodicReport, report_id) or abort(404)
        data = reports.pdf(report, self.render_template)
        record("print.pdf", target_type="stats_report", target_id=report.id,
               details={"kind": report.kind, "period": report.period, "project": report.project_key})
        db.session.commit()
        return Response(data, mimetype="application/pdf", headers={
            "Content-Disposition": f"inline; filename={report.kind}-{report.project_key}-{report.period}.pdf"})

    @expose("/reports/<int:report_id>.xlsx")
    @has_access
    def report_xlsx(self, report_id):
        report = db.session.get(PeriodicReport, report_id) or abort(404)
        data = reports.xlsx(report)
        record("export.xlsx", target_type="stats_report", target_id=report.id,
               details={"kind": report.kind, "period": report.period, "project": report.project_key})
        db.session.commit()
        return _xlsx_response(data, f"{report.kind}-{report.project_key}-{report.period}.xlsx")

    @expose("/themes", methods=["POST"])
    @has_access
    def theme(self):
        try:
            surveys.publish_theme(request.form.get("quarter", ""), request.form.get("theme", ""),
                                  request.form.get("content"), current_actor(), scope=request.form.get("scope") or None)
        except EngineError as err:
            db.session.rollback()
            flash(str(err), "danger")
        else:
            flash(_("Theme published"), "success")
        return redirect(url_for("StatsView.index"))

    @expose("/surveys", methods=["POST"])
    @has_access
    def survey(self):
        items = [i.strip() for i in (request.form.get("items") or "").splitlines() if i.strip()]
        try:
            surveys.issue_survey(request.form.get("project", ""), request.form.get("period", ""), items,
                                 current_actor())
        except EngineError as err:
            db.session.rollback()
            flash(str(err), "danger")
        else:
            flash(_("Survey issued"), "success")
        return redirect(url_for("StatsView.index"))


class CapaView(ModelView):
    """纠正与预防措施 register: read-only; CAPAs start from findings and run as flows."""
    route_base = "/stats/capa-register"
    datamodel = SQLAInterface(Capa)
    class_permission_name = "Statistics"
    method_permission_name = {"list": "read", "show": "read"}
    base_permissions = ["can_read"]
    base_order = ("id", "desc")
    list_columns = ["number", "project_key", "period", "title", "status", "created_by", "created_at", "closed_at"]
    search_columns = ["number", "project_key", "period", "rule", "status"]
    label_columns = {"number": _l("CAPA no."), "project_key": _l("Project"), "period": _l("Period"),
                     "title": _l("Finding"), "status": _l("Status"), "created_by": _l("Started by"),
                     "created_at": _l("Started at"), "closed_at": _l("Closed at"), "rule": _l("Rule")}


class ReportView(ModelView):
    """The periodic reports started by the worker (one per project and period), with PDF and Excel."""
    route_base = "/stats/reports"
    datamodel = SQLAInterface(PeriodicReport)
    class_permission_name = "Statistics"
    method_permission_name = {"list": "read", "show": "read"}
    base_permissions = ["can_read"]
    base_order = ("id", "desc")
    list_columns = ["kind", "project_key", "period", "covers_from", "covers_until", "due_at", "instance_id"]
    search_columns = ["kind", "project_key", "period"]
    label_columns = {"kind": _l("Report"), "project_key": _l("Project"), "period": _l("Period"),
                     "covers_from": _l("Covers from"), "covers_until": _l("Covers until"), "due_at": _l("Due"),
                     "instance_id": _l("Instance")}
