"""Web pages over the engine: the inbox with task forms, models, instances, the event trail."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, request, url_for
from flask_appbuilder import BaseView, ModelView, expose
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import has_access
from flask_babel import lazy_gettext as _l
from flask_babel import gettext as _

from workflows.engine import open_tasks_query
from workflows.errors import EngineError, InvalidInput
from workflows.models import EngineEvent, ProcessInstance, ProcessModel, ProcessVersion

from ..extensions import db
from ..services.engine import current_actor, get_engine
from ..services.forms import coerce_form_data, form_fields

READ_ONLY = {"list": "read", "show": "read"}


class InboxView(BaseView):
    route_base = "/inbox"
    class_permission_name = "Task"
    method_permission_name = {"index": "read", "task": "read", "claim": "work", "release": "work"}
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        actor = current_actor()
        mine = db.session.scalars(open_tasks_query(actor, "mine", limit=100)).all()
        pool = db.session.scalars(open_tasks_query(actor, "roles", limit=100)).all()
        return self.render_template("inbox.html", mine=mine, pool=pool, title=_("My tasks"))

    @expose("/task/<task_id>", methods=["GET", "POST"])
    @has_access
    def task(self, task_id):
        engine = get_engine()
        try:
            task = engine.task(task_id)
        except EngineError as err:
            flash(str(err), "warning")
            return redirect(url_for("InboxView.index"))
        form = engine.task_form(task_id)
        fields = form_fields(form["schema"])
        errors, values = {}, {}
        if request.method == "POST":
            if not self.appbuilder.sm.has_access("can_work", "Task"):
                abort(403)
            values = coerce_form_data(form["schema"], request.form, current_app.config["TIMEZONE"])
            try:
                from ..services.visits import complete_task  # engine.complete + visit bookkeeping (FLOWS)

                complete_task(task_id, current_actor(), values)
            except InvalidInput as err:
                db.session.rollback()
                errors = {p.field or "": p.message for p in err.problems}
                flash(_("Please correct the marked fields."), "danger")
            except EngineError as err:
                db.session.rollback()
                flash(str(err), "danger")
            else:
                flash(_("Task completed: %(name)s", name=task.name), "success")
                return redirect(url_for("InboxView.index"))
        return self.render_template("task.html", task=task, form=form, fields=fields, errors=errors,
                                    values=values, title=task.name)

    @expose("/task/<task_id>/claim", methods=["POST"])
    @has_access
    def claim(self, task_id):
        return self._act(lambda e, a: e.claim(task_id, a), _("Claimed."))

    @expose("/task/<task_id>/release", methods=["POST"])
    @has_access
    def release(self, task_id):
        return self._act(lambda e, a: e.release(task_id, a), _("Released."))

    def _act(self, action, message):
        try:
            action(get_engine(), current_actor())
            flash(message, "success")
        except EngineError as err:
            db.session.rollback()
            flash(str(err), "danger")
        return redirect(request.referrer or url_for("InboxView.index"))


class ProcessVersionView(ModelView):
    datamodel = SQLAInterface(ProcessVersion)
    class_permission_name = "ProcessModel"
    method_permission_name = READ_ONLY
    base_permissions = ["can_read"]
    list_title = _l("Process versions")
    list_columns = ["model", "number", "process_id", "comment", "created_by", "created_at"]
    show_columns = ["model", "number", "process_id", "content_hash", "comment", "created_by", "created_at", "lanes"]
    label_columns = {"model": _l("Process"), "number": _l("Version"), "process_id": _l("BPMN process"),
                     "comment": _l("Comment"), "created_by": _l("Deployed by"), "created_at": _l("Deployed at"),
                     "content_hash": _l("Content hash"), "lanes": _l("Lanes → roles")}
    base_order = ("id", "desc")


class ProcessModelView(ModelView):
    datamodel = SQLAInterface(ProcessModel)
    class_permission_name = "ProcessModel"
    method_permission_name = READ_ONLY
    base_permissions = ["can_read"]
    list_title = _l("Process models")
    list_columns = ["key", "name", "created_at"]
    show_columns = ["key", "name", "description", "created_at"]
    label_columns = {"key": _l("Key"), "name": _l("Name"), "description": _l("Description"),
                     "created_at": _l("Created at")}
    related_views = [ProcessVersionView]


class InstanceView(ModelView):
    datamodel = SQLAInterface(ProcessInstance)
    class_permission_name = "ProcessInstance"
    method_permission_name = READ_ONLY
    base_permissions = ["can_read"]
    list_title = _l("Process instances")
    list_columns = ["id", "version", "business_key", "status", "started_by", "started_at", "ended_at"]
    show_columns = ["id", "version", "business_key", "status", "started_by", "started_at", "updated_at",
                    "ended_at", "end_reason", "lock_version"]
    search_columns = ["business_key", "status", "started_by"]
    label_columns = {"version": _l("Process version"), "business_key": _l("Business key"), "status": _l("Status"),
                     "started_by": _l("Started by"), "started_at": _l("Started at"), "ended_at": _l("Ended at"),
                     "updated_at": _l("Updated at"), "end_reason": _l("End reason"), "lock_version": _l("Revision")}
    base_order = ("id", "desc")


class EngineEventView(ModelView):
    datamodel = SQLAInterface(EngineEvent)
    class_permission_name = "EngineEvent"
    method_permission_name = READ_ONLY
    base_permissions = ["can_read"]
    list_title = _l("Engine events")
    list_columns = ["id", "at", "actor", "kind", "instance_id", "task_id"]
    show_columns = ["id", "at", "actor", "kind", "instance_id", "task_id", "version_id", "detail"]
    search_columns = ["actor", "kind", "instance_id"]
    label_columns = {"at": _l("Time"), "actor": _l("Actor"), "kind": _l("Event"), "instance_id": _l("Instance"),
                     "task_id": _l("Task"), "version_id": _l("Version"), "detail": _l("Detail")}
    base_order = ("id", "desc")
