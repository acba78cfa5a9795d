"""REST API for statistics (issue 6): KPIs, findings, the visits behind a number, CAPA, themes, surveys."""
from __future__ import annotations

from flask import request
from flask_appbuilder.api import BaseApi, expose, safe
from flask_appbuilder.security.decorators import protect

from workflows import clock, localtime
from workflows.localtime import iso
from workflows.policy.reporting import period_containing

from ..services.engine import current_actor
from ..services.reporting import capa, detection, kpis, surveys
from ..services.reporting.dashboard import tables
from .common import engine_errors, json_body


def _period() -> str:
    return (request.args.get("period") or "").strip() or period_containing(clock.now(), "month", localtime.zone()).label


def _jsonable(rows):
    out = []
    for row in rows:
        out.append({k: (iso(v) if hasattr(v, "tzinfo") else v) for k, v in row.items() if not k.startswith("_")})
    return out


class StatsApi(BaseApi):
    resource_name = "stats"
    class_permission_name = "Statistics"
    method_permission_name = {"get_kpis": "read", "get_findings": "read", "get_visits": "read",
                              "post_capa": "capa", "post_theme": "manage", "post_survey": "manage",
                              "post_response": "survey", "get_survey": "read"}
    openapi_spec_tag = "Statistics"

    @expose("/kpis", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def get_kpis(self):
        """Every KPI of a period.
        ---
        get:
          summary: KPIs of ?period=2024-03|2024-Q1|2024-H1|2024 [&project=…] [&by=project|team|visitor|category]
          responses:
            200: {description: the KPI tables}
            422: {description: bad period or slice}
        """
        period, found = tables(_period(), project=request.args.get("project") or None,
                               by=request.args.get("by") or "project")
        return self.response(200, period=period.label, result={
            t["id"]: {"title": t["title"], "rows": _jsonable(t["rows"])} for t in found})

    @expose("/findings", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def get_findings(self):
        """Detection rules' findings of a period (§4.4), each with its visits.
        ---
        get:
          responses:
            200: {description: the findings}
        """
        period, _start, _end = kpis.period_bounds(_period())
        found = detection.findings(period, project=request.args.get("project") or None)
        return self.response(200, period=period.label, count=len(found), result=found)

    @expose("/visits", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def get_visits(self):
        """The visits behind one number (?measure=…&period=…[&project&by&value&category&severity]).
        ---
        get:
          responses:
            200: {description: the visits}
        """
        _p, start, end = kpis.period_bounds(_period())
        rows, total = kpis.measure_visits(request.args.get("measure") or "due", start, end,
                                          project=request.args.get("project") or None,
                                          by=request.args.get("by") or None, value=request.args.get("value"),
                                          category=request.args.get("category"),
                                          severity=request.args.get("severity"))
        return self.response(200, count=total, result=[{k: (iso(v) if hasattr(v, "tzinfo") else v)
                                                        for k, v in r.items()} for r in rows])

    @expose("/capa", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def post_capa(self):
        """Start a CAPA from a finding: {"finding_key", "period", "project"?}.
        ---
        post:
          responses:
            201: {description: started}
            404: {description: no such finding in that period}
            409: {description: a CAPA for it exists}
        """
        body = json_body()
        row = capa.start_capa(body.get("finding_key") or "", body.get("period") or "", current_actor(),
                              project=body.get("project") or None)
        return self.response(201, result={"id": row.id, "number": row.number, "instance_id": row.instance_id,
                                          "visit_ids": row.visit_ids, "status": row.status})

    @expose("/themes", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def post_theme(self):
        """Publish the quarter's visit theme (GOV-01): {"quarter": "2024-Q2", "theme", "content"?, "scope"?}.
        ---
        post:
          responses:
            201: {description: published}
        """
        body = json_body()
        row = surveys.publish_theme(body.get("quarter") or "", body.get("theme") or "", body.get("content"),
                                    current_actor(), scope=body.get("scope"))
        return self.response(201, result={"id": row.id, "quarter": row.quarter, "scope": row.scope,
                                          "theme": row.theme})

    @expose("/surveys", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def post_survey(self):
        """Issue a satisfaction survey: {"project", "period": "2024-H1", "items": [...]}.
        ---
        post:
          responses:
            201: {description: issued}
        """
        body = json_body()
        row = surveys.issue_survey(body.get("project") or "", body.get("period") or "", body.get("items") or [],
                                   current_actor())
        return self.response(201, result={"id": row.id, "project": row.project_key, "period": row.period,
                                          "items": row.items})

    @expose("/surveys/<int:survey_id>/responses", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def post_response(self, survey_id):
        """A household's answers: {"household_id", "answers": [{"item", "satisfied", "reason"?}]}; every
        unsatisfied item starts a follow-up visit (CAT-SV-02).
        ---
        post:
          responses:
            201: {description: recorded, with the visits started}
        """
        body = json_body()
        row = surveys.record_response(survey_id, body.get("household_id"), body.get("answers"), current_actor())
        return self.response(201, result={"id": row.id, "unsatisfied": row.unsatisfied, "visit_ids": row.visit_ids})

    @expose("/surveys/<int:survey_id>", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def get_survey(self, survey_id):
        """Per item: answers and satisfaction.
        ---
        get:
          responses:
            200: {description: the summary}
        """
        return self.response(200, result=surveys.survey_summary(survey_id))
