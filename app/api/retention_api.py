"""REST API for retention (issue 5, RET-14): legal holds, expired records, starting a destruction."""
from __future__ import annotations

from flask import request
from flask_appbuilder.api import BaseApi, expose, safe
from flask_appbuilder.security.decorators import protect
from sqlalchemy import select

from workflows.errors import InvalidInput, Problem
from workflows.localtime import iso

from ..extensions import db
from ..models.intake import FileLoan
from ..models.retention import RetainedRecord
from ..services.engine import current_actor
from ..services.intake.events import find_project
from ..services.records import file_loans, retained_records, retention
from .common import engine_errors, json_body


class RetentionApi(BaseApi):
    resource_name = "retention"
    class_permission_name = "Retention"
    method_permission_name = {"hold": "hold", "release": "hold", "expired": "read", "destroy": "destroy",
                              "list_filings": "read", "list_records": "read", "file": "file",
                              "hold_record": "hold", "release_record": "hold"}
    openapi_spec_tag = "Retention"

    @expose("/visits/<int:visit_id>/hold", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def hold(self, visit_id):
        """Place a legal hold on a visit record.
        ---
        post:
          summary: 'Legal hold: {"reason"} — blocks destruction until released'
          responses:
            200: {description: held}
            422: {description: no reason}
        """
        retention.place_hold(visit_id, json_body().get("reason"))
        return self.response(200, result={"visit_id": visit_id, "legal_hold": True})

    @expose("/visits/<int:visit_id>/release", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def release(self, visit_id):
        """Release a legal hold.
        ---
        post:
          summary: 'Release a legal hold: {"reason"}'
          responses:
            200: {description: released}
            409: {description: not on hold}
        """
        retention.release_hold(visit_id, json_body().get("reason"))
        return self.response(200, result={"visit_id": visit_id, "legal_hold": False})

    @expose("/expired", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def expired(self):
        """Filed records whose retention ended (not on hold, not destroyed).
        ---
        get:
          responses:
            200: {description: the records}
        """
        rows = retention.expired_visits()
        records = retained_records.expired()
        return self.response(200, count=len(rows) + len(records), result=[
            {"visit_id": v.id, "serial": v.serial, "category": v.category, "archived_at": iso(v.archived_at),
             "retain_until": iso(v.retain_until)} for v in rows], records=[retained_records.to_dict(r)
                                                                           for r in records])

    @expose("/records", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def list_records(self):
        """Retained records beyond visits (AMB-10).
        ---
        get:
          summary: "Sign-out sheets, monthly summaries, former customers' files, call recordings (filter record_class, project)"
          responses:
            200: {description: the records}
        """
        query = select(RetainedRecord).order_by(RetainedRecord.id.desc())
        if request.args.get("record_class"):
            query = query.where(RetainedRecord.record_class == request.args["record_class"])
        if request.args.get("project"):
            query = query.where(RetainedRecord.project_key == request.args["project"])
        rows = db.session.scalars(query.limit(500)).all()
        return self.response(200, count=len(rows), result=[retained_records.to_dict(r) for r in rows])

    @expose("/records", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def file(self):
        """File a record of a retention class (e.g. a call recording).
        ---
        post:
          summary: '{record_class, reference, project?, title?}: its removal date comes from the profile'
          responses:
            201: {description: the filed record}
            422: {description: unknown class or no reference}
        """
        body = json_body()
        project = body.get("project") or None
        if project is not None and find_project(project) is None:
            raise InvalidInput(Problem(f"no project with key {project!r}", field="project"))
        record = retained_records.file_record(body.get("record_class", ""), body.get("reference") or "",
                                               project_key=project, title=body.get("title"),
                                               filed_by=current_actor().username)
        db.session.commit()
        return self.response(201, result=retained_records.to_dict(record))

    @expose("/records/<int:record_id>/hold", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def hold_record(self, record_id):
        """Place a legal hold on a retained record.
        ---
        post:
          summary: 'Legal hold: {"reason"}'
          responses:
            200: {description: held}
        """
        record = retained_records.place_hold(record_id, json_body().get("reason"))
        return self.response(200, result=retained_records.to_dict(record))

    @expose("/records/<int:record_id>/release", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def release_record(self, record_id):
        """Release a legal hold on a retained record.
        ---
        post:
          summary: 'Release: {"reason"}'
          responses:
            200: {description: released}
        """
        record = retained_records.release_hold(record_id, json_body().get("reason"))
        return self.response(200, result=retained_records.to_dict(record))

    @expose("/filings", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def list_filings(self):
        """The filing register (RET-02/AMB-09): each project's periods, deadline, filed when, late or not.
        ---
        get:
          responses:
            200: {description: the filings}
        """
        rows = retention.filings()
        return self.response(200, count=len(rows), result=rows)

    @expose("/destruction", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def destroy(self):
        """Start the destruction flow (archivist proposes → manager approves → supervisor witnesses).
        ---
        post:
          responses:
            201: {description: the destruction instance}
            409: {description: nothing has expired}
        """
        return self.response(201, result={"instance_id": retention.propose_destruction(current_actor())})


class FileLoanApi(BaseApi):
    """文件借阅/复制登记表 (RET-18…21): request, decide, return; the register is the list."""
    resource_name = "file-loans"
    class_permission_name = "FileLoan"
    method_permission_name = {"register": "read", "request_loan": "request", "approve": "decide",
                              "reject": "decide", "returned": "request"}
    openapi_spec_tag = "Retention"

    @expose("/", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def register(self):
        """The borrowing/copying register, newest first.
        ---
        get:
          responses:
            200: {description: the register}
        """
        rows = db.session.scalars(select(FileLoan).order_by(FileLoan.id.desc())).all()
        return self.response(200, count=len(rows), result=[file_loans.loan_to_dict(r) for r in rows])

    @expose("/", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def request_loan(self):
        """Ask to view, borrow or copy a household file.
        ---
        post:
          summary: '{"household_id", "kind": view|borrow|copy, "party": internal|external, "purpose", "credentials"}'
          responses:
            201: {description: requested}
            422: {description: a field is missing or wrong}
        """
        loan = file_loans.request_loan(json_body(), current_actor())
        return self.response(201, result=file_loans.loan_to_dict(loan))

    @expose("/<int:loan_id>/approve", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def approve(self, loan_id):
        """Consent to a request (department head; project head for external parties and key customers' copies).
        ---
        post:
          summary: 'Approve: {"note"}'
          responses:
            200: {description: approved}
            403: {description: not the right approver, or one's own request}
        """
        loan = file_loans.decide(loan_id, current_actor(), True, json_body().get("note"))
        return self.response(200, result=file_loans.loan_to_dict(loan))

    @expose("/<int:loan_id>/reject", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def reject(self, loan_id):
        """Refuse a request.
        ---
        post:
          summary: 'Reject: {"note"}'
          responses:
            200: {description: rejected}
        """
        loan = file_loans.decide(loan_id, current_actor(), False, json_body().get("note"))
        return self.response(200, result=file_loans.loan_to_dict(loan))

    @expose("/<int:loan_id>/return", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def returned(self, loan_id):
        """The file came back (or the viewing/copying is done).
        ---
        post:
          responses:
            200: {description: returned}
        """
        return self.response(200, result=file_loans.loan_to_dict(file_loans.return_loan(loan_id, current_actor())))
