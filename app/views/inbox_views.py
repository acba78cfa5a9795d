"""The inbox pages: my tasks and my roles' pool, a task with its form and case history, the team's
workload. Thin: app/services/inbox.py and drafts.py do the work."""
from __future__ import annotations

from flask import abort, current_app, flash, g, jsonify, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext as _
from flask_login import current_user

from workflows.errors import EngineError, InvalidInput

from ..extensions import db
from ..services.engine import current_actor, get_engine
from ..services.flows import drafts, inbox
from ..services.flows.forms import coerce_form_data, form_spec
from ..services.flows.tasks import complete_task
from .common import attempt


def _problems(err: InvalidInput) -> dict[str, str]:
    return {p.field or "": p.message for p in err.problems}


class InboxView(BaseView):
    route_base = "/inbox"
    class_permission_name = "Task"
    method_permission_name = {"index": "read", "counts": "read", "task": "read", "claim": "work",
                              "release": "work", "reassign": "reassign", "team": "reassign"}
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        actor = current_actor()
        scope = request.args.get("scope", "mine")
        if scope not in inbox.SCOPES:
            scope = "mine"
        problems = {}
        try:
            filt = inbox.InboxFilter.parse(request.args)
        except InvalidInput as err:
            problems, filt = _problems(err), inbox.InboxFilter()
            flash(_("Please correct the marked filters."), "danger")
        page = inbox.inbox_page(actor, scope, filt)
        return self.render_template("inbox.html", page=page, scope=scope, filt=filt, problems=problems,
                                    counts=_counts(), choices=inbox.filter_choices(),
                                    args=request.args, title=_("My tasks"))

    @expose("/counts")
    @has_access
    def counts(self):
        return jsonify(_counts())

    @expose("/task/<task_id>", methods=["GET", "POST"])
    @has_access
    def task(self, task_id):
        engine, actor = get_engine(), current_actor()
        try:
            task = engine.task(task_id)
        except EngineError as err:
            flash(str(err), "warning")
            return redirect(url_for("InboxView.index"))
        form = engine.task_form(task_id)
        draft = drafts.get(task_id, actor.username)
        errors, values = {}, dict(draft.data) if draft else {}
        if request.method == "POST":
            if not self.appbuilder.sm.has_access("can_work", "Task"):
                abort(403)
            values = coerce_form_data(form["schema"], request.form)
            if request.form.get("action") == "draft":
                return self._save_draft(task_id, values)
            try:
                complete_task(task_id, actor, values)
            except InvalidInput as err:
                db.session.rollback()
                errors = _problems(err)
                flash(_("Please correct the marked fields."), "danger")
            except EngineError as err:
                db.session.rollback()
                flash(str(err), "danger")
            else:
                flash(_("Task completed: %(name)s", name=task.name), "success")
                return redirect(url_for("InboxView.index"))
            draft = drafts.get(task_id, actor.username)
        may_reassign = self.appbuilder.sm.has_access("can_reassign", "Task")
        return self.render_template(
            "task.html", task=task, form=form, spec=form_spec(form, values, errors), errors=errors, draft=draft,
            may_work=inbox.may_work(task, actor), history=inbox.task_context(task),
            candidates=inbox.candidates_for(task) if may_reassign else [], title=task.name)

    def _save_draft(self, task_id, values):
        revision = request.form.get("draft_revision", type=int)
        attempt(lambda: drafts.save(task_id, current_actor(), values, revision),
                _("Draft saved. You can come back to it later."))
        return redirect(url_for("InboxView.task", task_id=task_id))

    @expose("/task/<task_id>/claim", methods=["POST"])
    @has_access
    def claim(self, task_id):
        return self._act(lambda e, a: e.claim(task_id, a), _("Claimed."))

    @expose("/task/<task_id>/release", methods=["POST"])
    @has_access
    def release(self, task_id):
        return self._act(lambda e, a: e.release(task_id, a), _("Released."))

    @expose("/task/<task_id>/reassign", methods=["POST"])
    @has_access
    def reassign(self, task_id):
        return self._act(lambda e, a: inbox.reassign(task_id, a, request.form.get("to", ""),
                                                     request.form.get("reason", "")),
                         _("Reassigned to %(user)s.", user=request.form.get("to", "")))

    def _act(self, action, message):
        attempt(lambda: action(get_engine(), current_actor()), message)
        return redirect(request.referrer or url_for("InboxView.index"))

    @expose("/team")
    @has_access
    def team(self):
        """The supervisor's view: open tasks per visitor and per role pool, and every overdue task."""
        return self.render_template("team.html", workload=inbox.workload(), overdue=inbox.overdue_tasks(),
                                    title=_("Team workload"))


def _counts() -> dict[str, int]:
    """The signed-in user's task counts, once per request (the page and the navbar badge share them)."""
    if "inbox_counts" not in g:
        g.inbox_counts = inbox.counts(current_actor())
    return g.inbox_counts


def install_task_badge() -> None:
    """``inbox_counts`` for the navbar: my open tasks, my roles' pool and my overdue ones."""
    app = current_app._get_current_object()  # called from create_app, inside its app context

    @app.context_processor
    def inbox_counts():
        try:
            if current_user and current_user.is_authenticated and \
                    current_app.appbuilder.sm.has_access("can_read", "Task"):
                return {"inbox_counts": _counts()}
        except Exception:  # a page must render even if the counts cannot be had
            db.session.rollback()
        return {"inbox_counts": None}
