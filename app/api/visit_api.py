"""REST API over follow-up visits: list/show, start by hand, merge (SMP-08/AMB-40), void a form,
sample a month of repairs (SMP-01/02). Errors name the field, as in the engine API."""
from __future__ import annotations

import re
from datetime import datetime

from flask import request
from flask_appbuilder.api import BaseApi, expose, safe
from flask_appbuilder.security.decorators import protect
from sqlalchemy import func, select

from workflows.errors import InvalidInput, NotFound, Problem

from ..extensions import db
from ..models.intake import CATEGORIES
from ..models.visit import Visit
from ..services.engine import current_actor
from ..services.flows import printing, repair_sampling, visits as service
from .common import engine_errors, json_body, page_args, pdf_response

MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


class VisitApi(BaseApi):
    resource_name = "visits"
    class_permission_name = "Visit"
    method_permission_name = {"list_visits": "read", "get_visit": "read", "start": "start",
                              "candidates": "read", "merge": "merge", "sample": "start"}
    openapi_spec_tag = "Visits"

    @expose("/", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def list_visits(self):
        """Visits.
        ---
        get:
          summary: List visits, newest first (filters status, category, household, project)
          responses:
            200: {description: visits}
        """
        limit, offset = page_args()
        query = select(Visit)
        for arg, column in (("status", Visit.status), ("category", Visit.category), ("household", Visit.household),
                            ("project", Visit.project_key), ("process", Visit.process_key)):
            if request.args.get(arg):
                query = query.where(column == request.args[arg])
        count = db.session.scalar(select(func.count()).select_from(query.subquery()))
        rows = db.session.scalars(query.order_by(Visit.id.desc()).limit(limit).offset(offset)).all()
        for visit in rows:
            service.sync_status(visit)
        return self.response(200, count=count, result=[service.visit_to_dict(v) for v in rows])

    @expose("/<int:visit_id>", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def get_visit(self, visit_id):
        """One visit.
        ---
        get:
          summary: A visit with its 回访记录表 forms
          parameters:
          - {in: path, name: visit_id, required: true, schema: {type: integer}}
          responses:
            200: {description: the visit}
        """
        visit = db.session.get(Visit, visit_id)
        if visit is None:
            raise NotFound(f"visit {visit_id} does not exist")
        service.sync_status(visit)
        return self.response(200, result=service.visit_to_dict(visit))

    @expose("/", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def start(self):
        """Start a visit (or complaint case) by hand.
        ---
        post:
          summary: 'Start a flow for a visit: {category, household, project?, severity?, process?, trigger?, data?}'
          responses:
            201: {description: the visit}
        """
        body = json_body()
        problems = []
        if body.get("category") not in CATEGORIES:
            problems.append(Problem(f"category must be one of {', '.join(CATEGORIES)}", field="category"))
        process = body.get("process") or ("complaint_case" if body.get("category") == "complaint"
                                          else "followup_visit")
        if process not in service.VISIT_PROCESSES:
            problems.append(Problem(f"process must be one of {', '.join(service.VISIT_PROCESSES)}",
                                    field="process"))
        if not isinstance(body.get("household"), str) or not body["household"].strip():
            problems.append(Problem("household is required", field="household"))
        if body.get("severity") not in (None, "MAJOR", "IMPORTANT", "MINOR"):
            problems.append(Problem("severity must be MAJOR, IMPORTANT or MINOR", field="severity"))
        if process == "complaint_case" and not body.get("severity"):
            problems.append(Problem("a complaint needs a severity (AMB-25)", field="severity"))
        trigger = None
        if body.get("trigger"):
            try:
                trigger = datetime.fromisoformat(body["trigger"])
                if trigger.tzinfo is None:
                    raise ValueError
            except (TypeError, ValueError):
                problems.append(Problem("trigger must be an ISO 8601 date-time with offset", field="trigger"))
        extra = body.get("data") or {}
        if not isinstance(extra, dict):
            problems.append(Problem("data must be an object", field="data"))
        if problems:
            raise InvalidInput(problems)
        visit = service.start_visit(body["category"], process=process, project=body.get("project"),
                                    household=body["household"].strip(), severity=body.get("severity"),
                                    trigger=trigger, actor=current_actor(), extra=extra)
        return self.response(201, result=service.visit_to_dict(visit))

    @expose("/merge-candidates", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def candidates(self):
        """Visits that may be merged.
        ---
        get:
          summary: Open visits to one household with overlapping windows (SMP-08/AMB-40), grouped
          responses:
            200: {description: groups}
        """
        groups = service.merge_candidates()
        return self.response(200, result=[[service.visit_to_dict(v) for v in g] for g in groups])

    @expose("/merge", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def merge(self):
        """Merge visits.
        ---
        post:
          summary: 'Merge visits into one: {keep: id, merge: [ids]}; the merged ones are cancelled'
          responses:
            200: {description: the visit kept}
        """
        body = json_body()
        keep, merge_ids = body.get("keep"), body.get("merge")
        if not isinstance(keep, int) or isinstance(keep, bool):
            raise InvalidInput(Problem("keep must be a visit id", field="keep"))
        if not isinstance(merge_ids, list) or not all(isinstance(i, int) and not isinstance(i, bool)
                                                      for i in merge_ids):
            raise InvalidInput(Problem("merge must be a list of visit ids", field="merge"))
        visit = service.merge(keep, merge_ids, current_actor())
        return self.response(200, result=service.visit_to_dict(visit))

    @expose("/repair-sample", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def sample(self):
        """Sample a month of repair orders.
        ---
        post:
          summary: '{project, month: YYYY-MM, seed, orders: [{id, household}]} (SMP-01/02)'
          responses:
            201: {description: the stored sample}
        """
        body = json_body()
        problems = []
        for name in ("project", "month", "seed"):
            if not isinstance(body.get(name), str) or not body[name].strip():
                problems.append(Problem(f"{name} is required", field=name))
        orders = body.get("orders")
        if not isinstance(orders, list) or not all(isinstance(o, dict) and "id" in o for o in orders):
            problems.append(Problem("orders must be a list of {id, household}", field="orders"))
        if isinstance(body.get("month"), str) and body["month"].strip() and not MONTH.fullmatch(body["month"]):
            problems.append(Problem(f"month must be YYYY-MM, not '{body['month']}'", field="month"))
        if problems:
            raise InvalidInput(problems)
        row = repair_sampling.sample_repairs(body["project"], body["month"], orders, body["seed"], current_actor())
        return self.response(201, result={"id": row.id, "project": row.project_key, "month": row.period,
                                          "seed": row.seed, "population": row.population, "sample": row.sample,
                                          "home": row.home})


class VisitFormApi(BaseApi):
    resource_name = "visit-forms"
    class_permission_name = "VisitForm"
    method_permission_name = {"void": "void", "record_pdf": "print", "signout_pdf": "print"}
    openapi_spec_tag = "Visits"

    @expose("/record/<int:visit_id>.pdf", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def record_pdf(self, visit_id):
        """The 回访记录表 of a visit as PDF.
        ---
        get:
          summary: 'blank=1 for the form to sign out (header only), else filled from the flow; the print is audited'
          parameters:
          - {in: path, name: visit_id, required: true, schema: {type: integer}}
          - {in: query, name: blank, schema: {type: boolean}}
          responses:
            200: {description: application/pdf}
        """
        blank = request.args.get("blank") in ("1", "true", "yes")
        return pdf_response(printing.visit_record(visit_id, blank=blank, username=current_actor().username))

    @expose("/signout.pdf", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def signout_pdf(self):
        """The 回访记录签收表 of a project and month as PDF.
        ---
        get:
          summary: 'project=<key>&period=YYYY-MM; the print is audited'
          responses:
            200: {description: application/pdf}
        """
        return pdf_response(printing.signout_sheet(request.args.get("project", ""), request.args.get("period", ""),
                                                   username=current_actor().username))

    @expose("/<int:form_id>/void", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def void(self, form_id):
        """Void a 回访记录表.
        ---
        post:
          summary: 'Void a signed-out form with a reason ({reason}); it stays on record and the visit gets the next number'
          parameters:
          - {in: path, name: form_id, required: true, schema: {type: integer}}
          responses:
            200: {description: the voided form}
        """
        form = service.void_form(form_id, current_actor().username, json_body().get("reason", ""))
        return self.response(200, result=service.form_to_dict(form))
