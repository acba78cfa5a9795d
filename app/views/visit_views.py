"""Read-only pages over visits and the 回访记录表 register (flows change them, not the pages)."""
from __future__ import annotations

from flask_appbuilder import ModelView
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l

from ..models.visit import Visit, VisitForm

READ_ONLY = {"list": "read", "show": "read"}


class VisitView(ModelView):
    route_base = "/visits"
    datamodel = SQLAInterface(Visit)
    class_permission_name = "Visit"
    method_permission_name = READ_ONLY
    base_permissions = ["can_read"]
    base_order = ("id", "desc")
    show_template = "visit_show.html"
    list_columns = ["id", "serial", "category", "household", "visitor", "method", "due_at", "status", "result"]
    show_columns = ["id", "serial", "category", "severity", "project_key", "household", "service_event_id",
                    "process_key", "instance_id", "visitor", "method", "window_opens", "due_at", "result",
                    "revisits", "status", "status_reason", "profile_version_id", "created_at", "updated_at",
                    "trigger_at", "visited_at", "success", "satisfied", "qualified", "score_market", "score_operating",
                    "team", "market_team", "reply_due", "replied_at", "resolved_at"]
    search_columns = ["category", "household", "status", "visitor", "serial"]
    label_columns = {"serial": _l("Form no."), "category": _l("Category"), "household": _l("Household"),
                     "visitor": _l("Visitor"), "method": _l("Method"), "due_at": _l("Due"),
                     "status": _l("Status"), "result": _l("Result")}


class VisitFormView(ModelView):
    route_base = "/visit-forms"
    datamodel = SQLAInterface(VisitForm)
    class_permission_name = "VisitForm"
    method_permission_name = READ_ONLY
    base_permissions = ["can_read"]
    base_order = ("id", "desc")
    list_columns = ["serial", "visit", "signed_out_by", "signed_out_at", "status", "void_reason"]
    search_columns = ["serial", "status", "signed_out_by"]
    label_columns = {"serial": _l("Form no."), "visit": _l("Visit"), "signed_out_by": _l("Signed out by"),
                     "signed_out_at": _l("Signed out at"), "status": _l("Status"), "void_reason": _l("Void reason")}
