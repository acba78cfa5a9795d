"""REST API of the inbox: filtered pages with household and deadline state, badge counts, the team's
workload, and drafts of task forms. Field errors name the field, as everywhere in the API."""
from __future__ import annotations

from flask import request
from flask_appbuilder.api import BaseApi, expose, safe
from flask_appbuilder.security.decorators import protect

from workflows.errors import InvalidInput, Problem

from ..services.engine import current_actor, task_to_dict
from ..services.flows import drafts, inbox
from .common import engine_errors, json_body


def row_to_dict(row: inbox.InboxRow) -> dict:
    return {**task_to_dict(row.task), "urgency": row.urgency, "visit_id": row.visit_id, "household": row.household,
            "customer": row.customer, "category": row.category, "project": row.project}


class InboxApi(BaseApi):
    resource_name = "inbox"
    class_permission_name = "Task"
    method_permission_name = {"page": "read", "counts": "read", "workload": "reassign", "get_draft": "work",
                              "put_draft": "work"}
    openapi_spec_tag = "Tasks"

    @expose("/", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def page(self):
        """My inbox, one page.
        ---
        get:
          summary: 'scope=mine|roles, category, project, due_from/due_to (YYYY-MM-DD, local), order=due|-due, page, per_page'
          responses:
            200: {description: 'rows with household, customer, category and urgency (overdue, today, soon)'}
            422: {description: a filter is invalid (the problem names it)}
        """
        result = inbox.inbox_page(current_actor(), request.args.get("scope", "mine"),
                                  inbox.InboxFilter.parse(request.args))
        return self.response(200, count=result.total, page=result.page, pages=result.pages,
                             result=[row_to_dict(r) for r in result.rows])

    @expose("/counts", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    def counts(self):
        """Badge counts.
        ---
        get:
          summary: My open tasks, my roles' unclaimed tasks, my overdue tasks
          responses:
            200: {description: counts}
        """
        return self.response(200, result=inbox.counts(current_actor()))

    @expose("/workload", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    def workload(self):
        """The team's workload (supervisors).
        ---
        get:
          summary: Open, due-today and overdue tasks per assignee and per role pool, and the overdue list
          responses:
            200: {description: workload}
        """
        return self.response(200, result={**inbox.workload(),
                                          "overdue": [row_to_dict(r) for r in inbox.overdue_tasks()]})

    @expose("/drafts/<task_id>", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def get_draft(self, task_id):
        """My draft of a task form.
        ---
        get:
          summary: The values I saved for this task (null when none)
          parameters:
          - {in: path, name: task_id, required: true, schema: {type: string}}
          responses:
            200: {description: the draft}
        """
        return self.response(200, result=drafts.to_dict(drafts.get(task_id, current_actor().username)))

    @expose("/drafts/<task_id>", methods=["PUT"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def put_draft(self, task_id):
        """Save a draft.
        ---
        put:
          summary: '{data: {...}, revision?: n}: keep the values unvalidated; a stale revision is a 409'
          parameters:
          - {in: path, name: task_id, required: true, schema: {type: string}}
          responses:
            200: {description: the saved draft}
            409: {description: the draft was saved elsewhere meanwhile}
        """
        body = json_body()
        revision = body.get("revision")
        if revision is not None and (not isinstance(revision, int) or isinstance(revision, bool)):
            raise InvalidInput(Problem("revision must be a whole number", field="revision"))
        draft = drafts.save(task_id, current_actor(), body.get("data"), revision)
        return self.response(200, result=drafts.to_dict(draft))
