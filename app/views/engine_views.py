"""Web pages over the engine: process models, versions, instances, the event trail (the inbox is
inbox_views.py)."""
from __future__ import annotations

from flask_appbuilder import ModelView
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l

from workflows.models import EngineEvent, ProcessInstance, ProcessModel, ProcessVersion

from ..services.records.audit import readable_details

READ_ONLY = {"list": "read", "show": "read"}


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
    formatters_columns = {"detail": lambda detail: _readable(detail)}
    base_order = ("id", "desc")


def _readable(detail):
    """A visit's form data is sealed under its trail key: shown in clear, or as the RET-14 marker once shredded."""
    return readable_details(detail)
